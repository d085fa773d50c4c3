//! Records every request of a run into HDR histograms (µs): per request
//! name and overall, over the whole run and over the judged stages, and a
//! per-second series binned by the second each request *started* in.
//!
//! Users share a lock only once per batch. Each keeps a [`SampleSink`], a
//! small buffer of raw samples that it leaves in the aggregator's inbox in
//! batches; the aggregator alone owns the histograms. hdrhistogram's
//! `SyncHistogram` was the other candidate, but its `refresh` bins samples by
//! when they are collected, not by when their request started, and it waits
//! for every live recorder, so an idle user would stall the series.
//!
//! A second's histogram stays open for a grace period after the second
//! ends (a request may take until its timeout to finish; on a schedule,
//! after waiting as long for a free user), then it is reduced to its
//! summary, so a 4-hour run holds a few dozen histograms, not 14 400.
//! Users hand their samples over before they wait and before a request
//! when what they hold is older than 200 ms, so a sample seldom arrives
//! after its second closed; one that does is merged into that second's
//! counts (not its percentiles), never put in its place.
//!
//! The aggregator also ticks once a second: it samples the running users
//! and the generator's own CPU for the series, and checks the budgets that
//! can abort the run against the samples that arrived over their window.
//!
//! An open model's arrival that was dropped unsent is a [`Sample`] too
//! ([`Sample::dropped`]): a failure in the overall figures and its
//! second's, never a request of a name, never in a count of requests. The
//! first request of each started arrival carries its [`StartTiming`], so
//! each second (by due time) keeps the generator's start lag apart from the
//! wait for a free user.

mod aggregate;
mod inbox;
mod series;
mod sink;
mod tally;
mod watches;

use std::{
    sync::{Arc, Mutex, OnceLock, atomic::AtomicU32},
    time::Duration,
};

use reports::{
    histogram::Histogram,
    results::{LatencyBasis, LatencyOf},
};
use scenario::{Timeline, duration::whole_micros};

pub use sink::{FailureKind, Outcome, Sample, SampleSink, StartTiming};
pub use tally::{NameStats, PhaseTally, Recording, StartTally, Tally};
pub use watches::{AbortWatch, Aborted, limits, watchable};

use crate::run::clock::StageClock;
use aggregate::{Aggregate, Shared};
use inbox::Inbox;

/// The recording side of a run: hands out sinks, counts users, and turns
/// batches into statistics.
#[derive(Debug)]
pub struct Recorder {
    inbox: Arc<Inbox>,
    aggregator: tokio::task::JoinHandle<Aggregate>,
    /// Tells the aggregator to take what is in its inbox and stop.
    finish: tokio::sync::oneshot::Sender<()>,
    users: Arc<AtomicU32>,
    live: Arc<Mutex<Live>>,
    aborted: Arc<OnceLock<Aborted>>,
}

/// What a recorder needs to know about the run.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// Request names, in scenario order; [`Sample::name`] indexes them.
    pub names: Vec<String>,
    /// The run's clock, which sample times count from.
    pub clock: Arc<StageClock>,
    /// Which spans budgets look at.
    pub judged: JudgedSpans,
    /// When the timeline's last stage ends: no request is planned to start
    /// after it.
    pub timeline_end: Duration,
    /// Bounds how late a sample may arrive for its second.
    pub longest_timeout: Duration,
    /// What latencies count from, and whether a raw histogram is kept
    /// beside the judged one.
    pub basis: LatencyBasis,
    /// Budgets that stop the run on a sustained breach.
    pub abort_watches: Vec<AbortWatch>,
    /// Whose latencies the abort watches judge, as the budgets do.
    pub latency_of: LatencyOf,
}

/// Where budgets look: which spans of the run are judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JudgedSpans(pub Vec<(u64, u64)>);

impl JudgedSpans {
    /// The spans of the stages named in `during` on the run's `timeline`,
    /// or (no names) the whole run: budgets judge the stages as the engine
    /// ran them.
    pub fn of(timeline: &Timeline, during: Option<&[String]>) -> Self {
        let Some(during) = during else {
            return Self::default();
        };
        Self(
            timeline
                .spans_named(during)
                .map(|span| (whole_micros(span.start), whole_micros(span.end)))
                .collect(),
        )
    }

