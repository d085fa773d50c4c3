//! The report's charts, drawn once per backend: SVG to inline in the HTML,
//! PNG for CI artifacts and chat.
//!
//! Both go through plotters with the same drawing code, so the PNG shows
//! what the page shows. Text is laid out and (in PNGs) drawn with DejaVu
//! Sans from the `dejavu` crate, registered with plotters' `ab_glyph`
//! backend: a CI runner has no system fonts, and plotters without default
//! features never looks for any.
//!
//! Long runs are thinned per pixel column ([`downsample::min_max`]) before
//! drawing, so a 4-hour run costs a chart about as much as a 4-minute one.
//!
//! Two charts exist only when the results carry their data
//! ([`ChartData::charts`]): the generator's CPU per second, and the
//! server's cache hit ratio and DB pool utilization per scrape.

use std::sync::Once;

use plotters::{
    coord::{
        Shift,
        ranged1d::{AsRangedCoord, ValueFormatter},
        types::RangedCoordf64,
    },
    prelude::*,
    series::DashedLineSeries,
    style::{FontStyle, register_font},
};

use crate::{
    basis::Basis,
    downsample, files,
    histogram::CodecError,
    results::{BudgetMetric, GeneratorStats, Results},
    spectrum, units,
};

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
/// Space right of the plot, so the last axis label is not cut off.
const MARGIN_RIGHT: u32 = 30;
/// The font family every chart names; registered from the bundled font.
const FAMILY: &str = "sans-serif";
/// Points kept per series on the spectrum's percentile axis.
const SPECTRUM_STEPS: usize = 400;

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

/// What the charts draw, taken out of the results once (histograms decoded,
/// series converted to ms) and shared by the SVG and PNG renderings.
#[derive(Debug, Clone)]
pub struct ChartData {
    /// The charts the results have data for.
    charts: Vec<Chart>,
    /// Length of the time axis, in `unit_s`.
    duration: f64,
    /// Seconds per unit of the time axis: 1, 60 or 3600, so plotters'
    /// round ticks land on round times (every 30 minutes, not every
    /// 2,000 seconds).
    unit_s: f64,
    /// Whether the time axis reads in hours.
    long_run: bool,
    /// Per second (seconds with requests only), ms; x in `unit_s`, as
    /// every x below.
    p50: Vec<(f64, f64)>,
    p95: Vec<(f64, f64)>,
    p99: Vec<(f64, f64)>,
    /// Per second, p99 of the raw latency (from the send), ms; only for a
    /// run that keeps one beside the judged (see [`Basis`]).
    service_p99: Vec<(f64, f64)>,
    /// The key of `service_p99`: `p99 service time`, `p99 raw (uncorrected)`.
    service_label: &'static str,
    /// Per second, requests and failed requests.
    requests: Vec<(f64, f64)>,
    errors: Vec<(f64, f64)>,
    users: Vec<(f64, f64)>,
    /// Requests per second the server counted, as steps over each scrape
    /// interval.
    server_rps: Vec<(f64, f64)>,
    /// Per second, the generator's CPU, % of all cores.
    generator_cpu: Vec<(f64, f64)>,
    /// Per scrape interval, the server's cache hit ratio in %, as steps.
    cache_hit: Vec<(f64, f64)>,
    /// At each scrape, the DB pool's utilization in %.
    db_pool: Vec<(f64, f64)>,
    /// The server budgets, in %.
    server_budgets: Vec<(BudgetMetric, f64)>,
    /// Overall latency budgets, ms.
    latency_budgets: Vec<(BudgetMetric, f64)>,
    /// Stages: name, start s, end s, judged by budgets.
    stages: Vec<(String, f64, f64, bool)>,
    /// Percentile spectra, overall first: name, `(nines, ms)`.
    spectra: Vec<(String, Vec<(f64, f64)>)>,
}

