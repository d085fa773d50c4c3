//! The verdict as a terminal table: each budget, what was measured, the
//! limit, pass or fail; then one line that says it all.

use std::fmt::Write as _;

use reports::{
    results::{BudgetMetric, BudgetVerdict, Results, RunStatus},
    units::{latency_us, metric_value},
};

fn comparison(metric: BudgetMetric) -> &'static str {
    if metric.is_floor() { ">=" } else { "<=" }
}

/// The table and the closing line.
pub fn table(results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:>12}    {:<14} verdict",
        "budget", "measured", "limit"
    );
    for b in &results.budgets {
        let _ = writeln!(out, "{}", row(b));
    }
    let overall = &results.overall.all;
    let _ = writeln!(
        out,
        "\n{} requests in {:.1}s ({:.1}/s), {} failed; p50 {} p95 {} p99 {}",
        overall.count,
        results.run.duration_ms as f64 / 1000.0,
        overall.rps,
        overall.errors.total(),
        latency_us(overall.latency.p50_us as f64),
        latency_us(overall.latency.p95_us as f64),
        latency_us(overall.latency.p99_us as f64),
    );
    if let Some(server) = &results.server {
        let _ = writeln!(
            out,
            "server: {} requests counted, cache hit ratio {}, DB pool {} ({} scrapes, {} failed)",
            server
                .requests
                .map_or_else(|| "no".to_owned(), |n| n.to_string()),
            server
                .cache_hit_ratio
                .map_or_else(|| "n/a".to_owned(), |r| format!("{:.1}%", r * 100.0)),
            server.db_pool.map_or_else(
                || "n/a".to_owned(),
                |p| format!("{:.0}% mean, {:.0}% max", p.mean * 100.0, p.max * 100.0)
            ),
            server.scrapes,
            server.failed_scrapes,
        );
    }
    let warnings = [
        results
            .generator
            .as_ref()
            .and_then(|g| g.warning.as_deref()),
        results
            .server
            .as_ref()
            .and_then(|s| s.count_mismatch.as_deref()),
    ];
    for warning in warnings.into_iter().flatten() {
        let _ = writeln!(out, "WARNING: {warning}");
    }
    if let Some(reason) = &results.run.stop_reason {
        let _ = writeln!(out, "{reason}");
    }
    let failed = results.verdict.failed_budgets;
    let total = results.budgets.len();
    let _ = match (results.run.status, results.verdict.passed) {
        (RunStatus::Completed, true) => writeln!(out, "PASSED: all {total} budgets held"),
        (RunStatus::Completed, false) => {
            writeln!(out, "FAILED: {failed} of {total} budgets broken")
        }
        (RunStatus::Interrupted, _) => writeln!(
            out,
            "INTERRUPTED: {failed} of {total} budgets broken so far"
        ),
        (RunStatus::Aborted, _) => writeln!(
            out,
            "ABORTED: a budget was breached for its whole abort window; {failed} of {total} budgets broken"
        ),
        (RunStatus::Unreachable, _) => {
            writeln!(out, "UNREACHABLE: the target could not be reached")
        }
    };
    out
}

fn row(b: &BudgetVerdict) -> String {
    let measured = b
        .measured
        .map_or_else(|| "no data".to_owned(), |m| metric_value(b.metric, m));
    format!(
        "{:<28} {:>12} {} {:<14} {}",
        format!("{} {}", b.scope, b.metric.label()),
        measured,
        comparison(b.metric),
        metric_value(b.metric, b.limit),
        if b.passed { "pass" } else { "FAIL" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_show_measured_limit_and_verdict() {
        let b = BudgetVerdict {
            scope: "list_servers".into(),
            metric: BudgetMetric::P95,
            limit: 150_000.0,
            measured: Some(162_300.0),
            passed: false,
            abort: None,
        };
        assert_eq!(
            row(&b),
            "list_servers p95                   162 ms <= 150 ms         FAIL"
        );
        let rps = BudgetVerdict {
            metric: BudgetMetric::MinRps,
            limit: 5000.0,
            measured: None,
            ..b
        };
        assert_eq!(
            row(&rps),
            "list_servers rps                  no data >= 5,000 rps      FAIL"
        );
    }
}
