//! Records every request of a run into HDR histograms (µs): per request
//! name and overall, over the whole run and over the judged stages, and a
//! per-second series binned by the second each request *started* in.
//!
//! Users never share a lock. Each keeps a [`SampleSink`], a small buffer of
//! raw samples that it hands to the [`Aggregator`] task in batches over a
//! channel; the aggregator alone owns the histograms. hdrhistogram's
//! `SyncHistogram` was the other candidate, but its `refresh` bins samples by
//! when they are collected, not by when their request started, and it waits
//! for every live recorder, so an idle user would stall the series.
//!
//! A second's histogram stays open for [`GRACE`] after the second ends (a
//! request may take until its timeout to finish), then it is reduced to its
//! summary, so a 4-hour run holds a few dozen histograms, not 14 400.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use reports::{
    histogram::{Histogram, new_histogram},
    results::{ErrorCounts, SecondStats},
};
use tokio::sync::mpsc;

/// How long a second stays open for late samples, beyond the longest
/// request timeout of the plan.
const GRACE_SLACK: Duration = Duration::from_secs(2);
/// A user hands over its buffer when it holds this many samples…
const BATCH_SAMPLES: usize = 256;
/// …or when its oldest sample is this old, so the series and the live view
/// stay current for slow users.
const BATCH_AGE: Duration = Duration::from_millis(200);

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Passed its checks.
    Ok { status: u16 },
    /// Failed; `status` when a response arrived.
    Failed {
        kind: FailureKind,
        status: Option<u16>,
    },
}

/// Why a request failed; one kind per request, the first that applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Connect,
    Timeout,
    Status,
    Check,
    Other,
}

impl FailureKind {
    fn count_into(self, errors: &mut ErrorCounts) {
        match self {
            Self::Connect => errors.connect += 1,
            Self::Timeout => errors.timeout += 1,
            Self::Status => errors.status += 1,
            Self::Check => errors.check += 1,
            Self::Other => errors.other += 1,
        }
    }
}

/// One request, as measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Index of the request name in [`Recorder::names`].
    pub name: u16,
    /// When the request started, from the run's start: when it was due,
    /// for a request on a schedule (open model); else when it was sent.
    pub start_us: u64,
    /// From `start_us` to the last byte of the response body.
    pub latency_us: u64,
    /// From sending the request to the last byte: `latency_us` less any
    /// wait before the send. Equal to it without a schedule.
    pub service_us: u64,
    pub outcome: Outcome,
}

impl Outcome {
    fn status(self) -> Option<u16> {
        match self {
            Self::Ok { status } => Some(status),
            Self::Failed { status, .. } => status,
        }
    }
}

/// A user's buffer of samples not yet handed over; cheap to clone.
#[derive(Debug, Clone)]
pub struct SampleSink {
    samples: Vec<Sample>,
    oldest: Option<Instant>,
    to_aggregator: mpsc::UnboundedSender<Vec<Sample>>,
}

impl SampleSink {
    pub fn record(&mut self, sample: Sample) {
        let now = Instant::now();
        self.samples.push(sample);
        let oldest = *self.oldest.get_or_insert(now);
        if self.samples.len() >= BATCH_SAMPLES || now.duration_since(oldest) >= BATCH_AGE {
            self.flush();
        }
    }

    /// Hands over everything buffered (also called before a user stops).
    pub fn flush(&mut self) {
        if self.samples.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.samples, Vec::with_capacity(BATCH_SAMPLES));
        self.oldest = None;
        // The aggregator outlives every user; a closed channel means the run
        // is being torn down and there is nothing left to record into.
        let _ = self.to_aggregator.send(batch);
    }
}

/// The recording side of a run: hands out sinks, counts users, and turns
/// batches into statistics.
#[derive(Debug)]
pub struct Recorder {
    names: Vec<String>,
    to_aggregator: mpsc::UnboundedSender<Vec<Sample>>,
    aggregator: tokio::task::JoinHandle<Aggregate>,
    /// Tells the aggregator to take what is queued and stop, even if some
    /// sink is still alive somewhere.
    finish: tokio::sync::oneshot::Sender<()>,
    users: Arc<AtomicU32>,
    live: Arc<Mutex<Live>>,
}

