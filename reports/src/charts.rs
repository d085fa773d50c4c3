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

use std::{ops::Range, sync::Once};

use plotters::{
    coord::{Shift, ranged1d::ValueFormatter, types::RangedCoordf64},
    prelude::*,
    series::DashedLineSeries,
    style::{FontStyle, register_font},
};

use crate::{
    downsample,
    histogram::CodecError,
    results::{BudgetMetric, Results},
    spectrum, units,
};

/// Size of the SVG charts in the HTML, in CSS pixels (they scale to the
/// page width).
pub const SVG_SIZE: (u32, u32) = (960, 320);
/// Size of every PNG chart, in pixels.
pub const PNG_SIZE: (u32, u32) = (1200, 420);
/// Height of the strip under the plot that holds the time or percentile
/// labels.
pub const X_LABEL_AREA: u32 = 36;
/// Width of the strip left of the plot that holds the value labels.
pub const Y_LABEL_AREA: u32 = 76;
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
    /// The latency percentile spectrum, overall and per request.
    Percentiles,
}

impl Chart {
    /// Every chart, in the order the report shows them.
    pub const ALL: [Chart; 4] = [
        Chart::Latency,
        Chart::Throughput,
        Chart::Users,
        Chart::Percentiles,
    ];

    /// The file the chart is written to as a PNG.
    pub fn file_name(self) -> &'static str {
        match self {
            Chart::Latency => "latency.png",
            Chart::Throughput => "throughput.png",
            Chart::Users => "users.png",
            Chart::Percentiles => "percentiles.png",
        }
    }

    /// The chart's title, drawn in it and used as the image's alt text.
    pub fn title(self) -> &'static str {
        match self {
            Chart::Latency => "Latency over time (p50, p95, p99 per second)",
            Chart::Throughput => "Throughput and errors (per second)",
            Chart::Users => "Active users",
            Chart::Percentiles => "Latency by percentile",
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
    /// Length of the time axis, s.
    duration_s: f64,
    /// Whether the time axis reads in hours.
    long_run: bool,
    /// Per second (seconds with requests only), ms.
    p50: Vec<(f64, f64)>,
    p95: Vec<(f64, f64)>,
    p99: Vec<(f64, f64)>,
    /// Per second, requests and failed requests.
    requests: Vec<(f64, f64)>,
    errors: Vec<(f64, f64)>,
    users: Vec<(f64, f64)>,
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
        let with_requests = || results.series.iter().filter(|s| s.count > 0);
        let ms = |us: u64| us as f64 / 1000.0;
        let at = |second: u32| f64::from(second);

        let judged = &results.scenario.judged_stages;
        let stages = results
            .scenario
            .stages
            .iter()
            .map(|s| {
                let name = s.name.clone().unwrap_or_default();
                let is_judged = !judged.is_empty() && judged.contains(&name);
                (
                    name,
                    s.start_ms as f64 / 1000.0,
                    s.end_ms as f64 / 1000.0,
                    is_judged,
                )
            })
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
            duration_s,
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
                .series
                .iter()
                .map(|s| (at(s.second), f64::from(s.users)))
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

/// The chart as an SVG document of [`SVG_SIZE`].
pub fn svg(data: &ChartData, chart: Chart) -> Result<String, ChartError> {
    register_fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SVG_SIZE).into_drawing_area();
        draw(&root, data, chart)?;
        root.present()?;
    }
    Ok(out)
}

/// The chart as a PNG image of [`PNG_SIZE`].
pub fn png(data: &ChartData, chart: Chart) -> Result<Vec<u8>, ChartError> {
    register_fonts();
    let (width, height) = PNG_SIZE;
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, PNG_SIZE).into_drawing_area();
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

type Result2d<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

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
        Chart::Percentiles => draw_percentiles(root, data),
    }
}

/// A chart builder with the report's margins, caption and label areas.
fn builder<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, (FAMILY, 17, FontStyle::Bold).into_font().color(&INK))
        .margin_top(10)
        .margin_left(8)
        .margin_right(24)
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

/// A time axis from 0 to the run's end, shaded where budgets judge.
fn time_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    data: &ChartData,
    title: &str,
    y_range: Range<f64>,
    y_format: &dyn Fn(&f64) -> String,
) -> Result<Result2d<'a, DB>, ChartError>
where
    DB::ErrorType: 'static,
{
    let mut chart =
        builder(root, title).build_cartesian_2d(0.0..data.duration_s, y_range.clone())?;
    let long = data.long_run;
    mesh(&mut chart, &|x| units::clock(*x, long), y_format, 10)?;
    let shade = BLACK.mix(0.035).filled();
    chart.draw_series(
        data.stages
            .iter()
            .filter(|s| s.3)
            .map(|s| Rectangle::new([(s.1, y_range.start), (s.2, y_range.end)], shade)),
    )?;
    Ok(chart)
}

/// Pixel columns of the plot: the resolution series are thinned to.
fn columns<DB: DrawingBackend>(chart: &Result2d<'_, DB>) -> usize {
    chart.plotting_area().dim_in_pixel().0 as usize
}

/// The legend, top left over the plot, on a white backing so lines under
/// it do not cross the text.
fn legend<'a, DB: DrawingBackend + 'a>(chart: &mut Result2d<'a, DB>) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(AXIS)
        .label_font((FAMILY, 13).into_font().color(&INK))
        .draw()?;
    Ok(())
}

