//! Records every request of a run into HDR histograms (µs): per request
//! name and overall, over the whole run and over the judged stages, and a
//! per-second series binned by the second each request *started* in.
//!
//! Users never share a lock. Each keeps a [`SampleSink`], a small buffer of
//! raw samples that it hands to the aggregator task in batches over a
//! channel; the aggregator alone owns the histograms. hdrhistogram's
//! `SyncHistogram` was the other candidate, but its `refresh` bins samples by
//! when they are collected, not by when their request started, and it waits
//! for every live recorder, so an idle user would stall the series.
//!
//! A second's histogram stays open for a grace period after the second
//! ends (a request may take until its timeout to finish), then it is
//! reduced to its summary, so a 4-hour run holds a few dozen histograms,
//! not 14 400.
//!
//! The aggregator also ticks once a second: it samples the running users
//! and the generator's own CPU for the series, and checks the budgets that
//! can abort the run against the samples that arrived over their window.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use reports::{
    histogram::{HIGHEST_TRACKABLE_US, Histogram, new_histogram},
    results::{BudgetMetric, ErrorCounts, LatencyBasis, SecondStats},
};
use tokio::sync::mpsc;

use crate::{budget::Aborted, generator_cpu::CpuMeter};

/// How long a second stays open for late samples, beyond the longest
/// request timeout of the plan.
const GRACE_SLACK: Duration = Duration::from_secs(2);
/// A user hands over its buffer when it holds this many samples…
const BATCH_SAMPLES: usize = 256;
/// …or when its oldest sample is this old, so the series and the live view
/// stay current for slow users.
const BATCH_AGE: Duration = Duration::from_millis(200);
const BATCH_AGE_US: u64 = BATCH_AGE.as_micros() as u64;

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
    /// Index of the request name in [`RecorderConfig::names`].
    pub name: u16,
    /// When the request started, from the run's start: when it was due,
    /// for a request on a schedule (open model); else when it was sent.
    pub start_us: u64,
    /// From `start_us` to the last byte of the response body.
    pub latency_us: u64,
    /// From sending the request to the last byte: `latency_us` less any
    /// wait before the send. Equal to it without a schedule.
    pub service_us: u64,
    /// Time spent opening a connection for this request; 0 when it
    /// reused one.
    pub connect_us: u32,
    /// From the send to the response's headers (includes `connect_us`);
    /// 0 when no response came.
    pub ttfb_us: u64,
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
    /// When the oldest buffered sample ended, in µs from the run's start.
    oldest_end_us: Option<u64>,
    to_aggregator: mpsc::UnboundedSender<Vec<Sample>>,
}

impl SampleSink {
    /// Buffers a sample just measured, handing the buffer over when it is
    /// full or old.
    ///
    /// A sample is recorded as its request ends, so its own end
    /// (`start_us + latency_us`) is the time now: the age check needs no
    /// clock read, which would cost more than all the rest of this call.
    pub fn record(&mut self, sample: Sample) {
        let end_us = sample.start_us.saturating_add(sample.latency_us);
        let oldest = *self.oldest_end_us.get_or_insert(end_us);
        self.samples.push(sample);
        if self.samples.len() >= BATCH_SAMPLES || end_us.saturating_sub(oldest) >= BATCH_AGE_US {
            self.flush();
        }
    }

    /// Hands over everything buffered (also called before a user stops).
    pub fn flush(&mut self) {
        if self.samples.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.samples, Vec::with_capacity(BATCH_SAMPLES));
        self.oldest_end_us = None;
        // The aggregator outlives every user; a closed channel means the run
        // is being torn down and there is nothing left to record into.
        let _ = self.to_aggregator.send(batch);
    }
}

