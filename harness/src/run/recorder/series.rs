//! The per-second series: a second stays open for late samples, then is
//! reduced to its summary.

use std::collections::BTreeMap;

use reports::{
    histogram::{self, Histogram, new_histogram},
    results::{ErrorCounts, LatencyBasis, SecondStats},
};

use super::{
    sink::{Outcome, Sample},
    tally::{StartTally, record},
};
use crate::run::generator_cpu::CpuReading;

/// A second still open for late samples.
#[derive(Debug)]
pub(super) struct OpenSecond {
    histogram: Histogram,
    service: Option<Histogram>,
    /// Requests sent; the second's dropped arrivals are in `errors`.
    count: u64,
    errors: ErrorCounts,
    /// How the arrivals due in this second started (open model).
    starts: Option<StartTally>,
    /// Responses by status class: index 1 counts 1xx, … 5xx; 0 and above
    /// 5 catch codes outside 100–599. Named ("2xx") only when the second
    /// closes, so a sample costs an index, not a string.
    classes: [u64; 10],
}

impl OpenSecond {
    pub(super) fn new(basis: LatencyBasis) -> Self {
        Self {
            histogram: new_histogram(),
            service: basis.has_raw().then(new_histogram),
            count: 0,
            errors: ErrorCounts::default(),
            starts: (basis == LatencyBasis::IntendedStart).then(StartTally::new),
            classes: [0; 10],
        }
    }

    /// Adds a sample that started (or, on a schedule, was due) in this
    /// second; a dropped arrival counts as a failure, not a request.
    pub(super) fn add(&mut self, sample: &Sample, basis: LatencyBasis) {
        record(&mut self.histogram, sample, basis);
        if let Outcome::Failed { kind, .. } = sample.outcome {
            kind.count_into(&mut self.errors);
        }
        if let Some(starts) = &mut self.starts {
            starts.add(sample);
        }
        if !sample.was_sent() {
            return;
        }
        self.count += 1;
        if let Some(service) = &mut self.service {
            service.saturating_record(sample.service_us.max(1));
        }
        if let Some(status) = sample.outcome.status() {
            self.classes[class_of(status)] += 1;
        }
    }

    pub(super) fn close(self, second: u32, users: u32, cpu: CpuReading) -> SecondStats {
        let histogram = Some(histogram::encode(&self.histogram));
        let q = |q| {
            if self.histogram.is_empty() {
                0
            } else {
                self.histogram.value_at_quantile(q)
            }
        };
        SecondStats {
            second,
            count: self.count,
            errors: self.errors,
            status_classes: self
                .classes
                .iter()
                .enumerate()
                .filter(|&(_, &n)| n > 0)
                .map(|(class, &n)| (class_name(class), n))
                .collect::<BTreeMap<_, _>>(),
            p50_us: q(0.50),
            p95_us: q(0.95),
            p99_us: q(0.99),
            max_us: self.histogram.max(),
            service_p99_us: self
                .service
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(0.99)),
            users,
            generator_cpu: cpu.process,
            generator_thread_cpu: cpu.busiest_thread,
            start_lag_p99_us: self
                .starts
                .as_ref()
                .filter(|s| !s.start_lag.is_empty())
                .map(|s| s.start_lag.value_at_quantile(0.99)),
            waiting_for_users_p99_us: self
                .starts
                .as_ref()
                .filter(|s| !s.waiting_for_users.is_empty())
                .map(|s| s.waiting_for_users.value_at_quantile(0.99)),
            histogram,
        }
    }
}

/// Merges `sample` into a second already reduced to `stats`, which it
/// started in but reached the aggregator too late for: its counts, errors,
/// status class and the maximum take it in, so that the series still adds
/// up to the totals; the percentiles, whose histogram is gone, do not.
pub(super) fn late_into(stats: &mut SecondStats, sample: &Sample) {
    if let Outcome::Failed { kind, .. } = sample.outcome {
        kind.count_into(&mut stats.errors);
    }
    if sample.has_latency() {
        stats.max_us = stats.max_us.max(sample.latency_us);
    }
    if !sample.was_sent() {
        return;
    }
    stats.count += 1;
    if let Some(status) = sample.outcome.status() {
        *stats
            .status_classes
            .entry(class_name(class_of(status)))
            .or_default() += 1;
    }
}

/// The index of a status code's class: 1 for 1xx, … 5 for 5xx; 0 and
/// above 5 for codes outside 100–599.
fn class_of(status: u16) -> usize {
    usize::from(status / 100).min(9)
}

fn class_name(class: usize) -> String {
    format!("{class}xx")
}