impl ChartData {
    /// Prepares the charts of `results`; fails only on a histogram that does
    /// not decode.
    pub fn new(results: &Results) -> Result<Self, CodecError> {
        let last_second = results
            .series
            .last()
            .map_or(0.0, |s| f64::from(s.second) + 1.0);
        let duration_s = (results.run.duration_ms as f64 / 1000.0)
            .max(last_second)
            .max(1.0);
        let unit_s = if duration_s >= 7200.0 {
            3600.0
        } else if duration_s >= 120.0 {
            60.0
        } else {
            1.0
        };
        let with_requests = || results.series.iter().filter(|s| s.count > 0);
        let ms = |us: u64| us as f64 / 1000.0;
        // A second's requests are drawn at its middle; its users (counted
        // at its end) at its end.
        let at = |second: u32| (f64::from(second) + 0.5) / unit_s;

        let judged = &results.scenario.judged_stages;
        // A run that stopped early (aborted, interrupted) lists the stages
        // as planned: those it never reached are left off, the one it
        // stopped in is cut at its end.
        let stages = results
            .scenario
            .stages
            .iter()
            .filter(|s| (s.start_ms as f64) / 1000.0 < duration_s)
            .map(|s| {
                let name = s.name.clone().unwrap_or_default();
                let is_judged = !judged.is_empty() && judged.contains(&name);
                (
                    name,
                    s.start_ms as f64 / 1000.0 / unit_s,
                    (s.end_ms as f64 / 1000.0).min(duration_s) / unit_s,
                    is_judged,
                )
            })
            .collect();

        // The server's samples: each covers the interval since the one
        // before (the first, since the run's start).
        let samples = results.server.as_ref().map_or(&[][..], |s| &s.series[..]);
        let x_ms = |ms: u64| ms as f64 / 1000.0 / unit_s;
        let steps = |value: &dyn Fn(usize) -> Option<f64>| {
            let mut points = Vec::with_capacity(samples.len() * 2);
            for (i, sample) in samples.iter().enumerate() {
                let from = i.checked_sub(1).map_or(0, |p| samples[p].at_ms);
                if let Some(v) = value(i) {
                    points.push((x_ms(from), v));
                    points.push((x_ms(sample.at_ms), v));
                }
            }
            points
        };
        let server_rps = steps(&|i| Some(samples[i].rps));
        let cache_hit = steps(&|i| samples[i].cache_hit_ratio.map(|r| r * 100.0));
        let db_pool = samples
            .iter()
            .filter_map(|s| Some((x_ms(s.at_ms), s.db_pool_utilization? * 100.0)))
            .collect();

        let mut spectra = Vec::with_capacity(results.requests.len() + 1);
        for stats in std::iter::once(&results.overall).chain(&results.requests) {
            let histogram = stats.judged_window().decode_histogram()?;
            let curve = spectrum::curve(&histogram, SPECTRUM_STEPS)
                .into_iter()
                .map(|(x, us)| (x, us / 1000.0))
                .collect();
            spectra.push((stats.name.clone(), curve));
        }

        Ok(Self {
            charts: Chart::ALL
                .into_iter()
                .filter(|c| c.applies_to(results))
                .collect(),
            duration: duration_s / unit_s,
            unit_s,
            long_run: duration_s >= 3600.0,
            p50: with_requests()
                .map(|s| (at(s.second), ms(s.p50_us)))
                .collect(),
            p95: with_requests()
                .map(|s| (at(s.second), ms(s.p95_us)))
                .collect(),
            p99: with_requests()
                .map(|s| (at(s.second), ms(s.p99_us)))
                .collect(),
            service_p99: with_requests()
                .filter_map(|s| s.service_p99_us.map(|us| (at(s.second), ms(us))))
                .collect(),
            service_label: Basis::of(results)
                .raw_p99_label()
                .unwrap_or("p99 service time"),
            requests: results
                .series
                .iter()
                .map(|s| (at(s.second), s.count as f64))
                .collect(),
            errors: results
                .series
                .iter()
                .map(|s| (at(s.second), s.errors.total() as f64))
                .collect(),
            users: results
                .scenario
                .stages
                .first()
                .map(|s| (0.0, f64::from(s.from_users)))
                .into_iter()
                .chain(
                    results
                        .series
                        .iter()
                        .map(|s| ((f64::from(s.second) + 1.0) / unit_s, f64::from(s.users))),
                )
                .collect(),
            server_rps,
            generator_cpu: results
                .series
                .iter()
                .filter_map(|s| Some((at(s.second), s.generator_cpu? * 100.0)))
                .collect(),
            cache_hit,
            db_pool,
            server_budgets: results
                .budgets
                .iter()
                .filter(|b| {
                    matches!(
                        b.metric,
                        BudgetMetric::MinCacheHitRatio | BudgetMetric::MaxDbPoolUtilization
                    )
                })
                .map(|b| (b.metric, b.limit * 100.0))
                .collect(),
            latency_budgets: results
                .budgets
                .iter()
                .filter(|b| b.scope == results.overall.name || b.scope == "overall")
                .filter(|b| {
                    matches!(
                        b.metric,
                        BudgetMetric::P50 | BudgetMetric::P95 | BudgetMetric::P99
                    )
                })
                .map(|b| (b.metric, b.limit / 1000.0))
                .collect(),
            stages,
            spectra,
        })
    }
}

