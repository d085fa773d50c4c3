//! The aggregator task: it alone owns the histograms. It takes the users'
//! batches (requests, and an open model's dropped arrivals, which count in
//! the overall figures only) from its inbox every [`DRAIN_EVERY`], ticks
//! once a second (users and generator CPU, the process's and its busiest
//! thread's, for the series, seconds past their grace closed, abort
//! watches checked), and turns what it holds into the [`Recording`] when
//! the run ends.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use reports::{
    histogram::new_histogram,
    results::{LatencyBasis, SecondStats},
};

use scenario::duration::whole_micros;

use super::Aborted;
use super::{
    JudgedSpans, Live, RecorderConfig,
    inbox::{DRAIN_EVERY, Inbox},
    series::{OpenSecond, late_into},
    sink::{FailureKind, Outcome, Sample},
    tally::{NameStats, Recording, StartTally},
    watches::Watches,
};
use crate::run::{
    clock::StageClock,
    generator_cpu::{CpuMeter, CpuReading},
};

/// How long a second stays open for late samples, beyond the longest
/// request timeout of the plan.
const GRACE_SLACK: Duration = Duration::from_secs(2);

/// How long after each whole second of the run the tick comes: late enough
/// that the second has ended, early enough that the next has barely begun.
const TICK_PAST: Duration = Duration::from_millis(5);

/// The longest a sample can take from its start to its end: a request's
/// timeout, and on a schedule also the wait for a free user, which lasts
/// at most as long before the arrival is dropped.
fn longest_latency(timeout: Duration, basis: LatencyBasis) -> Duration {
    match basis {
        LatencyBasis::IntendedStart => timeout * 2,
        LatencyBasis::Sent | LatencyBasis::Corrected { .. } => timeout,
    }
}

/// What the aggregator shares with the rest of the run.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) users: Arc<AtomicU32>,
    pub(super) live: Arc<Mutex<Live>>,
    pub(super) aborted: Arc<OnceLock<Aborted>>,
}

/// The aggregator's state; owned by its task.
#[derive(Debug)]
pub(super) struct Aggregate {
    names: Vec<String>,
    basis: LatencyBasis,
    per_name: Vec<NameStats>,
    overall: NameStats,
    /// How an open model's arrivals started, whole run.
    starts: Option<StartTally>,
    judged: JudgedSpans,
    grace: Duration,
    /// Open seconds, by second.
    open: BTreeMap<u32, OpenSecond>,
    /// Users at the end of each second, sampled by the tick.
    users_at: VecDeque<(u32, u32)>,
    /// The generator's CPU use in each second not yet closed.
    cpu: BTreeMap<u32, CpuReading>,
    /// Seconds reduced to their summary, by second. A sample that arrives
    /// for one of them after all is merged into it ([`late_into`]).
    closed: BTreeMap<u32, SecondStats>,
    /// Samples merged into a second already closed: in its counts, not in
    /// its percentiles.
    late: u64,
    clock: Arc<StageClock>,
    watches: Watches,
}

impl Aggregate {
    pub(super) fn new(config: RecorderConfig) -> Self {
        let basis = config.basis;
        Self {
            per_name: (0..config.names.len())
                .map(|_| NameStats::new(basis))
                .collect(),
            names: config.names,
            basis,
            overall: NameStats::new(basis),
            starts: (basis == LatencyBasis::IntendedStart).then(StartTally::new),
            grace: longest_latency(config.longest_timeout, basis) + GRACE_SLACK,
            open: BTreeMap::new(),
            users_at: VecDeque::new(),
            cpu: BTreeMap::new(),
            closed: BTreeMap::new(),
            late: 0,
            clock: config.clock,
            watches: Watches::new(
                config.abort_watches,
                config
                    .judged
                    .planned_seconds(whole_micros(config.timeline_end)),
                config.latency_of,
            ),
            judged: config.judged,
        }
    }

    pub(super) async fn run(
        mut self,
        inbox: Arc<Inbox>,
        mut finishing: tokio::sync::oneshot::Receiver<()>,
        shared: Shared,
    ) -> Self {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        // Skip, not Delay: a late tick must not shift every later one off the
        // run's whole seconds.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut drain = tokio::time::interval(DRAIN_EVERY);
        drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batches = Vec::new();
        let mut cpu = CpuMeter::new();
        let mut aligned = false;
        loop {
            tokio::select! {
                _ = drain.tick() => self.drain(&inbox, &mut batches, &shared.live),
                _ = &mut finishing => {
                    self.drain(&inbox, &mut batches, &shared.live);
                    break;
                }
                _ = tick.tick() => {
                    // What users handed over is counted before the second
                    // is read and the watches look.
                    self.drain(&inbox, &mut batches, &shared.live);
                    self.tick(&shared, &mut cpu);
                    if !aligned && let Some(epoch) = self.clock.epoch() {
                        // From now on, tick just after each whole second of
                        // the run, so a second's users are read at its end.
                        let next = self.clock.elapsed().as_secs() + 1;
                        tick.reset_at((epoch + Duration::from_secs(next) + TICK_PAST).into());
                        aligned = true;
                    }
                }
            }
        }
        self
    }

