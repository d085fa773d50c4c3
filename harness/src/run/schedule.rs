//! The open model's schedule: an idle user claims the next arrival of the
//! plan's schedule and waits for it on its own runtime, whatever the
//! target's speed.
//!
//! There is no dispatcher. A dispatcher thread handing each arrival to a
//! user cost a cross-thread wake per arrival, and above about 12,000/s on
//! one core it fell behind the schedule it was keeping. Claiming is a
//! short lock around the schedule's iterator; the user then sleeps on its
//! own runtime's timer until the arrival is due.
//!
//! When every user is busy, the next arrival is claimed late, by the first
//! user to come free, and its latency still counts from when it was due, so
//! a target that stalls cannot hide the stall by slowing the load down
//! (coordinated omission); the service time, from the actual send, is
//! recorded beside it. One started more than [`LATE_AFTER`] after it was
//! due is counted *late*.
//!
//! An arrival is *dropped*, and counted as k6 counts `dropped_iterations`,
//! when it could not start in time at all: it was claimed longer than the
//! longest request timeout after it was due, or the run ended before a user
//! started it. The rate is never lowered in silence: each dropped arrival
//! is recorded as a failure ([`Sample::dropped`]), by whoever gives it up
//! (the claiming user, a user stopping with a claim, or the run's end for
//! the arrivals nobody claimed).
//!
//! The schedule ends when the run stops starting arrivals
//! ([`Schedule::stop`]): on a stop (Ctrl-C, an abort) at that moment, so
//! the arrivals that fall due while the engine drains are never intended;
//! at the end of the timeline, when the engine stops its users.
//!
//! Each claim keeps when it was made, so the first request of an arrival
//! tells the generator's *start lag* (from due, or from a claim made after
//! due, to the send) apart from the *wait for a free user* (from due to a
//! late claim): the first is the generator falling behind, the second the
//! target being too slow for the users ([`Arrival::start_timing`]).

use std::{
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use reports::results::{ArrivalCounts, ArrivalStats};
use scenario::{duration::whole_micros, timeline::Arrivals};

use super::{
    clock::StageClock,
    recorder::{JudgedSpans, Sample, SampleSink, StartTiming},
};

/// An arrival started this long after it was due is late.
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// How early a user wakes for its arrival. tokio's timer fires on whole
/// milliseconds, rounding a deadline up to the next one, and its driver
/// parks for whole milliseconds too, rounding the wait up again: a wake
/// asked for at `t` lands anywhere in `[t, t + 2 ms)`. Waking a millisecond
/// early still left half the arrivals up to a millisecond late (start lag
/// p99 1.0 ms at 10,000/s on an idle core: the saturation rule's limit).
/// Two milliseconds early starts nearly all of them in the two
/// milliseconds before their due time. The rate is unchanged, and a start
/// before the due time counts its latency from the send, so it hides
/// nothing.
const EARLY: Duration = Duration::from_millis(2);

/// One arrival: run one iteration, as if it started at `due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub due: Instant,
    /// When a user claimed it: after `due` when every user was busy.
    pub claimed: Instant,
}

impl Arrival {
    /// How its start went, for a first request sent at `sent`: the wait
    /// for a free user (due to claim), then the generator's own lag (the
    /// later of due and claim, to the send).
    pub fn start_timing(&self, sent: Instant) -> StartTiming {
        let micros = |d: Duration| u32::try_from(whole_micros(d)).unwrap_or(u32::MAX);
        StartTiming {
            waited_for_user_us: micros(self.claimed.saturating_duration_since(self.due)),
            start_lag_us: micros(sent.saturating_duration_since(self.due.max(self.claimed))),
        }
    }
}

