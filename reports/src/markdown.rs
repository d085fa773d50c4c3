//! `summary.md`: the verdict and budget table in Markdown, small enough for
//! a CI step summary (`$GITHUB_STEP_SUMMARY`) or a pull-request comment,
//! where the full HTML report cannot be shown inline; and a comparison with
//! a baseline, appended to it.

use std::fmt::Write;

use crate::{
    basis::{self, Basis},
    budget_table::{self, COLUMNS},
    compare::{Comparison, RowVerdict},
    results::{
        BudgetVerdict, LatencyOf, LatencyPart, LatencySummary, Results, RunStatus, ServerStats,
    },
    units,
};

/// The Markdown summary of `results`: a headline verdict, warnings (a run
/// that stopped early, a saturated generator, a target too slow for the
/// open model's users), the failed budgets by how
/// much, what latencies count from, the budget table and any budgets that
/// are no column of it, the server in one line and one line of context.
pub fn render(results: &Results) -> String {
    let mut out = String::new();
    let total = results.budgets.len();
    let failed = budget_table::failures(results);
    let name = cell(&results.scenario.name);
    let _ = match (results.verdict.passed, total) {
        (true, 0) => writeln!(out, "### ✅ loadgate: {name} passed (no budgets)"),
        (true, _) => writeln!(out, "### ✅ loadgate: {name} passed all {total} budgets"),
        (false, _) => writeln!(
            out,
            "### ❌ loadgate: {name} failed {} of {total} budgets",
            failed.len()
        ),
    };
    out.push('\n');
    if let Some(sharding) = sharding_sentence(results) {
        let _ = writeln!(out, "> {}\n", cell(&sharding));
    }
    if results.run.status != RunStatus::Completed {
        let _ = writeln!(out, "> ⚠️ {}\n", cell(&run_status_sentence(results)));
    }
    if let Some(warning) = results.generator.as_ref().and_then(|g| g.warning.as_ref()) {
        let _ = writeln!(out, "> ⚠️ {}\n", cell(warning));
    }
    if let Some(note) = results
        .arrivals
        .as_ref()
        .and_then(|a| a.target_too_slow.as_ref())
    {
        let _ = writeln!(out, "> ⚠️ Target too slow for max_users: {}\n", cell(note));
    }
    for budget in &failed {
        let _ = writeln!(out, "- ❌ {}", cell(&budget_table::describe(budget)));
    }
    if !failed.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{}\n", basis_line(results));

    out.push_str("| |");
    for metric in COLUMNS {
        let _ = write!(out, " {} |", metric.title());
    }
    out.push_str("\n|:--|");
    out.push_str(&"--:|".repeat(COLUMNS.len()));
    out.push('\n');
    for row in budget_table::rows(results) {
        let _ = write!(out, "| **{}** |", cell(row.scope));
        for c in &row.cells {
            let text = match c.budget {
                Some(b) => verdict_text(b),
                None => c.measured_text(),
            };
            let _ = write!(out, " {} |", cell(&text));
        }
        out.push('\n');
    }
    out.push('\n');
    for (title, budgets) in budget_table::other_groups(results) {
        let shown: Vec<String> = budgets
            .iter()
            .map(|b| format!("{} {}", budget_table::short_name(b), verdict_text(b)))
            .collect();
        let _ = writeln!(out, "**{title}:** {}\n", cell(&shown.join(" · ")));
    }
    if let Some(server) = &results.server {
        server_lines(&mut out, server);
    }

    let judged = &results.scenario.judged_stages;
    let judged = match judged.len() {
        0 => String::new(),
        1 => format!(" Budgets judge the {} stage.", judged[0]),
        _ => format!(" Budgets judge the {} stages.", judged.join(", ")),
    };
    let generator = results
        .generator
        .as_ref()
        .map(|g| {
            format!(
                " Generator CPU mean {}, max {}.",
                units::rate(g.cpu_mean),
                units::rate(g.cpu_max)
            )
        })
        .unwrap_or_default();
    let dropped = match results.overall.all.errors.dropped {
        0 => String::new(),
        n => format!(" and {} arrivals dropped unsent", units::count(n)),
    };
    let _ = writeln!(
        out,
        "{} requests{dropped} in {} against `{}`, started {} (`{}`, {} {}).{judged}{generator}",
        units::count(results.overall.all.count),
        units::duration_ms(results.run.duration_ms),
        results.environment.target.replace('`', "'"),
        results.run.started_at,
        results.scenario.file.replace('`', "'"),
        results.tool.name,
        results.tool.version,
    );
    out
}

/// A budget's mark and comparison: `✅ 4.1 ms ≤ 5 ms`, `❌ 230 ms > 200 ms`,
/// with `, aborted the run at 0:07` for the one that stopped the run.
fn verdict_text(budget: &BudgetVerdict) -> String {
    let mark = if budget_table::failed(budget) {
        "❌"
    } else {
        "✅"
    };
    let mut text = format!("{mark} {}", budget_table::comparison(budget));
    if let Some(aborted) = budget_table::aborted_text(budget) {
        let _ = write!(text, ", {aborted}");
    }
    text
}

