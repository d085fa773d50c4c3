//! `summary.md`: the verdict and budget table in Markdown, small enough for
//! a CI step summary (`$GITHUB_STEP_SUMMARY`) or a pull-request comment,
//! where the full HTML report cannot be shown inline.

use std::fmt::Write;

use crate::{
    budget_table::{self, COLUMNS},
    results::{Results, RunStatus},
    units,
};

/// The Markdown summary of `results`: a headline verdict, the failed
/// budgets by how much, the budget table and one line of context.
pub fn render(results: &Results) -> String {
    let mut out = String::new();
    let total = results.budgets.len();
    let failed: Vec<_> = results.budgets.iter().filter(|b| !b.passed).collect();
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
    if results.run.status != RunStatus::Completed {
        let _ = writeln!(out, "> ⚠️ {}\n", run_status_sentence(results));
    }
    for budget in &failed {
        let _ = writeln!(out, "- ❌ {}", cell(&budget_table::describe(budget)));
    }
    if !failed.is_empty() {
        out.push('\n');
    }

    out.push_str("| |");
    for metric in COLUMNS {
        let _ = write!(out, " {} |", budget_table::column_title(metric));
    }
    out.push_str("\n|:--|");
    out.push_str(&"--:|".repeat(COLUMNS.len()));
    out.push('\n');
    for row in budget_table::rows(results) {
        let _ = write!(out, "| **{}** |", cell(row.scope));
        for c in &row.cells {
            let text = match c.budget {
                Some(b) => format!(
                    "{} {}",
                    if b.passed { "✅" } else { "❌" },
                    budget_table::comparison(b)
                ),
                None => c.measured_text(),
            };
            let _ = write!(out, " {} |", cell(&text));
        }
        out.push('\n');
    }
    out.push('\n');

    let judged = &results.scenario.judged_stages;
    let judged = match judged.len() {
        0 => String::new(),
        1 => format!(" Budgets judge the {} stage.", judged[0]),
        _ => format!(" Budgets judge the {} stages.", judged.join(", ")),
    };
    let _ = writeln!(
        out,
        "{} requests in {} against `{}`, started {} (`{}`, {} {}).{judged}",
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

/// Why the run is not a complete one, as a sentence.
pub(crate) fn run_status_sentence(results: &Results) -> String {
    let how = match results.run.status {
        RunStatus::Completed => "completed",
        RunStatus::Interrupted => "was interrupted",
        RunStatus::Unreachable => "stopped early: the target could not be reached",
        RunStatus::Aborted => "was aborted: a budget was breached for its whole abort window",
    };
    let mut text = format!(
        "The run {how} after {}",
        units::duration_ms(results.run.duration_ms)
    );
    if let Some(reason) = &results.run.stop_reason {
        let _ = write!(text, " ({reason})");
    }
    text.push('.');
    text
}

/// Text made safe inside a table cell: a `|` would end the cell, a newline
/// the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}
