//! The run's one stage clock.
//!
//! A [`Timeline`] places a plan's stages on the run's clock, already rounded
//! to what the engine can execute (its *tick*; the harness's engine runs
//! whole seconds). It is built once per run, and everything that asks
//! "which stage is this, and how many users run now" asks it: which users
//! run when, the engine's run length, the judged spans, the arrival
//! schedule, the progress line, the stages written to `results.json` and
//! the charts drawn from them. Before it existed the plan's exact stages, the engine's
//! rounded-up seconds and the judged spans disagreed, so a scaled-down run
//! could judge a ramp as if it were the steady stage.
//!
//! Rounding places each stage boundary on the nearest tick, so the errors of
//! many stages do not add up; a stage with any length keeps at least one
//! tick, so a scaled-down stage never vanishes (the stages after it absorb
//! that tick where they can); and a run never lasts longer than its
//! `--duration` cap: when the ticks do not fit, the longest stages give
//! theirs back first, then the last stages.

use std::time::Duration;

use crate::plan::{Plan, RateSpan, StageShape};
use crate::shard::Shard;

/// How a stage moves from its start's load to its end's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Motion {
    /// Linearly over the stage (a hold is a ramp to the same load).
    Ramp,
    /// At once, at the stage's start, then held to its end.
    Step,
}

/// A stage placed on the run's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSpan {
    /// Position in the stage list.
    pub index: usize,
    /// The stage's name, if any.
    pub name: Option<String>,
    /// Offset from the start of the run at which the stage starts.
    pub start: Duration,
    /// Offset at which it ends (the next stage's start).
    pub end: Duration,
    /// Users when the stage starts.
    pub from_users: u32,
    /// Users when it ends.
    pub to_users: u32,
    /// How the users (and an open model's rate) get from one to the other.
    pub motion: Motion,
    /// An open model's arrival rate over the stage; `None` in a closed one.
    pub rate: Option<RateSpan>,
}

impl StageSpan {
    /// How long the stage lasts.
    pub fn length(&self) -> Duration {
        self.end - self.start
    }

    /// Users running at `offset`, which the stage contains.
    fn users_at(&self, offset: Duration) -> f64 {
        let (from, to) = (f64::from(self.from_users), f64::from(self.to_users));
        match self.motion {
            Motion::Step => to,
            Motion::Ramp => {
                let along = (offset - self.start).as_secs_f64() / self.length().as_secs_f64();
                from + (to - from) * along
            }
        }
    }

    /// Whether an offset from the run's start falls in the stage (its end
    /// is the next stage's).
    pub fn contains(&self, offset: Duration) -> bool {
        (self.start..self.end).contains(&offset)
    }
}

/// A plan's stages on the run's clock; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    spans: Vec<StageSpan>,
    /// The plan's shard: which of each stage's arrivals are this run's.
    shard: Shard,
}

impl Timeline {
    /// `plan`'s stages rounded to whole `tick`s.
    ///
    /// # Panics
    /// If `tick` is zero.
    pub fn new(plan: &Plan, tick: Duration) -> Self {
        assert!(!tick.is_zero(), "a timeline needs a tick");
        let lengths = round_lengths(plan, tick);
        let rates = plan.open.as_ref().map(|open| &open.rates);
        let mut spans = Vec::with_capacity(plan.stages.len());
        let mut start = Duration::ZERO;
        let mut users = 0;
        for (index, (stage, ticks)) in plan.stages.iter().zip(lengths).enumerate() {
            let (to_users, motion) = match stage.shape {
                StageShape::Ramp { to_users } => (to_users, Motion::Ramp),
                StageShape::Step { to_users } => (to_users, Motion::Step),
                StageShape::Hold => (users, Motion::Ramp),
            };
            let end = start + tick * ticks;
            spans.push(StageSpan {
                index,
                name: stage.name.clone(),
                start,
                end,
                from_users: users,
                to_users,
                motion,
                rate: rates.map(|rates| rates[index]),
            });
            start = end;
            users = to_users;
        }
        Self {
            spans,
            shard: plan.shard,
        }
    }

    /// The stages, in order (at least one).
    pub fn stages(&self) -> &[StageSpan] {
        &self.spans
    }

    /// How long the run lasts.
    pub fn total(&self) -> Duration {
        self.spans.last().map_or(Duration::ZERO, |span| span.end)
    }

    /// The most users at any time.
    pub fn peak_users(&self) -> u32 {
        self.spans.iter().map(|s| s.to_users).max().unwrap_or(0)
    }

    /// The stage running at `offset` from the start of the run (a sample's
    /// start time maps to the stage it started in); stage ends are
    /// exclusive, and an offset past the end maps to the last stage.
    pub fn stage_at(&self, offset: Duration) -> &StageSpan {
        self.spans
            .iter()
            .find(|span| offset < span.end)
            .unwrap_or_else(|| self.spans.last().expect("a plan has stages"))
    }

    /// How many users the timeline has running at `offset` from the run's
    /// start: linear along a ramp, the target along a step, none once the
    /// run is over.
    pub fn users_at(&self, offset: Duration) -> f64 {
        self.spans
            .iter()
            .find(|span| span.contains(offset))
            .map_or(0.0, |span| span.users_at(offset))
    }

    /// Whether user `index` (0-based, in launch order) is running at
    /// `offset`: user `i` runs while more than `i` users do, so a ramp up
    /// starts users one by one in order and a ramp down stops the last ones
    /// first.
    pub fn runs(&self, index: u32, offset: Duration) -> bool {
        self.users_at(offset) > f64::from(index)
    }