/// Where budgets look: which spans of the run are judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JudgedSpans(pub Vec<(u64, u64)>);

impl JudgedSpans {
    /// Whether a request that started at `start_us` is judged; with no
    /// spans, every request is.
    fn contains(&self, start_us: u64) -> bool {
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
    recent: Option<Histogram>,
    /// Consecutive arrival ticks in which every request failed to connect.
    pub connect_only_streak: u32,
    tick_requests: u64,
    tick_connect_failures: u64,
}

/// A snapshot for the progress line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recent {
    pub requests: u64,
    pub errors: u64,
    pub p95_us: u64,
    /// Seconds in a row in which requests were sent and none connected.
    pub connect_only_streak: u32,
}

impl Recorder {
    /// Starts the aggregator for `names` (request names, in scenario
    /// order). `epoch` is the run's start, which sample times count from;
    /// `judged` says which spans budgets look at; `longest_timeout` bounds
    /// how late a sample may arrive for its second; `scheduled` keeps
    /// service times apart from latencies (a run on an arrival schedule).
    pub fn start(
        names: Vec<String>,
        epoch: Instant,
        judged: JudgedSpans,
        longest_timeout: Duration,
        scheduled: bool,
    ) -> Self {
        let (to_aggregator, batches) = mpsc::unbounded_channel();
        let users = Arc::new(AtomicU32::new(0));
        let live = Arc::new(Mutex::new(Live::default()));
        let aggregate = Aggregate::new(
            names.len(),
            epoch,
            judged,
            longest_timeout + GRACE_SLACK,
            scheduled,
        );
        let (finish, finishing) = tokio::sync::oneshot::channel();
        let aggregator =
            tokio::spawn(aggregate.run(batches, finishing, users.clone(), live.clone()));
        Self {
            names,
            to_aggregator,
            aggregator,
            finish,
            users,
            live,
        }
    }

    pub fn sink(&self) -> SampleSink {
        SampleSink {
            samples: Vec::with_capacity(BATCH_SAMPLES),
            oldest: None,
            to_aggregator: self.to_aggregator.clone(),
        }
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
        aggregate.into_recording(self.names, run_duration)
    }
}

/// Statistics of one request name (or of all of them).
#[derive(Debug, Clone)]
pub struct NameStats {
    pub all: Tally,
    pub judged: Tally,
    pub status_codes: BTreeMap<u16, u64>,
}

/// Counts and a histogram over some samples.
#[derive(Debug, Clone)]
pub struct Tally {
    pub count: u64,
    pub errors: ErrorCounts,
    /// Latency from each request's start (its due time, on a schedule).
    pub histogram: Histogram,
    /// Service time (from the send), kept apart only for a run on a schedule.
    pub service: Option<Histogram>,
}

impl Tally {
    fn new(scheduled: bool) -> Self {
        Self {
            count: 0,
            errors: ErrorCounts::default(),
            histogram: new_histogram(),
            service: scheduled.then(new_histogram),
        }
    }

    fn add(&mut self, sample: &Sample) {
        self.count += 1;
        self.histogram.saturating_record(sample.latency_us.max(1));
        if let Some(service) = &mut self.service {
            service.saturating_record(sample.service_us.max(1));
        }
        if let Outcome::Failed { kind, .. } = sample.outcome {
            kind.count_into(&mut self.errors);
        }
    }
}

impl NameStats {
    fn new(scheduled: bool) -> Self {
        Self {
            all: Tally::new(scheduled),
            judged: Tally::new(scheduled),
            status_codes: BTreeMap::new(),
        }
    }

    fn add(&mut self, sample: &Sample, judged: bool) {
        self.all.add(sample);
        if judged {
            self.judged.add(sample);
        }
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
    pub overall: NameStats,
    pub seconds: Vec<SecondStats>,
    pub judged: JudgedSpans,
    pub run_duration: Duration,
}

/// A second still open for late samples.
#[derive(Debug)]
struct OpenSecond {
    histogram: Histogram,
    service: Option<Histogram>,
    count: u64,
    errors: ErrorCounts,
    classes: BTreeMap<String, u64>,
}

impl OpenSecond {
    fn new(scheduled: bool) -> Self {
        Self {
            histogram: new_histogram(),
            service: scheduled.then(new_histogram),
            count: 0,
            errors: ErrorCounts::default(),
            classes: BTreeMap::new(),
        }
    }