    /// Once a second: users and CPU for the series, seconds past their
    /// grace closed, abort watches checked, the live view's streak kept.
    fn tick(&mut self, shared: &Shared, cpu: &mut CpuMeter) {
        let elapsed = self.clock.elapsed();
        let second = u32::try_from(elapsed.as_secs()).unwrap_or(u32::MAX);
        self.users_at
            .push_back((second, shared.users.load(Ordering::Relaxed)));
        // The reading covers the second just ended (ticks are a second
        // apart); before the epoch there is no second to give it to.
        let reading = cpu.read();
        if let Some(ended) = elapsed.checked_sub(Duration::from_millis(500)) {
            self.cpu
                .insert(u32::try_from(ended.as_secs()).unwrap_or(u32::MAX), reading);
        }
        self.close_before(second.saturating_sub(self.grace.as_secs() as u32 + 1));
        if shared.aborted.get().is_none()
            && let Some(aborted) = self.watches.check(second, &self.names)
        {
            let _ = shared.aborted.set(aborted);
        }
        let mut live = shared.live.lock().expect("live lock");
        live.connect_only_streak = next_streak(
            live.connect_only_streak,
            live.tick_requests,
            live.tick_connect_failures,
        );
        live.tick_requests = 0;
        live.tick_connect_failures = 0;
    }

    /// Takes every batch in the inbox and gives the emptied buffers back.
    fn drain(&mut self, inbox: &Inbox, batches: &mut Vec<Vec<Sample>>, live: &Mutex<Live>) {
        inbox.take(batches);
        for batch in batches.iter() {
            self.take(batch, live);
        }
        inbox.recycle(batches);
    }

    pub(super) fn take(&mut self, batch: &[Sample], live: &Mutex<Live>) {
        let basis = self.basis;
        let mut live = live.lock().expect("live lock");
        for sample in batch {
            let judged = self.judged.contains(sample.start_us);
            // A dropped arrival has no name: the overall figures alone.
            if let Some(name) = sample.name {
                self.per_name[usize::from(name)].add(sample, judged, basis);
            }
            self.overall.add(sample, judged, basis);
            if let Some(starts) = &mut self.starts {
                starts.add(sample);
            }
            if judged {
                self.watches.take(sample, basis);
            }
            let second = u32::try_from(sample.start_us / 1_000_000).unwrap_or(u32::MAX);
            if let Some(closed) = self.closed.get_mut(&second) {
                late_into(closed, sample);
                self.late += 1;
            } else {
                self.open
                    .entry(second)
                    .or_insert_with(|| OpenSecond::new(basis))
                    .add(sample, basis);
            }
            if sample.was_sent() {
                live.requests += 1;
                live.tick_requests += 1;
            }
            if let Outcome::Failed { kind, .. } = sample.outcome {
                live.errors += 1;
                if kind == FailureKind::Connect {
                    live.tick_connect_failures += 1;
                }
            }
            if sample.has_latency() {
                live.recent
                    .get_or_insert_with(new_histogram)
                    .saturating_record(sample.latency_us.max(1));
            }
        }
    }

    /// What the abort watches hold, by start second: for the tests that
    /// check they agree with the series.
    #[cfg(test)]
    pub(super) fn watched_by_second(&self) -> BTreeMap<u32, (u64, u64, u64)> {
        self.watches.by_second()
    }

    /// Checks the abort watches as the tick does at `now`, and returns
    /// how many samples the watch `i`'s window held.
    #[cfg(test)]
    pub(super) fn check_watches(&mut self, now: u32, i: usize) -> u64 {
        let _ = self.watches.check(now, &self.names);
        self.watches.window_count(i, now)
    }

