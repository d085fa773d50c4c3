//! Where users leave their batches of samples for the aggregator, and
//! where the aggregator leaves the emptied buffers for users to reuse.
//!
//! A channel woke the aggregator for every batch: a cross-thread wake (a
//! futex call when its worker was parked) per 256 samples cost more than
//! recording them. The inbox wakes nobody. The aggregator looks every
//! [`DRAIN_EVERY`], which is soon enough for the live view, the per-second
//! series and the abort watches, all of which work on whole seconds.
//!
//! The buffers go round: a user hands over a full one and takes an empty
//! one back, so once every user has a buffer in flight, recording
//! allocates nothing.

use std::{sync::Mutex, time::Duration};

use super::sink::{BATCH_SAMPLES, Sample};

/// How often the aggregator takes what users have handed over.
pub(super) const DRAIN_EVERY: Duration = Duration::from_millis(50);

/// At most this many emptied buffers are kept for reuse; beyond, they are
/// freed (after a burst of users that have since stopped, say).
const SPARE_LIMIT: usize = 1024;

/// Batches handed over and not yet taken, and buffers ready for reuse.
#[derive(Debug, Default)]
pub(super) struct Inbox {
    state: Mutex<Trays>,
}

#[derive(Debug, Default)]
struct Trays {
    full: Vec<Vec<Sample>>,
    spare: Vec<Vec<Sample>>,
}

impl Inbox {
    /// Leaves `batch` for the aggregator and returns an empty buffer to
    /// fill next: a reused one when there is one.
    pub(super) fn hand_over(&self, batch: Vec<Sample>) -> Vec<Sample> {
        let spare = {
            let mut trays = self.state.lock().expect("inbox lock");
            trays.full.push(batch);
            trays.spare.pop()
        };
        spare.unwrap_or_else(|| Vec::with_capacity(BATCH_SAMPLES))
    }

    /// Takes every batch handed over so far into `into` (which should be
    /// empty); the caller gives the buffers back with [`Inbox::recycle`].
    pub(super) fn take(&self, into: &mut Vec<Vec<Sample>>) {
        let mut trays = self.state.lock().expect("inbox lock");
        std::mem::swap(&mut trays.full, into);
    }

    /// Empties the buffers in `used` and keeps them for users to reuse.
    pub(super) fn recycle(&self, used: &mut Vec<Vec<Sample>>) {
        let mut trays = self.state.lock().expect("inbox lock");
        for mut buffer in used.drain(..) {
            if trays.spare.len() >= SPARE_LIMIT {
                break;
            }
            buffer.clear();
            trays.spare.push(buffer);
        }
        used.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::recorder::Outcome;

    fn sample() -> Sample {
        Sample {
            name: Some(0),
            start_us: 1,
            latency_us: 2,
            service_us: 2,
            connect_us: 0,
            ttfb_us: 1,
            outcome: Outcome::Ok { status: 200 },
            start: None,
        }
    }

    #[test]
    fn buffers_go_round_instead_of_being_allocated_again() {
        let inbox = Inbox::default();
        let mut batch = Vec::with_capacity(BATCH_SAMPLES);
        batch.push(sample());
        let first = batch.as_ptr();
        let fresh = inbox.hand_over(batch);
        assert_ne!(fresh.as_ptr(), first, "nothing to reuse yet");

        let mut taken = Vec::new();
        inbox.take(&mut taken);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].len(), 1);
        inbox.recycle(&mut taken);
        assert!(taken.is_empty());

        let reused = inbox.hand_over(fresh);
        assert_eq!(reused.as_ptr(), first, "the emptied buffer comes back");
        assert!(reused.is_empty());
        assert!(reused.capacity() >= BATCH_SAMPLES);
    }
}
