//! Judges a run against the plan's budgets, from the HDR data of the
//! judged stages.
//!
//! A budget with nothing to judge (no requests of that name were made in
//! the judged stages) fails: a run that measured nothing has not shown
//! that it meets anything.

use reports::{
    metric::{self, Judged},
    results::{
        AbortRule, ArrivalStats, BudgetMetric, BudgetVerdict, LatencyOf, ServerStats, Window,
    },
};
use scenario::{
    duration::whole_millis,
    plan::{Budget, Budgets},
};

use crate::run::{
    latency_of,
    recorder::{Aborted, limits, watchable},
};

/// What a run measured beyond its windows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence<'a> {
    /// An open model's arrivals.
    pub arrivals: Option<&'a ArrivalStats>,
    /// The target's own metrics, when scraped.
    pub server: Option<&'a ServerStats>,
    /// The budget that stopped the run, if one did.
    pub aborted_by: Option<&'a Aborted>,
}

/// Every budget of `budgets`: overall first, then per request in the
/// scenario's order, then the server's. `window_of(None)` is the overall
/// window, `window_of(Some(name))` a request's.
pub fn judge<'a>(
    budgets: &Budgets,
    window_of: impl Fn(Option<&str>) -> Option<&'a Window>,
    evidence: Evidence<'_>,
) -> Vec<BudgetVerdict> {
    let of = latency_of(budgets.latency_of);
    let mut verdicts = judge_one("overall", &budgets.overall, window_of(None), of, evidence);
    if let Some(limit) = budgets.overall.max_dropped_rate {
        verdicts.push(verdict(
            "overall",
            BudgetMetric::MaxDroppedRate,
            limit,
            beyond_windows(BudgetMetric::MaxDroppedRate, evidence),
        ));
    }
    for (name, budget) in &budgets.requests {
        verdicts.extend(judge_one(name, budget, window_of(Some(name)), of, evidence));
    }
    let server = [
        (
            BudgetMetric::MinCacheHitRatio,
            budgets.server.min_cache_hit_ratio,
        ),
        (
            BudgetMetric::MaxDbPoolUtilization,
            budgets.server.max_db_pool_utilization,
        ),
    ];
    for (metric, limit) in server {
        if let Some(limit) = limit {
            verdicts.push(verdict(
                "server",
                metric,
                limit,
                beyond_windows(metric, evidence),
            ));
        }
    }
    verdicts
}

/// The budgets of `verdicts`, as a run judged them, judged again on other
/// measurements: how a merge judges its shards' budgets once, on the
/// whole run. Abort rules are kept as they are.
pub fn rejudge<'a>(
    verdicts: &[BudgetVerdict],
    of: LatencyOf,
    window_of: impl Fn(Option<&str>) -> Option<&'a Window>,
    evidence: Evidence<'_>,
) -> Vec<BudgetVerdict> {
    verdicts
        .iter()
        .map(|judged| {
            let measured = beyond_windows(judged.metric, evidence).or_else(|| {
                let scope = (judged.scope != "overall").then_some(judged.scope.as_str());
                measure(window_of(scope), of, judged.metric)
            });
            BudgetVerdict {
                measured,
                passed: measured.is_some_and(|m| judged.metric.holds(m, judged.limit)),
                ..judged.clone()
            }
        })
        .collect()
}

/// A metric measured from beyond the request windows: the arrivals'
/// dropped rate over the judged stages (by each arrival's due time), and
/// the server's figures; `None` for the window metrics, and when nothing
/// was measured.
fn beyond_windows(metric: BudgetMetric, evidence: Evidence<'_>) -> Option<f64> {
    match metric {
        BudgetMetric::MaxDroppedRate => evidence
            .arrivals
            .map(ArrivalStats::judged_counts)
            .filter(|a| a.intended > 0)
            .map(|a| a.dropped_rate()),
        BudgetMetric::MinCacheHitRatio => evidence.server.and_then(|s| s.cache_hit_ratio),
        BudgetMetric::MaxDbPoolUtilization => {
            evidence.server.and_then(|s| s.db_pool.map(|p| p.mean))
        }
        BudgetMetric::P50
        | BudgetMetric::P95
        | BudgetMetric::P99
        | BudgetMetric::MaxErrorRate
        | BudgetMetric::MinRps => None,
    }
}

