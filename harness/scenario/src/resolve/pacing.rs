//! `think_time` and `pace`: how a closed-model user spaces its iterations.
//!
//! A user either pauses a think time after each iteration or starts one
//! every `pace`; the open model's arrival schedule replaces both, so either
//! field under `model: open` is an error rather than silently ignored.

use std::time::Duration;

use super::Builder;
use crate::plan::ThinkTime;
use crate::yaml::{self, LoadModel, Scenario};

impl Builder<'_> {
    pub(super) fn think_time(&mut self, s: &Scenario) -> Option<ThinkTime> {
        if s.load.model == LoadModel::Open && s.think_time.is_some() {
            self.error_key(
                "think_time",
                "the open model's schedule sets the pace: think_time does not apply",
            );
        }
        match s.think_time.as_ref() {
            None => Some(ThinkTime::None),
            Some(yaml::ThinkTime::Fixed(d)) => self.duration("think_time", d).map(ThinkTime::Fixed),
            Some(yaml::ThinkTime::Range(r)) => {
                let min = self.duration("think_time.min", &r.min);
                let max = self.duration("think_time.max", &r.max);
                let (min, max) = (min?, max?);
                if max < min {
                    self.error(
                        "think_time.max",
                        format!(
                            "`max` ({}) is shorter than `min` ({})",
                            r.max.text, r.min.text
                        ),
                    );
                    return None;
                }
                Some(ThinkTime::Uniform { min, max })
            }
        }
    }

    pub(super) fn pace(&mut self, s: &Scenario) -> Option<Duration> {
        let text = s.pace.as_ref()?;
        self.needs_version(3, "pace");
        if s.load.model == LoadModel::Open {
            self.error_key(
                "pace",
                "the open model's schedule sets the pace: use a rate instead",
            );
        }
        if s.think_time.is_some() {
            self.error_key(
                "pace",
                "pace and think_time both set the time between iterations: keep one",
            );
        }
        self.duration("pace", text).filter(|d| {
            let positive = !d.is_zero();
            if !positive {
                self.error("pace", "the pace must be longer than 0");
            }
            positive
        })
    }
}
