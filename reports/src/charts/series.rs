//! What a series becomes at a plot's resolution, and the ranges its axes
//! need: pure functions of the points and the plot's width in pixel
//! columns, so thinning is decided (and tested) apart from drawing.

use crate::downsample;

/// A time series as drawn on a plot `columns` pixels wide.
#[derive(Debug, PartialEq)]
pub(super) enum Trace {
    /// Every point fits: a line through them.
    Line(Vec<(f64, f64)>),
    /// More points than columns: each column's min–max band as a polygon
    /// (the maxima left to right, then the minima back), so spikes stay,
    /// and the column means as the line, so the trend stays readable.
    Band {
        outline: Vec<(f64, f64)>,
        mean: Vec<(f64, f64)>,
    },
}

impl Trace {
    /// `points` on a plot `columns` wide. On a log axis (`positive_only`)
    /// points at 0 are left out: a second without samples has no latency.
    pub(super) fn of(points: &[(f64, f64)], columns: usize, positive_only: bool) -> Self {
        let keep = |p: &(f64, f64)| p.1 > 0.0 || !positive_only;
        if points.len() <= columns {
            return Trace::Line(points.iter().copied().filter(keep).collect());
        }
        let cols = downsample::columns(points, columns);
        let outline = cols
            .iter()
            .map(|c| (c.x, c.max))
            .chain(cols.iter().rev().map(|c| (c.x, c.min)))
            .filter(keep)
            .collect();
        let mean = cols.iter().map(|c| (c.x, c.mean)).filter(keep).collect();
        Trace::Band { outline, mean }
    }
}

/// The outline of the area under a series on a plot `columns` wide: each
/// column's extremes, so a filled spike keeps its height.
pub(super) fn area(points: &[(f64, f64)], columns: usize) -> Vec<(f64, f64)> {
    downsample::min_max(points, columns)
}

/// The lowest and highest positive value, or a default decade when there
/// is none (an empty run still gets an axis).
pub(super) fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if low.is_finite() && high > 0.0 {
        (low, high)
    } else {
        (1.0, 10.0)
    }
}

/// The smallest round step (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8) × 10^n at or above `value`, so axes end on a
/// round number.
pub(super) fn nice_ceiling(value: f64) -> f64 {
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
    use super::*;

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

    #[test]
    fn a_series_wider_than_the_plot_becomes_a_band() {
        let points: Vec<(f64, f64)> = (0..8).map(|i| (f64::from(i), f64::from(i % 4))).collect();
        // Fits: a line, without the zeros on a log axis.
        let Trace::Line(line) = Trace::of(&points, 8, true) else {
            panic!("eight points fit eight columns")
        };
        assert_eq!(line.len(), 6);
        assert_eq!(Trace::of(&points, 8, false), Trace::Line(points.clone()));
        // Too many: a band twice the columns around, a mean per column.
        let Trace::Band { outline, mean } = Trace::of(&points, 2, false) else {
            panic!("eight points do not fit two columns")
        };
        assert_eq!((outline.len(), mean.len()), (4, 2));
        assert!(outline[..2].iter().all(|p| p.1 == 3.0), "{outline:?}");
        assert!(outline[2..].iter().all(|p| p.1 == 0.0), "{outline:?}");
    }
}
