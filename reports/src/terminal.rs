//! Text for a terminal: the verdict table `loadgate run` prints when a
//! run ends, and a comparison with a baseline. Plain text in aligned
//! columns, for a person at a shell or a CI log, where neither Markdown
//! nor HTML renders.

use std::fmt::Write as _;

use crate::{
    compare::{Comparison, Row, RowVerdict},
    metric::{self, Judged, Metric},
    results::{BudgetMetric, BudgetVerdict, LatencyOf, LatencyPart, Results, RunStatus, Window},
    units::{self, latency_us, metric_value},
};

/// The verdict table: each budget, what was measured, the limit, pass or
/// fail; then the run in a line (an empty run's latencies and rate show as
/// `–`, never as 0; dropped arrivals apart from the requests), the
/// server's view, any warning (a saturated generator; apart from it, a
/// target too slow for the open model's users), and one line that says it
/// all.
pub fn verdict_table(results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:>12}    {:<14} verdict",
        "budget", "measured", "limit"
    );
    for b in &results.budgets {
        let _ = writeln!(out, "{}", budget_row(b));
    }
    let overall = &results.overall.all;
    let judged = Judged::new(overall, LatencyOf::All);
    let value = |m| metric::value(&judged, m);
    let latency = |m| value(m).map_or_else(|| "–".to_owned(), latency_us);
    let rps = value(Metric::Rps).map_or_else(|| "–".to_owned(), |rps| format!("{rps:.1}"));
    let dropped = match overall.errors.dropped {
        0 => String::new(),
        n => format!(", {n} arrivals dropped unsent"),
    };
    let unsent = match overall.errors.unsent {
        0 => String::new(),
        n => format!(", {n} requests that could not be sent"),
    };
    let _ = writeln!(
        out,
        "\n{} requests in {:.1}s ({rps}/s), {} failed{dropped}{unsent}; p50 {} p95 {} p99 {}",
        overall.count,
        overall.duration_ms as f64 / 1000.0,
        overall.errors.requests_failed(),
        latency(Metric::P50),
        latency(Metric::P95),
        latency(Metric::P99),
    );
    if let Some(line) = by_outcome(overall, results.run.latency_of) {
        let _ = writeln!(out, "{line}");
    }
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
        if let Some(why) = &server.count_unchecked {
            let _ = writeln!(out, "server: {why}");
        }
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
    if let Some(note) = results
        .arrivals
        .as_ref()
        .and_then(|a| a.target_too_slow.as_deref())
    {
        let _ = writeln!(out, "TARGET TOO SLOW FOR MAX_USERS: {note}");
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

/// The latencies of successful requests and of failures, apart, when
/// there were failures to keep apart or budgets judged the successful
/// alone; `None` for a file from before results version 6.
fn by_outcome(window: &Window, of: LatencyOf) -> Option<String> {
    let (ok, failed) = (window.ok.as_ref()?, window.failed.as_ref()?);
    if failed.count == 0 && of == LatencyOf::All {
        return None;
    }
    let part = |name: &str, part: &LatencyPart| match part.count {
        0 => format!("{name} (0): –"),
        n => format!(
            "{name} ({n}): p50 {} p95 {} p99 {}",
            latency_us(part.latency.p50_us as f64),
            latency_us(part.latency.p95_us as f64),
            latency_us(part.latency.p99_us as f64),
        ),
    };
    let judged = match of {
        LatencyOf::All => "budgets judge both together",
        LatencyOf::Ok => "budgets judge the successful alone",
    };
    Some(format!(
        "  {}; {}; {judged}",
        part("successful", ok),
        part("failed", failed)
    ))
}

/// One budget's line of the table.
fn budget_row(b: &BudgetVerdict) -> String {
    let measured = b
        .measured
        .map_or_else(|| "not measured".to_owned(), |m| metric_value(b.metric, m));
    format!(
        "{:<28} {:>12} {} {:<14} {}",
        format!("{} {}", b.scope, b.metric.label()),
        measured,
        relation(b.metric),
        metric_value(b.metric, b.limit),
        if b.passed { "pass" } else { "FAIL" }
    )
}

/// The limit's direction, in ASCII so any terminal shows it.
fn relation(metric: BudgetMetric) -> &'static str {
    if metric.is_floor() { ">=" } else { "<=" }
}

