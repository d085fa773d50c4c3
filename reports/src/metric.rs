//! One metric vocabulary: what a window's p50, p95, p99, rps and error
//! rate are, and what they are when the window is empty.
//!
//! The budgets, the budget table, the comparison, the abort watches and the
//! test fixtures all ask [`value`]. It used to be written five times, and
//! the copies disagreed on an empty window (one said 0 rps, one said
//! nothing, one said a p99 of 0 µs). Now an empty window has one meaning:
//! no value. A budget with no value fails as "not measured".
//!
//! A metric also has one name on the command line ([`Metric::name`], read
//! back by [`FromStr`]) and one way to be written for people
//! ([`Metric::format`]), borrowed from the budget metric of the same unit
//! so a comparison's p95 reads like a budget's.

use std::{fmt, str::FromStr};

use crate::{
    results::{BudgetMetric, LatencyOf, Window},
    units,
};

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
    /// Failures over everything attempted, a fraction: failed requests
    /// and dropped arrivals over requests sent and dropped arrivals.
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

    /// The budget metric with the same unit, so both are written alike.
    fn budget_metric(self) -> BudgetMetric {
        match self {
            Metric::P50 => BudgetMetric::P50,
            Metric::P95 => BudgetMetric::P95,
            Metric::P99 => BudgetMetric::P99,
            Metric::Rps => BudgetMetric::MinRps,
            Metric::ErrorRate => BudgetMetric::MaxErrorRate,
        }
    }

    /// The short label in prose and the terminal: `p95`, `error rate`.
    pub fn label(self) -> &'static str {
        self.budget_metric().label()
    }

    /// A column heading, as the budget table has it: `P95`, `Errors`.
    pub fn title(self) -> &'static str {
        self.budget_metric().title()
    }

    /// `value` in the metric's unit, as every report writes it.
    pub fn format(self, value: f64) -> String {
        units::metric_value(self.budget_metric(), value)
    }

    /// A signed difference in the metric's unit: `+12.3 ms`, `-15 rps`,
    /// `+1.2 pp` (percentage points, for the error rate).
    pub fn format_difference(self, difference: f64) -> String {
        let sign = units::sign(difference);
        let size = difference.abs();
        match self {
            Metric::P50 | Metric::P95 | Metric::P99 => format!("{sign}{}", units::latency_us(size)),
            Metric::Rps => format!("{sign}{}", units::rps(size)),
            Metric::ErrorRate => format!("{sign}{} pp", units::significant(size * 100.0, 2)),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A metric name that is not one of [`Metric::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metric `{given}`: expected one of p50, p95, p99, rps, error_rate")]
pub struct ParseMetricError {
    pub given: String,
}

impl FromStr for Metric {
    type Err = ParseMetricError;

    /// `p50`, `p95`, `p99`, `rps` or `error_rate` (also `error-rate`), in
    /// any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.trim().to_ascii_lowercase().replace('-', "_");
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| ParseMetricError {
                given: text.to_owned(),
            })
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
///
/// A dropped arrival (open model) is a sample but no request: it counts
/// in the error rate and the latency, never in `count` or the rate. A
/// request that could not be sent counts in the error rate alone.
pub trait Samples {
    /// Requests sent in the window, failed or not.
    fn count(&self) -> u64;
    /// Attempts that sent no request (dropped arrivals, requests that
    /// could not be sent): not in `count`.
    fn unsent(&self) -> u64;
    /// Failures: requests that failed, and the attempts that sent none.
    fn failed(&self) -> u64;
    /// Latency at `percentile`, µs, of the samples latency is judged on;
    /// NaN (no value) when there are none, as when every request failed
    /// and only successful ones are judged. Only asked of a non-empty
    /// window.
    fn latency_us(&self, percentile: Percentile) -> f64;
    /// Requests sent per second over the window's length. Only asked of a
    /// non-empty window.
    fn rps(&self) -> f64;
}

/// `metric` over `samples`; `None` when the window has no samples (no
/// request and no attempt), so a window where nothing was measured never
/// reads as fast, idle or error-free.
pub fn value(samples: &impl Samples, metric: Metric) -> Option<f64> {
    let attempts = samples.count().saturating_add(samples.unsent());
    if attempts == 0 {
        return None;
    }
    let value = match metric {
        Metric::P50 => samples.latency_us(Percentile::P50),
        Metric::P95 => samples.latency_us(Percentile::P95),
        Metric::P99 => samples.latency_us(Percentile::P99),
        Metric::Rps => samples.rps(),
        Metric::ErrorRate => samples.failed() as f64 / attempts as f64,
    };
    Some(value).filter(|v| v.is_finite())
}

/// A results window with its latencies read as `of` says: what budgets,
/// the budget table and a comparison judge.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    pub window: &'a Window,
    pub of: LatencyOf,
}

impl<'a> Judged<'a> {
    pub fn new(window: &'a Window, of: LatencyOf) -> Self {
        Self { window, of }
    }
}

impl Samples for Judged<'_> {
    fn count(&self) -> u64 {
        self.window.count
    }
    fn unsent(&self) -> u64 {
        self.window.errors.dropped + self.window.errors.unsent
    }
    fn failed(&self) -> u64 {
        self.window.errors.total()
    }
    fn latency_us(&self, percentile: Percentile) -> f64 {
        let Some((latency, _)) = self.window.latency_of(self.of).filter(|(_, n)| *n > 0) else {
            return f64::NAN;
        };
        let us = match percentile {
            Percentile::P50 => latency.p50_us,
            Percentile::P95 => latency.p95_us,
            Percentile::P99 => latency.p99_us,
        };
        us as f64
    }
    fn rps(&self) -> f64 {
        self.window.rps
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
        dropped: u64,
        failed: u64,
    }

    impl Samples for Fixed {
        fn count(&self) -> u64 {
            self.count
        }
        fn unsent(&self) -> u64 {
            self.dropped
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
            dropped: 0,
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
            dropped: 0,
            failed: 1,
        };
        assert_eq!(value(&window, Metric::P50), Some(500.0));
        assert_eq!(value(&window, Metric::P99), Some(990.0));
        assert_eq!(value(&window, Metric::Rps), Some(5.0));
        assert_eq!(value(&window, Metric::ErrorRate), Some(0.1));
    }

    #[test]
    fn dropped_arrivals_fail_in_the_error_rate_but_are_no_requests() {
        // 8 requests sent, 1 of them failed; 2 arrivals dropped unsent.
        let window = Fixed {
            count: 8,
            dropped: 2,
            failed: 3,
        };
        assert_eq!(value(&window, Metric::ErrorRate), Some(0.3));
        assert_eq!(value(&window, Metric::Rps), Some(4.0), "8 sent over 2 s");
        // Nothing sent, everything dropped: a 100% error rate, not "not measured".
        let starved = Fixed {
            count: 0,
            dropped: 5,
            failed: 5,
        };
        assert_eq!(value(&starved, Metric::ErrorRate), Some(1.0));
        assert_eq!(value(&starved, Metric::Rps), Some(0.0));
    }

    #[test]
    fn metrics_parse_by_name() {
        assert_eq!("p95".parse(), Ok(Metric::P95));
        assert_eq!(" P99 ".parse(), Ok(Metric::P99));
        assert_eq!("error-rate".parse(), Ok(Metric::ErrorRate));
        assert_eq!("error_rate".parse(), Ok(Metric::ErrorRate));
        for metric in Metric::ALL {
            assert_eq!(metric.name().parse(), Ok(metric));
        }
        let err = "p90".parse::<Metric>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown metric `p90`: expected one of p50, p95, p99, rps, error_rate"
        );
    }

    #[test]
    fn each_metric_matches_its_budget_metric() {
        for metric in Metric::ALL {
            assert_eq!(metric.budget_metric().window_metric(), Some(metric));
        }
    }
}
