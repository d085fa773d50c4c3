//! Judges a run against the plan's budgets, from the HDR data of the
//! judged stages.
//!
//! A budget with nothing to judge (no requests of that name were made in
//! the judged stages) fails: a run that measured nothing has not shown
//! that it meets anything.

use reports::results::{ArrivalStats, BudgetMetric, BudgetVerdict, Window};

use crate::plan::{Budget, Budgets};

/// Every budget of `budgets`, overall first, then per request in the
/// scenario's order. `window_of(None)` is the overall window,
/// `window_of(Some(name))` a request's; `arrivals` are an open model's.
pub fn judge<'a>(
    budgets: &Budgets,
    window_of: impl Fn(Option<&str>) -> Option<&'a Window>,
    arrivals: Option<&ArrivalStats>,
) -> Vec<BudgetVerdict> {
    let mut verdicts = judge_one("overall", &budgets.overall, window_of(None));
    if let Some(limit) = budgets.overall.max_dropped_rate {
        let measured = arrivals
            .filter(|a| a.intended > 0)
            .map(ArrivalStats::dropped_rate);
        verdicts.push(BudgetVerdict {
            scope: "overall".to_owned(),
            metric: BudgetMetric::MaxDroppedRate,
            limit,
            measured,
            passed: measured.is_some_and(|m| BudgetMetric::MaxDroppedRate.holds(m, limit)),
        });
    }
    for (name, budget) in &budgets.requests {
        verdicts.extend(judge_one(name, budget, window_of(Some(name))));
    }
    verdicts
}

fn judge_one(scope: &str, budget: &Budget, window: Option<&Window>) -> Vec<BudgetVerdict> {
    let sampled = window.filter(|w| w.count > 0);
    let latency = |pick: fn(&Window) -> u64| sampled.map(|w| pick(w) as f64);
    let limits = [
        (
            BudgetMetric::P50,
            budget.p50_us.map(|v| v as f64),
            latency(|w| w.latency.p50_us),
        ),
        (
            BudgetMetric::P95,
            budget.p95_us.map(|v| v as f64),
            latency(|w| w.latency.p95_us),
        ),
        (
            BudgetMetric::P99,
            budget.p99_us.map(|v| v as f64),
            latency(|w| w.latency.p99_us),
        ),
        (
            BudgetMetric::MaxErrorRate,
            budget.max_error_rate,
            sampled.map(|w| w.error_rate),
        ),
        (
            BudgetMetric::MinRps,
            budget.min_rps,
            window.filter(|w| w.duration_ms > 0).map(|w| w.rps),
        ),
    ];
    limits
        .into_iter()
        .filter_map(|(metric, limit, measured)| {
            let limit = limit?;
            Some(BudgetVerdict {
                scope: scope.to_owned(),
                metric,
                limit,
                measured,
                passed: measured.is_some_and(|m| metric.holds(m, limit)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;
    use reports::results::{ErrorCounts, LatencySummary};

    use super::*;

    fn window(count: u64, errors: u64, p95_us: u64, rps: f64) -> Window {
        Window {
            count,
            errors: ErrorCounts {
                status: errors,
                ..ErrorCounts::default()
            },
            duration_ms: 10_000,
            rps,
            error_rate: if count == 0 {
                0.0
            } else {
                errors as f64 / count as f64
            },
            latency: LatencySummary {
                p50_us: p95_us / 2,
                p95_us,
                p99_us: p95_us * 2,
                ..LatencySummary::default()
            },
            histogram: String::new(),
            service_latency: None,
            service_histogram: None,
        }
    }

    #[test]
    fn each_limit_is_judged_in_its_direction() {
        let budgets = Budgets {
            during: None,
            overall: Budget {
                p95_us: Some(200_000),
                max_error_rate: Some(0.01),
                ..Budget::default()
            },
            requests: IndexMap::from([(
                "list".to_owned(),
                Budget {
                    p99_us: Some(300_000),
                    min_rps: Some(50.0),
                    ..Budget::default()
                },
            )]),
        };
        let overall = window(1000, 20, 150_000, 100.0);
        let list = window(500, 0, 160_000, 40.0);
        let verdicts = judge(
            &budgets,
            |name| match name {
                None => Some(&overall),
                Some("list") => Some(&list),
                Some(_) => None,
            },
            None,
        );
        let summary: Vec<(&str, BudgetMetric, Option<f64>, bool)> = verdicts
            .iter()
            .map(|v| (v.scope.as_str(), v.metric, v.measured, v.passed))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("overall", BudgetMetric::P95, Some(150_000.0), true),
                ("overall", BudgetMetric::MaxErrorRate, Some(0.02), false),
                ("list", BudgetMetric::P99, Some(320_000.0), false),
                ("list", BudgetMetric::MinRps, Some(40.0), false),
            ]
        );
    }

    #[test]
    fn dropped_arrivals_are_judged_over_the_schedule() {
        let budgets = Budgets {
            overall: Budget {
                max_dropped_rate: Some(0.01),
                ..Budget::default()
            },
            ..Budgets::default()
        };
        let overall = window(100, 0, 1_000, 10.0);
        let arrivals = ArrivalStats {
            intended: 1000,
            started: 970,
            dropped: 30,
            late: 5,
        };
        let verdicts = judge(&budgets, |_| Some(&overall), Some(&arrivals));
        assert_eq!(verdicts.len(), 1);
        assert_eq!(verdicts[0].metric, BudgetMetric::MaxDroppedRate);
        assert_eq!(verdicts[0].measured, Some(0.03));
        assert!(!verdicts[0].passed);
        let none = judge(&budgets, |_| Some(&overall), None);
        assert_eq!(none[0].measured, None, "no schedule, nothing to judge");
        assert!(!none[0].passed);
    }

    #[test]
    fn nothing_measured_fails() {
        let budgets = Budgets {
            overall: Budget {
                p50_us: Some(1_000),
                ..Budget::default()
            },
            ..Budgets::default()
        };
        let empty = window(0, 0, 0, 0.0);
        let verdicts = judge(&budgets, |_| Some(&empty), None);
        assert_eq!(verdicts.len(), 1);
        assert_eq!(verdicts[0].measured, None);
        assert!(!verdicts[0].passed);
    }
}
