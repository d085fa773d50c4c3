//! The abort watches: each budget limit with an `abort` rule, checked every
//! second over the samples that *started* in its window, as the per-second
//! series bins them, so a watch and the series never disagree on a second.
//! A slow request is seen once it ends, in the second it began.

use std::{collections::BTreeMap, time::Duration};

use reports::{
    histogram::{Histogram, new_histogram},
    metric::{self, Percentile, Samples},
    results::{BudgetMetric, LatencyBasis},
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
/// in a results window, a dropped arrival is a failure but no request.
#[derive(Debug, Clone)]
struct WindowTally {
    count: u64,
    dropped: u64,
    errors: u64,
    histogram: Histogram,
}

impl WindowTally {
    fn new() -> Self {
        Self {
            count: 0,
            dropped: 0,
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
    fn dropped(&self) -> u64 {
        self.dropped
    }
    fn failed(&self) -> u64 {
        self.errors
    }
    fn latency_us(&self, percentile: Percentile) -> f64 {
        self.histogram.value_at_quantile(percentile.quantile()) as f64
    }
    fn rps(&self) -> f64 {
        f64::NAN
    }
}

/// The abort watches and their state.
#[derive(Debug)]
pub(super) struct Watches {
    watches: Vec<AbortWatch>,
    /// The scopes watched; a watch's slot is its scope's index here.
    scopes: Vec<Option<u16>>,
    /// Per watch: the check at which its current breach began, and the
    /// value last seen breaching.
    breach: Vec<Option<(u32, f64)>>,
    /// Per start second, one tally per watched scope.
    recent: BTreeMap<u32, Vec<WindowTally>>,
    longest_window: u32,
    /// The end of the last judged span, in whole seconds (rounded up);
    /// `None` when the whole run is judged. A window wholly past it holds
    /// no judged sample, so it is no evidence and no check looks at it.
    judged_until: Option<u32>,
    /// The latest check: a window never reaches back past `last_check -
    /// longest_window`, so a sample that started before that is no
    /// watch's business.
    last_check: u32,
}

impl Watches {
    /// Watches over samples judged until `judged_until` (whole seconds of
    /// the run; `None`: all of it).
    pub(super) fn new(watches: Vec<AbortWatch>, judged_until: Option<u32>) -> Self {
        let mut scopes = Vec::new();
        for watch in &watches {
            if !scopes.contains(&watch.scope) {
                scopes.push(watch.scope);
            }
        }
        Self {
            breach: vec![None; watches.len()],
            longest_window: watches
                .iter()
                .map(|w| window_secs(w.window))
                .max()
                .unwrap_or(0),
            watches,
            scopes,
            recent: BTreeMap::new(),
            judged_until,
            last_check: 0,
        }
    }

    /// Takes a judged sample into the second it started in, whenever it
    /// arrives.
    pub(super) fn take(&mut self, sample: &Sample, basis: LatencyBasis) {
        if self.watches.is_empty() {
            return;
        }
        let second = u32::try_from(sample.start_us / 1_000_000).unwrap_or(u32::MAX);
        if second.saturating_add(self.longest_window) < self.last_check {
            return;
        }
        let scopes = self.scopes.len();
        let slots = self
            .recent
            .entry(second)
            .or_insert_with(|| vec![WindowTally::new(); scopes]);
        for (slot, scope) in slots.iter_mut().zip(&self.scopes) {
            if scope.is_none_or(|name| Some(name) == sample.name) {
                if sample.was_sent() {
                    slot.count += 1;
                } else {
                    slot.dropped += 1;
                }
                slot.errors += u64::from(matches!(sample.outcome, Outcome::Failed { .. }));
                record(&mut slot.histogram, sample, basis);
            }
        }
    }

    /// Requests, dropped arrivals and failures held for the first watched
    /// scope, by start second.
    #[cfg(test)]
    pub(super) fn by_second(&self) -> BTreeMap<u32, (u64, u64, u64)> {
        self.recent
            .iter()
            .map(|(&second, slots)| (second, (slots[0].count, slots[0].dropped, slots[0].errors)))
            .collect()
    }

    /// Checks every watch over the seconds before `now`; the first watch
    /// whose breach has lasted its `after` stops the run. A watch whose
    /// window lies wholly past the judged spans is done: it neither
    /// breaches nor carries a breach on.
    pub(super) fn check(&mut self, now: u32, names: &[String]) -> Option<Aborted> {
        self.last_check = self.last_check.max(now);
        self.recent = self
            .recent
            .split_off(&now.saturating_sub(self.longest_window));
        for (i, watch) in self.watches.iter().enumerate() {
            let from = now.saturating_sub(window_secs(watch.window));
            if self.judged_until.is_some_and(|until| from >= until) {
                continue;
            }
            let slot = self.scopes.iter().position(|s| *s == watch.scope)?;
            let mut window = WindowTally::new();
            for (_, slots) in self.recent.range(from..now) {
                let tally = &slots[slot];
                window.count += tally.count;
                window.dropped += tally.dropped;
                window.errors += tally.errors;
                let _ = window.histogram.add(&tally.histogram);
            }
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
                // An empty window is no evidence either way: a target that
                // has stopped answering keeps its breach going.
                None => match self.breach[i] {
                    Some(breach) => breach,
                    None => continue,
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
