//! The open model's dispatcher: hands each arrival of the plan's schedule
//! to an idle user at the moment it is due, whatever the target's speed.
//!
//! Arrivals wait in a queue as long as `max_users` for the next idle user.
//! An arrival that finds the queue full as well is *dropped* and counted, as
//! k6 counts `dropped_iterations`: the rate is never lowered in silence. One
//! taken more than [`LATE_AFTER`] after it was due is counted *late*. Either
//! way its latency counts from when it was due, so a target that stalls
//! cannot hide the stall by slowing the load down (coordinated omission);
//! the service time, from the actual send, is recorded beside it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use reports::results::ArrivalStats;

use crate::plan::Arrivals;

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
}

impl ArrivalQueue {
    /// The next arrival, waiting at most `wait`; `Err(Closed)` once the
    /// schedule has run out.
    pub async fn take(&self, wait: Duration) -> Result<Option<Arrival>, Closed> {
        match tokio::time::timeout(wait, self.arrivals.recv_async()).await {
            Err(_) => Ok(None),
            Ok(Err(_)) => Err(Closed),
            Ok(Ok(arrival)) => {
                self.counters.started.fetch_add(1, Ordering::Relaxed);
                if arrival.due.elapsed() > LATE_AFTER {
                    self.counters.late.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Some(arrival))
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
    dropped: AtomicU64,
    late: AtomicU64,
}

impl ArrivalCounters {
    pub fn snapshot(&self) -> ArrivalStats {
        ArrivalStats {
            intended: self.intended.load(Ordering::Relaxed),
            started: self.started.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
        }
    }
}

/// The queue between the dispatcher and the users: room for `max_users`
/// arrivals beside the `max_users` in flight.
pub fn queue(
    max_users: u32,
    counters: Arc<ArrivalCounters>,
) -> (flume::Sender<Arrival>, ArrivalQueue) {
    let (to_users, arrivals) = flume::bounded(max_users as usize);
    (to_users, ArrivalQueue { arrivals, counters })
}

/// Dispatches `arrivals` (offsets from `epoch`, the schedule's start, which
/// is after goose has launched the users) on a thread of its own until they
/// run out, the run is stopped, or `stop` is set.
///
/// A thread, not a task: tokio's timer wakes on whole milliseconds, which
/// would make every arrival up to a millisecond late and add that to every
/// latency; a thread's sleep is accurate to tens of microseconds.
pub fn spawn_dispatcher(
    arrivals: Arrivals,
    epoch: Instant,
    to_users: flume::Sender<Arrival>,
    counters: Arc<ArrivalCounters>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for offset in arrivals {
            let due = epoch + offset;
            loop {
                if stop.load(Ordering::Relaxed) || goose::is_killswitch_triggered() {
                    return;
                }
                let now = Instant::now();
                if now >= due {
                    break;
                }
                std::thread::sleep((due - now).min(STOP_CHECK));
            }
            counters.intended.fetch_add(1, Ordering::Relaxed);
            match to_users.try_send(Arrival { due }) {
                Ok(()) => {}
                Err(flume::TrySendError::Full(_)) => {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(flume::TrySendError::Disconnected(_)) => return,
            }
        }
    })
}