impl ChartData {
    /// The charts these results have data for, in [`Chart::ALL`] order
    /// (see [`Chart::applies_to`]).
    pub fn charts(&self) -> &[Chart] {
        &self.charts
    }
}

/// The chart as an SVG document of [`Chart::svg_size`].
pub fn svg(data: &ChartData, chart: Chart) -> Result<String, ChartError> {
    register_fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, chart.svg_size()).into_drawing_area();
        draw(&root, data, chart)?;
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
        draw(&root, data, chart)?;
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

// Colours: grey for structure, red only for failure (errors, exceeded
// budgets' lines stay in their series colour), a categorical palette
// without red or green for the series so neither reads as a verdict.
const INK: RGBColor = RGBColor(36, 41, 47);
const MUTED: RGBColor = RGBColor(87, 96, 106);
const GRID: RGBColor = RGBColor(234, 236, 239);
const AXIS: RGBColor = RGBColor(175, 184, 193);
const BLUE: RGBColor = RGBColor(31, 111, 178);
const ORANGE: RGBColor = RGBColor(230, 120, 20);
const PURPLE: RGBColor = RGBColor(130, 80, 223);
const RED: RGBColor = RGBColor(207, 34, 46);
const TEAL: RGBColor = RGBColor(22, 138, 128);
const PALETTE: [RGBColor; 6] = [
    BLUE,
    ORANGE,
    TEAL,
    PURPLE,
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

fn percentile_colour(metric: BudgetMetric) -> RGBColor {
    match metric {
        BudgetMetric::P50 => BLUE,
        BudgetMetric::P95 => ORANGE,
        _ => PURPLE,
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
    chart: Chart,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    match chart {
        Chart::Latency => draw_latency(root, data),
        Chart::Throughput => draw_throughput(root, data),
        Chart::Users => draw_users(root, data),
        Chart::Generator => draw_generator(root, data),
        Chart::Percentiles => draw_percentiles(root, data),
        Chart::Server => draw_server(root, data),
    }
}

/// One entry of a chart's key: a line sample and its label.
struct Key {
    label: String,
    colour: RGBColor,
    width: u32,
    dashed: bool,
}

impl Key {
    fn line(label: impl Into<String>, colour: RGBColor, width: u32) -> Self {
        Self {
            label: label.into(),
            colour,
            width,
            dashed: false,
        }
    }

    fn dashed(label: impl Into<String>, colour: RGBColor) -> Self {
        Self {
            dashed: true,
            ..Self::line(label, colour, 2)
        }
    }
}

/// Draws the title (left, over the plot's left edge) and the key (on the
/// title's line, right-aligned, when it fits; else in rows under it), and
/// returns the height they take. A key inside the plot would hide data,
/// and plotters' own sits inside.
fn heading<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    keys: &[Key],
) -> Result<u32, ChartError>
where
    DB::ErrorType: 'static,
{
    const SAMPLE: i32 = 22;
    const GAP: i32 = 6;
    const SPACING: i32 = 18;
    const ROW: i32 = 20;
    let title_font = (FAMILY, 17, FontStyle::Bold).into_font().color(&INK);
    let key_font = (FAMILY, 13).into_font().color(&INK);
    let left = (Y_LABEL_AREA + 8) as i32;
    let right = (root.dim_in_pixel().0 - MARGIN_RIGHT) as i32;
    let top = 10;
    root.draw(&Text::new(
        title.to_owned(),
        (left, top),
        title_font.clone(),
    ))?;
    let title_width = root.estimate_text_size(title, &title_font)?.0 as i32;

    let mut widths = Vec::with_capacity(keys.len());
    for key in keys {
        let text = root.estimate_text_size(&key.label, &key_font)?.0 as i32;
        widths.push(SAMPLE + GAP + text);
    }
    let total: i32 = widths.iter().sum::<i32>() + SPACING * (keys.len() as i32 - 1).max(0);
    // Lay the key out in rows: (y, entries starting at x).
    let mut placed = Vec::with_capacity(keys.len());
    let mut rows_below = 0;
    if left + title_width + 3 * SPACING + total <= right {
        let mut x = right - total;
        for w in &widths {
            placed.push((x, top + 3));
            x += w + SPACING;
        }
    } else {
        let mut x = left;
        rows_below = 1;
        for w in &widths {
            if x > left && x + w > right {
                rows_below += 1;
                x = left;
            }
            placed.push((x, top + 3 + ROW * rows_below));
            x += w + SPACING;
        }
    }
    for (key, (x, y)) in keys.iter().zip(placed) {
        let mid = y + 7;
        let style = key.colour.stroke_width(key.width);
        if key.dashed {
            for dash in [0, 9, 18] {
                root.draw(&PathElement::new(
                    [(x + dash, mid), (x + dash + 5, mid)],
                    style,
                ))?;
            }
        } else {
            root.draw(&PathElement::new([(x, mid), (x + SAMPLE, mid)], style))?;
        }
        root.draw(&Text::new(
            key.label.clone(),
            (x + SAMPLE + GAP, y),
            key_font.clone(),
        ))?;
    }
    Ok((top + 24 + ROW * rows_below + 8) as u32)
}

/// A chart builder with the report's margins and label areas, under a
/// heading `top` pixels high.
fn builder<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    top: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(root);
    builder
        .margin_top(top)
        .margin_left(8)
        .margin_right(MARGIN_RIGHT)
        .margin_bottom(6)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA);
    builder
}

