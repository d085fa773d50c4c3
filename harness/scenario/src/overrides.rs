//! Command-line reshaping of a plan: `--scale`, `--duration`, `--users`.
//!
//! These are pure functions from a plan to a new plan, so the CLI can apply
//! them in any combination and tests can check them without running
//! anything. They only touch the load shape (and `min_rps`, which depends on
//! it); requests, templates and latency budgets stay as written.

use std::time::Duration;

use crate::plan::{Plan, StageShape};

/// An override value that cannot apply to any plan.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OverrideError {
    /// `--scale` must be a finite number above 0.
    #[error("--scale must be a number greater than 0, got {0}")]
    Scale(f64),
    /// `--duration` must be at least a second: the engine runs whole
    /// seconds, so a shorter run could only be a longer one.
    #[error("--duration must be at least 1s")]
    Duration,
    /// `--users` must be at least 1.
    #[error("--users must be at least 1")]
    Users,
}

/// `users × factor`, rounded, kept at 1 or more when it was at least 1 (a
/// scaled-down stage with users should still send traffic).
fn scale_users(users: u32, factor: f64) -> u32 {
    if users == 0 {
        return 0;
    }
    // `as` saturates, so a huge factor cannot wrap.
    ((f64::from(users) * factor).round() as u32).max(1)
}