fn verdict(scope: &str, metric: BudgetMetric, limit: f64, measured: Option<f64>) -> BudgetVerdict {
    BudgetVerdict {
        scope: scope.to_owned(),
        metric,
        limit,
        measured,
        passed: measured.is_some_and(|m| metric.holds(m, limit)),
        abort: None,
    }
}

fn judge_one(
    scope: &str,
    budget: &Budget,
    window: Option<&Window>,
    of: LatencyOf,
    evidence: Evidence<'_>,
) -> Vec<BudgetVerdict> {
    limits(budget)
        .into_iter()
        .filter_map(|(metric, limit)| {
            let mut verdict = verdict(scope, metric, limit?, measure(window, of, metric));
            if watchable(metric) {
                verdict.abort = budget.abort.map(|when| AbortRule {
                    window_ms: whole_millis(when.window),
                    after_ms: whole_millis(when.after),
                    triggered_at_ms: evidence
                        .aborted_by
                        .filter(|a| a.scope == scope && a.metric == metric)
                        .map(|a| a.at_ms),
                });
            }
            Some(verdict)
        })
        .collect()
}

/// `metric` over `window`, latencies of whom `of` says, in the one metric
/// vocabulary; `None` when nothing was measured.
fn measure(window: Option<&Window>, of: LatencyOf, metric: BudgetMetric) -> Option<f64> {
    metric::value(&Judged::new(window?, of), metric.window_metric()?)
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
            ok: None,
            failed: None,
        }
    }

    #[test]
    fn each_limit_is_judged_in_its_direction() {
        let budgets = Budgets {
            during: None,
            latency_of: scenario::plan::LatencyOf::All,
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
            ..Budgets::default()
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
            Evidence::default(),
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
    fn latency_of_ok_judges_the_successful_requests_alone() {
        use reports::{histogram::new_histogram, results::Latencies};
        // 5% fast 503s from a load shedder under 95% slow successes: on
        // every request, p95 reads the slow successes' lower edge
        // flattered by the failures; on the successful alone, it cannot.
        let (mut ok, mut failed) = (new_histogram(), new_histogram());
        for i in 0..950 {
            ok.record(200_000 + i * 100).unwrap();
        }
        for _ in 0..50 {
            failed.record(500).unwrap();
        }
        let errors = ErrorCounts {
            status: 50,
            ..ErrorCounts::default()
        };
        let latencies = Latencies {
            ok: &ok,
            failed: &failed,
            service: None,
        };
        let overall = Window::of(1000, errors, 10_000_000, latencies);
        let p95 = |of| {
            let budgets = Budgets {
                latency_of: of,
                overall: Budget {
                    p95_us: Some(290_000),
                    ..Budget::default()
                },
                ..Budgets::default()
            };
            judge(&budgets, |_| Some(&overall), Evidence::default())[0].measured
        };
        let all = p95(scenario::plan::LatencyOf::All).unwrap();
        let only_ok = p95(scenario::plan::LatencyOf::Ok).unwrap();
        assert!(only_ok > all, "ok {only_ok} µs, all {all} µs");
        assert!((290_000.0..=296_000.0).contains(&only_ok), "{only_ok}");

        // Nothing succeeded: no latency to judge, so not "0 µs, passed".
        let empty = new_histogram();
        let all_failed = Window::of(
            50,
            errors,
            10_000_000,
            Latencies {
                ok: &empty,
                failed: &failed,
                service: None,
            },
        );
        let budgets = Budgets {
            latency_of: scenario::plan::LatencyOf::Ok,
            overall: Budget {
                p95_us: Some(290_000),
                ..Budget::default()
            },
            ..Budgets::default()
        };
        let verdict = &judge(&budgets, |_| Some(&all_failed), Evidence::default())[0];
        assert_eq!(verdict.measured, None);
        assert!(!verdict.passed);
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
            ..ArrivalStats::default()
        };
        let verdicts = judge(
            &budgets,
            |_| Some(&overall),
            Evidence {
                arrivals: Some(&arrivals),
                ..Evidence::default()
            },
        );
        assert_eq!(verdicts.len(), 1);
        assert_eq!(verdicts[0].metric, BudgetMetric::MaxDroppedRate);
        assert_eq!(verdicts[0].measured, Some(0.03));
        assert!(!verdicts[0].passed);
        let none = judge(&budgets, |_| Some(&overall), Evidence::default());
        assert_eq!(none[0].measured, None, "no schedule, nothing to judge");
        assert!(!none[0].passed);

        // With judged stages, their arrivals are judged, not the ramp's.
        let steady = ArrivalStats {
            judged: Some(reports::results::ArrivalCounts {
                intended: 800,
                started: 796,
                dropped: 4,
                late: 0,
            }),
            ..arrivals
        };
        let verdicts = judge(
            &budgets,
            |_| Some(&overall),
            Evidence {
                arrivals: Some(&steady),
                ..Evidence::default()
            },
        );
        assert_eq!(verdicts[0].measured, Some(0.005));
        assert!(verdicts[0].passed);
    }

    #[test]
    fn server_budgets_judge_the_scraped_metrics() {
        let budgets = Budgets {
            server: scenario::plan::ServerBudget {
                min_cache_hit_ratio: Some(0.85),
                max_db_pool_utilization: Some(0.8),
            },
            ..Budgets::default()
        };
        let server = ServerStats {
            url: "http://127.0.0.1:1/metrics".into(),
            scrapes: 3,
            failed_scrapes: 0,
            requests: Some(100),
            client_requests: 100,
            client_responses: 100,
            count_mismatch: None,
            count_unchecked: None,
            latency: None,
            cache_layers: Vec::new(),
            cache_hit_ratio: Some(0.9),
            db_pool: Some(reports::results::PoolUtilization {
                mean: 0.85,
                max: 1.0,
                max_connections: 60,
                readings: Some(4),
            }),
            series: Vec::new(),
            before: None,
            after: None,
        };
        let overall = window(100, 0, 1_000, 10.0);
        let judged = |server| {
            judge(
                &budgets,
                |_| Some(&overall),
                Evidence {
                    server,
                    ..Evidence::default()
                },
            )
            .into_iter()
            .map(|v| (v.scope, v.metric, v.measured, v.passed))
            .collect::<Vec<_>>()
        };
        assert_eq!(
            judged(Some(&server)),
            vec![
                (
                    "server".to_owned(),
                    BudgetMetric::MinCacheHitRatio,
                    Some(0.9),
                    true
                ),
                (
                    "server".to_owned(),
                    BudgetMetric::MaxDbPoolUtilization,
                    Some(0.85),
                    false
                ),
            ]
        );
        assert!(
            judged(None)
                .iter()
                .all(|(_, _, m, passed)| m.is_none() && !passed),
            "no metrics scraped, nothing shown"
        );
    }

    #[test]
    fn nothing_measured_fails() {
        let budgets = Budgets {
            overall: Budget {
                p50_us: Some(1_000),
                min_rps: Some(1.0),
                ..Budget::default()
            },
            ..Budgets::default()
        };
        // Ten seconds with no request: no latency and no rate either (not
        // 0 rps), so both fail as not measured.
        let empty = window(0, 0, 0, 0.0);
        let verdicts = judge(&budgets, |_| Some(&empty), Evidence::default());
        assert_eq!(verdicts.len(), 2);
        for verdict in &verdicts {
            assert_eq!(verdict.measured, None, "{:?}", verdict.metric);
            assert!(!verdict.passed);
        }
    }
}
