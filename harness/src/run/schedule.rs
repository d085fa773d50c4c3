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
//! started it. The rate is never lowered in silence.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use reports::results::ArrivalStats;
use scenario::timeline::Arrivals;

use super::clock::StageClock;

/// An arrival started this long after it was due is late.
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// How early a user wakes for its arrival. tokio's timer fires on whole
/// milliseconds, rounding a deadline up, and its driver parks for whole
/// milliseconds too, so a wake for the due time itself lands up to a
/// millisecond or two late, and that lateness would count in every
/// latency. Waking a millisecond early instead starts most arrivals within
/// a millisecond before their due time; the rate is unchanged, and a start
/// before the due time counts its latency from the send, so it hides
/// nothing.
const EARLY: Duration = Duration::from_millis(1);

/// One arrival: run one iteration, as if it started at `due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub due: Instant,
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
    started: AtomicU64,
    late: AtomicU64,
}

/// What a user does next, as [`Schedule::next`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Start this arrival now.
    Start(Arrival),
    /// Sleep on, holding this claim: its arrival is not due yet.
    Hold(Arrival),
    /// The schedule has no more arrivals.
    Exhausted,
}

impl Schedule {
    /// `arrivals` count from `clock`'s epoch, which is set before any user
    /// asks for one; `give_up` is the plan's longest request timeout.
    pub fn new(arrivals: Arrivals, clock: Arc<StageClock>, give_up: Duration) -> Self {
        Self {
            unclaimed: Mutex::new(arrivals.clone()),
            all: arrivals,
            clock,
            give_up,
            started: AtomicU64::new(0),
            late: AtomicU64::new(0),
        }
    }

    /// For a user with `held` claimed (or nothing): waits until the
    /// arrival is due, at most `patience`, claiming the next one first if
    /// it holds none. Arrivals claimed too late to finish in time are
    /// given up on the way.
    pub async fn next(&self, held: Option<Arrival>, patience: Duration) -> Next {
        let arrival = match held {
            Some(arrival) => arrival,
            None => match self.claim() {
                Some(arrival) => arrival,
                None => return Next::Exhausted,
            },
        };
        let wake = arrival.due.checked_sub(EARLY).unwrap_or(arrival.due);
        let now = Instant::now();
        if wake > now {
            if wake - now > patience {
                tokio::time::sleep(patience).await;
                return Next::Hold(arrival);
            }
            tokio::time::sleep_until(wake.into()).await;
        }
        self.started.fetch_add(1, Ordering::Relaxed);
        if arrival.due.elapsed() > LATE_AFTER {
            self.late.fetch_add(1, Ordering::Relaxed);
        }
        Next::Start(arrival)
    }

    /// The next arrival not given up; `None` once the schedule has run out.
    fn claim(&self) -> Option<Arrival> {
        let epoch = self.clock.epoch()?;
        let mut unclaimed = self.unclaimed.lock().expect("schedule lock");
        let now = Instant::now();
        loop {
            let due = epoch + unclaimed.next()?;
            if now.saturating_duration_since(due) <= self.give_up {
                return Some(Arrival { due });
            }
        }
    }

    /// The counts at the end of a run that ended at `end`: every arrival
    /// due before then was intended, and what did not start was dropped
    /// (given up, still held by a user, or never claimed).
    pub fn snapshot(&self, end: Instant) -> ArrivalStats {
        let due_before_end = self
            .clock
            .epoch()
            .map(|epoch| end.saturating_duration_since(epoch));
        let intended = due_before_end.map_or(0, |span| {
            self.all.clone().take_while(|&offset| offset < span).count() as u64
        });
        let started = self.started.load(Ordering::Relaxed).min(intended);
        ArrivalStats {
            intended,
            started,
            dropped: intended - started,
            late: self.late.load(Ordering::Relaxed).min(started),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use scenario::{Vars, parse_plan};

    use super::*;

    fn schedule(rate: &str, give_up: Duration) -> Schedule {
        let yaml = format!(
            "version: 2\nname: t\nload: {{model: open, max_users: 4, stages: [{{rate: {rate}, ramp: 0s}}, {{hold: 3s}}]}}\nrequests: [{{name: a, method: GET, path: /a}}]\n"
        );
        let plan = parse_plan("t.yaml", &yaml, Path::new("."), &Vars::new()).unwrap();
        let clock = Arc::new(StageClock::new(Duration::ZERO));
        clock.start();
        Schedule::new(
            plan.timeline(Duration::from_secs(1)).arrivals(),
            clock,
            give_up,
        )
    }

    #[tokio::test]
    async fn users_claim_arrivals_in_order_and_start_them_when_due() {
        let schedule = schedule("100/s", Duration::from_secs(30));
        let mut starts = Vec::new();
        for _ in 0..3 {
            let Next::Start(arrival) = schedule.next(None, Duration::from_secs(1)).await else {
                panic!("an arrival is due within a second");
            };
            assert!(Instant::now() + EARLY >= arrival.due, "started too early");
            starts.push(arrival.due);
        }
        assert!(
            starts
                .windows(2)
                .all(|w| w[1] - w[0] == Duration::from_millis(10))
        );
    }

    #[tokio::test]
    async fn a_claim_not_yet_due_is_held_across_a_short_patience() {
        let schedule = schedule("1/s", Duration::from_secs(30));
        // Whether the first arrival is due at the start or a second in,
        // within two claims one is a second away.
        let held = loop {
            match schedule.next(None, Duration::from_millis(20)).await {
                Next::Hold(held) => break held,
                Next::Start(_) => continue,
                Next::Exhausted => panic!("the schedule has two arrivals"),
            }
        };
        let Next::Hold(again) = schedule.next(Some(held), Duration::from_millis(20)).await else {
            panic!("still not due");
        };
        assert_eq!(held, again, "the claim is kept, not replaced");
    }

    #[tokio::test]
    async fn arrivals_claimed_too_late_are_given_up_and_counted_dropped() {
        let schedule = schedule("1000/s", Duration::from_millis(50));
        // Nobody claims anything for 200 ms: about 150 arrivals are too old.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Next::Start(arrival) = schedule.next(None, Duration::from_secs(1)).await else {
            panic!("a recent arrival is due");
        };
        assert!(arrival.due.elapsed() <= Duration::from_millis(60));
        let stats = schedule.snapshot(Instant::now());
        assert_eq!(stats.started, 1);
        assert!(stats.intended >= 200, "{stats:?}");
        assert_eq!(stats.dropped, stats.intended - 1);
        assert_eq!(stats.late, 1, "the one started was over 10 ms late");
    }
}
