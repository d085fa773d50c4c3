//! `load`: the model and its stages.
//!
//! Both models resolve to the same [`Stage`] list, so everything that reads
//! stages (names, the timeline, `--users`, `--scale`) works for either; the
//! open model adds its arrival rates as an [`OpenModel`].

use std::collections::HashMap;
use std::time::Duration;

use super::Builder;
use crate::plan::{OpenModel, RateSpan, Stage, StageShape};
use crate::source_map::{child_index, child_key};
use crate::yaml::{self, LoadModel};

impl Builder<'_> {
    /// The stages, and for the open model its rates; `None` where the
    /// section has errors.
    pub(super) fn load(&mut self, load: &yaml::Load) -> (Option<Vec<Stage>>, Option<OpenModel>) {
        match load.model {
            LoadModel::Closed => (self.closed_stages(load), None),
            LoadModel::Open => match self.open_stages(load) {
                Some((stages, open)) => (Some(stages), Some(open)),
                None => (None, None),
            },
        }
    }

    /// What both models check alike in the stage list: it has a stage
    /// (`example` shows one of the model's), and its names, which
    /// `budgets.during` picks stages by, are not empty and each belong to
    /// one stage. Each model calls this within its own error count, so a
    /// bad name, like any other stage error, skips the checks on the list
    /// as a whole (no users, no arrivals, 0s in all).
    fn check_stage_list(&mut self, stages: &[yaml::Stage], example: &str) {
        if stages.is_empty() {
            self.error(
                "load.stages",
                format!("add at least one stage, e.g. `{example}`"),
            );
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, raw) in stages.iter().enumerate() {
            let Some(name) = raw.name.as_deref() else {
                continue;
            };
            let path = child_key(&child_index("load.stages", i), "name");
            if name.trim().is_empty() {
                self.error(&path, "a stage name must not be empty");
            } else if let Some(first) = seen.insert(name, i) {
                self.error(
                    &path,
                    format!("stage name `{name}` is already used by load.stages[{first}]"),
                );
            }
        }
    }

    /// The stages of an open model: each sets an arrival `rate` (a ramp
    /// moves to it, a hold keeps it), and `max_users` bounds concurrency.
    /// The stages' users are `max_users` throughout, so everything that
    /// reads stages (names, timeline, `--users`) works for both models.
    fn open_stages(&mut self, load: &yaml::Load) -> Option<(Vec<Stage>, OpenModel)> {
        let before = self.errors.len();
        if self.version < 2 {
            self.error(
                "load.model",
                "the open model needs `version: 2` (this file says version 1)",
            );
        }
        let max_users = match load.max_users {
            Some(n) if n >= 1 => n,
            Some(_) => {
                self.error("load.max_users", "max_users must be at least 1");
                0
            }
            None => {
                self.error(
                    "load",
                    "the open model needs `max_users`: the most requests in flight at once",
                );
                0
            }
        };
        self.check_stage_list(&load.stages, "- {rate: 100/s, ramp: 30s}");
        let mut stages = Vec::new();
        let mut rates = Vec::new();
        let mut rate = 0.0;
        for (i, raw) in load.stages.iter().enumerate() {
            let path = child_index("load.stages", i);
            if raw.users.is_some() {
                self.error_key(
                    &child_key(&path, "users"),
                    "an open-model stage sets `rate`, not `users` (`load.max_users` bounds users)",
                );
            }
            let stated = raw.rate.as_deref().and_then(|text| {
                parse_rate(text)
                    .map_err(|message| self.error(&child_key(&path, "rate"), message))
                    .ok()
            });
            let (duration, to_rate) = match (&raw.ramp, &raw.hold) {
                (Some(ramp), None) => {
                    let Some(to) = stated else {
                        if raw.rate.is_none() {
                            self.error(&path, "a ramp needs `rate`: the arrival rate at its end");
                        }
                        continue;
                    };
                    (self.duration(&child_key(&path, "ramp"), ramp), to)
                }
                (None, Some(hold)) => {
                    if let Some(to) = stated
                        && (to - rate).abs() > 1e-9
                    {
                        self.error(
                            &child_key(&path, "rate"),
                            format!("a hold keeps the rate of the stage before ({rate}/s); use a ramp to change it"),
                        );
                    }
                    (self.duration(&child_key(&path, "hold"), hold), rate)
                }
                _ => {
                    self.error(
                        &path,
                        "a stage needs `ramp: DURATION` (with `rate`) or `hold: DURATION`",
                    );
                    continue;
                }
            };
            let Some(duration) = duration else { continue };
            rates.push(RateSpan {
                from_per_sec: rate,
                to_per_sec: to_rate,
            });
            rate = to_rate;
            stages.push(Stage {
                name: raw.name.clone(),
                shape: if stages.is_empty() {
                    StageShape::Ramp {
                        to_users: max_users,
                    }
                } else {
                    StageShape::Hold
                },
                duration,
            });
        }
        if self.errors.len() == before
            && rates
                .iter()
                .all(|r| r.from_per_sec == 0.0 && r.to_per_sec == 0.0)
        {
            self.error(
                "load.stages",
                "no stage has any arrivals: ramp to a rate above 0/s",
            );
        }
        (self.errors.len() == before).then_some((stages, OpenModel { rates }))
    }

    /// The stages of a closed model: a ramp moves to its `users`, a hold
    /// keeps the users of the stage before.
    fn closed_stages(&mut self, load: &yaml::Load) -> Option<Vec<Stage>> {
        let before = self.errors.len();
        if load.max_users.is_some() {
            self.error_key(
                "load.max_users",
                "`max_users` belongs to the open model (`model: open`)",
            );
        }
        self.check_stage_list(&load.stages, "- {users: 10, ramp: 30s}");
        let mut stages = Vec::new();
        let mut users = 0;
        let mut peak = 0;
        for (i, raw) in load.stages.iter().enumerate() {
            let path = child_index("load.stages", i);
            if raw.rate.is_some() {
                self.error_key(
                    &child_key(&path, "rate"),
                    "`rate` belongs to the open model (`model: open`); a closed-model stage sets `users`",
                );
            }
            let (shape, duration) = match (&raw.ramp, &raw.hold) {
                (Some(_), Some(_)) => {
                    self.error_key(
                        &child_key(&path, "hold"),
                        "a stage is either a ramp or a hold, not both: split it into two stages",
                    );
                    continue;
                }
                (None, None) => {
                    self.error(
                        &path,
                        "a stage needs `ramp: DURATION` (with `users`) or `hold: DURATION`",
                    );
                    continue;
                }
                (Some(ramp), None) => {
                    let duration = self.duration(&child_key(&path, "ramp"), ramp);
                    let Some(to_users) = raw.users else {
                        self.error(&path, "a ramp needs `users`: the users at its end");
                        continue;
                    };
                    users = to_users;
                    (StageShape::Ramp { to_users }, duration)
                }
                (None, Some(hold)) => {
                    let duration = self.duration(&child_key(&path, "hold"), hold);
                    if let Some(stated) = raw.users
                        && stated != users
                    {
                        self.error(
                            &child_key(&path, "users"),
                            format!(
                                "a hold keeps the users of the stage before ({users}); use a ramp to change them"
                            ),
                        );
                    }
                    if duration == Some(Duration::ZERO) {
                        self.error(&child_key(&path, "hold"), "a hold must last longer than 0s");
                    }
                    (StageShape::Hold, duration)
                }
            };
            peak = peak.max(users);
            if let Some(duration) = duration {
                stages.push(Stage {
                    name: raw.name.clone(),
                    shape,
                    duration,
                });
            }
        }
        if self.errors.len() > before {
            return None;
        }
        if peak == 0 {
            self.error(
                "load.stages",
                "no stage has any users: ramp to at least 1 user",
            );
        }
        if stages.iter().all(|s| s.duration.is_zero()) {
            self.error("load.stages", "the stages add up to 0s");
        }
        (self.errors.len() == before).then_some(stages)
    }
}

/// An arrival rate: `200/s`, `600/m`, `3600/h`, or a bare number per second.
fn parse_rate(text: &str) -> Result<f64, String> {
    let (number, per_seconds) = match text.trim().rsplit_once('/') {
        None => (text.trim(), 1.0),
        Some((n, "s")) => (n, 1.0),
        Some((n, "m")) => (n, 60.0),
        Some((n, "h")) => (n, 3600.0),
        Some(_) => (text, f64::NAN),
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 && per_seconds.is_finite() => Ok(n / per_seconds),
        _ => Err(format!(
            "{text:?} is not an arrival rate (use 200/s, 600/m or 3600/h)"
        )),
    }
}
