//! One metric vocabulary: what a window's p50, p95, p99, rps and error
//! rate are, and what they are when the window is empty.
//!
//! The budgets, the budget table, the comparison, the abort watches and the
//! test fixtures all ask [`value`]. It used to be written five times, and
//! the copies disagreed on an empty window (one said 0 rps, one said
//! nothing, one said a p99 of 0 µs). Now an empty window has one meaning:
//! no value. A budget with no value fails as "not measured".

use std::fmt;

use crate::results::{BudgetMetric, Window};

/// A figure of a window of samples, in the order tables show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Median latency, µs.
    P50,
    /// 95th percentile latency, µs.
    P95,
    /// 99th percentile latency, µs.
    P99,
    /// Requests per second.
    Rps,
    /// Failed requests over all requests, a fraction.
    ErrorRate,
}

impl Metric {
    /// Every metric, in the order tables show them.
    pub const ALL: [Metric; 5] = [
        Metric::P50,
        Metric::P95,
        Metric::P99,
        Metric::Rps,
        Metric::ErrorRate,
    ];

    /// The name on the command line: `p95`, `rps`, `error_rate`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::Rps => "rps",
            Metric::ErrorRate => "error_rate",
        }
    }

    /// Whether a higher value is the worse one.
    pub fn higher_is_worse(self) -> bool {
        !matches!(self, Metric::Rps)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A latency percentile a window knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Percentile {
    P50,
    P95,
    P99,
}

impl Percentile {
    /// The quantile, in `(0, 1)`.
    pub fn quantile(self) -> f64 {
        match self {
            Percentile::P50 => 0.50,
            Percentile::P95 => 0.95,
            Percentile::P99 => 0.99,
        }
    }
}

/// A stretch of samples a metric can be read from: a finished results
/// window, or an abort watch's live tally.
pub trait Samples {
    /// Requests in the window, failed or not.
    fn count(&self) -> u64;
    /// Requests that failed.
    fn failed(&self) -> u64;
    /// Latency at `percentile`, µs. Only asked of a non-empty window.
    fn latency_us(&self, percentile: Percentile) -> f64;
    /// Requests per second over the window's length. Only asked of a
    /// non-empty window.
    fn rps(&self) -> f64;
}

/// `metric` over `samples`; `None` when the window has no samples, so a
/// window where nothing was measured never reads as fast, idle or
/// error-free.
pub fn value(samples: &impl Samples, metric: Metric) -> Option<f64> {
    let count = samples.count();
    if count == 0 {
        return None;
    }
    let value = match metric {
        Metric::P50 => samples.latency_us(Percentile::P50),
        Metric::P95 => samples.latency_us(Percentile::P95),
        Metric::P99 => samples.latency_us(Percentile::P99),
        Metric::Rps => samples.rps(),
        Metric::ErrorRate => samples.failed() as f64 / count as f64,
    };
    Some(value).filter(|v| v.is_finite())
}

impl Samples for Window {
    fn count(&self) -> u64 {
        self.count
    }
    fn failed(&self) -> u64 {
        self.errors.total()
    }
    fn latency_us(&self, percentile: Percentile) -> f64 {
        let latency = &self.latency;
        let us = match percentile {
            Percentile::P50 => latency.p50_us,
            Percentile::P95 => latency.p95_us,
            Percentile::P99 => latency.p99_us,
        };
        us as f64
    }
    fn rps(&self) -> f64 {
        self.rps
    }
}

impl BudgetMetric {
    /// The window metric this budget limits; `None` for the budgets judged
    /// over the schedule or the server rather than over a window of
    /// requests.
    pub fn window_metric(self) -> Option<Metric> {
        match self {
            BudgetMetric::P50 => Some(Metric::P50),
            BudgetMetric::P95 => Some(Metric::P95),
            BudgetMetric::P99 => Some(Metric::P99),
            BudgetMetric::MaxErrorRate => Some(Metric::ErrorRate),
            BudgetMetric::MinRps => Some(Metric::Rps),
            BudgetMetric::MaxDroppedRate
            | BudgetMetric::MinCacheHitRatio
            | BudgetMetric::MaxDbPoolUtilization => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed {
        count: u64,
        failed: u64,
    }

    impl Samples for Fixed {
        fn count(&self) -> u64 {
            self.count
        }
        fn failed(&self) -> u64 {
            self.failed
        }
        fn latency_us(&self, percentile: Percentile) -> f64 {
            percentile.quantile() * 1000.0
        }
        fn rps(&self) -> f64 {
            self.count as f64 / 2.0
        }
    }

    #[test]
    fn an_empty_window_has_no_value_for_any_metric() {
        let empty = Fixed {
            count: 0,
            failed: 0,
        };
        for metric in Metric::ALL {
            assert_eq!(value(&empty, metric), None, "{metric}");
        }
    }

    #[test]
    fn a_window_gives_each_metric() {
        let window = Fixed {
            count: 10,
            failed: 1,
        };
        assert_eq!(value(&window, Metric::P50), Some(500.0));
        assert_eq!(value(&window, Metric::P99), Some(990.0));
        assert_eq!(value(&window, Metric::Rps), Some(5.0));
        assert_eq!(value(&window, Metric::ErrorRate), Some(0.1));
    }
}