/// The mesh every chart shares: light grid, grey axes, labels in DejaVu.
fn mesh<'a, DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    x_format: &dyn Fn(&X::ValueType) -> String,
    y_format: &dyn Fn(&Y::ValueType) -> String,
    x_labels: usize,
) -> Result<(), ChartError>
where
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
    DB::ErrorType: 'static,
{
    chart
        .configure_mesh()
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS.stroke_width(1))
        .label_style((FAMILY, 13).into_font().color(&MUTED))
        .x_labels(x_labels)
        .y_labels(6)
        .x_label_formatter(x_format)
        .y_label_formatter(y_format)
        .draw()?;
    Ok(())
}

/// A time axis from 0 to the run's end under a heading, shaded where
/// budgets judge.
fn time_chart<'a, DB: DrawingBackend, Y>(
    root: &'a DrawingArea<DB, Shift>,
    data: &ChartData,
    title: &str,
    keys: &[Key],
    y_range: Y,
    y_format: &dyn Fn(&f64) -> String,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y::CoordDescType>>, ChartError>
where
    DB::ErrorType: 'static,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let top = heading(root, title, keys)?;
    let mut chart = builder(root, top).build_cartesian_2d(0.0..data.duration, y_range)?;
    let (long, unit) = (data.long_run, data.unit_s);
    mesh(&mut chart, &|x| units::clock(*x * unit, long), y_format, 10)?;
    let (low, high) = {
        let range = chart.y_range();
        (range.start, range.end)
    };
    let shade = BLACK.mix(0.035).filled();
    chart.draw_series(
        data.stages
            .iter()
            .filter(|s| s.3)
            .map(|s| Rectangle::new([(s.1, low), (s.2, high)], shade)),
    )?;
    Ok(chart)
}

