//! What every chart shares, so they read as one set: the colours, the
//! heading with its key, the mesh, the time axis with the judged stages
//! shaded, and how a series is drawn at the plot's resolution.

use plotters::{
    coord::{
        Shift,
        ranged1d::{AsRangedCoord, ValueFormatter},
        types::RangedCoordf64,
    },
    prelude::*,
    style::FontStyle,
};

use super::{ChartData, ChartError, FAMILY, X_LABEL_AREA, Y_LABEL_AREA, series::Trace};
use crate::{results::BudgetMetric, units};

/// Space right of the plot, so the last axis label is not cut off.
const MARGIN_RIGHT: u32 = 30;

// Colours: grey for structure, red only for failure (errors, exceeded
// budgets' lines stay in their series colour), a categorical palette
// without red or green for the series so neither reads as a verdict.
pub(super) const INK: RGBColor = RGBColor(36, 41, 47);
pub(super) const MUTED: RGBColor = RGBColor(87, 96, 106);
const GRID: RGBColor = RGBColor(234, 236, 239);
pub(super) const AXIS: RGBColor = RGBColor(175, 184, 193);
pub(super) const BLUE: RGBColor = RGBColor(31, 111, 178);
pub(super) const ORANGE: RGBColor = RGBColor(230, 120, 20);
pub(super) const PURPLE: RGBColor = RGBColor(130, 80, 223);
pub(super) const RED: RGBColor = RGBColor(207, 34, 46);
pub(super) const TEAL: RGBColor = RGBColor(22, 138, 128);
pub(super) const PALETTE: [RGBColor; 6] = [
    BLUE,
    ORANGE,
    TEAL,
    PURPLE,
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// The colour of a latency percentile, its line and its budget alike.
pub(super) fn percentile_colour(metric: BudgetMetric) -> RGBColor {
    match metric {
        BudgetMetric::P50 => BLUE,
        BudgetMetric::P95 => ORANGE,
        _ => PURPLE,
    }
}

/// One entry of a chart's key: a line sample and its label.
pub(super) struct Key {
    pub(super) label: String,
    pub(super) colour: RGBColor,
    pub(super) width: u32,
    pub(super) dashed: bool,
}

impl Key {
    pub(super) fn line(label: impl Into<String>, colour: RGBColor, width: u32) -> Self {
        Self {
            label: label.into(),
            colour,
            width,
            dashed: false,
        }
    }

    pub(super) fn dashed(label: impl Into<String>, colour: RGBColor) -> Self {
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
pub(super) fn heading<DB: DrawingBackend>(
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
pub(super) fn builder<'a, 'b, DB: DrawingBackend>(
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
pub(super) fn mesh<'a, DB: DrawingBackend, X, Y>(
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
pub(super) fn time_chart<'a, DB: DrawingBackend, Y>(
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
pub(super) fn columns<DB: DrawingBackend, X: Ranged, Y: Ranged>(
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
) -> usize {
    chart.plotting_area().dim_in_pixel().0 as usize
}

/// The raw latency's line: quiet, beside the percentiles that budgets judge.
pub(super) const SERVICE_GREY: RGBColor = RGBColor(120, 120, 120);

/// A value axis label of ms.
pub(super) fn ms_label(v: &f64) -> String {
    units::latency_us(*v * 1000.0)
}

/// Draws a time series as a line when it fits the plot's pixel columns,
/// else as the min–max band of each column with the column means as the
/// line ([`Trace`]).
pub(super) fn line_or_band<DB: DrawingBackend, Y>(
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
    match Trace::of(points, columns, positive_only) {
        Trace::Line(line) => {
            chart.draw_series(LineSeries::new(line, colour.stroke_width(width)))?;
        }
        Trace::Band { outline, mean } => {
            chart.draw_series(std::iter::once(Polygon::new(
                outline,
                colour.mix(0.22).filled(),
            )))?;
            chart.draw_series(LineSeries::new(mean, colour.stroke_width(width)))?;
        }
    }
    Ok(())
}

/// A value axis label of %.
pub(super) fn percent_label(v: &f64) -> String {
    format!("{}%", units::significant(*v, 3))
}
