//! Per-key token buckets by tier (architecture §3), with `governor`.
//!
//! | tier | requests per minute | burst |
//! |---|---|---|
//! | standard | 100 | 17 |
//! | premium | 1 000 | 167 |
//! | api | 10 000 | 1 667 |
//!
//! "Burst allowance: 2× normal rate for 10 seconds": a client running at
//! twice its rate gains one request's debt per refill interval, so to last
//! 10 s the bucket must hold 10 s of the normal rate, i.e. a sixth of the
//! per-minute quota. The bucket refills at the normal rate.
//!
//! [`AuthFailures`] limits, per IP address, only the requests that fail
//! authentication: the per-key buckets cannot see a flood of unknown keys,
//! and a plain per-IP limit would throttle every client behind one address
//! (and every load test on loopback).

use std::{
    net::IpAddr,
    num::NonZeroU32,
    time::{Duration, Instant},
};

use governor::{
    RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

use crate::store::Tier;

/// How long a client may run at twice its rate.
const BURST_WINDOW_SECS: u32 = 10;

/// The limits of one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TierLimit {
    pub requests_per_minute: u32,
    /// Requests a full bucket allows at once.
    pub burst: u32,
}

impl Tier {
    pub fn limit(self) -> TierLimit {
        let requests_per_minute = match self {
            Tier::Standard => 100,
            Tier::Premium => 1_000,
            Tier::Api => 10_000,
        };
        TierLimit {
            requests_per_minute,
            burst: (requests_per_minute * BURST_WINDOW_SECS).div_ceil(60),
        }
    }
}

/// What a request learns from its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        limit: TierLimit,
        remaining: u32,
    },
    Limited {
        limit: TierLimit,
        retry_after: Duration,
    },
}

type KeyedLimiter =
    RateLimiter<i64, DefaultKeyedStateStore<i64>, DefaultClock, StateInformationMiddleware>;

/// One keyed limiter per tier, keyed by user id.
#[derive(Debug)]
pub struct RateLimits {
    limiters: [KeyedLimiter; 3],
    clock: DefaultClock,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimits {
    pub fn new() -> Self {
        let limiter = |tier: Tier| {
            let limit = tier.limit();
            let quota = governor::Quota::per_minute(nonzero(limit.requests_per_minute))
                .allow_burst(nonzero(limit.burst));
            RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()
        };
        Self {
            limiters: Tier::ALL.map(limiter),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one token from `user_id`'s bucket, if there is one.
    pub fn check(&self, user_id: i64, tier: Tier) -> Decision {
        let limit = tier.limit();
        match self.limiters[tier as usize].check_key(&user_id) {
            Ok(snapshot) => Decision::Allowed {
                limit,
                remaining: snapshot.remaining_burst_capacity(),
            },
            Err(not_until) => Decision::Limited {
                limit,
                retry_after: not_until.wait_time_from(self.clock.now()),
            },
        }
    }
}

type IpLimiter = RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>;

/// Addresses remembered as over their failure limit; more are forgotten
/// first by moka's policy, so a flood from many addresses cannot grow it.
const BLOCKED_CAPACITY: u64 = 100_000;

/// Failed authentications per IP address, and the addresses over their
/// limit.
///
/// Only failures take a token, so a client whose keys are good is never
/// counted. An address over its limit is refused (429) before its next
/// key is looked up in Redis or the database, until a token is back; a
/// key already verified in-process still passes, since checking it costs
/// nothing.
#[derive(Debug)]
pub struct AuthFailures {
    limiter: IpLimiter,
    /// When each address over its limit may try again.
    blocked: moka::sync::Cache<IpAddr, Instant>,
    clock: DefaultClock,
}

impl AuthFailures {
    /// `per_minute` failures per address, with the tiers' burst rule (10 s
    /// at twice the rate).
    pub fn new(per_minute: u32) -> Self {
        let per_minute = nonzero(per_minute);
        let burst = nonzero((per_minute.get() * BURST_WINDOW_SECS).div_ceil(60));
        Self {
            limiter: RateLimiter::keyed(governor::Quota::per_minute(per_minute).allow_burst(burst)),
            blocked: moka::sync::Cache::builder()
                .max_capacity(BLOCKED_CAPACITY)
                .time_to_live(Duration::from_secs(60))
                .build(),
            clock: DefaultClock::default(),
        }
    }

    /// How long `ip` must wait before a key of its is looked up, if it is
    /// over its limit.
    pub fn blocked_for(&self, ip: IpAddr) -> Option<Duration> {
        let until = self.blocked.get(&ip)?;
        until
            .checked_duration_since(Instant::now())
            .filter(|wait| !wait.is_zero())
    }

    /// Counts one failed authentication from `ip`; over the limit, answers
    /// how long it must wait.
    pub fn record(&self, ip: IpAddr) -> Option<Duration> {
        let not_until = self.limiter.check_key(&ip).err()?;
        let wait = not_until.wait_time_from(self.clock.now());
        self.blocked.insert(ip, Instant::now() + wait);
        Some(wait)
    }

    /// Forgets the buckets of addresses that have been quiet for a while.
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("tier limits are positive")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_the_architecture() {
        assert_eq!(
            Tier::Standard.limit(),
            TierLimit {
                requests_per_minute: 100,
                burst: 17
            }
        );
        assert_eq!(
            Tier::Premium.limit(),
            TierLimit {
                requests_per_minute: 1000,
                burst: 167
            }
        );
        assert_eq!(
            Tier::Api.limit(),
            TierLimit {
                requests_per_minute: 10_000,
                burst: 1667
            }
        );
    }

    #[test]
    fn only_failures_count_and_an_address_over_its_limit_waits() {
        let failures = AuthFailures::new(60);
        let here = IpAddr::from([127, 0, 0, 1]);
        let there = IpAddr::from([127, 0, 0, 2]);
        assert_eq!(failures.blocked_for(here), None);
        // 60/min: a burst of 10, then a token a second.
        for i in 0..10 {
            assert_eq!(failures.record(here), None, "failure {i}");
            assert_eq!(failures.blocked_for(here), None);
        }
        let wait = failures.record(here).expect("over the limit");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        let blocked = failures.blocked_for(here).expect("blocked");
        assert!(blocked <= wait);
        assert_eq!(failures.blocked_for(there), None, "addresses are separate");
        assert_eq!(failures.record(there), None);
    }

    #[test]
    fn a_bucket_empties_after_its_burst_and_keys_are_separate() {
        let limits = RateLimits::new();
        for i in 0..17 {
            assert!(
                matches!(limits.check(1, Tier::Standard), Decision::Allowed { remaining, .. } if remaining == 16 - i),
                "request {i}"
            );
        }
        match limits.check(1, Tier::Standard) {
            Decision::Limited { retry_after, .. } => {
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_millis(600));
            }
            other => panic!("expected a limit, got {other:?}"),
        }
        assert!(matches!(
            limits.check(2, Tier::Standard),
            Decision::Allowed { .. }
        ));
    }
}