/// Pixel columns of the plot: the resolution series are thinned to.
fn columns<DB: DrawingBackend, X: Ranged, Y: Ranged>(
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
) -> usize {
    chart.plotting_area().dim_in_pixel().0 as usize
}

/// The service-time line: quiet, beside the percentiles that budgets judge.
const SERVICE_GREY: RGBColor = RGBColor(120, 120, 120);

fn ms_label(v: &f64) -> String {
    units::latency_us(*v * 1000.0)
}

fn draw_latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let series = [
        (BudgetMetric::P50, &data.p50, 2),
        (BudgetMetric::P95, &data.p95, 1),
        (BudgetMetric::P99, &data.p99, 1),
    ];
    // Log-scaled: a p50 of a few ms, budgets of hundreds and a timeout
    // spike of seconds all stay readable on one chart.
    let values = || {
        series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .chain(data.service_p99.iter().map(|p| p.1))
            .chain(data.latency_budgets.iter().map(|b| b.1))
            .filter(|v| *v > 0.0)
    };
    let (low, high) = bounds(values());
    let mut keys: Vec<Key> = series
        .iter()
        .map(|(metric, _, width)| Key::line(metric.label(), percentile_colour(*metric), *width))
        .collect();
    if !data.service_p99.is_empty() {
        keys.push(Key::line(data.service_label, SERVICE_GREY, 1));
    }
    keys.extend(data.latency_budgets.iter().map(|(metric, _)| {
        Key::dashed(
            format!("{} budget", metric.label()),
            percentile_colour(*metric),
        )
    }));
    let mut chart = time_chart(
        root,
        data,
        Chart::Latency.title(),
        &keys,
        (low / 1.5..high * 1.5).log_scale(),
        &ms_label,
    )?;
    let columns = columns(&chart);
    for (metric, points, width) in series {
        // Log axis: only positive values can be placed.
        line_or_band(
            &mut chart,
            points,
            columns,
            percentile_colour(metric),
            width,
            true,
        )?;
    }
    // On a schedule the percentiles count from the due time, on a pace they
    // are corrected; the raw line beside them shows how much of a stall
    // the load would have hidden.
    if !data.service_p99.is_empty() {
        line_or_band(
            &mut chart,
            &data.service_p99,
            columns,
            SERVICE_GREY,
            1,
            true,
        )?;
    }
    for &(metric, limit) in &data.latency_budgets {
        chart.draw_series(DashedLineSeries::new(
            [(0.0, limit), (data.duration, limit)],
            8,
            5,
            percentile_colour(metric).stroke_width(2),
        ))?;
    }
    Ok(())
}

/// Draws a time series as a line when it fits the plot's pixel columns;
/// a longer one as the min–max band of each column (spikes stay) with the
/// column means as the line (the trend stays readable). On a log axis
/// (`positive_only`) points at 0 are left out: a second without samples
/// has no latency.
fn line_or_band<DB: DrawingBackend, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    points: &[(f64, f64)],
    columns: usize,
    colour: RGBColor,
    width: u32,
    positive_only: bool,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
    Y: Ranged<ValueType = f64>,
{
    let keep = |p: &(f64, f64)| p.1 > 0.0 || !positive_only;
    if points.len() <= columns {
        chart.draw_series(LineSeries::new(
            points.iter().copied().filter(keep),
            colour.stroke_width(width),
        ))?;
        return Ok(());
    }
    let cols = downsample::columns(points, columns);
    let band: Vec<(f64, f64)> = cols
        .iter()
        .map(|c| (c.x, c.max))
        .chain(cols.iter().rev().map(|c| (c.x, c.min)))
        .filter(keep)
        .collect();
    chart.draw_series(std::iter::once(Polygon::new(
        band,
        colour.mix(0.22).filled(),
    )))?;
    chart.draw_series(LineSeries::new(
        cols.iter().map(|c| (c.x, c.mean)).filter(keep),
        colour.stroke_width(width),
    ))?;
    Ok(())
}

