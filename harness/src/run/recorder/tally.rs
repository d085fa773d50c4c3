//! What the aggregator accumulates: counts and histograms per request name
//! and overall, over the whole run and the judged stages, and the
//! [`Recording`] it hands back when the run ends.

use std::{collections::BTreeMap, time::Duration};

use reports::{
    histogram::{HIGHEST_TRACKABLE_US, Histogram, new_histogram},
    results::{ErrorCounts, LatencyBasis, SecondStats},
};

use super::{
    JudgedSpans,
    sink::{Outcome, Sample},
};

/// Statistics of one request name (or of all of them).
#[derive(Debug, Clone)]
pub struct NameStats {
    pub all: Tally,
    pub judged: Tally,
    pub status_codes: BTreeMap<u16, u64>,
    /// Where the time of every sample went.
    pub phases: PhaseTally,
}

/// Counts and histograms over some samples.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Requests sent. A dropped arrival is no request: it is counted in
    /// `errors.dropped` and not here, so it fails the error rate without
    /// adding to the rate; so is a request that could not be sent.
    pub count: u64,
    pub errors: ErrorCounts,
    /// Latency of the successful requests on the run's basis: from each
    /// request's start (its due time, on a schedule), corrected for a pace.
    pub ok: Histogram,
    /// Latency of the failures, as `ok`; a dropped arrival's from its due
    /// time to when it was given up. A request that could not be sent has
    /// none.
    pub failed: Histogram,
    /// The raw service time (from the send), kept apart only when the
    /// basis differs from it.
    pub service: Option<Histogram>,
}

/// How an open model's arrivals started: two histograms (µs), one
/// question each. The start lag is the generator's lateness; the wait for a
/// free user is the target's slowness for the users (a dropped arrival
/// waited until it was given up).
#[derive(Debug, Clone)]
pub struct StartTally {
    pub start_lag: Histogram,
    pub waiting_for_users: Histogram,
}

impl StartTally {
    pub(super) fn new() -> Self {
        Self {
            start_lag: new_histogram(),
            waiting_for_users: new_histogram(),
        }
    }

    /// Records `sample` if it began an arrival or was one dropped. A
    /// dropped arrival no user claimed waited for a user all along; one a
    /// user had claimed but not started carries its timing up to the end.
    pub(super) fn add(&mut self, sample: &Sample) {
        match sample.start {
            Some(start) => {
                self.start_lag
                    .saturating_record(u64::from(start.start_lag_us));
                self.waiting_for_users
                    .saturating_record(u64::from(start.waited_for_user_us));
            }
            None if sample.was_dropped() => {
                self.waiting_for_users.saturating_record(sample.latency_us);
            }
            None => {}
        }
    }
}

/// Connect, time-to-first-byte and transfer histograms.
#[derive(Debug, Clone)]
pub struct PhaseTally {
    /// Samples that opened a connection.
    pub connects: u64,
    pub connect: Histogram,
    pub ttfb: Histogram,
    pub transfer: Histogram,
}

impl PhaseTally {
    pub(super) fn new() -> Self {
        Self {
            connects: 0,
            connect: new_histogram(),
            ttfb: new_histogram(),
            transfer: new_histogram(),
        }
    }

    pub(super) fn add(&mut self, sample: &Sample) {
        if sample.connect_us > 0 {
            self.connects += 1;
            self.connect.saturating_record(u64::from(sample.connect_us));
        }
        if sample.ttfb_us > 0 {
            self.ttfb.saturating_record(sample.ttfb_us);
            self.transfer
                .saturating_record(sample.service_us.saturating_sub(sample.ttfb_us).max(1));
        }
    }
}

/// Records `sample`'s latency into `histogram` on `basis`. On a pace, the
/// first request of an iteration counts from when the iteration was due,
/// and carries how late it started ([`Sample::start`]); each whole pace of
/// that lateness is an iteration the user skipped to keep its pace, and is
/// filled in as the request it would have started, a pace less late each,
/// down to 1 µs (like HdrHistogram's `record_correct`, but driven by the
/// lateness, not by the request's own latency: a slow request delays the
/// next iteration, which is where it shows). Later requests of an
/// iteration count as they are.
pub(super) fn record(histogram: &mut Histogram, sample: &Sample, basis: LatencyBasis) {
    if !sample.has_latency() {
        return;
    }
    let value = sample.latency_us.clamp(1, HIGHEST_TRACKABLE_US);
    histogram.saturating_record(value);
    if let (
        LatencyBasis::Corrected {
            expected_interval_us,
        },
        Some(start),
    ) = (basis, sample.start)
        && expected_interval_us > 0
    {
        let skipped = u64::from(start.start_lag_us) / expected_interval_us;
        for missed in 1..=skipped {
            let filled = value.saturating_sub(missed * expected_interval_us);
            histogram.saturating_record(filled.max(1));
        }
    }
}

impl Tally {
    pub(super) fn new(basis: LatencyBasis) -> Self {
        Self {
            count: 0,
            errors: ErrorCounts::default(),
            ok: new_histogram(),
            failed: new_histogram(),
            service: basis.has_raw().then(new_histogram),
        }
    }

    /// Every latency: the successful requests' and the failures'.
    pub fn all(&self) -> Histogram {
        let mut all = self.ok.clone();
        all.add(&self.failed)
            .expect("the recorder's histograms share one range");
        all
    }

    pub(super) fn add(&mut self, sample: &Sample, basis: LatencyBasis) {
        let part = if sample.succeeded() {
            &mut self.ok
        } else {
            &mut self.failed
        };
        record(part, sample, basis);
        if let Outcome::Failed { kind, .. } = sample.outcome {
            kind.count_into(&mut self.errors);
        }
        if !sample.was_sent() {
            return;
        }
        self.count += 1;
        if let Some(service) = &mut self.service {
            service.saturating_record(sample.service_us.max(1));
        }
    }
}

impl NameStats {
    pub(super) fn new(basis: LatencyBasis) -> Self {
        Self {
            all: Tally::new(basis),
            judged: Tally::new(basis),
            status_codes: BTreeMap::new(),
            phases: PhaseTally::new(),
        }
    }

    pub(super) fn add(&mut self, sample: &Sample, judged: bool, basis: LatencyBasis) {
        self.all.add(sample, basis);
        if judged {
            self.judged.add(sample, basis);
        }
        self.phases.add(sample);
        if let Some(status) = sample.outcome.status() {
            *self.status_codes.entry(status).or_default() += 1;
        }
    }
}

/// Everything a run recorded.
#[derive(Debug, Clone)]
pub struct Recording {
    pub names: Vec<String>,
    pub per_name: Vec<NameStats>,
    /// Every request, and every dropped arrival.
    pub overall: NameStats,
    /// An open model's arrivals, whole run: the start lag and the wait for
    /// a free user.
    pub starts: Option<StartTally>,
    pub seconds: Vec<SecondStats>,
    pub judged: JudgedSpans,
    pub run_duration: Duration,
    pub basis: LatencyBasis,
}
