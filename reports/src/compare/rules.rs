//! The noise rule: when a change between two runs is a regression, an
//! improvement, or neither; and the command-line forms of its settings.
//!
//! Two runs of the same code never measure the same, so a change counts as
//! a **regression** only when all of these hold:
//!
//! 1. it is in the worse direction (latency or error rate up, rps down);
//! 2. it is larger than the relative allowance, `--max-regression`
//!    (default 10% of the baseline value; any change from a baseline of 0
//!    counts as larger);
//! 3. it is larger than the metric's absolute floor: by default 2 ms for
//!    the latency percentiles, 0.5 percentage points for the error rate and
//!    10 requests/s for throughput (so a +30% p99 on a 1 ms endpoint, or an
//!    error rate going from 0.01% to 0.03%, is noise, not a regression);
//! 4. both runs have enough samples for that scope in the judged window: by
//!    default at least 1,000. A scope with fewer in either run is reported
//!    as "too few samples" and is never a regression, whatever its figures
//!    (an empty window has none: [`Figures::of`](super::Figures::of)).
//!
//! A change as large in the better direction is reported as an
//! **improvement**, which never fails. Anything smaller either way is
//! "within noise". An endpoint found in only one of the two runs is listed
//! as added or removed, never a regression; so is a figure only one side
//! has (a k6 summary without `p(99)`).
//!
//! The throughput floor is in requests per second because that is what a
//! reader compares. 10 rps is a judgement call: well clear of the jitter in
//! the request count of a short window (a 10-second window of 1,000
//! samples varies by about √1000 ≈ 32 requests, 3 rps), and enough to keep
//! an endpoint with a small share of the load from failing on a handful of
//! requests. In a closed model throughput follows latency, which is judged
//! on its own; on an arrival schedule it is set by the schedule, and a drop
//! means arrivals were dropped.

use super::RowVerdict;
use crate::{
    metric::{Metric, ParseMetricError},
    units,
};

impl Metric {
    /// What a comparison compares unless told otherwise (`--metric`): the
    /// tail latencies, throughput and errors.
    pub const DEFAULT: [Metric; 4] = [Metric::P95, Metric::P99, Metric::Rps, Metric::ErrorRate];
}

/// A comma-separated list of metrics (`p95,p99,rps`), each once, in the
/// order given. An empty list is refused: it would compare nothing.
pub fn parse_metrics(text: &str) -> Result<Vec<Metric>, ParseMetricError> {
    let mut metrics = Vec::new();
    for part in text.split(',') {
        let metric: Metric = part.parse()?;
        if !metrics.contains(&metric) {
            metrics.push(metric);
        }
    }
    Ok(metrics)
}

/// An allowance that is not a percentage or a fraction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allowance `{given}`: {problem}")]
pub struct ParseAllowanceError {
    pub given: String,
    pub problem: &'static str,
}

/// A relative allowance as a fraction: `10%` → 0.1, `0.1` → 0.1,
/// `150%` → 1.5.
///
/// A bare number of 1 or more is refused rather than read as a fraction
/// (`10` would allow +1000%): write `10%`.
pub fn parse_allowance(text: &str) -> Result<f64, ParseAllowanceError> {
    let error = |problem| ParseAllowanceError {
        given: text.to_owned(),
        problem,
    };
    let trimmed = text.trim();
    let (number, percent) = match trimmed.strip_suffix('%') {
        Some(number) => (number.trim_end(), true),
        None => (trimmed, false),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| error("expected a percentage like `10%` or a fraction like `0.1`"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(error("must be a non-negative number"));
    }
    if percent {
        Ok(value / 100.0)
    } else if value >= 1.0 {
        Err(error(
            "a bare number is a fraction and must be below 1; write a percentage like `10%`",
        ))
    } else {
        Ok(value)
    }
}

/// How a comparison judges a change (see the module documentation's noise
/// rule).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRules {
    /// The largest change in the worse direction, relative to the baseline
    /// value, that is still noise: 0.1 for 10%.
    pub max_regression: f64,
    /// What is compared, in this order.
    pub metrics: Vec<Metric>,
    /// The smallest latency change that can count, µs.
    pub latency_floor_us: u64,
    /// The smallest error-rate change that can count, a fraction (0.005 is
    /// half a percentage point).
    pub error_rate_floor: f64,
    /// The smallest throughput change that can count, requests per second.
    pub rps_floor: f64,
    /// The fewest samples, in each run's judged window, for a scope to be
    /// judged at all.
    pub min_samples: u64,
}