/// The lowest and highest positive value, or a default decade when there
/// is none (an empty run still gets an axis).
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if low.is_finite() && high > 0.0 {
        (low, high)
    } else {
        (1.0, 10.0)
    }
}

fn draw_throughput<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let highest = data
        .requests
        .iter()
        .chain(&data.server_rps)
        .map(|p| p.1)
        .fold(0.0f64, f64::max);
    let y_max = nice_ceiling(highest * 1.05).max(1.0);
    let mut keys = vec![
        Key::line("requests/s", BLUE, 2),
        Key::line("errors/s", RED, 2),
    ];
    if !data.server_rps.is_empty() {
        keys.push(Key::line("server-counted/s", PURPLE, 2));
    }
    let mut chart = time_chart(
        root,
        data,
        Chart::Throughput.title(),
        &keys,
        0.0..y_max,
        &|v| units::significant(*v, 3),
    )?;
    let columns = columns(&chart);
    for (points, colour, fill) in [(&data.requests, BLUE, 0.10), (&data.errors, RED, 0.25)] {
        let thin = downsample::min_max(points, columns);
        chart.draw_series(AreaSeries::new(thin, 0.0, colour.mix(fill)))?;
        line_or_band(&mut chart, points, columns, colour, 2, false)?;
    }
    // The server's own count, a step per scrape interval: where it departs
    // from the client's, one of them missed requests.
    line_or_band(&mut chart, &data.server_rps, columns, PURPLE, 2, false)?;
    Ok(())
}

fn percent_label(v: &f64) -> String {
    format!("{}%", units::significant(*v, 3))
}

fn draw_generator<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let saturated = GeneratorStats::SATURATED_CPU * 100.0;
    let keys = [
        Key::line("CPU, % of all cores", ORANGE, 2),
        Key::dashed(format!("saturated above {saturated}%"), MUTED),
    ];
    let mut chart = time_chart(
        root,
        data,
        Chart::Generator.title(),
        &keys,
        0.0..100.0,
        &percent_label,
    )?;
    let columns = columns(&chart);
    let thin = downsample::min_max(&data.generator_cpu, columns);
    chart.draw_series(AreaSeries::new(thin, 0.0, ORANGE.mix(0.12)))?;
    line_or_band(&mut chart, &data.generator_cpu, columns, ORANGE, 2, false)?;
    chart.draw_series(DashedLineSeries::new(
        [(0.0, saturated), (data.duration, saturated)],
        8,
        5,
        MUTED.stroke_width(2),
    ))?;
    Ok(())
}

fn draw_server<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let colour = |metric: BudgetMetric| match metric {
        BudgetMetric::MinCacheHitRatio => TEAL,
        _ => ORANGE,
    };
    let mut keys = Vec::new();
    if !data.cache_hit.is_empty() {
        keys.push(Key::line("cache hit ratio", TEAL, 2));
    }
    if !data.db_pool.is_empty() {
        keys.push(Key::line("DB pool in use", ORANGE, 2));
    }
    keys.extend(data.server_budgets.iter().map(|(metric, _)| {
        let label = match metric {
            BudgetMetric::MinCacheHitRatio => "cache hit budget",
            _ => "DB pool budget",
        };
        Key::dashed(label, colour(*metric))
    }));
    let mut chart = time_chart(
        root,
        data,
        Chart::Server.title(),
        &keys,
        // A little headroom, so a pool at 100% is not drawn on the frame.
        0.0..104.0,
        &percent_label,
    )?;
    // The hit ratio is over each interval: a step. The pool is read at
    // each scrape: a point, joined.
    let columns = columns(&chart);
    line_or_band(&mut chart, &data.cache_hit, columns, TEAL, 2, false)?;
    line_or_band(&mut chart, &data.db_pool, columns, ORANGE, 2, false)?;
    if data.db_pool.len() * 8 <= columns {
        chart.draw_series(
            data.db_pool
                .iter()
                .map(|&p| Circle::new(p, 3, ORANGE.filled())),
        )?;
    }
    for &(metric, limit) in &data.server_budgets {
        chart.draw_series(DashedLineSeries::new(
            [(0.0, limit), (data.duration, limit)],
            8,
            5,
            colour(metric).stroke_width(2),
        ))?;
    }
    Ok(())
}

