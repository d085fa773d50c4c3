//! The budget table every renderer shows: one row per scope (overall, then
//! each request in scenario order), one column per budgetable metric, each
//! cell the measured value beside its budget when there is one.
//!
//! Budgets that are no column of it (the server's, judged from its
//! metrics, and an open model's dropped arrivals) are listed apart, by
//! [`other_groups`].
//!
//! Built once here so the HTML, the Markdown summary and the JUnit messages
//! agree on what was measured and how a failure is described, and on which
//! budgets failed ([`failed`]: one that aborted the run did).

use crate::{
    metric::{self, Judged},
    results::{AbortRule, BudgetMetric, BudgetVerdict, EndpointStats, LatencyOf, Results},
    units,
};

/// The table's columns, in order.
pub const COLUMNS: [BudgetMetric; 5] = [
    BudgetMetric::P50,
    BudgetMetric::P95,
    BudgetMetric::P99,
    BudgetMetric::MinRps,
    BudgetMetric::MaxErrorRate,
];

/// Whether the budget failed the run: over its limit (or nothing
/// measured), or its abort rule stopped the run, whatever the shortened
/// run's value came to ([`Verdict::of`](crate::results::Verdict::of) counts
/// the same).
pub fn failed(budget: &BudgetVerdict) -> bool {
    !budget.passed || budget.aborted_run()
}

/// The budgets that failed the run, in the results' order.
pub fn failures(results: &Results) -> Vec<&BudgetVerdict> {
    results.budgets.iter().filter(|b| failed(b)).collect()
}

/// One scope of the table.
#[derive(Debug)]
pub struct Row<'a> {
    /// `overall` or a request name.
    pub scope: &'a str,
    /// One cell per [`COLUMNS`] entry.
    pub cells: Vec<Cell<'a>>,
}

/// One metric of one scope.
#[derive(Debug)]
pub struct Cell<'a> {
    pub metric: BudgetMetric,
    /// The budget's own measurement when there is a budget, else the judged
    /// window's; `None` when nothing was measured.
    pub measured: Option<f64>,
    pub budget: Option<&'a BudgetVerdict>,
}

impl Cell<'_> {
    /// The measured value as text, `–` when there is none.
    pub fn measured_text(&self) -> String {
        match (self.budget, self.measured) {
            (Some(b), Some(_)) if b.measured.is_some() => measured_text(b),
            (_, Some(v)) => units::metric_value(self.metric, v),
            (_, None) => "–".to_owned(),
        }
    }
}

/// The measured value and the limit as text, with as many digits as it
/// takes for them to read differently when they differ: a p99 of 150.3 ms
/// against 150 ms must not read `150 ms > 150 ms`.
fn measured_and_limit(budget: &BudgetVerdict) -> (String, String) {
    let limit = units::metric_value(budget.metric, budget.limit);
    let Some(measured) = budget.measured else {
        return ("–".to_owned(), limit);
    };
    let text = units::metric_value(budget.metric, measured);
    if text != limit || measured == budget.limit {
        return (text, limit);
    }
    for digits in 4..=7 {
        let text = units::metric_value_precise(budget.metric, measured, digits);
        let limit = units::metric_value_precise(budget.metric, budget.limit, digits);
        if text != limit {
            return (text, limit);
        }
    }
    (text, limit)
}

/// The budget's measurement as text (see `measured_and_limit`), `–` when
/// nothing was measured.
pub fn measured_text(budget: &BudgetVerdict) -> String {
    measured_and_limit(budget).0
}

/// The rows of `results`: overall, each request, then any scope a column's
/// budget names that the results have no stats for (so no budget goes
/// unshown; the others are in [`other_groups`]).
pub fn rows(results: &Results) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = std::iter::once(&results.overall)
        .chain(&results.requests)
        .map(|stats| row(results, &stats.name, Some(stats)))
        .collect();
    for budget in results
        .budgets
        .iter()
        .filter(|b| COLUMNS.contains(&b.metric))
    {
        if !rows.iter().any(|r| r.scope == budget.scope) {
            rows.push(row(results, &budget.scope, None));
        }
    }
    rows
}

