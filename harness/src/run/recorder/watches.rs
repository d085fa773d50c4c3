//! The abort watches: each budget limit with an `abort` rule, checked every
//! second over the samples that *started* in its window, as the per-second
//! series bins them, so a watch and the series agree on a second.
//!
//! A request is seen once it ends. One that ends while its window still
//! reaches back to the second it began counts there; one that outlived its
//! window (a 30 s timeout against a 10 s window) counts in the second it
//! ended instead, so the timeouts of a hung target still stop the run.

use std::{collections::BTreeMap, time::Duration};

use reports::{
    histogram::{Histogram, new_histogram},
    metric::{self, Percentile, Samples},
    results::{BudgetMetric, LatencyBasis, LatencyOf},
};

use super::{
    sink::{Outcome, Sample},
    tally::record,
};
use scenario::plan::Budget;

/// Which budget stopped the run, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Aborted {
    /// `overall` or a request name.
    pub scope: String,
    pub metric: BudgetMetric,
    /// From the run's start.
    pub at_ms: u64,
    /// Why, in words, for the results' stop reason.
    pub reason: String,
}

/// A budget's limits in their metrics' units (µs, a fraction, rps), in
/// the order verdicts list them; `None` where the budget sets none.
pub fn limits(budget: &Budget) -> [(BudgetMetric, Option<f64>); 5] {
    let micros = |limit: Option<u64>| limit.map(|us| us as f64);
    [
        (BudgetMetric::P50, micros(budget.p50_us)),
        (BudgetMetric::P95, micros(budget.p95_us)),
        (BudgetMetric::P99, micros(budget.p99_us)),
        (BudgetMetric::MaxErrorRate, budget.max_error_rate),
        (BudgetMetric::MinRps, budget.min_rps),
    ]
}

/// Whether an `abort` rule watches `metric` over its window: latency and
/// errors do; a rate over a sliding window would fire on every ramp.
pub fn watchable(metric: BudgetMetric) -> bool {
    metric != BudgetMetric::MinRps
}

/// A budget limit the aggregator checks every second over a sliding window.
#[derive(Debug, Clone, PartialEq)]
pub struct AbortWatch {
    /// `None` for overall, else the request name's index.
    pub scope: Option<u16>,
    /// A latency percentile or the error rate.
    pub metric: BudgetMetric,
    /// In the metric's unit (µs, or a fraction).
    pub limit: f64,
    /// How far back each check looks (whole seconds, at least one).
    pub window: Duration,
    /// How long the breach must last.
    pub after: Duration,
}

/// Counts and latencies of the samples one watched scope received: as
/// in a results window, a dropped arrival or a request that could not be
/// sent is a failure but no request. The latencies are of the samples the
/// budgets' `latency_of` judges.
#[derive(Debug, Clone)]
struct WindowTally {
    count: u64,
    unsent: u64,
    errors: u64,
    histogram: Histogram,
}

impl WindowTally {
    fn new() -> Self {
        Self {
            count: 0,
            unsent: 0,
            errors: 0,
            histogram: new_histogram(),
        }
    }
}

/// The abort watches read their window through the one metric
/// vocabulary, as the budgets do, so "p99 over a window" means one thing.
/// A live window has no length of its own, so it has no rate (a NaN,
/// which [`metric::value`] reads as no value); no watch asks for one
/// ([`watchable`]).
impl Samples for WindowTally {
    fn count(&self) -> u64 {
        self.count
    }
    fn unsent(&self) -> u64 {
        self.unsent
    }
    fn failed(&self) -> u64 {
        self.errors
    }
    fn latency_us(&self, percentile: Percentile) -> f64 {
        if self.histogram.is_empty() {
            return f64::NAN;
        }
        self.histogram.value_at_quantile(percentile.quantile()) as f64
    }
    fn rps(&self) -> f64 {
        f64::NAN
    }
}

/// What one tally per second counts: the samples of a scope, for the
/// watches that look back a window of this many seconds. Watches of one
/// scope and window share a lane; the window decides when a sample is too
/// late for its start second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lane {
    scope: Option<u16>,
    window: u32,
}

/// The abort watches and their state.
#[derive(Debug)]
pub(super) struct Watches {
    watches: Vec<AbortWatch>,
    /// The lanes counted; `lane_of[i]` is watch `i`'s.
    lanes: Vec<Lane>,
    lane_of: Vec<usize>,
    /// Per watch: the check at which its current breach began, and the
    /// value last seen breaching.
    breach: Vec<Option<(u32, f64)>>,
    /// Per second, one tally per lane.
    recent: BTreeMap<u32, Vec<WindowTally>>,
    longest_window: u32,
    /// The spans of whole seconds in which judged requests are planned to
    /// start. An empty window that touches none of them is no evidence of
    /// a stalled target, only of no load: it ends a breach rather than
    /// carrying it on.
    planned: Vec<(u32, u32)>,
    /// The latest check, so the second now running: the next check looks
    /// at the `window` seconds before `last_check + 1`.
    last_check: u32,
    /// Whose latencies the watches judge, as the budgets do.
    latency_of: LatencyOf,
}