/// What latencies count from and which histogram budgets judge; with the
/// overall judged and raw p50/p95/p99 side by side when there are both.
fn basis_line(results: &Results) -> String {
    let basis = Basis::of(results);
    let mut line = format!("**Latency basis:** {}.", basis.summary());
    if let Some(raw_name) = basis.raw_name() {
        let window = results.overall.judged_window();
        let _ = write!(
            line,
            " Overall p50 / p95 / p99: {} {} (budgets judge these), {} {}.",
            percentiles(&window.latency),
            basis.judged_name(),
            percentiles(&basis::from_send(window)),
            raw_name
        );
    }
    let window = results.overall.judged_window();
    if let (Some(ok), Some(failed)) = (&window.ok, &window.failed)
        && (failed.count > 0 || results.run.latency_of == LatencyOf::Ok)
    {
        let judged = match results.run.latency_of {
            LatencyOf::All => "budgets judge both together",
            LatencyOf::Ok => "budgets judge the successful alone",
        };
        let part = |p: &LatencyPart| match p.count {
            0 => "none".to_owned(),
            n => format!("{} of {}", percentiles(&p.latency), units::count(n)),
        };
        let _ = write!(
            line,
            " By outcome, p50 / p95 / p99: successful {}, failed {} ({judged}).",
            part(ok),
            part(failed)
        );
    }
    line
}

/// `21.5 ms / 113 ms / 201 ms`.
fn percentiles(l: &LatencySummary) -> String {
    [l.p50_us, l.p95_us, l.p99_us]
        .map(|us| units::latency_us(us as f64))
        .join(" / ")
}

/// The server's own view, in a line or two: counts against the client's,
/// latency, caches, the DB pool; a count mismatch as a warning.
fn server_lines(out: &mut String, server: &ServerStats) {
    if server.scrapes == 0 {
        let _ = writeln!(
            out,
            "**Server:** no scrape of `{}` returned metrics.\n",
            server.url.replace('`', "'")
        );
        return;
    }
    let mut parts = Vec::new();
    parts.push(match server.requests {
        Some(n) => format!(
            "{} requests counted (client: {} sent, {} answered)",
            units::count(n),
            units::count(server.client_requests),
            units::count(server.client_responses)
        ),
        None => "no request count".to_owned(),
    });
    if let Some(l) = &server.latency {
        parts.push(format!(
            "latency p50 / p95 / p99 {} / {} / {}",
            units::latency_us(l.p50_us as f64),
            units::latency_us(l.p95_us as f64),
            units::latency_us(l.p99_us as f64)
        ));
    }
    if let Some(ratio) = server.cache_hit_ratio {
        let layers: Vec<String> = server
            .cache_layers
            .iter()
            .filter_map(|l| Some(format!("{} {}", l.layer, units::rate(l.hit_ratio?))))
            .collect();
        let layers = if layers.is_empty() {
            String::new()
        } else {
            format!(" ({})", layers.join(", "))
        };
        parts.push(format!("cache hit ratio {}{layers}", units::rate(ratio)));
    }
    if let Some(pool) = &server.db_pool {
        parts.push(format!(
            "DB pool mean {}, max {} of {}",
            units::rate(pool.mean),
            units::rate(pool.max),
            pool.max_connections
        ));
    }
    let failed = if server.failed_scrapes > 0 {
        format!(", {} failed", server.failed_scrapes)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "**Server** ({} scrapes{failed}): {}.\n",
        server.scrapes,
        cell(&parts.join(" · "))
    );
    if let Some(mismatch) = &server.count_mismatch {
        let _ = writeln!(out, "> ⚠️ Request counts disagree: {}.\n", cell(mismatch));
    }
    if let Some(why) = &server.count_unchecked {
        let _ = writeln!(out, "> {}.\n", cell(why));
    }
}

/// What share of a run made by several generators the results are, or
/// which shards they merge, as a sentence; `None` for a run of one.
pub(crate) fn sharding_sentence(results: &Results) -> Option<String> {
    let run = &results.run;
    let id = run.run_id.as_deref().unwrap_or("without an id");
    if let Some(shard) = run.shard {
        return Some(format!(
            "Shard {} of {} of run {id}: its share of the load only; the run's budgets are judged on the merge of its shards (`loadgate merge`).",
            shard.index, shard.count
        ));
    }
    let merged = run.merged.as_ref()?;
    let indices: Vec<String> = merged.shards.iter().map(|s| s.index.to_string()).collect();
    let of = if merged.shards.len() as u32 == merged.count {
        format!("all {} shards", merged.count)
    } else {
        format!(
            "shards {} of {} (a partial merge)",
            indices.join(", "),
            merged.count
        )
    };
    Some(format!(
        "Merged from {of} of run {id}: latencies from their histograms added; each second's generator figures are the busiest shard's."
    ))
}