fn row<'a>(results: &'a Results, scope: &'a str, stats: Option<&'a EndpointStats>) -> Row<'a> {
    let cells = COLUMNS
        .iter()
        .map(|&metric| {
            let budget = results
                .budgets
                .iter()
                .find(|b| b.scope == scope && b.metric == metric);
            let measured = match budget {
                Some(b) => b.measured,
                None => stats.and_then(|s| measured(s, results.run.latency_of, metric)),
            };
            Cell {
                metric,
                measured,
                budget,
            }
        })
        .collect();
    Row { scope, cells }
}

/// The budgets that are no column of the table, grouped under a title:
/// `Server budgets` (scope `server`, judged from the target's metrics),
/// then `Schedule budgets` (an open model's dropped arrivals). Empty
/// groups are left out.
pub fn other_groups(results: &Results) -> Vec<(&'static str, Vec<&BudgetVerdict>)> {
    let others = || {
        results
            .budgets
            .iter()
            .filter(|b| !COLUMNS.contains(&b.metric))
    };
    let server: Vec<_> = others().filter(|b| b.scope == "server").collect();
    let schedule: Vec<_> = others().filter(|b| b.scope != "server").collect();
    [("Server budgets", server), ("Schedule budgets", schedule)]
        .into_iter()
        .filter(|(_, budgets)| !budgets.is_empty())
        .collect()
}

/// The name of a budget within its group: the metric alone for the
/// server's (`cache hit ratio`), with the scope otherwise.
pub fn short_name(budget: &BudgetVerdict) -> String {
    if budget.scope == "server" {
        budget.metric.label().to_owned()
    } else {
        name(budget)
    }
}

/// An abort rule in words: `abort: 1s window, after 2s`.
pub fn abort_rule_text(rule: &AbortRule) -> String {
    format!(
        "abort: {} window, after {}",
        units::duration_ms(rule.window_ms),
        units::duration_ms(rule.after_ms)
    )
}

/// When the budget's abort rule stopped the run, as a clock from the
/// run's start: `0:07`.
pub fn aborted_at(budget: &BudgetVerdict) -> Option<String> {
    let at_ms = budget.abort?.triggered_at_ms?;
    Some(units::clock(at_ms as f64 / 1000.0, at_ms >= 3_600_000))
}

/// `aborted the run at 0:07`, for the budget whose rule stopped the run.
pub fn aborted_text(budget: &BudgetVerdict) -> Option<String> {
    aborted_at(budget).map(|at| format!("aborted the run at {at}"))
}

/// What the judged window of `stats` measured for `metric`, latencies of
/// whom `of` says: nothing for an empty window, and nothing for the
/// budgets judged over the schedule or the server, which are no columns.
fn measured(stats: &EndpointStats, of: LatencyOf, metric: BudgetMetric) -> Option<f64> {
    metric::value(
        &Judged::new(stats.judged_window(), of),
        metric.window_metric()?,
    )
}

/// The budget's bound with its direction: `≤ 200 ms`, `≥ 100 rps`.
pub fn limit_text(budget: &BudgetVerdict) -> String {
    let sign = if budget.metric.is_floor() {
        "≥"
    } else {
        "≤"
    };
    format!(
        "{sign} {}",
        units::metric_value(budget.metric, budget.limit)
    )
}

/// How far the measurement is past the limit, signed: `+15%` for a latency
/// over budget, `−20%` for throughput under its minimum, `+1.5 pts` for an
/// error rate (a relative excess of a 0% budget means nothing).
pub fn excess_text(budget: &BudgetVerdict) -> Option<String> {
    let measured = budget.measured?;
    match budget.metric {
        BudgetMetric::MaxErrorRate => {
            let points = (measured - budget.limit) * 100.0;
            Some(format!("{} pts", signed(points)))
        }
        _ if budget.limit > 0.0 => {
            let percent = (measured / budget.limit - 1.0) * 100.0;
            Some(format!("{}%", signed(percent)))
        }
        _ => None,
    }
}

fn signed(value: f64) -> String {
    let magnitude = units::significant(value.abs(), 2);
    if value < 0.0 {
        format!("−{magnitude}")
    } else {
        format!("+{magnitude}")
    }
}

