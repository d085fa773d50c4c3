//! `--shard i/N`: one generator's share of a run that N generators make
//! together, each on its own machine or pod, merged afterwards.
//!
//! A shard's share is cut so that the N shards together are exactly the
//! whole run, not roughly it:
//! * a closed model's users: each stage's users split so that the shares
//!   differ by at most one (shard 0 takes the first extra one);
//! * an open model's arrivals: shard `i` takes arrivals `i, i + N, i + 2N…`
//!   of each stage's schedule, so the union of the shards' arrivals is the
//!   whole run's schedule, arrival for arrival, rather than N copies of a
//!   schedule at a rate N times lower that would all fire at once; its
//!   `max_users` (the stages' users) split as a closed model's users are;
//! * the user pool: shard `i`'s users take the keys after the ones the
//!   shards before it take at the peak, so no key is in two shards (while
//!   the pool is at least the peak);
//! * `{{ seq }}`: shard `i` counts `i + 1, i + 1 + N, i + 1 + 2N…`, so
//!   generated names never collide across shards.
//!
//! Budgets stay the whole run's: they are judged once, on the merged
//! results, never on a share (which could not meet the run's `min_rps`).

use std::{fmt, str::FromStr};

use crate::plan::{Plan, StageShape};

/// One generator's place among `count` (`index` in `0..count`); the whole
/// run is shard 0 of 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// Why a shard cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not `i/N` with `0 <= i < N`.
    #[error("`{0}` is not a shard: write i/N with 0 <= i < N, such as 0/4")]
    Malformed(String),
    /// The plan's peak is too small for this many shards.
    #[error(
        "shard {index}/{count} would run no users: the peak is {peak} users, so use at most {peak} shards"
    )]
    NoUsers { index: u32, count: u32, peak: u32 },
}

impl Shard {
    /// The whole run: shard 0 of 1.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`.
    ///
    /// # Errors
    /// [`ShardError::Malformed`] unless `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        if index < count {
            Ok(Self { index, count })
        } else {
            Err(ShardError::Malformed(format!("{index}/{count}")))
        }
    }

    /// Position among the shards, from 0.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many shards make the run.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether this is the whole run rather than a part of one.
    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// This shard's share of `total` users: `total / N`, plus one for the
    /// first `total mod N` shards.
    pub fn share(self, total: u32) -> u32 {
        total / self.count + u32::from(self.index < total % self.count)
    }

    /// The users of the shards before this one at `peak`: where this
    /// shard's users start in the user pool.
    pub fn users_before(self, peak: u32) -> u32 {
        (0..self.index)
            .map(|index| Shard { index, ..self }.share(peak))
            .sum()
    }

    /// The `k`th (from 0) `{{ seq }}` value this shard hands out.
    pub fn seq(self, k: u64) -> u64 {
        1 + u64::from(self.index) + u64::from(self.count) * k
    }

    /// The first arrival of each stage this shard takes, and how many it
    /// steps over to the next: `(i, N)`.
    pub fn arrival_stride(self) -> (u64, u64) {
        (u64::from(self.index), u64::from(self.count))
    }
}

impl Default for Shard {
    fn default() -> Self {
        Self::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || ShardError::Malformed(text.to_owned());
        let (index, count) = text.trim().split_once('/').ok_or_else(malformed)?;
        let parse = |part: &str| part.trim().parse::<u32>().map_err(|_| malformed());
        Self::new(parse(index)?, parse(count)?).map_err(|_| malformed())
    }
}

impl Plan {
    /// This plan's share for `shard`; see the module docs. Apply it last,
    /// after `--scale`, `--users` and `--duration`, which shape the whole
    /// run.
    ///
    /// # Errors
    /// [`ShardError::NoUsers`] when the shard's share of the peak is 0.
    pub fn sharded(&self, shard: Shard) -> Result<Plan, ShardError> {
        let peak = self.peak_users();
        if shard.share(peak) == 0 {
            return Err(ShardError::NoUsers {
                index: shard.index,
                count: shard.count,
                peak,
            });
        }
        let mut plan = self.clone();
        for stage in &mut plan.stages {
            if let StageShape::Ramp { to_users } | StageShape::Step { to_users } = &mut stage.shape
            {
                *to_users = shard.share(*to_users);
            }
        }
        plan.user_offset = shard.users_before(peak);
        plan.shard = shard;
        Ok(plan)
    }

    /// Which share of the whole run this plan is ([`Shard::WHOLE`] unless
    /// [`Plan::sharded`]).
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// This plan's user `user_index` as a user of the whole run: after the
    /// users of the shards before this one.
    pub fn whole_run_user(&self, user_index: usize) -> usize {
        self.user_offset as usize + user_index
    }

    /// The key of this plan's user `user_index`: the pool's key for it as
    /// a user of the whole run.
    pub fn key(&self, user_index: usize) -> std::borrow::Cow<'_, str> {
        self.users.key(self.whole_run_user(user_index))
    }
}