/// The recording side of a run: hands out sinks, counts users, and turns
/// batches into statistics.
#[derive(Debug)]
pub struct Recorder {
    to_aggregator: mpsc::UnboundedSender<Vec<Sample>>,
    aggregator: tokio::task::JoinHandle<Aggregate>,
    /// Tells the aggregator to take what is queued and stop, even if some
    /// sink is still alive somewhere.
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
    /// The run's start, which sample times count from.
    pub epoch: Instant,
    /// Which spans budgets look at.
    pub judged: JudgedSpans,
    /// Bounds how late a sample may arrive for its second.
    pub longest_timeout: Duration,
    /// What latencies count from, and whether a raw histogram is kept
    /// beside the judged one.
    pub basis: LatencyBasis,
    /// Budgets that stop the run on a sustained breach.
    pub abort_watches: Vec<AbortWatch>,
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
    /// Starts the aggregator; see [`RecorderConfig`].
    pub fn start(config: RecorderConfig) -> Self {
        let (to_aggregator, batches) = mpsc::unbounded_channel();
        let users = Arc::new(AtomicU32::new(0));
        let live = Arc::new(Mutex::new(Live::default()));
        let aborted = Arc::new(OnceLock::new());
        let aggregate = Aggregate::new(config);
        let (finish, finishing) = tokio::sync::oneshot::channel();
        let aggregator = tokio::spawn(aggregate.run(
            batches,
            finishing,
            Shared {
                users: users.clone(),
                live: live.clone(),
                aborted: aborted.clone(),
            },
        ));
        Self {
            to_aggregator,
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
        SampleSink {
            samples: Vec::with_capacity(BATCH_SAMPLES),
            oldest_end_us: None,
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
        aggregate.into_recording(run_duration)
    }
}

/// Statistics of one request name (or of all of them).
#[derive(Debug, Clone)]
pub struct NameStats {
    pub all: Tally,
    pub judged: Tally,
    pub status_codes: BTreeMap<u16, u64>,
    /// Where the time of every sample went.
    pub phases: PhaseTally,
}

/// Counts and a histogram over some samples.
#[derive(Debug, Clone)]
pub struct Tally {
    pub count: u64,
    pub errors: ErrorCounts,
    /// Latency on the run's basis: from each request's start (its due
    /// time, on a schedule), corrected for a pace.
    pub histogram: Histogram,
    /// The raw service time (from the send), kept apart only when the
    /// basis differs from it.
    pub service: Option<Histogram>,
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
    fn new() -> Self {
        Self {
            connects: 0,
            connect: new_histogram(),
            ttfb: new_histogram(),
            transfer: new_histogram(),
        }
    }

    fn add(&mut self, sample: &Sample) {
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

/// Records `latency_us` into `histogram` on `basis`: for a paced run,
/// with HdrHistogram's coordinated-omission correction.
fn record(histogram: &mut Histogram, latency_us: u64, basis: LatencyBasis) {
    let value = latency_us.clamp(1, HIGHEST_TRACKABLE_US);
    match basis {
        LatencyBasis::Corrected {
            expected_interval_us,
        } => {
            // In range by the clamp; the corrected fill-ins are smaller.
            let _ = histogram.record_correct(value, expected_interval_us);
        }
        LatencyBasis::Sent | LatencyBasis::IntendedStart => histogram.saturating_record(value),
    }
}

impl Tally {
    fn new(basis: LatencyBasis) -> Self {
        Self {
            count: 0,
            errors: ErrorCounts::default(),
            histogram: new_histogram(),
            service: basis.has_raw().then(new_histogram),
        }
    }

    fn add(&mut self, sample: &Sample, basis: LatencyBasis) {
        self.count += 1;
        record(&mut self.histogram, sample.latency_us, basis);
        if let Some(service) = &mut self.service {
            service.saturating_record(sample.service_us.max(1));
        }
        if let Outcome::Failed { kind, .. } = sample.outcome {
            kind.count_into(&mut self.errors);
        }
    }
}

impl NameStats {
    fn new(basis: LatencyBasis) -> Self {
        Self {
            all: Tally::new(basis),
            judged: Tally::new(basis),
            status_codes: BTreeMap::new(),
            phases: PhaseTally::new(),
        }
    }

    fn add(&mut self, sample: &Sample, judged: bool, basis: LatencyBasis) {
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
    pub overall: NameStats,
    pub seconds: Vec<SecondStats>,
    pub judged: JudgedSpans,
    pub run_duration: Duration,
    pub basis: LatencyBasis,
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
    fn new(basis: LatencyBasis) -> Self {
        Self {
            histogram: new_histogram(),
            service: basis.has_raw().then(new_histogram),
            count: 0,
            errors: ErrorCounts::default(),
            classes: BTreeMap::new(),
        }
    }

    fn close(self, second: u32, users: u32, generator_cpu: Option<f64>) -> SecondStats {
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
            generator_cpu,
        }
    }
}

/// What the aggregator shares with the rest of the run.
#[derive(Debug)]
struct Shared {
    users: Arc<AtomicU32>,
    live: Arc<Mutex<Live>>,
    aborted: Arc<OnceLock<Aborted>>,
}

/// The samples of one arrival second for the abort watches, one slot per
/// watched scope.
#[derive(Debug)]
struct WatchSecond {
    second: u32,
    slots: Vec<WindowTally>,
}

/// Counts and latencies of the samples one watched scope received.
#[derive(Debug, Clone)]
struct WindowTally {
    count: u64,
    errors: u64,
    histogram: Histogram,
}

impl WindowTally {
    fn new() -> Self {
        Self {
            count: 0,
            errors: 0,
            histogram: new_histogram(),
        }
    }

    fn value(&self, metric: BudgetMetric) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let quantile = |q| Some(self.histogram.value_at_quantile(q) as f64);
        match metric {
            BudgetMetric::P50 => quantile(0.50),
            BudgetMetric::P95 => quantile(0.95),
            BudgetMetric::P99 => quantile(0.99),
            BudgetMetric::MaxErrorRate => Some(self.errors as f64 / self.count as f64),
            _ => None,
        }
    }
}

/// The abort watches and their state.
#[derive(Debug)]
struct Watches {
    watches: Vec<AbortWatch>,
    /// The scopes watched; a watch's slot is its scope's index here.
    scopes: Vec<Option<u16>>,
    /// Per watch: the check at which its current breach began, and the
    /// value last seen breaching.
    breach: Vec<Option<(u32, f64)>>,
    recent: VecDeque<WatchSecond>,
    longest_window: u32,
}

impl Watches {
    fn new(watches: Vec<AbortWatch>) -> Self {
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
            recent: VecDeque::new(),
        }
    }

    fn take(&mut self, second: u32, sample: &Sample, basis: LatencyBasis) {
        if self.watches.is_empty() {
            return;
        }
        if self.recent.back().is_none_or(|s| s.second < second) {
            self.recent.push_back(WatchSecond {
                second,
                slots: vec![WindowTally::new(); self.scopes.len()],
            });
        }
        let Some(bucket) = self.recent.iter_mut().rev().find(|s| s.second <= second) else {
            return;
        };
        for (slot, scope) in bucket.slots.iter_mut().zip(&self.scopes) {
            if scope.is_none_or(|name| name == sample.name) {
                slot.count += 1;
                slot.errors += u64::from(matches!(sample.outcome, Outcome::Failed { .. }));
                record(&mut slot.histogram, sample.latency_us, basis);
            }
        }
    }

    /// Checks every watch over the seconds before `now`; the first watch
    /// whose breach has lasted its `after` stops the run.
    fn check(&mut self, now: u32, names: &[String]) -> Option<Aborted> {
        while self
            .recent
            .front()
            .is_some_and(|s| s.second + self.longest_window < now)
        {
            self.recent.pop_front();
        }
        for (i, watch) in self.watches.iter().enumerate() {
            let from = now.saturating_sub(window_secs(watch.window));
            let slot = self.scopes.iter().position(|s| *s == watch.scope)?;
            let mut window = WindowTally::new();
            for second in self
                .recent
                .iter()
                .filter(|s| (from..now).contains(&s.second))
            {
                let tally = &second.slots[slot];
                window.count += tally.count;
                window.errors += tally.errors;
                let _ = window.histogram.add(&tally.histogram);
            }
            let (since, value) = match window.value(watch.metric) {
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

/// The aggregator's state; owned by its task.
#[derive(Debug)]
struct Aggregate {
    names: Vec<String>,
    basis: LatencyBasis,
    per_name: Vec<NameStats>,
    overall: NameStats,
    judged: JudgedSpans,
    grace: Duration,
    /// Open seconds, by second.
    open: BTreeMap<u32, OpenSecond>,
    /// Users at the end of each second, sampled by the tick.
    users_at: VecDeque<(u32, u32)>,
    /// The generator's CPU use in each second not yet closed.
    cpu: BTreeMap<u32, f64>,
    closed: Vec<SecondStats>,
    started: Instant,
    watches: Watches,
}

impl Aggregate {
    fn new(config: RecorderConfig) -> Self {
        let basis = config.basis;
        Self {
            per_name: (0..config.names.len())
                .map(|_| NameStats::new(basis))
                .collect(),
            names: config.names,
            basis,
            overall: NameStats::new(basis),
            judged: config.judged,
            grace: config.longest_timeout + GRACE_SLACK,
            open: BTreeMap::new(),
            users_at: VecDeque::new(),
            cpu: BTreeMap::new(),
            closed: Vec::new(),
            started: config.epoch,
            watches: Watches::new(config.abort_watches),
        }
    }

    async fn run(
        mut self,
        mut batches: mpsc::UnboundedReceiver<Vec<Sample>>,
        mut finishing: tokio::sync::oneshot::Receiver<()>,
        shared: Shared,
    ) -> Self {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut cpu = CpuMeter::new();
        loop {
            tokio::select! {
                batch = batches.recv() => match batch {
                    Some(batch) => self.take(&batch, &shared.live),
                    None => break,
                },
                _ = &mut finishing => {
                    while let Ok(batch) = batches.try_recv() {
                        self.take(&batch, &shared.live);
                    }
                    break;
                }
                _ = tick.tick() => self.tick(&shared, &mut cpu),
            }
        }
        self
    }

    /// Once a second: users and CPU for the series, seconds past their
    /// grace closed, abort watches checked, the live view's streak kept.
    fn tick(&mut self, shared: &Shared, cpu: &mut CpuMeter) {
        let elapsed = self.started.elapsed();
        let second = u32::try_from(elapsed.as_secs()).unwrap_or(u32::MAX);
        self.users_at
            .push_back((second, shared.users.load(Ordering::Relaxed)));
        // The reading covers the second just ended (ticks are a second
        // apart); before the epoch there is no second to give it to.
        let reading = cpu.read();
        if let (Some(used), Some(ended)) =
            (reading, elapsed.checked_sub(Duration::from_millis(500)))
        {
            self.cpu
                .insert(u32::try_from(ended.as_secs()).unwrap_or(u32::MAX), used);
        }
        self.close_before(second.saturating_sub(self.grace.as_secs() as u32 + 1));
        if shared.aborted.get().is_none()
            && let Some(aborted) = self.watches.check(second, &self.names)
        {
            let _ = shared.aborted.set(aborted);
        }
        let mut live = shared.live.lock().expect("live lock");
        let all_refused =
            live.tick_requests > 0 && live.tick_connect_failures == live.tick_requests;
        live.connect_only_streak = if all_refused {
            live.connect_only_streak + 1
        } else {
            0
        };
        live.tick_requests = 0;
        live.tick_connect_failures = 0;
    }

    fn take(&mut self, batch: &[Sample], live: &Mutex<Live>) {
        let arrival_second = u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX);
        let basis = self.basis;
        let mut live = live.lock().expect("live lock");
        for sample in batch {
            let judged = self.judged.contains(sample.start_us);
            self.per_name[usize::from(sample.name)].add(sample, judged, basis);
            self.overall.add(sample, judged, basis);
            if judged {
                self.watches.take(arrival_second, sample, basis);
            }
            let second = u32::try_from(sample.start_us / 1_000_000).unwrap_or(u32::MAX);
            let open = self
                .open
                .entry(second)
                .or_insert_with(|| OpenSecond::new(basis));
            open.count += 1;
            record(&mut open.histogram, sample.latency_us, basis);
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
            let cpu = self.cpu_during(s);
            self.closed.push(open.close(s, users, cpu));
        }
    }

    /// The generator's CPU in `second`; forgets the seconds up to it.
    fn cpu_during(&mut self, second: u32) -> Option<f64> {
        let used = self.cpu.get(&second).copied();
        self.cpu = self.cpu.split_off(&second);
        used
    }

    /// Users at the end of `second`, from the tick's samples.
    fn users_after(&mut self, second: u32) -> u32 {
        while self.users_at.len() > 1 && self.users_at[1].0 <= second + 1 {
            self.users_at.pop_front();
        }
        self.users_at.front().map_or(0, |&(_, users)| users)
    }

    fn into_recording(mut self, run_duration: Duration) -> Recording {
        self.close_before(u32::MAX);
        // Seconds in which nothing started still belong in the series.
        let last = u32::try_from(run_duration.as_secs()).unwrap_or(u32::MAX);
        let mut by_second: BTreeMap<u32, SecondStats> =
            self.closed.drain(..).map(|s| (s.second, s)).collect();
        let seconds = (0..=last.max(by_second.keys().last().copied().unwrap_or(0)))
            .map(|second| {
                by_second.remove(&second).unwrap_or_else(|| {
                    let users = self.users_after(second);
                    let cpu = self.cpu_during(second);
                    OpenSecond::new(self.basis).close(second, users, cpu)
                })
            })
            .filter(|s| s.second < last || s.count > 0)
            .collect();
        Recording {
            names: self.names,
            per_name: self.per_name,
            overall: self.overall,
            seconds,
            judged: self.judged,
            run_duration,
            basis: self.basis,
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
            connect_us: 0,
            ttfb_us: latency_ms * 500,
            outcome,
        }
    }

    const OK: Outcome = Outcome::Ok { status: 200 };

    #[tokio::test]
    async fn samples_bin_by_start_second_and_split_by_name_and_judged_span() {
        let recorder = Recorder::start(RecorderConfig {
            names: vec!["a".into(), "b".into()],
            epoch: Instant::now(),
            judged: JudgedSpans(vec![(1_000_000, 2_000_000)]),
            longest_timeout: Duration::from_secs(1),
            basis: LatencyBasis::Sent,
            abort_watches: Vec::new(),
        });
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

    #[tokio::test]
    async fn a_sink_hands_over_when_full_or_when_its_oldest_sample_is_old() {
        let recorder = Recorder::start(RecorderConfig {
            names: vec!["a".into()],
            epoch: Instant::now(),
            judged: JudgedSpans::default(),
            longest_timeout: Duration::from_secs(1),
            basis: LatencyBasis::Sent,
            abort_watches: Vec::new(),
        });
        let mut sink = recorder.sink();
        // Ends at 10 ms, then at 150 ms: younger than the batch age.
        sink.record(sample(0, 0, 10, OK));
        sink.record(sample(0, 100, 50, OK));
        assert_eq!(sink.samples.len(), 2);
        // Ends at 210 ms, 200 ms after the oldest: handed over.
        sink.record(sample(0, 200, 10, OK));
        assert!(sink.samples.is_empty());
        for i in 0..BATCH_SAMPLES as u64 {
            sink.record(sample(0, 1_000 + i / 10, 1, OK));
        }
        assert!(sink.samples.is_empty(), "a full buffer is handed over");
        drop(sink);
        let rec = recorder.finish(Duration::from_secs(2)).await;
        assert_eq!(rec.overall.all.count, 3 + BATCH_SAMPLES as u64);
    }

    #[test]
    fn a_watch_fires_only_after_its_breach_has_lasted() {
        let mut watches = Watches::new(vec![AbortWatch {
            scope: Some(1),
            metric: BudgetMetric::P99,
            limit: 100_000.0,
            window: Duration::from_secs(1),
            after: Duration::from_secs(2),
        }]);
        let names = ["a".to_owned(), "b".to_owned()];
        let feed = |watches: &mut Watches, second: u32, name: u16, latency_ms: u64| {
            watches.take(
                second,
                &sample(name, u64::from(second) * 1000, latency_ms, OK),
                LatencyBasis::Sent,
            );
        };
        // Second 0: fast. Second 1: slow, but only on the unwatched name.
        feed(&mut watches, 0, 1, 5);
        assert_eq!(watches.check(1, &names), None);
        feed(&mut watches, 1, 0, 500);
        feed(&mut watches, 1, 1, 5);
        assert_eq!(watches.check(2, &names), None);
        // Seconds 2 and 3: slow on the watched name; the breach is seen at
        // the check of second 3 and has lasted 2 s at the check of second 5.
        for second in 2..4 {
            feed(&mut watches, second, 1, 300);
            assert_eq!(watches.check(second + 1, &names), None, "{second}");
        }
        // Nothing arrives in second 4: no evidence, and the breach goes on.
        let aborted = watches.check(5, &names).expect("fired");
        assert_eq!(aborted.scope, "b");
        assert_eq!(aborted.metric, BudgetMetric::P99);
        assert_eq!(aborted.at_ms, 5_000);
        assert!(
            aborted.reason.contains("b p99 over the last 1s was 300 ms"),
            "{}",
            aborted.reason
        );
    }

    #[test]
    fn a_recovery_resets_the_breach() {
        let mut watches = Watches::new(vec![AbortWatch {
            scope: None,
            metric: BudgetMetric::MaxErrorRate,
            limit: 0.1,
            window: Duration::from_secs(1),
            after: Duration::from_secs(1),
        }]);
        let failed = Outcome::Failed {
            kind: FailureKind::Status,
            status: Some(500),
        };
        let names = ["a".to_owned()];
        watches.take(0, &sample(0, 0, 1, failed), LatencyBasis::Sent);
        assert_eq!(watches.check(1, &names), None, "breach starts");
        watches.take(1, &sample(0, 1000, 1, OK), LatencyBasis::Sent);
        assert_eq!(watches.check(2, &names), None, "recovered");
        watches.take(2, &sample(0, 2000, 1, failed), LatencyBasis::Sent);
        assert_eq!(watches.check(3, &names), None, "a new breach starts");
        watches.take(3, &sample(0, 3000, 1, failed), LatencyBasis::Sent);
        assert!(watches.check(4, &names).is_some());
    }

    #[test]
    fn a_pace_corrects_the_judged_histogram_and_keeps_the_raw_one() {
        let basis = LatencyBasis::Corrected {
            expected_interval_us: 100_000,
        };
        let mut tally = Tally::new(basis);
        tally.add(&sample(0, 0, 1_000, OK), basis);
        for i in 1..=10 {
            tally.add(&sample(0, i * 100, 1, OK), basis);
        }
        let raw = tally.service.as_ref().expect("raw kept");
        assert_eq!(raw.len(), 11);
        // The 1 s sample stood for ten 100 ms intervals: nine fill-ins.
        assert_eq!(tally.histogram.len(), 20);
        assert_eq!(tally.count, 11, "requests are counted once");
        assert!(tally.histogram.value_at_quantile(0.6) >= 100_000);
        assert!(raw.value_at_quantile(0.6) < 2_000);
    }

    #[test]
    fn judged_spans_clip_to_the_run() {
        let spans = JudgedSpans(vec![(0, 5_000_000), (8_000_000, 20_000_000)]);
        assert_eq!(spans.duration_within(10_000_000), 7_000_000);
        assert!(JudgedSpans::default().contains(42));
        assert_eq!(JudgedSpans::default().duration_within(9), 9);
    }
}