/// The budget as a compact comparison: `230 ms > 200 ms`, `4.1 ms ≤ 5 ms`.
pub fn comparison(budget: &BudgetVerdict) -> String {
    if budget.measured.is_none() {
        return format!("nothing measured, budget {}", limit_text(budget));
    }
    let relation = match (budget.metric.is_floor(), budget.passed) {
        (true, true) => "≥",
        (true, false) => "<",
        (false, true) => "≤",
        (false, false) => ">",
    };
    let (measured, limit) = measured_and_limit(budget);
    format!("{measured} {relation} {limit}")
}

/// The budget's name: `overall p95`, `health error rate`.
pub fn name(budget: &BudgetVerdict) -> String {
    format!("{} {}", budget.scope, budget.metric.label())
}

/// One sentence on the budget, for failure messages: `overall p95: 230 ms
/// against a budget of ≤ 200 ms (+15%)`.
pub fn describe(budget: &BudgetVerdict) -> String {
    if budget.measured.is_none() {
        return format!(
            "{}: nothing was measured against a budget of {}",
            name(budget),
            limit_text(budget)
        );
    }
    let mut text = format!(
        "{}: {} against a budget of {}",
        name(budget),
        measured_text(budget),
        limit_text(budget)
    );
    if let Some(excess) = excess_text(budget) {
        text.push_str(&format!(" ({excess})"));
    }
    if let (Some(aborted), Some(rule)) = (aborted_text(budget), budget.abort) {
        text.push_str(&format!(
            "; breached over a {} window for {}, it {aborted}",
            units::duration_ms(rule.window_ms),
            units::duration_ms(rule.after_ms)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abort_is_a_failure_and_says_when() {
        let mut b = budget(BudgetMetric::P99, 500_000.0, 480_000.0);
        b.abort = Some(AbortRule {
            window_ms: 1_000,
            after_ms: 2_000,
            triggered_at_ms: None,
        });
        assert!(!failed(&b));
        assert_eq!(
            abort_rule_text(&b.abort.unwrap()),
            "abort: 1s window, after 2s"
        );
        assert_eq!(aborted_text(&b), None);
        b.abort.as_mut().unwrap().triggered_at_ms = Some(7_000);
        assert!(
            failed(&b),
            "within its limit over the run, but it aborted it"
        );
        assert_eq!(
            describe(&b),
            "overall p99: 480 ms against a budget of ≤ 500 ms (−4%); \
             breached over a 1s window for 2s, it aborted the run at 0:07"
        );
    }

    fn budget(metric: BudgetMetric, limit: f64, measured: f64) -> BudgetVerdict {
        BudgetVerdict {
            scope: "overall".into(),
            metric,
            limit,
            measured: Some(measured),
            passed: metric.holds(measured, limit),
            abort: None,
        }
    }

    #[test]
    fn failures_say_by_how_much() {
        let b = budget(BudgetMetric::P95, 200_000.0, 230_000.0);
        assert_eq!(
            describe(&b),
            "overall p95: 230 ms against a budget of ≤ 200 ms (+15%)"
        );
        assert_eq!(comparison(&b), "230 ms > 200 ms");
        let b = budget(BudgetMetric::MinRps, 100.0, 80.0);
        assert_eq!(
            describe(&b),
            "overall rps: 80 rps against a budget of ≥ 100 rps (−20%)"
        );
        assert_eq!(comparison(&b), "80 rps < 100 rps");
        let b = budget(BudgetMetric::P99, 150_000.0, 150_271.0);
        assert_eq!(comparison(&b), "150.3 ms > 150 ms");
        let b = budget(BudgetMetric::MaxErrorRate, 0.01, 0.025);
        assert_eq!(
            describe(&b),
            "overall error rate: 2.5% against a budget of ≤ 1% (+1.5 pts)"
        );
        let b = BudgetVerdict {
            measured: None,
            passed: false,
            ..budget(BudgetMetric::P99, 500_000.0, 0.0)
        };
        assert_eq!(
            describe(&b),
            "overall p99: nothing was measured against a budget of ≤ 500 ms"
        );
    }
}
