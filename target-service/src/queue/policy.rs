//! The two rules every queue backend follows the same way: how long a
//! failed task waits before its next attempt, and which priority a worker
//! asks first.

use std::time::Duration;

use super::task::Priority;

/// Exponential backoff with "equal jitter": attempt `n` failed, so the next
/// waits between half and all of `base · 2^(n-1)`, capped at `cap`. Half
/// is fixed so the waits grow for sure; the other half is random so that
/// tasks that failed together (a database restart) do not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    /// Retries after the first attempt (architecture §3: at most 5), so
    /// a task runs at most `max_retries + 1` times.
    pub max_retries: u32,
}

impl Backoff {
    /// The upper bound of the wait after failed attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << doublings).min(self.cap)
    }

    /// The wait after failed attempt `attempt`, or `None` when it was the
    /// last one allowed. `unit` is a uniform random number in `[0, 1)`,
    /// passed in so that tests can pin it.
    pub fn delay(&self, attempt: u32, unit: f64) -> Option<Duration> {
        if attempt > self.max_retries {
            return None;
        }
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        Some(half + (ceiling - half).mul_f64(unit.clamp(0.0, 1.0)))
    }
}

/// Which priority a worker asks first on each take, in a weighted cycle:
/// of every 7 takes, 4 ask high first, 2 normal and 1 low. A take whose
/// first priority is empty falls to the others, highest first, so no
/// worker idles while any task waits, and low tasks get at least one take
/// in 7 however many high ones arrive.
pub const PRIORITY_CYCLE: [Priority; 7] = [
    Priority::High,
    Priority::Normal,
    Priority::High,
    Priority::Low,
    Priority::High,
    Priority::Normal,
    Priority::High,
];

/// The priorities to ask, in order, on take number `take`.
pub fn take_order(take: u64) -> [Priority; 3] {
    let first = PRIORITY_CYCLE[(take % PRIORITY_CYCLE.len() as u64) as usize];
    let mut order = [first; 3];
    let mut rest = Priority::ALL.into_iter().filter(|p| *p != first);
    for slot in &mut order[1..] {
        *slot = rest.next().unwrap_or(first);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_retries: 5,
        }
    }

    #[test]
    fn waits_double_between_half_and_all_of_the_ceiling_up_to_the_cap() {
        let b = backoff();
        let ms = |attempt, unit| b.delay(attempt, unit).map(|d| d.as_millis());
        assert_eq!(ms(1, 0.0), Some(50));
        assert_eq!(ms(1, 0.999_999), Some(99));
        assert_eq!(ms(2, 0.0), Some(100));
        assert_eq!(ms(3, 0.5), Some(300));
        assert_eq!(ms(4, 0.0), Some(400));
        assert_eq!(ms(5, 0.0), Some(500), "a 1.6 s ceiling is capped at 1 s");
        assert_eq!(ms(5, 1.0), Some(1000));
        assert_eq!(ms(6, 0.0), None, "five retries, then the dead-letter queue");
        let long = Backoff {
            max_retries: 100,
            ..b
        };
        assert_eq!(long.delay(64, 1.0), Some(Duration::from_secs(1)));
    }

    #[test]
    fn every_take_asks_every_priority_once() {
        for take in 0..14 {
            let mut order = take_order(take).to_vec();
            order.sort();
            assert_eq!(order, Priority::ALL.to_vec(), "take {take}");
        }
        assert_eq!(
            take_order(3),
            [Priority::Low, Priority::High, Priority::Normal]
        );
    }

    /// With all three backlogged, every priority is served in its share:
    /// the lowest is never starved.
    #[test]
    fn a_backlog_of_high_tasks_does_not_starve_low_ones() {
        let mut served = [0u32; 3];
        for take in 0..700 {
            served[take_order(take)[0].index()] += 1;
        }
        assert_eq!(served, [400, 200, 100]);
    }
}