    /// Reduces every open second before `second` to its summary.
    pub(super) fn close_before(&mut self, second: u32) {
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() >= second {
                break;
            }
            let (s, open) = entry.remove_entry();
            let users = self.users_after(s);
            let cpu = self.cpu_during(s);
            self.closed.insert(s, open.close(s, users, cpu));
        }
    }

    /// The generator's CPU in `second`; forgets the seconds up to it.
    fn cpu_during(&mut self, second: u32) -> CpuReading {
        let used = self.cpu.get(&second).copied().unwrap_or_default();
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

    pub(super) fn into_recording(mut self, run_duration: Duration) -> Recording {
        self.close_before(u32::MAX);
        // Seconds in which nothing started still belong in the series.
        let last = u32::try_from(run_duration.as_secs()).unwrap_or(u32::MAX);
        if self.late > 0 {
            tracing::warn!(
                "{} samples arrived after their second had closed: the per-second series counts them, its percentiles do not",
                self.late
            );
        }
        let mut by_second = std::mem::take(&mut self.closed);
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
            starts: self.starts,
            seconds,
            judged: self.judged,
            run_duration,
            basis: self.basis,
        }
    }
}

/// The connect-only streak after a second in which `ended` requests ended,
/// `refused` of them failing to connect. A second in which nothing ended
/// is no evidence either way: it neither ends the streak (a black-holed
/// target's connects hang until they time out, and the seconds between
/// the failures must not reset it) nor adds to it (an idle user after one
/// refused connect is no unreachable target).
fn next_streak(streak: u32, ended: u64, refused: u64) -> u32 {
    match ended {
        0 => streak,
        _ if refused == ended => streak + 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::recorder::AbortWatch;
    use reports::results::LatencyOf;

    fn sample(start_ms: u64, status: u16) -> Sample {
        Sample {
            name: Some(0),
            start_us: start_ms * 1000,
            latency_us: 4_000,
            service_us: 4_000,
            connect_us: 0,
            ttfb_us: 2_000,
            start: None,
            outcome: if status < 400 {
                Outcome::Ok { status }
            } else {
                Outcome::Failed {
                    kind: FailureKind::Status,
                    status: Some(status),
                }
            },
        }
    }

    #[test]
    fn a_sample_for_a_closed_second_is_merged_into_it_not_put_in_its_place() {
        let clock = Arc::new(StageClock::new(Duration::ZERO));
        clock.start();
        let mut aggregate = Aggregate::new(RecorderConfig {
            names: vec!["a".into()],
            clock,
            judged: JudgedSpans(Vec::new()),
            timeline_end: Duration::from_secs(10),
            longest_timeout: Duration::from_secs(1),
            basis: LatencyBasis::Sent,
            abort_watches: Vec::new(),
            latency_of: LatencyOf::All,
        });
        let live = Mutex::new(Live::default());
        aggregate.take(&[sample(100, 200), sample(200, 200)], &live);
        aggregate.take(&[sample(1_100, 200)], &live);
        aggregate.close_before(1);
        // Handed over after its second closed: a user that sat on it.
        aggregate.take(&[sample(300, 503)], &live);
        let recording = aggregate.into_recording(Duration::from_secs(2));
        let first = &recording.seconds[0];
        assert_eq!(first.count, 3, "{first:?}");
        assert_eq!(first.errors.status, 1);
        assert_eq!(first.status_classes.get("2xx"), Some(&2));
        assert_eq!(first.status_classes.get("5xx"), Some(&1));
        let in_series: u64 = recording.seconds.iter().map(|s| s.count).sum();
        assert_eq!(in_series, recording.overall.all.count);
        assert_eq!(in_series, 4);
    }

    fn slow_watch(after: Duration) -> AbortWatch {
        AbortWatch {
            scope: None,
            metric: reports::results::BudgetMetric::P99,
            limit: 100_000.0,
            window: Duration::from_secs(1),
            after,
        }
    }

    fn aggregate_with(judged: JudgedSpans, timeline_end_s: u64, watch: AbortWatch) -> Aggregate {
        let clock = Arc::new(StageClock::new(Duration::ZERO));
        clock.start();
        Aggregate::new(RecorderConfig {
            names: vec!["a".into()],
            clock,
            judged,
            timeline_end: Duration::from_secs(timeline_end_s),
            longest_timeout: Duration::from_secs(1),
            basis: LatencyBasis::Sent,
            abort_watches: vec![watch],
            latency_of: LatencyOf::All,
        })
    }

    fn slow(start_ms: u64) -> Sample {
        Sample {
            latency_us: 500_000,
            ..sample(start_ms, 200)
        }
    }

    #[test]
    fn a_watch_sees_a_sample_in_the_second_it_started_not_the_one_it_arrived_in() {
        let mut aggregate = aggregate_with(JudgedSpans(Vec::new()), 10, slow_watch(Duration::ZERO));
        let live = Mutex::new(Live::default());
        // Arrives at once (the clock is at 0 s) but started in second 5.
        aggregate.take(&[slow(5_200)], &live);
        let names = ["a".to_owned()];
        assert_eq!(aggregate.watches.check(5, &names), None);
        let aborted = aggregate
            .watches
            .check(6, &names)
            .expect("second 5 breached");
        assert_eq!(aborted.at_ms, 6_000);
    }

    #[test]
    fn a_breach_is_not_carried_past_the_judged_spans_by_empty_windows() {
        let judged = JudgedSpans(vec![(0, 2_000_000)]);
        let mut aggregate = aggregate_with(judged, 10, slow_watch(Duration::from_secs(2)));
        let live = Mutex::new(Live::default());
        aggregate.take(&[slow(500), slow(1_500)], &live);
        let names = ["a".to_owned()];
        // Breached in both judged seconds (1 s long); after them, nothing
        // judged can arrive, and the empty windows are no evidence.
        for now in 1..=8 {
            assert_eq!(aggregate.watches.check(now, &names), None, "check {now}");
        }
    }

    #[test]
    fn a_request_that_outlived_its_window_counts_in_the_second_it_ended() {
        let watch = AbortWatch {
            scope: None,
            metric: reports::results::BudgetMetric::MaxErrorRate,
            limit: 0.5,
            window: Duration::from_secs(1),
            after: Duration::ZERO,
        };
        let mut aggregate = aggregate_with(JudgedSpans(Vec::new()), 60, watch);
        let live = Mutex::new(Live::default());
        let names = ["a".to_owned()];
        for now in 1..=30 {
            assert_eq!(aggregate.watches.check(now, &names), None, "check {now}");
        }
        // A hung target: what was sent in the first second times out after
        // 30 s, long after any 1 s window reached back to its start.
        let timeout = |start_ms| Sample {
            latency_us: 30_000_000,
            outcome: Outcome::Failed {
                kind: FailureKind::Timeout,
                status: None,
            },
            ..sample(start_ms, 200)
        };
        aggregate.take(&[timeout(100), timeout(600)], &live);
        let aborted = aggregate
            .watches
            .check(31, &names)
            .expect("the timeouts count in the second they ended");
        assert_eq!(aborted.at_ms, 31_000);
    }

    #[test]
    fn a_breach_ends_in_a_gap_between_judged_stages() {
        let judged = JudgedSpans(vec![(0, 2_000_000), (5_000_000, 8_000_000)]);
        let mut aggregate = aggregate_with(judged, 10, slow_watch(Duration::from_secs(3)));
        let live = Mutex::new(Live::default());
        aggregate.take(&[slow(500), slow(1_500), slow(5_500), slow(6_500)], &live);
        let names = ["a".to_owned()];
        // Breached at checks 1-2 and 6-7, for 2 s each: the empty windows
        // between (no judged load) and after are no stalled target.
        for now in 1..=12 {
            assert_eq!(aggregate.watches.check(now, &names), None, "check {now}");
        }
    }

    #[test]
    fn a_breach_ends_when_a_whole_run_judged_timeline_does() {
        let mut aggregate = aggregate_with(
            JudgedSpans(Vec::new()),
            3,
            slow_watch(Duration::from_secs(3)),
        );
        let live = Mutex::new(Live::default());
        aggregate.take(&[slow(500), slow(1_500), slow(2_500)], &live);
        let names = ["a".to_owned()];
        for now in 1..=8 {
            assert_eq!(aggregate.watches.check(now, &names), None, "check {now}");
        }
    }

    #[test]
    fn an_empty_window_while_load_is_planned_carries_a_breach_on() {
        let mut aggregate = aggregate_with(
            JudgedSpans(Vec::new()),
            10,
            slow_watch(Duration::from_secs(3)),
        );
        let live = Mutex::new(Live::default());
        aggregate.take(&[slow(500)], &live);
        let names = ["a".to_owned()];
        for now in 1..=3 {
            assert_eq!(aggregate.watches.check(now, &names), None, "check {now}");
        }
        let aborted = aggregate
            .watches
            .check(4, &names)
            .expect("a stalled target");
        assert_eq!(aborted.at_ms, 4_000);
    }

    #[test]
    fn a_second_in_which_nothing_ended_neither_ends_nor_extends_a_connect_only_streak() {
        assert_eq!(next_streak(0, 0, 0), 0);
        assert_eq!(next_streak(0, 3, 3), 1);
        assert_eq!(next_streak(1, 0, 0), 1, "a quiet second keeps the streak");
        assert_eq!(next_streak(1, 2, 2), 2);
        assert_eq!(next_streak(4, 2, 1), 0, "a request got through");
    }
}