/// Why the run is not a complete one, as a sentence. An aborted run names
/// the budget that stopped it: from the stop reason `loadgate run` wrote,
/// or else from the budget whose abort rule fired.
pub(crate) fn run_status_sentence(results: &Results) -> String {
    let after = units::duration_ms(results.run.duration_ms);
    let reason = results.run.stop_reason.as_deref();
    let how = match results.run.status {
        RunStatus::Completed => "completed",
        RunStatus::Interrupted => "was interrupted",
        RunStatus::Unreachable => "stopped early: the target could not be reached",
        RunStatus::Aborted => {
            let cause = reason
                .map(|r| r.strip_prefix("aborted: ").unwrap_or(r).to_owned())
                .or_else(|| abort_cause(results))
                .unwrap_or_else(|| "a budget was breached for its whole abort window".to_owned());
            return format!("The run was aborted after {after}: {cause}.");
        }
    };
    let mut text = format!("The run {how} after {after}");
    if let Some(reason) = reason {
        let _ = write!(text, " ({reason})");
    }
    text.push('.');
    text
}

/// The budget whose abort rule fired, in words, for a run without a stop
/// reason.
fn abort_cause(results: &Results) -> Option<String> {
    let budget = results.budgets.iter().find(|b| b.aborted_run())?;
    let rule = budget.abort?;
    Some(format!(
        "{} breached its budget ({}) over a {} window for {}",
        budget_table::name(budget),
        budget_table::limit_text(budget),
        units::duration_ms(rule.window_ms),
        units::duration_ms(rule.after_ms)
    ))
}

/// The comparison for `summary.md`: a headline, one table row per
/// scope with a column per metric, and notes.
pub fn comparison(comparison: &Comparison) -> String {
    let mut out = String::new();
    let (headline, improved) = comparison.counts();
    let mark = if comparison.has_regression() {
        "❌"
    } else {
        "✅"
    };
    out.push_str(&format!("{mark} **{headline}**"));
    if let Some(improved) = improved {
        out.push_str(&format!(", {improved}"));
    }
    out.push_str(&format!(
        " against baseline {}{} ({})\n\n",
        code(&comparison.baseline.source),
        comparison.baseline_kind(),
        comparison.rules.summary()
    ));

    let scopes = comparison.shared_scopes();
    if !scopes.is_empty() && !comparison.rules.metrics.is_empty() {
        out.push_str("| |");
        for metric in &comparison.rules.metrics {
            out.push_str(&format!(" {} |", metric.title()));
        }
        out.push_str("\n|:--|");
        out.push_str(&"--:|".repeat(comparison.rules.metrics.len()));
        out.push('\n');
        for scope in scopes {
            out.push_str(&format!("| **{}** |", cell(scope.name())));
            for &metric in &comparison.rules.metrics {
                let text = comparison
                    .cell(scope, metric)
                    .map_or_else(String::new, |row| {
                        let values = format!(
                            "{} → {}",
                            row.value_text(row.baseline),
                            row.value_text(row.current)
                        );
                        match row.verdict {
                            RowVerdict::Regression => {
                                format!("❌ {values} ({})", row.short_change_text())
                            }
                            RowVerdict::Improvement => {
                                format!("✅ {values} ({})", row.short_change_text())
                            }
                            RowVerdict::Unchanged => {
                                format!("{values} ({})", row.short_change_text())
                            }
                            RowVerdict::NotEnoughSamples => format!("{values} · too few samples"),
                            RowVerdict::Missing => values,
                        }
                    });
                out.push_str(&format!(" {} |", cell(&text)));
            }
            out.push('\n');
        }
        out.push('\n');
    }

    let notes = comparison.notes(code);
    if !notes.is_empty() {
        out.push_str(&notes.join(" "));
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "Baseline {}: {}. Current {}: {}.\n",
        code(&comparison.baseline.source),
        cell(&comparison.baseline.details()),
        code(&comparison.current.source),
        cell(&comparison.current.details()),
    ));
    out
}

/// Text as a Markdown code span (a backtick inside would end it).
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

/// Text made safe inside a table cell: a `|` would end the cell, a newline
/// the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::sample::{self, same_text};

    #[test]
    fn the_markdown_is_a_compact_table() {
        same_text(
            &comparison(&sample::comparison()),
            "\
❌ **2 regressions**, 1 improvement against baseline `runs/base/results.json` (max +10%, floor 2 ms / 0.5 pp, ≥1,000 samples)

| | P95 | Errors |
|:--|--:|--:|
| **overall** | ❌ 100 ms → 150 ms (+50%) | ❌ 0.1% → 2% (+1.9 pp) |
| **get <b>** | ✅ 100 ms → 80 ms (-20%) | 0.1% → 0% (-0.1 pp) |
| **tiny** | 10 ms → 50 ms · too few samples | 0% → 50% · too few samples |

Only in the current run (added): `new`. Only in the baseline (removed): `gone`. Not judged, fewer than 1,000 samples in a run: `tiny`.

Baseline `runs/base/results.json`: loadgate 0.1.0, Normal load, started 2025-06-01T09:00:00Z. Current `runs/now/results.json`: loadgate 0.1.0, Normal load, started 2025-06-02T09:00:00Z.
",
        );
    }
}