    fn close(self, second: u32, users: u32) -> SecondStats {
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
            status_classes: self.classes,
            p50_us: q(0.50),
            p95_us: q(0.95),
            p99_us: q(0.99),
            max_us: self.histogram.max(),
            service_p99_us: self
                .service
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(0.99)),
            users,
        }
    }
}

/// The aggregator's state; owned by its task.
#[derive(Debug)]
struct Aggregate {
    scheduled: bool,
    per_name: Vec<NameStats>,
    overall: NameStats,
    judged: JudgedSpans,
    grace: Duration,
    /// Open seconds, by second.
    open: BTreeMap<u32, OpenSecond>,
    /// Users at the end of each second, sampled by the tick.
    users_at: VecDeque<(u32, u32)>,
    closed: Vec<SecondStats>,
    started: Instant,
}

impl Aggregate {
    fn new(
        names: usize,
        epoch: Instant,
        judged: JudgedSpans,
        grace: Duration,
        scheduled: bool,
    ) -> Self {
        Self {
            scheduled,
            per_name: (0..names).map(|_| NameStats::new(scheduled)).collect(),
            overall: NameStats::new(scheduled),
            judged,
            grace,
            open: BTreeMap::new(),
            users_at: VecDeque::new(),
            closed: Vec::new(),
            started: epoch,
        }
    }

