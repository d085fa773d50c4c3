//! The budgets section: the budget table, the abort rules under it, and
//! the budgets that are no column of it.

use std::fmt::Write;

use crate::{
    budget_table::{self, COLUMNS},
    escape::xml,
    results::{BudgetVerdict, Results},
};

/// 2. Measured against budget, per scope and metric; then the budgets that
///    are no column (the server's, dropped arrivals), each with its row.
pub(super) fn render(page: &mut String, results: &Results) {
    page.push_str("<section>\n<h2>Budgets</h2>\n");
    let judged = &results.scenario.judged_stages;
    let window = match judged.len() {
        0 => "the whole run".to_owned(),
        1 => format!("the {} stage only", judged[0]),
        _ => format!("the {} stages only", judged.join(", ")),
    };
    let _ = writeln!(
        page,
        "<p class=\"note\">Measured over {}, the samples budgets judge. \
         Cells without a budget show the measurement alone.</p>",
        xml(&window)
    );
    page.push_str("<table class=\"budgets\">\n<thead><tr><th scope=\"col\">Endpoint</th>");
    for metric in COLUMNS {
        let _ = write!(
            page,
            "<th scope=\"col\" class=\"num\">{}</th>",
            metric.title()
        );
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    for row in budget_table::rows(results) {
        let class = if row.scope == results.overall.name {
            " class=\"overall\""
        } else {
            ""
        };
        let _ = write!(page, "<tr{class}><th scope=\"row\">{}</th>", xml(row.scope));
        for c in &row.cells {
            match c.budget {
                Some(b) => {
                    let _ = write!(
                        page,
                        "<td class=\"num {}\"><span class=\"value\">{}</span>{}</td>",
                        verdict_class(b),
                        xml(&c.measured_text()),
                        budget_line(b),
                    );
                }
                None => {
                    let _ = write!(
                        page,
                        "<td class=\"num\"><span class=\"value\">{}</span></td>",
                        xml(&c.measured_text())
                    );
                }
            }
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n");
    abort_rules(page, results);
    for (title, group) in budget_table::other_groups(results) {
        let _ = write!(
            page,
            "<h3>{title}</h3>\n<table class=\"budgets other\">\n<thead><tr>\
             <th scope=\"col\">Budget</th><th scope=\"col\" class=\"num\">Measured</th>\
             </tr></thead>\n<tbody>\n"
        );
        for b in group {
            let _ = writeln!(
                page,
                "<tr><th scope=\"row\">{}</th><td class=\"num {}\"><span class=\"value\">{}</span>{}</td></tr>",
                xml(&budget_table::short_name(b)),
                verdict_class(b),
                xml(&match b.measured {
                    Some(_) => budget_table::measured_text(b),
                    None => "nothing measured".to_owned(),
                }),
                budget_line(b),
            );
        }
        page.push_str("</tbody>\n</table>\n");
    }
    page.push_str("</section>\n");
}

/// `pass` or `fail`, for a budget's cell.
fn verdict_class(budget: &BudgetVerdict) -> &'static str {
    if budget_table::failed(budget) {
        "fail"
    } else {
        "pass"
    }
}

/// The line under a budget's measurement: its mark and limit, and for the
/// budget that aborted the run, when.
fn budget_line(budget: &BudgetVerdict) -> String {
    let (mark, label) = if budget_table::failed(budget) {
        ("✗", "over budget")
    } else {
        ("✓", "within budget")
    };
    let mut line = format!(
        "<span class=\"budget\"><span class=\"mark\" title=\"{label}\">{mark}</span> {}</span>",
        xml(&budget_table::limit_text(budget)),
    );
    if let Some(at) = budget_table::aborted_at(budget) {
        let _ = write!(
            line,
            "<span class=\"aborted\" title=\"its abort rule stopped the run\">aborted at {at}</span>"
        );
    }
    line
}

/// The budgets with abort rules, grouped by rule, under the table: `overall
/// p95, p99 and error rate: abort: 5s window, after 8s`.
fn abort_rules(page: &mut String, results: &Results) {
    let mut rules: Vec<(String, Vec<String>)> = Vec::new();
    for b in &results.budgets {
        let Some(rule) = &b.abort else { continue };
        let text = budget_table::abort_rule_text(rule);
        let name = budget_table::name(b);
        match rules.iter_mut().find(|(t, _)| *t == text) {
            Some((_, names)) => names.push(name),
            None => rules.push((text, vec![name])),
        }
    }
    if rules.is_empty() {
        return;
    }
    let shown: Vec<String> = rules
        .iter()
        .map(|(rule, names)| format!("{} ({rule})", names.join(", ")))
        .collect();
    let _ = writeln!(
        page,
        "<p class=\"note after\">Abort rules stop the run when a budget is breached over its window \
         continuously for the time given: {}.</p>",
        xml(&shown.join("; "))
    );
}