impl Default for CompareRules {
    fn default() -> Self {
        Self {
            max_regression: 0.10,
            metrics: Metric::DEFAULT.to_vec(),
            latency_floor_us: 2_000,
            error_rate_floor: 0.005,
            rps_floor: 10.0,
            min_samples: 1_000,
        }
    }
}

impl CompareRules {
    /// The absolute floor of `metric`, in its unit.
    pub fn floor(&self, metric: Metric) -> f64 {
        match metric {
            Metric::P50 | Metric::P95 | Metric::P99 => self.latency_floor_us as f64,
            Metric::Rps => self.rps_floor,
            Metric::ErrorRate => self.error_rate_floor,
        }
    }

    /// The noise rule for one pair of values, samples aside: a regression
    /// or an improvement when the change exceeds both the relative
    /// allowance and the metric's floor, else unchanged.
    pub fn judge(&self, metric: Metric, baseline: f64, current: f64) -> RowVerdict {
        let worse_by = if metric.higher_is_worse() {
            current - baseline
        } else {
            baseline - current
        };
        let beyond_noise = |change: f64| {
            change > self.floor(metric)
                && (baseline == 0.0 || change / baseline.abs() > self.max_regression)
        };
        if worse_by > 0.0 && beyond_noise(worse_by) {
            RowVerdict::Regression
        } else if worse_by < 0.0 && beyond_noise(-worse_by) {
            RowVerdict::Improvement
        } else {
            RowVerdict::Unchanged
        }
    }

