//! The report's charts, drawn once per backend: SVG to inline in the HTML,
//! PNG for CI artifacts and chat.
//!
//! Both go through plotters with the same drawing code, so the PNG shows
//! what the page shows. Text is laid out and (in PNGs) drawn with DejaVu
//! Sans from the `dejavu` crate, registered with plotters' `ab_glyph`
//! backend: a CI runner has no system fonts, and plotters without default
//! features never looks for any.
//!
//! Long runs are thinned per pixel column
//! ([`downsample::min_max`](crate::downsample::min_max)) before drawing, so
//! a 4-hour run costs a chart about as much as a 4-minute one.
//!
//! Two charts exist only when the results carry their data
//! ([`ChartData::charts`]): the generator's CPU per second, and the
//! server's cache hit ratio and DB pool utilization per scrape.
//!
//! What is drawn is kept apart from how it is drawn: [`ChartData`] takes
//! the series out of the results (points, stages clipped to the run,
//! budgets) and `series` shapes them for a plot of a given width (thinning,
//! axis ranges), both without plotters; `frame` is the look every chart
//! shares (heading and key, mesh, time axis) and `draw` draws each chart.

mod data;
mod draw;
mod frame;
mod series;

pub use data::ChartData;

use std::sync::Once;

use plotters::{
    prelude::*,
    style::{FontStyle, register_font},
};

use crate::{files, results::Results};

/// Size of the SVG charts in the HTML, in CSS pixels (they scale to the
/// page width).
pub const SVG_SIZE: (u32, u32) = (960, 320);
/// Size of every PNG chart, in pixels.
pub const PNG_SIZE: (u32, u32) = (1200, 420);
/// Size of the small charts (generator CPU, server) in the HTML.
pub const SMALL_SVG_SIZE: (u32, u32) = (960, 240);
/// Size of the small charts as PNGs.
pub const SMALL_PNG_SIZE: (u32, u32) = (1200, 300);
/// Height of the strip under the plot that holds the time or percentile
/// labels.
pub const X_LABEL_AREA: u32 = 36;
/// Width of the strip left of the plot that holds the value labels.
pub const Y_LABEL_AREA: u32 = 76;
/// The font family every chart names; registered from the bundled font.
const FAMILY: &str = "sans-serif";
/// One of the report's charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// p50/p95/p99 per second, with the overall latency budgets drawn in.
    Latency,
    /// Requests and failed requests per second.
    Throughput,
    /// Users running, with the stages marked.
    Users,
    /// The load generator's CPU per second (when the results have it).
    Generator,
    /// The latency percentile spectrum, overall and per request.
    Percentiles,
    /// The server's cache hit ratio and DB pool utilization per scrape
    /// (when its metrics were scraped).
    Server,
}

impl Chart {
    /// Every chart, in the order the report shows them.
    pub const ALL: [Chart; 6] = [
        Chart::Latency,
        Chart::Throughput,
        Chart::Users,
        Chart::Generator,
        Chart::Percentiles,
        Chart::Server,
    ];

    /// The SVG's size: [`SVG_SIZE`], or [`SMALL_SVG_SIZE`] for the small ones.
    pub fn svg_size(self) -> (u32, u32) {
        if self.is_small() {
            SMALL_SVG_SIZE
        } else {
            SVG_SIZE
        }
    }

    /// The PNG's size: [`PNG_SIZE`], or [`SMALL_PNG_SIZE`] for the small ones.
    pub fn png_size(self) -> (u32, u32) {
        if self.is_small() {
            SMALL_PNG_SIZE
        } else {
            PNG_SIZE
        }
    }

    /// Whether `results` have the data the chart draws: the generator's
    /// chart needs its CPU per second, the server's a scraped cache hit
    /// ratio or pool utilization; the others always apply.
    pub fn applies_to(self, results: &Results) -> bool {
        match self {
            Chart::Generator => results.series.iter().any(|s| s.generator_cpu.is_some()),
            Chart::Server => results.server.as_ref().is_some_and(|s| {
                s.series
                    .iter()
                    .any(|p| p.cache_hit_ratio.is_some() || p.db_pool_utilization.is_some())
            }),
            Chart::Latency | Chart::Throughput | Chart::Users | Chart::Percentiles => true,
        }
    }

    fn is_small(self) -> bool {
        matches!(self, Chart::Generator | Chart::Server)
    }

    /// The file the chart is written to as a PNG.
    pub fn file_name(self) -> &'static str {
        match self {
            Chart::Latency => files::LATENCY_PNG,
            Chart::Throughput => files::THROUGHPUT_PNG,
            Chart::Users => files::USERS_PNG,
            Chart::Generator => files::GENERATOR_PNG,
            Chart::Percentiles => files::PERCENTILES_PNG,
            Chart::Server => files::SERVER_PNG,
        }
    }

    /// The chart's title, drawn in it and used as the image's alt text.
    pub fn title(self) -> &'static str {
        match self {
            Chart::Latency => "Latency over time (p50, p95, p99 per second)",
            Chart::Throughput => "Throughput and errors (per second)",
            Chart::Users => "Active users",
            Chart::Generator => "Load generator CPU (per second)",
            Chart::Percentiles => "Latency by percentile",
            Chart::Server => "Server: cache hits and DB pool (per scrape)",
        }
    }
}

/// Drawing a chart failed (in practice: a font or backend problem).
#[derive(Debug, thiserror::Error)]
#[error("chart: {0}")]
pub struct ChartError(String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        Self(e.to_string())
    }
}

/// The chart as an SVG document of [`Chart::svg_size`].
pub fn svg(data: &ChartData, chart: Chart) -> Result<String, ChartError> {
    register_fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, chart.svg_size()).into_drawing_area();
        draw::draw(&root, data, chart)?;
        root.present()?;
    }
    Ok(out)
}

/// The chart as a PNG image of [`Chart::png_size`].
pub fn png(data: &ChartData, chart: Chart) -> Result<Vec<u8>, ChartError> {
    register_fonts();
    let (width, height) = chart.png_size();
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw::draw(&root, data, chart)?;
        root.present()?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| ChartError(e.to_string()))?;
    writer
        .write_image_data(&rgb)
        .map_err(|e| ChartError(e.to_string()))?;
    writer.finish().map_err(|e| ChartError(e.to_string()))?;
    Ok(out)
}

/// Makes the bundled DejaVu Sans the font of [`FAMILY`]; plotters keeps a
/// process-wide table, so once is enough.
fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let regular = register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular());
        let bold = register_font(FAMILY, FontStyle::Bold, dejavu::sans::bold());
        assert!(
            regular.is_ok() && bold.is_ok(),
            "the bundled DejaVu fonts parse"
        );
    });
}
