//! The comparison with a baseline, as a section of the report page or
//! any other page (`loadgate compare --format html`).

use crate::{
    compare::{Comparison, RowVerdict, Scope},
    escape::xml,
};

/// The comparison as a self-contained `<section>` for an HTML page: the
/// headline, one table row per scope with a column per metric, and
/// notes. It borrows the report page's classes where it is embedded
/// there (`num`, `overall`, `note`) and marks regressions inline
/// (colour and a ✗), so it reads the same on any page.
pub fn comparison(comparison: &Comparison) -> String {
    const REGRESSION_STYLE: &str = "background:#ffebe9;color:#cf222e;font-weight:600";
    const IMPROVEMENT_STYLE: &str = "color:#1a7f37";
    const QUIET_STYLE: &str = "color:#59636e";

    let mut out = String::from(
        "<section class=\"compare\" aria-label=\"comparison with the baseline\">\n\
         <h2>Against the baseline</h2>\n",
    );
    let (headline, improved) = comparison.counts();
    let (mark, style) = if comparison.has_regression() {
        ("✗", "color:#cf222e")
    } else {
        ("✓", "color:#1a7f37")
    };
    out.push_str(&format!(
        "<p class=\"compare-headline\"><strong style=\"{style}\">{mark} {}</strong>",
        xml(&headline)
    ));
    if let Some(improved) = improved {
        out.push_str(&format!(", {}", xml(&improved)));
    }
    out.push_str(&format!(
        " against baseline <code>{}</code>{} <span style=\"{QUIET_STYLE}\">({})</span></p>\n",
        xml(&comparison.baseline.source),
        xml(&comparison.baseline_kind()),
        xml(&comparison.rules.summary()),
    ));

    let scopes = comparison.shared_scopes();
    if !scopes.is_empty() && !comparison.rules.metrics.is_empty() {
        out.push_str("<table class=\"compare-table\">\n<thead><tr><th scope=\"col\">Endpoint</th>");
        for metric in &comparison.rules.metrics {
            out.push_str(&format!(
                "<th scope=\"col\" class=\"num\" style=\"text-align:right\">{}</th>",
                xml(metric.title())
            ));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for scope in scopes {
            let class = if *scope == Scope::Overall {
                " class=\"overall\""
            } else {
                ""
            };
            out.push_str(&format!(
                "<tr{class}><th scope=\"row\">{}</th>",
                xml(scope.name())
            ));
            for &metric in &comparison.rules.metrics {
                let Some(row) = comparison.cell(scope, metric) else {
                    out.push_str("<td class=\"num\"></td>");
                    continue;
                };
                let (class, style, title) = match row.verdict {
                    RowVerdict::Regression => ("regression", REGRESSION_STYLE, "regression"),
                    RowVerdict::Improvement => ("improvement", IMPROVEMENT_STYLE, "improvement"),
                    RowVerdict::Unchanged => ("unchanged", "", "within noise"),
                    RowVerdict::NotEnoughSamples => ("few-samples", "", "too few samples"),
                    RowVerdict::Missing => ("missing", "", "not in both runs"),
                };
                let change = match row.verdict {
                    RowVerdict::Regression => format!("✗ {}", row.change_text()),
                    RowVerdict::Improvement => format!("✓ {}", row.change_text()),
                    RowVerdict::Unchanged => row.change_text(),
                    RowVerdict::NotEnoughSamples | RowVerdict::Missing => title.to_owned(),
                };
                out.push_str(&format!(
                    "<td class=\"num {class}\" style=\"text-align:right;white-space:nowrap;{style}\" title=\"{title}\">\
                     {}<br><span style=\"font-size:12px;{QUIET_STYLE}\">was {}</span>\
                     <br><span style=\"font-size:12px\">{}</span></td>",
                    xml(&row.value_text(row.current)),
                    xml(&row.value_text(row.baseline)),
                    xml(&change),
                ));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
    }

    let notes = comparison.notes(|name| format!("<code>{}</code>", xml(name)));
    if !notes.is_empty() {
        out.push_str(&format!("<p class=\"note\">{}</p>\n", notes.join(" ")));
    }
    out.push_str(&format!(
        "<p class=\"note\">Baseline <code>{}</code>: {}. Current <code>{}</code>: {}.</p>\n</section>\n",
        xml(&comparison.baseline.source),
        xml(&comparison.baseline.details()),
        xml(&comparison.current.source),
        xml(&comparison.current.details()),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::sample;

    #[test]
    fn the_html_marks_regressions_and_escapes_names() {
        let html = comparison(&sample::comparison());
        assert!(html.starts_with("<section class=\"compare\""));
        assert!(html.ends_with("</section>\n"));
        assert!(
            html.contains("<th scope=\"row\">get &lt;b&gt;</th>"),
            "{html}"
        );
        assert!(!html.contains("<b>"));
        assert_eq!(html.matches("class=\"num regression\"").count(), 2);
        assert_eq!(html.matches("class=\"num improvement\"").count(), 1);
        assert!(html.contains("✗ +50% (+50 ms)"));
        assert!(html.contains("<strong style=\"color:#cf222e\">✗ 2 regressions</strong>"));
        assert!(html.contains("<code>new</code>") && html.contains("<code>gone</code>"));
        // Well-formed enough for an XML parser: every tag closes.
        assert_eq!(html.matches("<td").count(), html.matches("</td>").count());
        assert_eq!(html.matches("<tr").count(), html.matches("</tr>").count());
    }
}
