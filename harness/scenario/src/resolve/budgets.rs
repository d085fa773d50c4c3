//! `budgets`: the limits a run is judged against, and when it is aborted.
//!
//! Budgets name stages (`during`) and requests (`requests`), so they are
//! checked against those names here: a misspelt name would otherwise judge
//! nothing and pass silently.

use std::time::Duration;

use indexmap::IndexMap;

use super::Builder;
use super::requests::every_request;
use crate::duration::whole_micros;
use crate::error::{did_you_mean, hint};
use crate::plan::{AbortWhen, Budget, Budgets, LatencyOf, ServerBudget};
use crate::source_map::{child_index, child_key};
use crate::yaml::{self, DurationText, LoadModel, RateText, Scenario};

/// The `overall.max_dropped_rate` of an open model whose file sets none:
/// a schedule that drops arrivals has lowered its rate, and a run that
/// did so unseen would pass budgets it never faced.
pub const DEFAULT_MAX_DROPPED_RATE: f64 = 0.01;

impl Builder<'_> {
    pub(super) fn budgets(&mut self, s: &Scenario) -> Budgets {
        let mut budgets = self.written_budgets(s);
        if s.load.model == LoadModel::Open && budgets.overall.max_dropped_rate.is_none() {
            budgets.overall.max_dropped_rate = Some(DEFAULT_MAX_DROPPED_RATE);
        }
        budgets
    }

    /// The budgets as the file writes them.
    fn written_budgets(&mut self, s: &Scenario) -> Budgets {
        let Some(raw) = s.budgets.as_ref() else {
            return Budgets::default();
        };
        let request_names = request_names(s);
        let stage_names: Vec<&str> = s
            .load
            .stages
            .iter()
            .filter_map(|s| s.name.as_deref())
            .collect();
        let during = raw.during.as_ref().map(|during| {
            for (i, name) in during.iter().enumerate() {
                if !stage_names.contains(&name.as_str()) {
                    let suffix = if stage_names.is_empty() {
                        " (no stage has a name: add `name:` to a stage)".to_owned()
                    } else {
                        hint(name, &stage_names)
                    };
                    self.error(
                        &child_index("budgets.during", i),
                        format!("no stage is named `{name}`{suffix}"),
                    );
                }
            }
            during.clone()
        });
        let overall = raw
            .overall
            .as_ref()
            .map(|b| self.budget("budgets.overall", b))
            .unwrap_or_default();
        let mut requests = IndexMap::new();
        for (name, budget) in &raw.requests {
            let path = child_key("budgets.requests", name);
            if !request_names.contains(&name.as_str()) {
                let suffix = match did_you_mean(name, request_names.iter().copied()) {
                    Some(best) => format!(" (did you mean `{best}`?)"),
                    None => format!(" (names: {})", request_names.join(", ")),
                };
                self.error_key(
                    &path,
                    format!("no request or step is named `{name}`{suffix}"),
                );
            }
            let resolved = self.budget(&path, budget);
            requests.insert(name.clone(), resolved);
        }
        if raw.server.is_some() {
            self.needs_version(3, "budgets.server");
        }
        let server = raw
            .server
            .as_ref()
            .map(|server| ServerBudget {
                min_cache_hit_ratio: server.cache_hit_ratio.as_ref().and_then(|b| {
                    self.fraction(
                        "budgets.server.cache_hit_ratio.min",
                        &b.min,
                        "a cache hit ratio",
                    )
                }),
                max_db_pool_utilization: server.db_pool_utilization.as_ref().and_then(|b| {
                    self.fraction(
                        "budgets.server.db_pool_utilization.max",
                        &b.max,
                        "a pool utilization",
                    )
                }),
            })
            .unwrap_or_default();
        if raw.latency_of.is_some() {
            self.needs_version(5, "budgets.latency_of");
        }
        let latency_of = match raw.latency_of {
            None | Some(yaml::LatencyOf::All) => LatencyOf::All,
            Some(yaml::LatencyOf::Ok) => LatencyOf::Ok,
        };
        let budgets = Budgets {
            during,
            latency_of,
            overall,
            requests,
            server,
        };
        self.dropped_rates(&budgets, s.load.model);
        budgets
    }

    /// Only an open model drops arrivals, and it drops them before a request
    /// is picked, so a dropped-rate limit belongs on `overall` of an open
    /// model and nowhere else.
    fn dropped_rates(&mut self, budgets: &Budgets, model: LoadModel) {
        for (name, budget) in &budgets.requests {
            if budget.max_dropped_rate.is_some() {
                self.error_key(
                    &child_key(&child_key("budgets.requests", name), "max_dropped_rate"),
                    "arrivals are dropped before a request is chosen: put max_dropped_rate under budgets.overall",
                );
            }
        }
        if budgets.overall.max_dropped_rate.is_some() && model == LoadModel::Closed {
            self.error_key(
                "budgets.overall.max_dropped_rate",
                "only an open model (`model: open`) drops arrivals",
            );
        }
    }

    fn budget(&mut self, path: &str, raw: &yaml::Budget) -> Budget {
        let mut micros = |field: &str, text: &Option<DurationText>| {
            text.as_ref()
                .and_then(|t| self.duration(&child_key(path, field), t).map(whole_micros))
        };
        let p50_us = micros("p50", &raw.p50);
        let p95_us = micros("p95", &raw.p95);
        let p99_us = micros("p99", &raw.p99);
        let ordered = [
            ("p50", &raw.p50, p50_us),
            ("p95", &raw.p95, p95_us),
            ("p99", &raw.p99, p99_us),
        ];
        for pair in ordered.windows(2) {
            if let [
                (lo_name, Some(lo_text), Some(lo)),
                (hi_name, Some(hi_text), Some(hi)),
            ] = pair
                && hi < lo
            {
                self.error(
                    &child_key(path, hi_name),
                    format!(
                        "{hi_name} ({}) is below {lo_name} ({}): a higher percentile cannot be faster",
                        hi_text.text, lo_text.text
                    ),
                );
            }
        }
        let max_error_rate = raw.max_error_rate.as_ref().and_then(|rate| {
            self.fraction(&child_key(path, "max_error_rate"), rate, "an error rate")
        });
        let max_dropped_rate = raw.max_dropped_rate.as_ref().and_then(|rate| {
            self.fraction(&child_key(path, "max_dropped_rate"), rate, "a dropped rate")
        });
        let min_rps = raw.min_rps.and_then(|rps| {
            if rps.is_finite() && rps >= 0.0 {
                Some(rps)
            } else {
                self.error(
                    &child_key(path, "min_rps"),
                    format!(
                        "{rps} is not a request rate (a number of requests per second, 0 or more)"
                    ),
                );
                None
            }
        });
        let abort = raw.abort.as_ref().and_then(|abort| {
            let window = self.duration(&child_key(path, "abort.window"), &abort.window);
            let after = self.duration(&child_key(path, "abort.after"), &abort.after);
            let (window, after) = (window?, after?);
            if window < Duration::from_secs(1) {
                self.error(
                    &child_key(path, "abort.window"),
                    "the window must be at least 1s: budgets are checked once a second",
                );
                return None;
            }
            if p50_us.is_none() && p95_us.is_none() && p99_us.is_none() && max_error_rate.is_none()
            {
                self.error_key(
                    &child_key(path, "abort"),
                    "abort watches latency (p50, p95, p99) and error-rate limits: this budget has none",
                );
                return None;
            }
            Some(AbortWhen { window, after })
        });
        if raw.abort.is_some() {
            self.needs_version(3, &child_key(path, "abort"));
        }
        Budget {
            p50_us,
            p95_us,
            p99_us,
            max_error_rate,
            min_rps,
            max_dropped_rate,
            abort,
        }
    }

    /// A share, `1%` or `0.01`, between 0 and 1; `what` names it in errors.
    fn fraction(&mut self, field: &str, rate: &RateText, what: &str) -> Option<f64> {
        let value = match rate {
            RateText::Fraction(f) => Some(*f),
            RateText::Text(t) => t
                .strip_suffix('%')
                .and_then(|n| n.trim().parse::<f64>().ok())
                .map(|p| p / 100.0),
        };
        match value {
            Some(v) if (0.0..=1.0).contains(&v) => Some(v),
            _ => {
                let shown = match rate {
                    RateText::Fraction(f) => f.to_string(),
                    RateText::Text(t) => format!("{t:?}"),
                };
                self.error(
                    field,
                    format!("{shown} is not {what} (use 1% or 0.01, between 0 and 1)"),
                );
                None
            }
        }
    }
}

/// The names a request budget may use: every request and step, setup
/// included, each once, in file order (the order the error message lists).
fn request_names(s: &Scenario) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for request in every_request(s) {
        if !names.contains(&request.name.as_str()) {
            names.push(&request.name);
        }
    }
    names
}