    async fn run(
        mut self,
        mut batches: mpsc::UnboundedReceiver<Vec<Sample>>,
        mut finishing: tokio::sync::oneshot::Receiver<()>,
        users: Arc<AtomicU32>,
        live: Arc<Mutex<Live>>,
    ) -> Self {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                batch = batches.recv() => match batch {
                    Some(batch) => self.take(&batch, &live),
                    None => break,
                },
                _ = &mut finishing => {
                    while let Ok(batch) = batches.try_recv() {
                        self.take(&batch, &live);
                    }
                    break;
                }
                _ = tick.tick() => {
                    let second = u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX);
                    self.users_at.push_back((second, users.load(Ordering::Relaxed)));
                    self.close_before(second.saturating_sub(self.grace.as_secs() as u32 + 1));
                    let mut live = live.lock().expect("live lock");
                    let all_refused = live.tick_requests > 0 && live.tick_connect_failures == live.tick_requests;
                    live.connect_only_streak = if all_refused { live.connect_only_streak + 1 } else { 0 };
                    live.tick_requests = 0;
                    live.tick_connect_failures = 0;
                }
            }
        }
        self
    }

    fn take(&mut self, batch: &[Sample], live: &Mutex<Live>) {
        let mut live = live.lock().expect("live lock");
        for sample in batch {
            let judged = self.judged.contains(sample.start_us);
            self.per_name[usize::from(sample.name)].add(sample, judged);
            self.overall.add(sample, judged);
            let second = u32::try_from(sample.start_us / 1_000_000).unwrap_or(u32::MAX);
            let scheduled = self.scheduled;
            let open = self
                .open
                .entry(second)
                .or_insert_with(|| OpenSecond::new(scheduled));
            open.count += 1;
            open.histogram.saturating_record(sample.latency_us.max(1));
            if let Some(service) = &mut open.service {
                service.saturating_record(sample.service_us.max(1));
            }
            if let Some(status) = sample.outcome.status() {
                *open
                    .classes
                    .entry(format!("{}xx", status / 100))
                    .or_default() += 1;
            }
            live.requests += 1;
            live.tick_requests += 1;
            if let Outcome::Failed { kind, .. } = sample.outcome {
                kind.count_into(&mut open.errors);
                live.errors += 1;
                if kind == FailureKind::Connect {
                    live.tick_connect_failures += 1;
                }
            }
            live.recent
                .get_or_insert_with(new_histogram)
                .saturating_record(sample.latency_us.max(1));
        }
    }

    /// Reduces every open second before `second` to its summary.
    fn close_before(&mut self, second: u32) {
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() >= second {
                break;
            }
            let (s, open) = entry.remove_entry();
            let users = self.users_after(s);
            self.closed.push(open.close(s, users));
        }
    }

    /// Users at the end of `second`, from the tick's samples.
    fn users_after(&mut self, second: u32) -> u32 {
        while self.users_at.len() > 1 && self.users_at[1].0 <= second + 1 {
            self.users_at.pop_front();
        }
        self.users_at.front().map_or(0, |&(_, users)| users)
    }

    fn into_recording(mut self, names: Vec<String>, run_duration: Duration) -> Recording {
        self.close_before(u32::MAX);
        // Seconds in which nothing started still belong in the series.
        let last = u32::try_from(run_duration.as_secs()).unwrap_or(u32::MAX);
        let mut by_second: BTreeMap<u32, SecondStats> =
            self.closed.drain(..).map(|s| (s.second, s)).collect();
        let seconds = (0..=last.max(by_second.keys().last().copied().unwrap_or(0)))
            .map(|second| {
                by_second.remove(&second).unwrap_or_else(|| {
                    let users = self.users_after(second);
                    OpenSecond::new(self.scheduled).close(second, users)
                })
            })
            .filter(|s| s.second < last || s.count > 0)
            .collect();
        Recording {
            names,
            per_name: self.per_name,
            overall: self.overall,
            seconds,
            judged: self.judged,
            run_duration,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: u16, start_ms: u64, latency_ms: u64, outcome: Outcome) -> Sample {
        Sample {
            name,
            start_us: start_ms * 1000,
            latency_us: latency_ms * 1000,
            service_us: latency_ms * 1000,
            outcome,
        }
    }

    const OK: Outcome = Outcome::Ok { status: 200 };

    #[tokio::test]
    async fn samples_bin_by_start_second_and_split_by_name_and_judged_span() {
        let recorder = Recorder::start(
            vec!["a".into(), "b".into()],
            Instant::now(),
            JudgedSpans(vec![(1_000_000, 2_000_000)]),
            Duration::from_secs(1),
            false,
        );
        let mut sink = recorder.sink();
        sink.record(sample(0, 100, 5, OK));
        // Starts in second 0, ends in second 1: belongs to second 0.
        sink.record(sample(1, 900, 500, OK));
        sink.record(sample(0, 1_200, 50, OK));
        sink.record(sample(
            1,
            1_500,
            50,
            Outcome::Failed {
                kind: FailureKind::Status,
                status: Some(503),
            },
        ));
        sink.record(sample(
            0,
            2_500,
            7,
            Outcome::Failed {
                kind: FailureKind::Connect,
                status: None,
            },
        ));
        sink.flush();
        drop(sink);
        let rec = recorder.finish(Duration::from_secs(3)).await;
        assert_eq!(rec.overall.all.count, 5);
        assert_eq!(rec.overall.judged.count, 2, "only second 1 is judged");
        assert_eq!(rec.per_name[0].all.count, 3);
        assert_eq!(rec.per_name[1].judged.errors.status, 1);
        assert_eq!(rec.overall.all.errors.connect, 1);
        assert_eq!(
            rec.per_name[1].status_codes,
            BTreeMap::from([(200, 1), (503, 1)])
        );
        let counts: Vec<u64> = rec.seconds.iter().map(|s| s.count).collect();
        assert_eq!(counts, vec![2, 2, 1]);
        assert!(
            rec.seconds[0].max_us >= 499_000,
            "the slow request stays in second 0"
        );
        assert_eq!(rec.seconds[1].status_classes.get("5xx"), Some(&1));
        assert_eq!(rec.seconds[2].errors.connect, 1);
        assert_eq!(rec.judged.duration_within(3_000_000), 1_000_000);
    }

    #[test]
    fn judged_spans_clip_to_the_run() {
        let spans = JudgedSpans(vec![(0, 5_000_000), (8_000_000, 20_000_000)]);
        assert_eq!(spans.duration_within(10_000_000), 7_000_000);
        assert!(JudgedSpans::default().contains(42));
        assert_eq!(JudgedSpans::default().duration_within(9), 9);
    }
}
