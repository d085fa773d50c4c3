//! `junit.xml`: the budgets as a JUnit test report.
//!
//! Every CI system reads JUnit XML and shows failed tests prominently, so
//! each budget becomes one testcase that fails when the budget failed, with
//! the measured value and the budget in the failure message. No CI needs to
//! know anything about loadgate to show which budget broke.

use std::fmt::Write;

use crate::{budget_table, escape::xml, results::Results};

/// The JUnit XML of `results`: one `<testsuite>` for the run, one
/// `<testcase>` per budget, in the results' budget order.
pub fn render(results: &Results) -> String {
    let tests = results.budgets.len();
    let failures = results.budgets.iter().filter(|b| !b.passed).count();
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
    ] {
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
        if budget.passed {
            let _ = writeln!(out, "{open}/>");
            continue;
        }
        let message = budget_table::describe(budget);
        let measured = match budget.measured {
            Some(_) => budget_table::measured_text(budget),
            None => "none".to_owned(),
        };
        let _ = writeln!(out, "{open}>");
        let _ = writeln!(
            out,
            "      <failure type=\"budget\" message=\"{}\">measured: {}\nbudget: {}</failure>",
            xml(&message),
            xml(&measured),
            xml(&budget_table::limit_text(budget)),
        );
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