impl Plan {
    /// `--scale F`: users, stage durations, open-model arrival rates and
    /// `min_rps` budgets all times
    /// `factor`. `0.1` turns a 500-user, 10-minute peak test into a
    /// 50-user, 1-minute rehearsal with proportionally lower throughput
    /// floors.
    ///
    /// # Errors
    /// [`OverrideError::Scale`] unless `factor` is finite and above 0.
    pub fn scaled(&self, factor: f64) -> Result<Plan, OverrideError> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(OverrideError::Scale(factor));
        }
        let mut plan = self.clone();
        for stage in &mut plan.stages {
            stage.duration = stage.duration.mul_f64(factor);
            if let StageShape::Ramp { to_users } | StageShape::Step { to_users } = &mut stage.shape
            {
                *to_users = scale_users(*to_users, factor);
            }
        }
        if let Some(open) = &mut plan.open {
            for rate in &mut open.rates {
                rate.from_per_sec *= factor;
                rate.to_per_sec *= factor;
            }
        }
        let budgets = &mut plan.budgets;
        for budget in std::iter::once(&mut budgets.overall).chain(budgets.requests.values_mut()) {
            if let Some(rps) = &mut budget.min_rps {
                *rps *= factor;
            }
        }
        Ok(plan)
    }

    /// `--duration D`: when the stages add up to more than `max_total`,
    /// shrinks every stage in proportion so they add up to it; otherwise the
    /// stages are unchanged. Either way the plan remembers the cap, so its
    /// [`Timeline`](crate::Timeline) never rounds the run past it.
    ///
    /// # Errors
    /// [`OverrideError::Duration`] for a duration under a second.
    pub fn capped_to(&self, max_total: Duration) -> Result<Plan, OverrideError> {
        if max_total < Duration::from_secs(1) {
            return Err(OverrideError::Duration);
        }
        let total = self.total_duration();
        let mut plan = self.clone();
        plan.max_total = Some(plan.max_total.map_or(max_total, |cap| cap.min(max_total)));
        if total > max_total {
            let factor = max_total.as_secs_f64() / total.as_secs_f64();
            for stage in &mut plan.stages {
                stage.duration = stage.duration.mul_f64(factor);
            }
        }
        Ok(plan)
    }

    /// `--users N`: scales every stage's users so the peak is exactly `peak`.
    ///
    /// # Errors
    /// [`OverrideError::Users`] for 0.
    pub fn with_peak_users(&self, peak: u32) -> Result<Plan, OverrideError> {
        if peak == 0 {
            return Err(OverrideError::Users);
        }
        let current = self.peak_users();
        let factor = f64::from(peak) / f64::from(current);
        let mut plan = self.clone();
        for stage in &mut plan.stages {
            if let StageShape::Ramp { to_users } | StageShape::Step { to_users } = &mut stage.shape
            {
                *to_users = if *to_users == current {
                    peak
                } else {
                    scale_users(*to_users, factor).min(peak)
                };
            }
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::StageShape;
    use crate::template::Vars;
    use std::path::Path;

    fn plan(stages: &str) -> Plan {
        let yaml = format!(
            "version: 1\nname: o\nload:\n  stages: {stages}\nrequests: [{{name: a, method: GET, path: /a}}]\n\
             budgets:\n  overall: {{min_rps: 100}}\n  requests:\n    a: {{min_rps: 50, p95: 10ms}}\n"
        );
        crate::parse_plan("o.yaml", &yaml, Path::new("."), &Vars::new()).unwrap()
    }

    fn users(plan: &Plan) -> Vec<u32> {
        plan.stages()
            .iter()
            .scan(0, |users, stage| {
                if let StageShape::Ramp { to_users } | StageShape::Step { to_users } = stage.shape()
                {
                    *users = to_users;
                }
                Some(*users)
            })
            .collect()
    }

    fn shape(plan: &Plan) -> String {
        crate::timeline::outline(&plan.timeline(Duration::from_secs(1)))
    }

    const SHAPE: &str =
        "[{users: 500, ramp: 1m}, {name: steady, hold: 10m}, {users: 3, ramp: 30s}]";

    #[test]
    fn scale_shrinks_users_durations_and_min_rps() {
        let scaled = plan(SHAPE).scaled(0.1).unwrap();
        assert_eq!(users(&scaled), vec![50, 50, 1]);
        assert_eq!(shape(&scaled), "50,6s;50,1m;1,3s");
        assert_eq!(scaled.budgets().overall.min_rps, Some(10.0));
        assert_eq!(scaled.budgets().requests["a"].min_rps, Some(5.0));
        assert_eq!(scaled.budgets().requests["a"].p95_us, Some(10_000));
        assert_eq!(scaled.stages()[1].name(), Some("steady"));
    }

    #[test]
    fn scale_keeps_zero_at_zero_and_rounds_sub_second_spans_up() {
        let scaled = plan("[{users: 4, ramp: 1s}, {hold: 2s}, {users: 0, ramp: 1s}]")
            .scaled(0.01)
            .unwrap();
        assert_eq!(users(&scaled), vec![1, 1, 0]);
        assert_eq!(scaled.total_duration(), Duration::from_millis(40));
        assert_eq!(shape(&scaled), "1,1s;1,1s;0,1s");
    }

    #[test]
    fn scale_rejects_nonsense() {
        let p = plan(SHAPE);
        for factor in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(
                matches!(p.scaled(factor), Err(OverrideError::Scale(_))),
                "{factor}"
            );
        }
        assert_eq!(
            OverrideError::Scale(0.0).to_string(),
            "--scale must be a number greater than 0, got 0"
        );
    }

    #[test]
    fn duration_cap_shrinks_only_when_longer() {
        let p = plan(SHAPE);
        assert_eq!(p.total_duration(), Duration::from_secs(690));
        let capped = p.capped_to(Duration::from_secs(69)).unwrap();
        assert_eq!(capped.total_duration(), Duration::from_secs(69));
        assert_eq!(shape(&capped), "500,6s;500,1m;3,3s");
        assert_eq!(users(&capped), users(&p));
        let same = p.capped_to(Duration::from_secs(3600)).unwrap();
        assert_eq!(shape(&same), shape(&p));
        for too_short in [Duration::ZERO, Duration::from_millis(999)] {
            assert_eq!(p.capped_to(too_short).unwrap_err(), OverrideError::Duration);
        }
    }

    #[test]
    fn users_override_sets_the_peak() {
        let p = plan(
            "[{users: 100, ramp: 1m}, {users: 50, ramp: 1m}, {users: 200, ramp: 1m}, {hold: 1m}, {users: 0, ramp: 1m}]",
        );
        let more = p.with_peak_users(1000).unwrap();
        assert_eq!(users(&more), vec![500, 250, 1000, 1000, 0]);
        assert_eq!(more.peak_users(), 1000);
        let fewer = p.with_peak_users(3).unwrap();
        assert_eq!(users(&fewer), vec![2, 1, 3, 3, 0]);
        assert!(matches!(fewer.stages()[3].shape(), StageShape::Hold));
        assert_eq!(p.with_peak_users(0).unwrap_err(), OverrideError::Users);
        assert_eq!(
            more.budgets().requests["a"].min_rps,
            Some(50.0),
            "--users leaves min_rps alone"
        );
    }
}