fn ms_label(v: &f64) -> String {
    format!("{} ms", units::significant(*v, 3))
}

fn draw_latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let highest = data
        .p99
        .iter()
        .map(|p| p.1)
        .chain(data.latency_budgets.iter().map(|b| b.1))
        .fold(0.0f64, f64::max);
    let y_max = nice_ceiling(highest * 1.08).max(1.0);
    let mut chart = time_chart(root, data, Chart::Latency.title(), 0.0..y_max, &ms_label)?;
    let columns = columns(&chart);
    for (metric, points) in [
        (BudgetMetric::P50, &data.p50),
        (BudgetMetric::P95, &data.p95),
        (BudgetMetric::P99, &data.p99),
    ] {
        let colour = percentile_colour(metric);
        chart
            .draw_series(LineSeries::new(
                downsample::min_max(points, columns),
                colour.stroke_width(if metric == BudgetMetric::P50 { 2 } else { 1 }),
            ))?
            .label(metric.label())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
    }
    for &(metric, limit) in &data.latency_budgets {
        let colour = percentile_colour(metric);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, limit), (data.duration_s, limit)],
                8,
                5,
                colour.stroke_width(2),
            ))?
            .label(format!("{} budget", metric.label()))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 7, y)], colour.stroke_width(2)));
    }
    legend(&mut chart)
}

fn draw_throughput<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let highest = data.requests.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let y_max = nice_ceiling(highest * 1.08).max(1.0);
    let mut chart = time_chart(root, data, Chart::Throughput.title(), 0.0..y_max, &|v| {
        units::significant(*v, 3)
    })?;
    let columns = columns(&chart);
    chart.draw_series(AreaSeries::new(
        downsample::min_max(&data.requests, columns),
        0.0,
        BLUE.mix(0.12),
    ))?;
    chart
        .draw_series(LineSeries::new(
            downsample::min_max(&data.requests, columns),
            BLUE.stroke_width(2),
        ))?
        .label("requests/s")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    chart.draw_series(AreaSeries::new(
        downsample::min_max(&data.errors, columns),
        0.0,
        RED.mix(0.25),
    ))?;
    chart
        .draw_series(LineSeries::new(
            downsample::min_max(&data.errors, columns),
            RED.stroke_width(2),
        ))?
        .label("errors/s")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], RED.stroke_width(2)));
    legend(&mut chart)
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
    let mut chart = time_chart(root, data, Chart::Users.title(), 0.0..y_max, &|v| {
        units::significant(*v, 3)
    })?;
    let columns = columns(&chart);
    let users = downsample::min_max(&data.users, columns);
    chart.draw_series(AreaSeries::new(users.iter().copied(), 0.0, TEAL.mix(0.12)))?;
    chart.draw_series(LineSeries::new(users, TEAL.stroke_width(2)))?;
    // Stage boundaries, named at the top of the plot.
    let label = (FAMILY, 12).into_font().color(&MUTED);
    for (name, start, _, _) in &data.stages {
        if *start > 0.0 {
            chart.draw_series(DashedLineSeries::new(
                [(*start, 0.0), (*start, y_max)],
                4,
                4,
                AXIS.stroke_width(1),
            ))?;
        }
        chart.draw_series(std::iter::once(Text::new(
            name.clone(),
            (*start, y_max),
            label.clone().pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Top,
            )),
        )))?;
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
    let values = || data.spectra.iter().flat_map(|s| s.1.iter().map(|p| p.1));
    let lowest = values().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    let highest = values().fold(0.0f64, f64::max);
    let (lowest, highest) = if lowest.is_finite() && highest > 0.0 {
        (lowest, highest)
    } else {
        (0.1, 10.0)
    };
    let top = data
        .spectra
        .iter()
        .filter_map(|s| s.1.last().map(|p| p.0))
        .fold(1.0f64, f64::max);
    // Ticks on whole nines only: with one label per unit of the range,
    // plotters puts them at 0, 1, 2… (0%, 90%, 99%…).
    let x_range = 0.0..top;
    let y_range = (lowest / 1.3..highest * 1.3).log_scale();
    let mut chart =
        builder(root, Chart::Percentiles.title()).build_cartesian_2d(x_range, y_range)?;
    mesh(
        &mut chart,
        &|x| spectrum::percentile_label(*x),
        &ms_label,
        top as usize + 1,
    )?;
    for (i, (name, curve)) in data.spectra.iter().enumerate() {
        let (colour, width) = if i == 0 {
            (INK, 3)
        } else {
            (PALETTE[(i - 1) % PALETTE.len()], 2)
        };
        chart
            .draw_series(LineSeries::new(
                curve.iter().copied().filter(|p| p.1 > 0.0),
                colour.stroke_width(width),
            ))?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(width))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(AXIS)
        .label_font((FAMILY, 13).into_font().color(&INK))
        .draw()?;
    Ok(())
}

/// The smallest 1, 2 or 5 × 10^n at or above `value`, so axes end on a
/// round number.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 0.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
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
        assert_eq!(nice_ceiling(7.3), 10.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
        assert_eq!(nice_ceiling(230.0), 250.0);
        assert_eq!(nice_ceiling(1000.0), 1000.0);
    }
}