impl Watches {
    /// Watches over judged samples, which are planned to start in the
    /// `planned` spans of whole seconds, judging the latencies of whom
    /// `latency_of` says.
    pub(super) fn new(
        watches: Vec<AbortWatch>,
        planned: Vec<(u32, u32)>,
        latency_of: LatencyOf,
    ) -> Self {
        let mut lanes = Vec::new();
        let lane_of = watches
            .iter()
            .map(|watch| {
                let lane = Lane {
                    scope: watch.scope,
                    window: window_secs(watch.window),
                };
                lanes.iter().position(|l| *l == lane).unwrap_or_else(|| {
                    lanes.push(lane);
                    lanes.len() - 1
                })
            })
            .collect();
        Self {
            breach: vec![None; watches.len()],
            longest_window: lanes.iter().map(|l| l.window).max().unwrap_or(0),
            watches,
            lanes,
            lane_of,
            recent: BTreeMap::new(),
            planned,
            last_check: 0,
            latency_of,
        }
    }

    /// Takes a judged sample into the second it started in, or, in a lane
    /// whose window no longer reaches back that far, into the second now
    /// running (see the module docs).
    pub(super) fn take(&mut self, sample: &Sample, basis: LatencyBasis) {
        let started = u32::try_from(sample.start_us / 1_000_000).unwrap_or(u32::MAX);
        for (i, lane) in self.lanes.iter().enumerate() {
            if lane.scope.is_some_and(|name| Some(name) != sample.name) {
                continue;
            }
            let second = if started.saturating_add(lane.window) > self.last_check {
                started
            } else {
                self.last_check
            };
            let lanes = self.lanes.len();
            let tally = &mut self
                .recent
                .entry(second)
                .or_insert_with(|| vec![WindowTally::new(); lanes])[i];
            if sample.was_sent() {
                tally.count += 1;
            } else {
                tally.unsent += 1;
            }
            tally.errors += u64::from(matches!(sample.outcome, Outcome::Failed { .. }));
            if self.latency_of == LatencyOf::All || sample.succeeded() {
                record(&mut tally.histogram, sample, basis);
            }
        }
    }

    /// Requests, attempts that sent none and failures held in the first
    /// watch's lane, by second.
    #[cfg(test)]
    pub(super) fn by_second(&self) -> BTreeMap<u32, (u64, u64, u64)> {
        self.recent
            .iter()
            .map(|(&second, slots)| (second, (slots[0].count, slots[0].unsent, slots[0].errors)))
            .collect()
    }

    /// What watch `i`'s check at `now` looks at: its lane's samples of the
    /// window before `now`.
    fn window(&self, i: usize, now: u32) -> WindowTally {
        let lane = self.lane_of[i];
        let from = now.saturating_sub(self.lanes[lane].window);
        let mut window = WindowTally::new();
        for (_, slots) in self.recent.range(from..now) {
            let tally = &slots[lane];
            window.count += tally.count;
            window.unsent += tally.unsent;
            window.errors += tally.errors;
            let _ = window.histogram.add(&tally.histogram);
        }
        window
    }

    /// Requests and dropped arrivals in the window watch `i` looks at from
    /// `now`, for the tests that check nothing is missed.
    #[cfg(test)]
    pub(super) fn window_count(&self, i: usize, now: u32) -> u64 {
        let window = self.window(i, now);
        window.count + window.unsent
    }

    /// Whether judged requests are planned to start in `[from, to)`.
    fn planned_in(&self, from: u32, to: u32) -> bool {
        self.planned
            .iter()
            .any(|&(start, end)| start < to && from < end)
    }

    /// Checks every watch over the seconds before `now`; the first watch
    /// whose breach has lasted its `after` stops the run.
    pub(super) fn check(&mut self, now: u32, names: &[String]) -> Option<Aborted> {
        self.last_check = self.last_check.max(now);
        self.recent = self
            .recent
            .split_off(&now.saturating_sub(self.longest_window));
        for (i, watch) in self.watches.iter().enumerate() {
            let window = self.window(i, now);
            let measured = watch
                .metric
                .window_metric()
                .and_then(|m| metric::value(&window, m));
            let (since, value) = match measured {
                Some(value) if watch.metric.holds(value, watch.limit) => {
                    self.breach[i] = None;
                    continue;
                }
                Some(value) => {
                    let since = self.breach[i].map_or(now, |(since, _)| since);
                    self.breach[i] = Some((since, value));
                    (since, value)
                }
                // An empty window while load is planned is no evidence
                // either way: a target that has stopped answering keeps its
                // breach going. With none planned (a gap between judged
                // stages, or past them), the breach is over.
                None => match self.breach[i] {
                    Some(breach)
                        if self.planned_in(
                            now.saturating_sub(self.lanes[self.lane_of[i]].window),
                            now,
                        ) =>
                    {
                        breach
                    }
                    _ => {
                        self.breach[i] = None;
                        continue;
                    }
                },
            };
            if f64::from(now - since) >= watch.after.as_secs_f64() {
                let scope = watch
                    .scope
                    .map_or("overall", |n| names[usize::from(n)].as_str());
                let shown = |v| reports::units::metric_value(watch.metric, v);
                return Some(Aborted {
                    scope: scope.to_owned(),
                    metric: watch.metric,
                    at_ms: u64::from(now) * 1000,
                    reason: format!(
                        "aborted: {scope} {} over the last {}s was {} (budget {}) at every check for {}s",
                        watch.metric.label(),
                        window_secs(watch.window),
                        shown(value),
                        shown(watch.limit),
                        now - since,
                    ),
                });
            }
        }
        None
    }
}

fn window_secs(window: Duration) -> u32 {
    u32::try_from(window.as_secs().max(1)).unwrap_or(u32::MAX)
}
