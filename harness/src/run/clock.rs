//! Where the run's clock starts.
//!
//! Every offset of a run (a sample's start, a second of the series, a
//! scrape, an arrival's due time, the stages of the [`Timeline`]) counts
//! from one instant, the *epoch*. It is taken when the engine starts the
//! first user, not when loadgate decides to run: the first scrape before the
//! run can take its whole timeout, and the engine has its own start-up, so a
//! clock started earlier would put every stage early against what really
//! ran. In an open model the epoch is the first user's start plus the
//! engine's launch lead, the time it takes to launch the users that then
//! wait for arrivals.
//!
//! [`Timeline`]: scenario::Timeline

use std::{
    sync::OnceLock,
    time::{Duration, Instant, SystemTime},
};

use scenario::duration::whole_micros;

/// The run's epoch, set once by the first user to start.
#[derive(Debug)]
pub struct StageClock {
    lead: Duration,
    epoch: OnceLock<(Instant, SystemTime)>,
}

impl StageClock {
    /// A clock whose zero will be `lead` after the first user starts.
    pub fn new(lead: Duration) -> Self {
        Self {
            lead,
            epoch: OnceLock::new(),
        }
    }

    /// A clock already started at `epoch`, for tests that place readings
    /// on it.
    #[cfg(test)]
    pub(crate) fn starting_at(epoch: Instant) -> Self {
        let clock = Self::new(Duration::ZERO);
        let _ = clock.epoch.set((epoch, SystemTime::now()));
        clock
    }

    /// Starts the clock, unless it has started; every user calls this as
    /// it starts, and the first one wins.
    pub fn start(&self) {
        self.epoch
            .get_or_init(|| (Instant::now() + self.lead, SystemTime::now() + self.lead));
    }

    /// The epoch, once the clock has started.
    pub fn epoch(&self) -> Option<Instant> {
        self.epoch.get().map(|&(instant, _)| instant)
    }

    /// The epoch as wall-clock time, for the results' `started_at`.
    pub fn started_at(&self) -> Option<SystemTime> {
        self.epoch.get().map(|&(_, wall)| wall)
    }

    /// How far `at` is from the epoch; zero before it, or before the clock
    /// has started (setup requests of an open model's launch, a scrape
    /// before the run).
    pub fn offset(&self, at: Instant) -> Duration {
        self.epoch()
            .map_or(Duration::ZERO, |epoch| at.saturating_duration_since(epoch))
    }

    /// [`StageClock::offset`] in whole microseconds, as samples count.
    pub fn offset_us(&self, at: Instant) -> u64 {
        whole_micros(self.offset(at))
    }

    /// How long the run has been going.
    pub fn elapsed(&self) -> Duration {
        self.offset(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_zero_until_the_first_start_and_count_from_it() {
        let clock = StageClock::new(Duration::ZERO);
        let before = Instant::now();
        assert_eq!(clock.epoch(), None);
        assert_eq!(
            clock.offset(before + Duration::from_secs(5)),
            Duration::ZERO
        );
        clock.start();
        let epoch = clock.epoch().expect("started");
        assert!(epoch >= before);
        clock.start();
        assert_eq!(clock.epoch(), Some(epoch), "the first start wins");
        assert_eq!(
            clock.offset(epoch + Duration::from_millis(1500)),
            Duration::from_millis(1500)
        );
        assert_eq!(
            clock.offset(before),
            Duration::ZERO,
            "before the epoch is 0"
        );
    }

    #[test]
    fn a_lead_puts_the_epoch_after_the_start() {
        let clock = StageClock::new(Duration::from_secs(1));
        let before = Instant::now();
        clock.start();
        assert!(clock.epoch().unwrap() >= before + Duration::from_secs(1));
        assert_eq!(clock.elapsed(), Duration::ZERO, "the lead is still running");
    }
}