/// The comparison as plain text for stdout: the headline, an aligned
/// table with one line per scope and metric, and notes.
pub fn comparison(comparison: &Comparison) -> String {
    let (headline, improved) = comparison.counts();
    let mut out = headline;
    if let Some(improved) = improved {
        out.push_str(&format!(", {improved}"));
    }
    out.push_str(&format!(
        " against baseline {}{} ({})\n",
        comparison.baseline.source,
        comparison.baseline_kind(),
        comparison.rules.summary()
    ));

    let shared: Vec<&Row> = comparison
        .rows
        .iter()
        .filter(|r| r.baseline_samples.is_some() && r.current_samples.is_some())
        .collect();
    if !shared.is_empty() {
        let header = ["ENDPOINT", "METRIC", "BASELINE", "CURRENT", "CHANGE", ""];
        let mut lines: Vec<[String; 6]> = vec![header.map(str::to_owned)];
        for row in shared {
            let verdict = match row.verdict {
                RowVerdict::Regression => "REGRESSION".to_owned(),
                RowVerdict::Improvement => "improvement".to_owned(),
                RowVerdict::Unchanged => "within noise".to_owned(),
                RowVerdict::NotEnoughSamples => format!(
                    "too few samples ({} / {})",
                    units::count(row.baseline_samples.unwrap_or(0)),
                    units::count(row.current_samples.unwrap_or(0))
                ),
                RowVerdict::Missing => {
                    if row.baseline.is_none() {
                        "not in baseline".to_owned()
                    } else {
                        "not in current".to_owned()
                    }
                }
            };
            lines.push([
                row.scope.name().to_owned(),
                row.metric.label().to_owned(),
                row.value_text(row.baseline),
                row.value_text(row.current),
                row.change_text(),
                verdict,
            ]);
        }
        let width = |i: usize| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..6).map(width).collect();
        out.push('\n');
        for line in &lines {
            let mut text = String::new();
            for (i, field) in line.iter().enumerate() {
                let pad = widths[i] - field.chars().count();
                // Names and words to the left, numbers to the right.
                let right = matches!(i, 2..=4);
                if i > 0 {
                    text.push_str("  ");
                }
                if right {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(field);
                } else {
                    text.push_str(field);
                    text.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
    }

    let notes = comparison.notes(str::to_owned);
    if !notes.is_empty() {
        out.push('\n');
        for note in notes {
            out.push_str(&note);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "\nBaseline {}: {}.\nCurrent {}: {}.\n",
        comparison.baseline.source,
        comparison.baseline.details(),
        comparison.current.source,
        comparison.current.details(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::sample::{self, same_text};

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
            budget_row(&b),
            "list_servers p95                   162 ms <= 150 ms         FAIL"
        );
        let rps = BudgetVerdict {
            metric: BudgetMetric::MinRps,
            limit: 5000.0,
            measured: None,
            ..b
        };
        assert_eq!(
            budget_row(&rps),
            "list_servers rps             not measured >= 5,000 rps      FAIL"
        );
    }

    #[test]
    fn the_terminal_table_is_aligned() {
        same_text(
            &comparison(&sample::comparison()),
            "\
2 regressions, 1 improvement against baseline runs/base/results.json (max +10%, floor 2 ms / 0.5 pp, ≥1,000 samples)

ENDPOINT  METRIC      BASELINE  CURRENT            CHANGE
overall   p95           100 ms   150 ms     +50% (+50 ms)  REGRESSION
overall   error rate      0.1%       2%  +1900% (+1.9 pp)  REGRESSION
get <b>   p95           100 ms    80 ms     -20% (-20 ms)  improvement
get <b>   error rate      0.1%       0%   -100% (-0.1 pp)  within noise
tiny      p95            10 ms    50 ms    +400% (+40 ms)  too few samples (900 / 900)
tiny      error rate        0%      50%            +50 pp  too few samples (900 / 900)

Only in the current run (added): new.
Only in the baseline (removed): gone.
Not judged, fewer than 1,000 samples in a run: tiny.

Baseline runs/base/results.json: loadgate 0.1.0, Normal load, started 2025-06-01T09:00:00Z.
Current runs/now/results.json: loadgate 0.1.0, Normal load, started 2025-06-02T09:00:00Z.
",
        );
    }
}