fn draw_users<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let highest = data.users.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let y_max = nice_ceiling(highest * 1.15).max(1.0);
    let mut chart = time_chart(
        root,
        data,
        Chart::Users.title(),
        &[Key::line("users", TEAL, 2)],
        0.0..y_max,
        &|v| units::significant(*v, 3),
    )?;
    let columns = columns(&chart);
    let users = downsample::min_max(&data.users, columns);
    chart.draw_series(AreaSeries::new(users.iter().copied(), 0.0, TEAL.mix(0.12)))?;
    chart.draw_series(LineSeries::new(users, TEAL.stroke_width(2)))?;
    // Stage boundaries, each stage named just right of its start when it
    // is wide enough to hold its name (a 2-minute ramp of a 4-hour run
    // is not).
    let label = (FAMILY, 12).into_font().color(&MUTED);
    let nudge = data.duration * 0.004;
    let pixels_per_unit = columns as f64 / data.duration;
    for (name, start, end, _) in &data.stages {
        let room = (end - start) * pixels_per_unit;
        let needed = f64::from(root.estimate_text_size(name, &label)?.0) + 12.0;
        if *start > 0.0 {
            chart.draw_series(DashedLineSeries::new(
                [(*start, 0.0), (*start, y_max)],
                4,
                4,
                AXIS.stroke_width(1),
            ))?;
        }
        if room >= needed {
            chart.draw_series(std::iter::once(Text::new(
                name.clone(),
                (*start + nudge, y_max * 0.985),
                label.clone(),
            )))?;
        }
    }
    Ok(())
}

fn draw_percentiles<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let (low, high) = bounds(data.spectra.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
    let top = data
        .spectra
        .iter()
        .filter_map(|s| s.1.last().map(|p| p.0))
        .fold(1.0f64, f64::max);
    // Overall in thick ink, each request in a palette colour.
    let keys: Vec<Key> = data
        .spectra
        .iter()
        .enumerate()
        .map(|(i, (name, _))| match i {
            0 => Key::line(name.as_str(), INK, 3),
            _ => Key::line(name.as_str(), PALETTE[(i - 1) % PALETTE.len()], 2),
        })
        .collect();
    let heading_height = heading(root, Chart::Percentiles.title(), &keys)?;
    // Ticks on whole nines only: with one label per unit of the range,
    // plotters puts them at 0, 1, 2… (0%, 90%, 99%…).
    let mut chart = builder(root, heading_height)
        .build_cartesian_2d(0.0..top, (low / 1.3..high * 1.3).log_scale())?;
    mesh(
        &mut chart,
        &|x| spectrum::percentile_label(*x),
        &ms_label,
        top as usize + 1,
    )?;
    for ((_, curve), key) in data.spectra.iter().zip(&keys) {
        chart.draw_series(LineSeries::new(
            curve.iter().copied().filter(|p| p.1 > 0.0),
            key.colour.stroke_width(key.width),
        ))?;
    }
    Ok(())
}

/// The smallest round step (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8) × 10^n at or above `value`, so axes end on a
/// round number.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 0.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&v| v >= value)
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::nice_ceiling;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_ceiling(0.0), 0.0);
        assert_eq!(nice_ceiling(7.3), 8.0);
        assert_eq!(nice_ceiling(115.0), 120.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
        assert_eq!(nice_ceiling(230.0), 250.0);
        assert_eq!(nice_ceiling(9.1), 10.0);
        assert_eq!(nice_ceiling(1000.0), 1000.0);
    }
}
