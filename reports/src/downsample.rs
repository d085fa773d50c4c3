//! Thinning a time series to what a chart can show.
//!
//! A 4-hour run has 14,400 one-second points per series; a chart is about
//! a thousand pixels wide. Drawing every point bloats the SVG (and the
//! page past 2 MB) without showing anything more. Keeping only the minimum
//! and the maximum of each pixel column keeps the shape, spikes included,
//! which averaging would smooth away.

/// Points `(x, y)`, `x` ascending, reduced to at most two per column:
/// the range of `x` is cut into `columns` equal slices and each slice keeps
/// its lowest and highest point, in `x` order. Series that already fit are
/// returned whole.
pub fn min_max(points: &[(f64, f64)], columns: usize) -> Vec<(f64, f64)> {
    let columns = columns.max(1);
    if points.len() <= 2 * columns {
        return points.to_vec();
    }
    let (first, last) = (points[0].0, points[points.len() - 1].0);
    let width = (last - first) / columns as f64;
    if width <= 0.0 {
        return points.to_vec();
    }
    let column_of = |x: f64| (((x - first) / width) as usize).min(columns - 1);

    let mut out = Vec::with_capacity(2 * columns);
    let mut start = 0;
    while start < points.len() {
        let column = column_of(points[start].0);
        let mut end = start + 1;
        while end < points.len() && column_of(points[end].0) == column {
            end += 1;
        }
        let slice = &points[start..end];
        let (mut low, mut high) = (0, 0);
        for (i, p) in slice.iter().enumerate() {
            if p.1 < slice[low].1 {
                low = i;
            }
            if p.1 > slice[high].1 {
                high = i;
            }
        }
        out.push(slice[low.min(high)]);
        if low != high {
            out.push(slice[low.max(high)]);
        }
        start = end;
    }
    out
}

/// One pixel column of a thinned series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// The middle of the column's points, in x.
    pub x: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// Points `(x, y)`, `x` ascending, summarised per column (the range of `x`
/// cut into `columns` equal slices; empty slices are left out). A chart
/// draws the min–max band, so every spike stays visible, and the mean as a
/// line, so a noisy 4-hour series still reads as a trend.
pub fn columns(points: &[(f64, f64)], columns: usize) -> Vec<Column> {
    let columns = columns.max(1);
    let Some((first, last)) = points.first().zip(points.last()) else {
        return Vec::new();
    };
    let width = ((last.0 - first.0) / columns as f64).max(f64::MIN_POSITIVE);
    let column_of = |x: f64| (((x - first.0) / width) as usize).min(columns - 1);
    let mut out: Vec<Column> = Vec::with_capacity(columns);
    let mut current = usize::MAX;
    let mut n = 0.0;
    let (mut sum_x, mut sum_y) = (0.0, 0.0);
    for &(x, y) in points {
        let c = column_of(x);
        if c != current || out.is_empty() {
            if let Some(last) = out.last_mut() {
                last.x = sum_x / n;
                last.mean = sum_y / n;
            }
            out.push(Column {
                x,
                min: y,
                max: y,
                mean: y,
            });
            current = c;
            (n, sum_x, sum_y) = (0.0, 0.0, 0.0);
        }
        let column = out.last_mut().expect("pushed above");
        column.min = column.min.min(y);
        column.max = column.max.max(y);
        n += 1.0;
        sum_x += x;
        sum_y += y;
    }
    if let Some(last) = out.last_mut() {
        last.x = sum_x / n;
        last.mean = sum_y / n;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_keep_range_and_mean() {
        let mut points: Vec<(f64, f64)> = (0..14_400).map(|s| (s as f64, 10.0)).collect();
        points[7_000].1 = 900.0;
        let cols = columns(&points, 1000);
        assert!(cols.len() <= 1000 && cols.len() > 990, "{}", cols.len());
        let spike = cols.iter().find(|c| c.max == 900.0).expect("the spike");
        assert!(spike.mean > 10.0 && spike.mean < 900.0);
        assert!(cols.iter().all(|c| c.min == 10.0));
        assert!(cols.windows(2).all(|w| w[0].x < w[1].x));
        assert!(columns(&[], 10).is_empty());
    }

    use super::*;

    #[test]
    fn long_series_keep_their_extremes_in_order() {
        let mut points: Vec<(f64, f64)> = (0..14_400).map(|s| (s as f64, 10.0)).collect();
        points[7_000].1 = 900.0; // a one-second spike
        points[9_000].1 = 1.0; // and a dip
        let thin = min_max(&points, 1000);
        assert!(thin.len() <= 2000, "{}", thin.len());
        assert!(thin.contains(&(7_000.0, 900.0)));
        assert!(thin.contains(&(9_000.0, 1.0)));
        assert!(thin.windows(2).all(|w| w[0].0 < w[1].0), "x stays ordered");
        assert_eq!(thin[0].0, 0.0);
    }

    #[test]
    fn short_series_are_kept_whole() {
        let points = vec![(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)];
        assert_eq!(min_max(&points, 1000), points);
    }
}