    /// The rules in a few words, for headlines: `max +10%, floor 2 ms /
    /// 10 rps / 0.5 pp, ≥1,000 samples` (only the floors of the metrics
    /// compared).
    pub fn summary(&self) -> String {
        let mut floors: Vec<String> = Vec::new();
        for &metric in &self.metrics {
            let floor = match metric {
                Metric::P50 | Metric::P95 | Metric::P99 => {
                    units::latency_us(self.latency_floor_us as f64)
                }
                Metric::Rps => units::rps(self.rps_floor),
                Metric::ErrorRate => {
                    format!(
                        "{} pp",
                        units::significant(self.error_rate_floor * 100.0, 3)
                    )
                }
            };
            if !floors.contains(&floor) {
                floors.push(floor);
            }
        }
        let mut text = format!(
            "max +{}%",
            units::significant(self.max_regression * 100.0, 3)
        );
        if !floors.is_empty() {
            text.push_str(", floor ");
            text.push_str(&floors.join(" / "));
        }
        text.push_str(&format!(", ≥{} samples", units::count(self.min_samples)));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: f64 = 1000.0;

    fn rules() -> CompareRules {
        CompareRules::default()
    }

    #[test]
    fn a_regression_exceeds_both_the_allowance_and_the_floor() {
        let r = rules();
        // Relative only: +20%, but 1 ms is under the 2 ms floor.
        assert_eq!(
            r.judge(Metric::P95, 5.0 * MS, 6.0 * MS),
            RowVerdict::Unchanged
        );
        // Absolute only: +5 ms, but 5% is within the 10% allowance.
        assert_eq!(
            r.judge(Metric::P95, 100.0 * MS, 105.0 * MS),
            RowVerdict::Unchanged
        );
        // Both.
        assert_eq!(
            r.judge(Metric::P95, 100.0 * MS, 115.0 * MS),
            RowVerdict::Regression
        );
        // Exactly at the allowance and the floor is still noise.
        assert_eq!(
            r.judge(Metric::P99, 20.0 * MS, 22.0 * MS),
            RowVerdict::Unchanged
        );
        assert_eq!(
            r.judge(Metric::P99, 20.0 * MS, 22.1 * MS),
            RowVerdict::Regression
        );
        // The same rule in the better direction is an improvement.
        assert_eq!(
            r.judge(Metric::P95, 115.0 * MS, 100.0 * MS),
            RowVerdict::Improvement
        );
        assert_eq!(
            r.judge(Metric::P95, 6.0 * MS, 5.0 * MS),
            RowVerdict::Unchanged
        );
        // The allowance and floors are the rules', not constants.
        let strict = CompareRules {
            max_regression: 0.01,
            latency_floor_us: 500,
            ..rules()
        };
        assert_eq!(
            strict.judge(Metric::P95, 100.0 * MS, 105.0 * MS),
            RowVerdict::Regression
        );
    }

    #[test]
    fn each_metric_worsens_in_its_own_direction() {
        let r = rules();
        assert!(Metric::P50.higher_is_worse() && Metric::ErrorRate.higher_is_worse());
        assert!(!Metric::Rps.higher_is_worse());
        assert_eq!(r.judge(Metric::Rps, 200.0, 150.0), RowVerdict::Regression);
        assert_eq!(r.judge(Metric::Rps, 150.0, 200.0), RowVerdict::Improvement);
        // -20% of 40 rps is 8 rps: under the 10 rps floor.
        assert_eq!(r.judge(Metric::Rps, 40.0, 32.0), RowVerdict::Unchanged);
        assert_eq!(
            r.judge(Metric::P50, 40.0 * MS, 20.0 * MS),
            RowVerdict::Improvement
        );
        assert_eq!(
            r.judge(Metric::P50, 20.0 * MS, 40.0 * MS),
            RowVerdict::Regression
        );
        assert_eq!(
            r.judge(Metric::ErrorRate, 0.001, 0.02),
            RowVerdict::Regression
        );
        assert_eq!(
            r.judge(Metric::ErrorRate, 0.02, 0.001),
            RowVerdict::Improvement
        );
        // From 0, any rise counts as beyond the allowance; the floor still holds.
        assert_eq!(
            r.judge(Metric::ErrorRate, 0.0, 0.01),
            RowVerdict::Regression
        );
        assert_eq!(
            r.judge(Metric::ErrorRate, 0.0, 0.004),
            RowVerdict::Unchanged
        );
        // 0.01% → 0.03% triples, but by 0.02 points.
        assert_eq!(
            r.judge(Metric::ErrorRate, 0.0001, 0.0003),
            RowVerdict::Unchanged
        );
    }

    #[test]
    fn metric_lists_parse_each_metric_once() {
        assert_eq!(
            parse_metrics("p95,p99,rps,p95"),
            Ok(vec![Metric::P95, Metric::P99, Metric::Rps])
        );
        assert!(parse_metrics("").is_err());
        assert!(parse_metrics("p95,,rps").is_err());
    }

    #[test]
    fn allowances_are_percentages_or_fractions() {
        assert_eq!(parse_allowance("10%"), Ok(0.1));
        assert_eq!(parse_allowance(" 2.5 %"), Ok(0.025));
        assert_eq!(parse_allowance("150%"), Ok(1.5));
        assert_eq!(parse_allowance("0.1"), Ok(0.1));
        assert_eq!(parse_allowance("0"), Ok(0.0));
        assert_eq!(
            parse_allowance("10").unwrap_err().to_string(),
            "invalid allowance `10`: a bare number is a fraction and must be below 1; write a percentage like `10%`"
        );
        assert_eq!(
            parse_allowance("ten").unwrap_err().to_string(),
            "invalid allowance `ten`: expected a percentage like `10%` or a fraction like `0.1`"
        );
        assert!(parse_allowance("-5%").is_err());
        assert!(parse_allowance("NaN").is_err());
        assert!(parse_allowance("%").is_err());
    }

    #[test]
    fn rules_describe_themselves() {
        assert_eq!(
            rules().summary(),
            "max +10%, floor 2 ms / 10 rps / 0.5 pp, ≥1,000 samples"
        );
        let latency_only = CompareRules {
            metrics: vec![Metric::P50, Metric::P99],
            max_regression: 0.25,
            ..rules()
        };
        assert_eq!(
            latency_only.summary(),
            "max +25%, floor 2 ms, ≥1,000 samples"
        );
    }
}