#[cfg(test)]
mod tests {
    use std::{path::Path, time::Duration};

    use super::*;
    use crate::{Vars, parse_plan};

    fn plan(load: &str) -> Plan {
        let yaml = format!(
            "version: 2\nname: s\nload:\n{load}\nrequests: [{{name: a, method: GET, path: /a}}]\n"
        );
        parse_plan("s.yaml", &yaml, Path::new("."), &Vars::new()).unwrap()
    }

    fn shards(count: u32) -> impl Iterator<Item = Shard> {
        (0..count).map(move |index| Shard::new(index, count).unwrap())
    }

    #[test]
    fn parses_i_of_n_and_refuses_anything_else() {
        assert_eq!("2/4".parse(), Ok(Shard::new(2, 4).unwrap()));
        assert_eq!(" 0 / 1 ".parse::<Shard>().unwrap(), Shard::WHOLE);
        for bad in ["4/4", "1", "a/2", "-1/2", "0/0", "1/2/3", ""] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert_eq!(err, ShardError::Malformed(bad.to_owned()), "{bad}");
        }
        assert_eq!(
            "4/4".parse::<Shard>().unwrap_err().to_string(),
            "`4/4` is not a shard: write i/N with 0 <= i < N, such as 0/4"
        );
    }

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for count in 1..=7 {
            for total in 0..=40 {
                let shares: Vec<u32> = shards(count).map(|s| s.share(total)).collect();
                assert_eq!(shares.iter().sum::<u32>(), total, "{total} over {count}");
                let (min, max) = (shares.iter().min(), shares.iter().max());
                assert!(max.unwrap() - min.unwrap() <= 1, "{shares:?}");
            }
        }
    }

    #[test]
    fn users_before_places_each_shard_after_the_last() {
        let starts: Vec<u32> = shards(4).map(|s| s.users_before(10)).collect();
        assert_eq!(starts, [0, 3, 6, 8]);
    }

    #[test]
    fn seq_ranges_are_disjoint_and_cover_the_whole_runs() {
        let mut all: Vec<u64> = shards(3)
            .flat_map(|s| (0..5).map(move |k| s.seq(k)))
            .collect();
        all.sort_unstable();
        assert_eq!(all, (1..=15).collect::<Vec<_>>());
        assert_eq!(
            (0..3).map(|k| Shard::WHOLE.seq(k)).collect::<Vec<_>>(),
            [1, 2, 3]
        );
    }

    #[test]
    fn a_closed_models_stages_split_and_its_keys_do_not_overlap() {
        let whole = plan("  stages: [{users: 10, ramp: 2s}, {hold: 2s}, {users: 3, ramp: 1s}]");
        let parts: Vec<Plan> = shards(4).map(|s| whole.sharded(s).unwrap()).collect();
        let users = |plan: &Plan| {
            plan.timeline(Duration::from_secs(1))
                .stages()
                .iter()
                .map(|s| s.to_users)
                .collect::<Vec<_>>()
        };
        assert_eq!(users(&parts[0]), [3, 3, 1]);
        assert_eq!(users(&parts[3]), [2, 2, 0]);
        for stage in 0..3 {
            let sum: u32 = parts.iter().map(|p| users(p)[stage]).sum();
            assert_eq!(sum, users(&whole)[stage]);
        }
        let mut keys: Vec<String> = parts
            .iter()
            .flat_map(|p| (0..p.peak_users() as usize).map(|u| p.key(u).into_owned()))
            .collect();
        let whole_keys: Vec<String> = (0..10).map(|u| whole.key(u).into_owned()).collect();
        keys.sort();
        let mut expected = whole_keys.clone();
        expected.sort();
        assert_eq!(
            keys, expected,
            "the shards' keys are the whole run's, once each"
        );
        assert_eq!(parts[2].shard(), Shard::new(2, 4).unwrap());
    }

    #[test]
    fn an_open_models_arrivals_are_the_whole_runs_dealt_out() {
        let whole = plan(
            "  model: open\n  max_users: 8\n  stages: [{rate: 40/s, ramp: 2s}, {hold: 1s}, {rate: 7/s, ramp: 1s}]",
        );
        let tick = Duration::from_secs(1);
        let mut dealt: Vec<Duration> = shards(3)
            .flat_map(|s| whole.sharded(s).unwrap().timeline(tick).arrivals())
            .collect();
        dealt.sort();
        let all: Vec<Duration> = whole.timeline(tick).arrivals().collect();
        assert!(all.len() > 50, "{}", all.len());
        assert_eq!(dealt, all);
    }

    #[test]
    fn a_peak_too_small_for_the_shards_is_refused() {
        let whole = plan("  stages: [{users: 3, ramp: 1s}]");
        assert!(whole.sharded(Shard::new(2, 4).unwrap()).is_ok());
        let err = whole.sharded(Shard::new(3, 4).unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shard 3/4 would run no users: the peak is 3 users, so use at most 3 shards"
        );
    }
}
