//! The percentile spectrum of a latency histogram, as HdrHistogram plots
//! it: latency against percentile on an axis stretched so that each "nine"
//! (90%, 99%, 99.9%…) gets the same width. Tails are where budgets fail, and
//! a linear percentile axis squeezes them into the last pixel.

use crate::histogram::Histogram;

/// A point's position on the spectrum's horizontal axis: `-log10(1 - q)`,
/// so 0 is the median's left end (0%), 1 is 90%, 2 is 99%, 3 is 99.9%.
pub fn nines(quantile: f64) -> f64 {
    -(1.0 - quantile.min(1.0 - 1e-12)).log10()
}

/// The percentile a horizontal position stands for, as a label: `99.9%`.
pub fn percentile_label(nines: f64) -> String {
    let percent = (1.0 - 10f64.powf(-nines)) * 100.0;
    let decimals = (nines.round() as usize).saturating_sub(2);
    format!("{percent:.decimals$}%")
}

/// The spectrum of `histogram`: `(nines, latency µs)` at `steps` evenly
/// spaced positions from 0 to as many nines as the sample count supports
/// (a run of 1,000 samples says nothing about the 99.99th percentile).
/// Empty for an empty histogram.
pub fn curve(histogram: &Histogram, steps: usize) -> Vec<(f64, f64)> {
    let total = histogram.len();
    if total == 0 {
        return Vec::new();
    }
    let top = max_nines(total);
    // One walk over the recorded values; every position then finds its
    // value by binary search instead of walking the histogram again.
    let mut cumulative = Vec::new();
    let mut seen = 0u64;
    for v in histogram.iter_recorded() {
        seen += v.count_at_value();
        cumulative.push((seen, histogram.highest_equivalent(v.value_iterated_to())));
    }
    (0..=steps)
        .map(|i| {
            let x = top * i as f64 / steps as f64;
            let q = 1.0 - 10f64.powf(-x);
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
            let at = cumulative.partition_point(|&(c, _)| c < rank);
            let value = cumulative[at.min(cumulative.len() - 1)].1;
            (x, value as f64)
        })
        .collect()
}

/// How many nines `samples` support: log10 of the count, at least one and
/// at most five (99.999%).
pub fn max_nines(samples: u64) -> f64 {
    (samples.max(10) as f64).log10().floor().clamp(1.0, 5.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::new_histogram;

    #[test]
    fn the_curve_follows_the_histogram() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let curve = curve(&h, 400);
        assert_eq!(curve.first().unwrap().0, 0.0);
        assert_eq!(curve.last().unwrap().0, 4.0);
        let at = |x: f64| curve.iter().find(|p| (p.0 - x).abs() < 1e-9).unwrap().1;
        let near = |a: f64, b: f64| (a - b).abs() / b < 0.002;
        assert!(near(at(1.0), 9_000.0), "{}", at(1.0));
        assert!(near(at(2.0), 9_900.0), "{}", at(2.0));
        assert!(near(at(4.0), 10_000.0), "{}", at(4.0));
        assert!(curve.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!(super::curve(&new_histogram(), 10).is_empty());
    }

    #[test]
    fn labels_name_the_nines() {
        assert_eq!(percentile_label(0.0), "0%");
        assert_eq!(percentile_label(1.0), "90%");
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(3.0), "99.9%");
        assert_eq!(percentile_label(5.0), "99.999%");
        assert!((nines(0.99) - 2.0).abs() < 1e-9);
    }
}