/// The run's arrival schedule, shared by every user.
#[derive(Debug)]
pub struct Schedule {
    /// The arrivals no user has claimed yet, as offsets from the epoch.
    unclaimed: Mutex<Arrivals>,
    /// The whole schedule, to count the arrivals that were due in the end.
    all: Arrivals,
    clock: Arc<StageClock>,
    /// An arrival claimed later than this after it was due is given up:
    /// its request could not finish within its timeout even if it started now.
    give_up: Duration,
    /// The spans budgets judge, to count their arrivals apart.
    judged: JudgedSpans,
    /// When the run stopped starting arrivals (a stop, or the engine
    /// stopping its users at the end): the schedule's end. Arrivals due
    /// from then on were never intended; those due before it that did not
    /// start are dropped.
    stopped_at: OnceLock<Instant>,
    /// Just past the latest due time of an arrival started, in ns from the
    /// epoch: a user wakes two milliseconds early, so one may start just
    /// before a stop that falls before its due time. The schedule's end is
    /// never before it, so every arrival started was intended.
    started_through_ns: AtomicU64,
    started: Counts,
    started_judged: Counts,
}

/// Started and late arrivals.
#[derive(Debug, Default)]
struct Counts {
    started: AtomicU64,
    late: AtomicU64,
}

impl Counts {
    fn add(&self, late: bool) {
        self.started.fetch_add(1, Ordering::Relaxed);
        if late {
            self.late.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `intended` arrivals of which these started: the rest were dropped.
    fn of(&self, intended: u64) -> ArrivalCounts {
        let started = self.started.load(Ordering::Relaxed).min(intended);
        ArrivalCounts {
            intended,
            started,
            dropped: intended - started,
            late: self.late.load(Ordering::Relaxed).min(started),
        }
    }
}

impl Schedule {
    /// `arrivals` count from `clock`'s epoch, which is set before any user
    /// asks for one; `give_up` is the plan's longest request timeout;
    /// `judged` the spans whose arrivals are counted apart.
    pub fn new(
        arrivals: Arrivals,
        clock: Arc<StageClock>,
        give_up: Duration,
        judged: JudgedSpans,
    ) -> Self {
        Self {
            unclaimed: Mutex::new(arrivals.clone()),
            all: arrivals,
            clock,
            give_up,
            judged,
            stopped_at: OnceLock::new(),
            started_through_ns: AtomicU64::new(0),
            started: Counts::default(),
            started_judged: Counts::default(),
        }
    }

    /// For a user holding `held` (or nothing): the arrival to start now,
    /// claiming the next one first if it holds none and waiting until it is
    /// due. `None` after waiting at most `patience`, with the claim kept in
    /// `held` if its arrival is not due yet (or the schedule stopped
    /// meanwhile); also once the schedule has run out or stopped. Arrivals
    /// claimed too late to finish in time are given up on the way, each
    /// recorded into `sink` as dropped.
    pub async fn next(
        &self,
        held: &mut Option<Arrival>,
        patience: Duration,
        sink: &mut SampleSink,
    ) -> Option<Arrival> {
        if self.has_stopped() {
            // Nothing starts after the stop: idle, keeping any claim for
            // the user to give back as it stops ([`Schedule::abandon`]).
            tokio::time::sleep(patience).await;
            return None;
        }
        // The claim stays in `held` while this waits, so that it is not
        // lost if the wait is cut short; it leaves only when it starts.
        if held.is_none() {
            *held = self.claim(sink);
        }
        let Some(arrival) = *held else {
            // The schedule has run out: idle until the engine stops the user.
            tokio::time::sleep(patience).await;
            return None;
        };
        let wake = arrival.due.checked_sub(EARLY).unwrap_or(arrival.due);
        let now = Instant::now();
        if wake > now {
            if wake - now > patience {
                tokio::time::sleep(patience).await;
                return None;
            }
            tokio::time::sleep_until(wake.into()).await;
        }
        if self.has_stopped() {
            return None;
        }
        held.take()
    }

    /// Counts `arrival`, which [`Schedule::next`] gave, as started now;
    /// false, and not counted, once the schedule has stopped: nothing
    /// starts after a stop.
    pub fn start(&self, arrival: Arrival) -> bool {
        if self.has_stopped() {
            return false;
        }
        let late = arrival.due.elapsed() > LATE_AFTER;
        self.started.add(late);
        let due_ns = u64::try_from(self.clock.offset(arrival.due).as_nanos()).unwrap_or(u64::MAX);
        self.started_through_ns
            .fetch_max(due_ns.saturating_add(1), Ordering::Relaxed);
        if self.judged.contains(self.clock.offset_us(arrival.due)) {
            self.started_judged.add(late);
        }
        true
    }

    /// Ends the schedule at `at`, unless it has ended: no arrival starts
    /// from now on, and those due from `at` on were never intended.
    pub fn stop(&self, at: Instant) {
        let _ = self.stopped_at.set(at);
    }

    pub fn has_stopped(&self) -> bool {
        self.stopped_at.get().is_some()
    }

    /// The claim a user still held as it stopped: dropped, into `sink`,
    /// if it was due before the schedule's end; else it was never intended.
    /// A user had claimed it, so what kept it from starting by the end was
    /// the generator, not a wait for a user: it carries its start timing
    /// as of the end.
    pub fn abandon(&self, held: Arrival, sink: &mut SampleSink) {
        let end = self.end();
        if held.due < end {
            sink.record(Sample {
                start: Some(held.start_timing(end)),
                ..self.leftover(self.clock.offset(held.due), held.due, end)
            });
        }
    }

    /// Once the run is over: every arrival no user claimed that was due
    /// before the schedule's end, dropped, into `sink`.
    pub fn drop_leftovers(&self, sink: &mut SampleSink) {
        let (Some(epoch), end) = (self.clock.epoch(), self.end()) else {
            return;
        };
        let mut unclaimed = self.unclaimed.lock().expect("schedule lock");
        for offset in unclaimed.by_ref() {
            let due = epoch + offset;
            if due >= end {
                break;
            }
            sink.record(self.leftover(offset, due, end));
        }
    }

    /// An arrival due at `due` (`offset` into the run) still unstarted at
    /// the schedule's `end`. It waited until then, but never longer than
    /// the give-up: by then it would have been given up anyway.
    fn leftover(&self, offset: Duration, due: Instant, end: Instant) -> Sample {
        let waited = end.saturating_duration_since(due).min(self.give_up);
        Sample::dropped(whole_micros(offset), whole_micros(waited))
    }

    /// The schedule's end: its stop (or now), or just past the latest
    /// arrival started if that is later.
    fn end(&self) -> Instant {
        let stop = self.stopped_at.get().copied().unwrap_or_else(Instant::now);
        let started_through = self.clock.epoch().map(|epoch| {
            epoch + Duration::from_nanos(self.started_through_ns.load(Ordering::Relaxed))
        });
        started_through.map_or(stop, |through| through.max(stop))
    }

    /// The next arrival not given up; `None` once the schedule has run
    /// out. Those given up are recorded into `sink` as dropped, their
    /// latency the wait from due until now.
    fn claim(&self, sink: &mut SampleSink) -> Option<Arrival> {
        let epoch = self.clock.epoch()?;
        let mut unclaimed = self.unclaimed.lock().expect("schedule lock");
        let now = Instant::now();
        loop {
            let offset = unclaimed.next()?;
            let due = epoch + offset;
            let waited = now.saturating_duration_since(due);
            if waited <= self.give_up {
                return Some(Arrival { due, claimed: now });
            }
            sink.record(Sample::dropped(whole_micros(offset), whole_micros(waited)));
        }
    }

    /// The counts at the end of the run (call after [`Schedule::stop`]):
    /// every arrival due before the schedule's end was intended, and what
    /// did not start was dropped; over the whole run and the judged spans.
    pub fn snapshot(&self) -> ArrivalStats {
        let end = self
            .clock
            .epoch()
            .map(|epoch| self.end().saturating_duration_since(epoch));
        let (mut intended, mut judged) = (0, 0);
        if let Some(end) = end {
            for offset in self.all.clone().take_while(|&offset| offset < end) {
                intended += 1;
                judged += u64::from(self.judged.contains(whole_micros(offset)));
            }
        }
        let all = self.started.of(intended);
        ArrivalStats {
            intended: all.intended,
            started: all.started,
            dropped: all.dropped,
            late: all.late,
            judged: (!self.judged.is_whole_run()).then(|| self.started_judged.of(judged)),
            ..ArrivalStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use reports::results::{LatencyBasis, LatencyOf};
    use scenario::{Vars, parse_plan};

    use super::*;
    use crate::run::recorder::{Recorder, RecorderConfig, Recording};

    fn schedule(rate: &str, give_up: Duration) -> (Schedule, Arc<StageClock>) {
        let yaml = format!(
            "version: 2\nname: t\nload: {{model: open, max_users: 4, stages: [{{rate: {rate}, ramp: 0s}}, {{hold: 3s}}]}}\nrequests: [{{name: a, method: GET, path: /a}}]\n"
        );
        let plan = parse_plan("t.yaml", &yaml, Path::new("."), &Vars::new()).unwrap();
        let clock = Arc::new(StageClock::new(Duration::ZERO));
        clock.start();
        let schedule = Schedule::new(
            plan.timeline(Duration::from_secs(1)).arrivals(),
            clock.clone(),
            give_up,
            JudgedSpans::default(),
        );
        (schedule, clock)
    }

    /// A recorder for what the schedule records (its dropped arrivals).
    fn recorder(clock: Arc<StageClock>) -> Recorder {
        Recorder::start(RecorderConfig {
            names: vec!["a".into()],
            clock,
            judged: JudgedSpans::default(),
            timeline_end: Duration::from_secs(60),
            longest_timeout: Duration::from_secs(1),
            basis: LatencyBasis::IntendedStart,
            abort_watches: Vec::new(),
            latency_of: LatencyOf::All,
        })
    }

    async fn finish(recorder: Recorder, mut sink: SampleSink) -> Recording {
        sink.flush();
        drop(sink);
        recorder.finish(Duration::from_secs(3)).await
    }

    #[tokio::test]
    async fn users_claim_arrivals_in_order_and_start_them_when_due() {
        let (schedule, clock) = schedule("100/s", Duration::from_secs(30));
        let recorder = recorder(clock);
        let mut sink = recorder.sink();
        let mut starts = Vec::new();
        for _ in 0..3 {
            let Some(arrival) = schedule
                .next(&mut None, Duration::from_secs(1), &mut sink)
                .await
            else {
                panic!("an arrival is due within a second");
            };
            assert!(Instant::now() + EARLY >= arrival.due, "started too early");
            assert!(schedule.start(arrival));
            starts.push(arrival.due);
        }
        assert!(
            starts
                .windows(2)
                .all(|w| w[1] - w[0] == Duration::from_millis(10))
        );
        // A stop at the next arrival's due time, which a user woke early
        // for: it does not start, and was never intended.
        let next = schedule
            .next(&mut None, Duration::from_secs(1), &mut sink)
            .await
            .expect("the fourth arrival");
        schedule.stop(next.due);
        assert!(!schedule.start(next));
        schedule.abandon(next, &mut sink);
        let stats = schedule.snapshot();
        assert_eq!((stats.intended, stats.started, stats.dropped), (3, 3, 0));
        assert_eq!(finish(recorder, sink).await.overall.all.errors.dropped, 0);
    }

    #[tokio::test]
    async fn a_claim_not_yet_due_is_held_across_a_short_patience() {
        let (schedule, clock) = schedule("1/s", Duration::from_secs(30));
        let recorder = recorder(clock);
        let mut sink = recorder.sink();
        let patience = Duration::from_millis(20);
        // Whether the first arrival is due at the start or a second in,
        // within two claims one is a second away.
        let mut held = None;
        for _ in 0..2 {
            if schedule
                .next(&mut held, patience, &mut sink)
                .await
                .is_none()
            {
                break;
            }
        }
        let claim = held.expect("a claim a second away is held");
        assert!(
            schedule
                .next(&mut held, patience, &mut sink)
                .await
                .is_none()
        );
        assert_eq!(held, Some(claim), "the claim is kept, not replaced");
    }

    #[tokio::test]
    async fn arrivals_claimed_too_late_are_given_up_and_recorded_dropped() {
        let (schedule, clock) = schedule("1000/s", Duration::from_millis(50));
        let recorder = recorder(clock);
        let mut sink = recorder.sink();
        // Nobody claims anything for 200 ms: about 150 arrivals are too old.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let arrival = schedule
            .next(&mut None, Duration::from_secs(1), &mut sink)
            .await
            .expect("a recent arrival is due");
        assert!(arrival.due.elapsed() <= Duration::from_millis(60));
        assert!(schedule.start(arrival));
        schedule.stop(Instant::now());
        schedule.drop_leftovers(&mut sink);
        let stats = schedule.snapshot();
        assert_eq!(stats.started, 1);
        assert!(stats.intended >= 200, "{stats:?}");
        assert_eq!(stats.dropped, stats.intended - 1);
        assert_eq!(stats.late, 1, "the one started was over 10 ms late");
        // Every arrival not started is a failure of its own, as recorded.
        let rec = finish(recorder, sink).await;
        assert_eq!(rec.overall.all.errors.dropped, stats.dropped);
        assert_eq!(rec.overall.all.count, 0, "none was a request");
        let waited = &rec.overall.all.failed;
        assert!(
            waited.value_at_quantile(0.5) >= 50_000,
            "most were given up after the 50 ms timeout: {} µs",
            waited.value_at_quantile(0.5)
        );
    }

    #[tokio::test]
    async fn a_stopped_schedule_starts_nothing_and_intends_nothing_after_the_stop() {
        let (schedule, clock) = schedule("100/s", Duration::from_secs(30));
        let recorder = recorder(clock);
        let mut sink = recorder.sink();
        // A user claims an arrival a few ms away, then the run is stopped
        // 50 ms in.
        let mut held = None;
        let first = schedule
            .next(&mut held, Duration::from_secs(1), &mut sink)
            .await
            .expect("the first arrival is due at once");
        assert!(schedule.start(first));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let stop = Instant::now();
        schedule.stop(stop);
        let claim = Arrival {
            due: stop + Duration::from_millis(5),
            claimed: stop,
        };
        held = Some(claim);
        assert!(
            schedule
                .next(&mut held, Duration::from_millis(20), &mut sink)
                .await
                .is_none(),
            "nothing starts after the stop"
        );
        assert_eq!(held, Some(claim), "the claim is kept to give back");
        // Due after the stop: never intended, so not dropped either.
        schedule.abandon(claim, &mut sink);
        schedule.drop_leftovers(&mut sink);
        let stats = schedule.snapshot();
        assert!(
            (5..=7).contains(&stats.intended),
            "arrivals due in the 50 ms before the stop: {stats:?}"
        );
        assert_eq!(stats.started, 1);
        assert_eq!(stats.dropped, stats.intended - 1);
        let rec = finish(recorder, sink).await;
        assert_eq!(rec.overall.all.errors.dropped, stats.dropped);
    }

    #[tokio::test]
    async fn an_arrival_started_early_is_intended_even_if_the_stop_precedes_its_due_time() {
        let (schedule, clock) = schedule("100/s", Duration::from_secs(30));
        let recorder = recorder(clock);
        let mut sink = recorder.sink();
        let mut last = None;
        for _ in 0..3 {
            let arrival = schedule
                .next(&mut None, Duration::from_secs(1), &mut sink)
                .await
                .expect("due within a second");
            assert!(schedule.start(arrival));
            last = Some(arrival);
        }
        // Users wake two milliseconds early: the stop may fall between a
        // start and its due time.
        schedule.stop(last.unwrap().due - Duration::from_millis(1));
        schedule.drop_leftovers(&mut sink);
        let stats = schedule.snapshot();
        assert_eq!((stats.intended, stats.started, stats.dropped), (3, 3, 0));
        assert_eq!(finish(recorder, sink).await.overall.all.errors.dropped, 0);
    }

    #[test]
    fn a_start_tells_the_wait_for_a_user_from_the_generator_lag() {
        let due = Instant::now();
        let ms = Duration::from_millis;
        // Claimed ahead of time, sent 3 ms late: all lag.
        let ahead = Arrival {
            due,
            claimed: due - ms(100),
        };
        assert_eq!(
            ahead.start_timing(due + ms(3)),
            StartTiming {
                waited_for_user_us: 0,
                start_lag_us: 3_000
            }
        );
        // Claimed 40 ms late by the first user to come free, sent 1 ms later.
        let late = Arrival {
            due,
            claimed: due + ms(40),
        };
        assert_eq!(
            late.start_timing(due + ms(41)),
            StartTiming {
                waited_for_user_us: 40_000,
                start_lag_us: 1_000
            }
        );
        // Sent before due (the early wake): no lag.
        assert_eq!(ahead.start_timing(due - ms(1)).start_lag_us, 0);
    }
}