    /// Whether a request that started at `start_us` is judged; with no
    /// spans, every request is.
    pub(crate) fn contains(&self, start_us: u64) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .any(|&(from, to)| (from..to).contains(&start_us))
    }

    /// Judged time within the first `run_us` of the run.
    pub fn duration_within(&self, run_us: u64) -> u64 {
        if self.0.is_empty() {
            return run_us;
        }
        self.0
            .iter()
            .map(|&(from, to)| to.min(run_us).saturating_sub(from))
            .sum()
    }

    /// The judged spans within a timeline that ends at `end_us`, in whole
    /// seconds (widened to the seconds they touch): where judged requests
    /// are planned to start.
    pub(crate) fn planned_seconds(&self, end_us: u64) -> Vec<(u32, u32)> {
        let whole = [(0, end_us)];
        let spans = if self.0.is_empty() {
            &whole[..]
        } else {
            &self.0
        };
        let second = |us: u64| u32::try_from(us).unwrap_or(u32::MAX);
        spans
            .iter()
            .map(|&(from, to)| (from / 1_000_000, to.min(end_us).div_ceil(1_000_000)))
            .filter(|(from, to)| from < to)
            .map(|(from, to)| (second(from), second(to)))
            .collect()
    }

    pub fn is_whole_run(&self) -> bool {
        self.0.is_empty()
    }
}

/// Counters the live progress view reads, by arrival.
#[derive(Debug, Default, Clone)]
pub struct Live {
    pub requests: u64,
    pub errors: u64,
    /// Requests that arrived since the last [`Recorder::take_recent`].
    pub(super) recent: Option<Histogram>,
    /// Arrival ticks in which every request that ended failed to connect,
    /// since the last in which one ended otherwise; ticks in which nothing
    /// ended neither add to it nor end it.
    pub connect_only_streak: u32,
    pub(super) tick_requests: u64,
    pub(super) tick_connect_failures: u64,
}

/// A snapshot for the progress line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recent {
    pub requests: u64,
    pub errors: u64,
    pub p95_us: u64,
    /// Seconds in which requests failed to connect and none connected,
    /// since the last in which one did (seconds in which nothing ended
    /// aside).
    pub connect_only_streak: u32,
}

impl Recorder {
    /// Starts the aggregator; see [`RecorderConfig`].
    pub fn start(config: RecorderConfig) -> Self {
        let inbox = Arc::new(Inbox::default());
        let users = Arc::new(AtomicU32::new(0));
        let live = Arc::new(Mutex::new(Live::default()));
        let aborted = Arc::new(OnceLock::new());
        let aggregate = Aggregate::new(config);
        let (finish, finishing) = tokio::sync::oneshot::channel();
        let aggregator = tokio::spawn(aggregate.run(
            inbox.clone(),
            finishing,
            Shared {
                users: users.clone(),
                live: live.clone(),
                aborted: aborted.clone(),
            },
        ));
        Self {
            inbox,
            aggregator,
            finish,
            users,
            live,
            aborted,
        }
    }

    /// The budget that has stopped the run, once one has.
    pub fn aborted(&self) -> Option<&Aborted> {
        self.aborted.get()
    }

    pub fn sink(&self) -> SampleSink {
        SampleSink::new(self.inbox.clone())
    }

    /// The count of running users, which users keep up to date.
    pub fn users(&self) -> Arc<AtomicU32> {
        self.users.clone()
    }

    /// What arrived since the last call, for the live view.
    pub fn take_recent(&self) -> Recent {
        let mut live = self.live.lock().expect("live lock");
        let recent = live.recent.take();
        Recent {
            requests: live.requests,
            errors: live.errors,
            p95_us: recent.map_or(0, |h| h.value_at_quantile(0.95)),
            connect_only_streak: live.connect_only_streak,
        }
    }

    /// Takes every batch handed over so far (users flush as they stop)
    /// and returns the statistics of the whole run, which lasted `run_duration`.
    pub async fn finish(self, run_duration: Duration) -> Recording {
        let _ = self.finish.send(());
        let aggregate = self
            .aggregator
            .await
            .expect("the aggregator does not panic");
        aggregate.into_recording(run_duration)
    }
}

#[cfg(test)]
mod tests;
