//! The top of the page, before any number: the verdict with each failed
//! budget by how much, a warning when the load generator was too busy for
//! its figures to be trusted, and a note when the target was too slow for
//! the open model's users.

use std::fmt::Write;

use super::with_code;
use crate::{
    budget_table,
    escape::xml,
    markdown::run_status_sentence,
    results::{Results, RunStatus},
};

/// 1. The verdict, and each failed budget by how much.
pub(super) fn banner(page: &mut String, results: &Results) {
    let total = results.budgets.len();
    let failed = budget_table::failures(results);
    let (class, mark, word, detail) = match (results.verdict.passed, total) {
        (true, 0) => (
            "pass",
            "✓",
            "Passed",
            "The scenario sets no budgets.".to_owned(),
        ),
        (true, _) => ("pass", "✓", "Passed", format!("All {total} budgets held.")),
        (false, _) => (
            "fail",
            "✗",
            "Failed",
            format!("{} of {total} budgets failed.", failed.len()),
        ),
    };
    let _ = write!(
        page,
        "<section class=\"banner {class}\" aria-label=\"verdict\">\n\
         <div class=\"verdict\"><span class=\"mark\">{mark}</span> {word}</div>\n\
         <p class=\"detail\">{detail}</p>\n"
    );
    if !failed.is_empty() {
        page.push_str("<ul class=\"failures\">\n");
        for budget in failed {
            // A budget that aborted the run may be within its limit over
            // the shortened run: then the abort is the failure, not an
            // excess.
            let excess = if budget.passed {
                None
            } else {
                budget_table::excess_text(budget)
            };
            let mut excess = excess
                .map(|e| format!(" <span class=\"excess\">{}</span>", xml(&e)))
                .unwrap_or_default();
            if let Some(aborted) = budget_table::aborted_text(budget) {
                let _ = write!(excess, " <span class=\"excess\">{}</span>", xml(&aborted));
            }
            let measured = match budget.measured {
                Some(_) => budget_table::measured_text(budget),
                None => "nothing measured".to_owned(),
            };
            let _ = writeln!(
                page,
                "<li><strong>{}</strong> {} <span class=\"limit\">budget {}</span>{excess}</li>",
                xml(&budget_table::name(budget)),
                xml(&measured),
                xml(&budget_table::limit_text(budget)),
            );
        }
        page.push_str("</ul>\n");
    }
    if results.run.status != RunStatus::Completed {
        let _ = writeln!(
            page,
            "<p class=\"warning\">{}</p>",
            xml(&run_status_sentence(results))
        );
    }
    page.push_str("</section>\n");
}

/// 1b. A saturated generator measures itself: said before any number.
pub(super) fn generator_warning(page: &mut String, results: &Results) {
    let Some(warning) = results.generator.as_ref().and_then(|g| g.warning.as_ref()) else {
        return;
    };
    let _ = writeln!(
        page,
        "<section class=\"alert\" role=\"alert\" aria-label=\"generator warning\">\
         <p class=\"alert-title\">⚠ Load generator saturated: its figures include its own delays</p>\
         <p>{}</p></section>",
        with_code(warning)
    );
}

/// 1c. Arrivals that waited for a free user: the target, not the
/// generator, set the pace. Said apart from saturation, which it is not.
pub(super) fn target_too_slow(page: &mut String, results: &Results) {
    let Some(note) = results
        .arrivals
        .as_ref()
        .and_then(|a| a.target_too_slow.as_ref())
    else {
        return;
    };
    let _ = writeln!(
        page,
        "<section class=\"alert\" role=\"note\" aria-label=\"target too slow\">\
         <p class=\"alert-title\">⚠ Target too slow for max_users</p>\
         <p>{}</p></section>",
        with_code(note)
    );
}