    /// The first offset at or after `after` at which user `index` runs;
    /// `None` when it never runs again.
    pub fn next_start(&self, index: u32, after: Duration) -> Option<Duration> {
        let index = f64::from(index);
        self.spans
            .iter()
            .filter(|span| span.end > after && !span.length().is_zero())
            .find_map(|span| {
                let from = after.max(span.start);
                if span.users_at(from) > index {
                    return Some(from);
                }
                // Only a ramp up can start the user later in the stage: at
                // the moment it passes `index` users, plus the least step
                // that puts it past.
                let (low, high) = (f64::from(span.from_users), f64::from(span.to_users));
                if span.motion != Motion::Ramp || high <= index || high <= low {
                    return None;
                }
                let along = (index - low) / (high - low);
                let at = span.start + span.length().mul_f64(along) + Duration::from_micros(1);
                (at < span.end).then_some(at.max(from))
            })
    }

    /// The spans of the stages named in `names`, in order.
    pub fn spans_named<'a>(&'a self, names: &'a [String]) -> impl Iterator<Item = &'a StageSpan> {
        self.spans
            .iter()
            .filter(|span| span.name.as_ref().is_some_and(|n| names.contains(n)))
    }

    /// The intended start of every arrival of an open-model plan, as
    /// offsets from the run's start, in order; empty for a closed model.
    /// A shard's are its share of the whole run's ([`crate::shard`]).
    pub fn arrivals(&self) -> Arrivals {
        let (first, stride) = self.shard.arrival_stride();
        Arrivals {
            spans: self
                .spans
                .iter()
                .filter_map(|span| {
                    let rate = span.rate?;
                    let rate = match span.motion {
                        Motion::Ramp => rate,
                        Motion::Step => RateSpan {
                            from_per_sec: rate.to_per_sec,
                            to_per_sec: rate.to_per_sec,
                        },
                    };
                    Some((span.start, span.length(), rate))
                })
                .collect(),
            stage: 0,
            index_in_stage: first,
            first,
            stride,
        }
    }
}

/// The timeline as `users,length` per stage (`8,2s;8,6s;0,2s`), for tests
/// that compare shapes at a glance.
#[cfg(test)]
pub(crate) fn outline(timeline: &Timeline) -> String {
    timeline
        .stages()
        .iter()
        .map(|span| {
            let jump = if span.motion == Motion::Step { "!" } else { "" };
            let length = crate::duration::format_duration(span.length());
            format!("{jump}{},{length}", span.to_users)
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Each stage's length in ticks; see the module docs for the rules.
fn round_lengths(plan: &Plan, tick: Duration) -> Vec<u32> {
    let tick_secs = tick.as_secs_f64();
    let mut exact_end = 0.0;
    let mut rounded_end = 0u32;
    let mut lengths: Vec<u32> = plan
        .stages
        .iter()
        .map(|stage| {
            exact_end += stage.duration.as_secs_f64() / tick_secs;
            // At least a tick for a stage with any length; `as` saturates,
            // so an absurdly long plan cannot wrap.
            let least = rounded_end + u32::from(!stage.duration.is_zero());
            let end = (exact_end.round() as u32).max(least);
            let ticks = end - rounded_end;
            rounded_end = end;
            ticks
        })
        .collect();
    if let Some(cap) = plan.max_total {
        let allowed = (cap.as_secs_f64() / tick_secs).floor().max(1.0) as u32;
        while lengths.iter().sum::<u32>() > allowed {
            let longest = (0..lengths.len())
                .max_by_key(|&i| lengths[i])
                .expect("a plan has stages");
            if lengths[longest] > 1 {
                lengths[longest] -= 1;
            } else {
                let last = lengths.iter().rposition(|&t| t > 0).expect("over the cap");
                lengths[last] = 0;
            }
        }
    }
    lengths
}

/// The arrival times of an open-model timeline; see [`Timeline::arrivals`].
///
/// Within a stage whose rate moves linearly from `r0` to `r1` over `D`, the
/// `k`th arrival is at the `t` where the expected count
/// `r0·t + (r1 − r0)·t²/(2D)` reaches `k`: evenly spaced at a constant
/// rate, closer and closer together on a ramp up.
#[derive(Debug, Clone)]
pub struct Arrivals {
    spans: Vec<(Duration, Duration, RateSpan)>,
    stage: usize,
    index_in_stage: u64,
    /// The first arrival of each stage taken, and the step to the next
    /// (`0, 1` for the whole run; `i, N` for shard `i` of `N`).
    first: u64,
    stride: u64,
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        loop {
            let &(start, length, rate) = self.spans.get(self.stage)?;
            let k = self.index_in_stage as f64;
            let d = length.as_secs_f64();
            let (r0, r1) = (rate.from_per_sec, rate.to_per_sec);
            let a = (r1 - r0) / (2.0 * d);
            let t = if a.abs() < 1e-12 {
                if r0 > 0.0 { k / r0 } else { f64::INFINITY }
            } else {
                // The positive root of a·t² + r0·t − k = 0.
                let discriminant = r0 * r0 + 4.0 * a * k;
                if discriminant < 0.0 {
                    f64::INFINITY
                } else {
                    (-r0 + discriminant.sqrt()) / (2.0 * a)
                }
            };
            if t.is_finite() && t < d {
                self.index_in_stage += self.stride;
                return Some(start + Duration::from_secs_f64(t));
            }
            self.stage += 1;
            self.index_in_stage = self.first;
        }
    }
}

#[cfg(test)]
mod tests;
