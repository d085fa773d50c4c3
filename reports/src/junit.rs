//! `junit.xml`: the budgets as a JUnit test report.
//!
//! Every CI system reads JUnit XML and shows failed tests prominently, so
//! each budget becomes one testcase that fails when the budget failed, with
//! the measured value and the budget in the failure message. No CI needs to
//! know anything about loadgate to show which budget broke.
//!
//! The server's budgets (scope `server`) are testcases like the others, in
//! class `loadgate.server`. A budget whose abort rule stopped the run fails
//! (as the verdict counts it), and its message says so. What is no budget
//! but changes how to read them (the latency basis, a saturated generator,
//! a target too slow for the open model's users, arrivals dropped unsent,
//! a server count that does not match the client's) goes in the suite's
//! properties.

use std::fmt::Write;

use crate::{basis::Basis, budget_table, escape::xml, results::Results};

/// The JUnit XML of `results`: one `<testsuite>` for the run, one
/// `<testcase>` per budget, in the results' budget order.
pub fn render(results: &Results) -> String {
    let tests = results.budgets.len();
    let failures = budget_table::failures(results).len();
    let seconds = format!("{:.3}", results.run.duration_ms as f64 / 1000.0);
    let suite = format!("loadgate budgets: {}", results.scenario.name);
    // The class groups budgets per scope in CI views: `loadgate.overall`.
    let class = |scope: &str| format!("loadgate.{scope}");

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"loadgate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{seconds}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{seconds}\" timestamp=\"{}\">",
        xml(&suite),
        xml(&results.run.started_at),
    );
    out.push_str("    <properties>\n");
    let notes = [
        ("latency_basis", Some(Basis::of(results).tag())),
        (
            "generator_warning",
            results.generator.as_ref().and_then(|g| g.warning.clone()),
        ),
        (
            "target_too_slow",
            results
                .arrivals
                .as_ref()
                .and_then(|a| a.target_too_slow.clone()),
        ),
        (
            "dropped_arrivals",
            results
                .arrivals
                .as_ref()
                .map(|_| results.overall.all.errors.dropped.to_string()),
        ),
        (
            "server_count_mismatch",
            results
                .server
                .as_ref()
                .and_then(|s| s.count_mismatch.clone()),
        ),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value?)));
    for (name, value) in [
        (
            "tool",
            format!("{} {}", results.tool.name, results.tool.version),
        ),
        ("target", results.environment.target.clone()),
        ("scenario_file", results.scenario.file.clone()),
        (
            "run_status",
            format!("{:?}", results.run.status).to_lowercase(),
        ),
        ("requests", results.overall.all.count.to_string()),
    ]
    .into_iter()
    .chain(notes)
    {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            xml(&value)
        );
    }
    out.push_str("    </properties>\n");

    for budget in &results.budgets {
        let name = format!(
            "{} {}",
            budget_table::name(budget),
            budget_table::limit_text(budget)
        );
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            xml(&class(&budget.scope)),
            xml(&name)
        );
        if !budget_table::failed(budget) {
            let _ = writeln!(out, "{open}/>");
            continue;
        }
        let message = budget_table::describe(budget);
        let measured = match budget.measured {
            Some(_) => budget_table::measured_text(budget),
            None => "not measured".to_owned(),
        };
        let aborted = budget_table::aborted_text(budget)
            .map(|a| format!("\n{a}"))
            .unwrap_or_default();
        let _ = writeln!(out, "{open}>");
        let _ = writeln!(
            out,
            "      <failure type=\"budget\" message=\"{}\">measured: {}\nbudget: {}{}</failure>",
            xml(&message),
            xml(&measured),
            xml(&budget_table::limit_text(budget)),
            xml(&aborted),
        );
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
