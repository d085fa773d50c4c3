//! The open model's dispatcher: hands each arrival of the plan's schedule
//! to an idle user at the moment it is due, whatever the target's speed.
//!
//! Arrivals wait in a queue for the next idle user (of `max_users`). One
//! taken more than [`LATE_AFTER`] after it was due is counted *late*, and
//! its latency still counts from when it was due, so a target that stalls
//! cannot hide the stall by slowing the load down (coordinated omission);
//! the service time, from the actual send, is recorded beside it.
//!
//! An arrival is *dropped*, and counted as k6 counts `dropped_iterations`,
//! when it could not start in time at all: it waited longer than the
//! longest request timeout, the queue was full ([`QUEUE_CAPACITY`]), or the
//! run ended before a user took it. The rate is never lowered in silence.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use reports::results::ArrivalStats;
use scenario::timeline::Arrivals;

use super::{clock::StageClock, engine};

/// Most arrivals waiting at once; more are dropped (bounds memory when a
/// long run is saturated).
pub const QUEUE_CAPACITY: usize = 100_000;
/// How often a sleeping dispatcher checks whether the run was stopped.
const STOP_CHECK: Duration = Duration::from_millis(50);
/// An arrival handed to a user is late when it was due this long before.
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// One arrival: run one iteration, as if it started at `due`.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub due: Instant,
}

/// The users' end of the queue, with the counters they keep.
#[derive(Debug, Clone)]
pub struct ArrivalQueue {
    arrivals: flume::Receiver<Arrival>,
    counters: Arc<ArrivalCounters>,
    /// An arrival older than this is given up: its request could not finish
    /// within its timeout even if it started now.
    give_up: Duration,
}

impl ArrivalQueue {
    /// The next arrival, waiting at most `wait`; `Err(Closed)` once the
    /// schedule has run out.
    pub async fn take(&self, wait: Duration) -> Result<Option<Arrival>, Closed> {
        loop {
            match tokio::time::timeout(wait, self.arrivals.recv_async()).await {
                Err(_) => return Ok(None),
                Ok(Err(_)) => return Err(Closed),
                Ok(Ok(arrival)) => {
                    let waited = arrival.due.elapsed();
                    if waited > self.give_up {
                        continue;
                    }
                    self.counters.started.fetch_add(1, Ordering::Relaxed);
                    if waited > LATE_AFTER {
                        self.counters.late.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(Some(arrival));
                }
            }
        }
    }
}

/// The schedule has no more arrivals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// Counts of what became of the arrivals; shared with the dispatcher.
#[derive(Debug, Default)]
pub struct ArrivalCounters {
    intended: AtomicU64,
    started: AtomicU64,
    late: AtomicU64,
}

impl ArrivalCounters {
    /// The counts once the users have stopped: whatever was intended and
    /// not started (still queued, given up, or refused by a full queue) was
    /// dropped.
    pub fn snapshot(&self) -> ArrivalStats {
        let intended = self.intended.load(Ordering::Relaxed);
        let started = self.started.load(Ordering::Relaxed);
        ArrivalStats {
            intended,
            started,
            dropped: intended.saturating_sub(started),
            late: self.late.load(Ordering::Relaxed),
        }
    }
}

/// The queue between the dispatcher and the users; `give_up` is the
/// longest request timeout of the plan.
pub fn queue(
    give_up: Duration,
    counters: Arc<ArrivalCounters>,
) -> (flume::Sender<Arrival>, ArrivalQueue) {
    let (to_users, arrivals) = flume::bounded(QUEUE_CAPACITY);
    (
        to_users,
        ArrivalQueue {
            arrivals,
            counters,
            give_up,
        },
    )
}

/// Dispatches `arrivals` (offsets from the clock's epoch, which is after
/// the engine has launched the users) on a thread of its own until they run
/// out, the run is stopped, or `stop` is set.
///
/// A thread, not a task: tokio's timer wakes on whole milliseconds, which
/// would make every arrival up to a millisecond late and add that to every
/// latency; a thread's sleep is accurate to tens of microseconds.
pub fn spawn_dispatcher(
    arrivals: Arrivals,
    clock: Arc<StageClock>,
    to_users: flume::Sender<Arrival>,
    counters: Arc<ArrivalCounters>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let stopped = || stop.load(Ordering::Relaxed) || engine::stopped();
        let Some(epoch) = clock.wait_for_epoch(stopped) else {
            return;
        };
        for offset in arrivals {
            let due = epoch + offset;
            loop {
                if stopped() {
                    return;
                }
                let now = Instant::now();
                if now >= due {
                    break;
                }
                std::thread::sleep((due - now).min(STOP_CHECK));
            }
            counters.intended.fetch_add(1, Ordering::Relaxed);
            // A full queue drops the arrival; the snapshot counts it.
            if let Err(flume::TrySendError::Disconnected(_)) = to_users.try_send(Arrival { due }) {
                return;
            }
        }
    })
}
