//! What the latencies count from, said before the budgets judge them.

use std::fmt::Write;

use super::with_code;
use crate::{
    basis::{self, Basis},
    escape::xml,
    results::Results,
    units,
};

/// 1c. What the latencies count from and which histogram budgets judge;
/// for a run with raw figures beside the judged ones, both overall, side by
/// side.
pub(super) fn render(page: &mut String, results: &Results) {
    let basis = Basis::of(results);
    let _ = write!(
        page,
        "<section class=\"basis{}\" aria-label=\"latency basis\">\n<p><strong>{}</strong>{}{}.</p>\n",
        // Nothing to compare when latencies count from the send: one quiet line.
        if basis.has_raw() { "" } else { " plain" },
        xml(&basis.headline()),
        basis.separator(),
        with_code(basis.explanation()),
    );
    if let Some(raw_name) = basis.raw_name() {
        let window = results.overall.judged_window();
        let raw = basis::from_send(window);
        page.push_str(
            "<table class=\"compact\">\n<thead><tr><th scope=\"col\">Overall, judged samples</th>\
             <th class=\"num\">p50</th><th class=\"num\">p95</th><th class=\"num\">p99</th></tr></thead>\n<tbody>\n",
        );
        for (label, l, class) in [
            (
                format!("{} (budgets judge)", basis.judged_name()),
                &window.latency,
                " class=\"judged\"",
            ),
            (raw_name.to_owned(), &raw, ""),
        ] {
            let _ = write!(page, "<tr{class}><th scope=\"row\">{}</th>", xml(&label));
            for us in [l.p50_us, l.p95_us, l.p99_us] {
                let _ = write!(
                    page,
                    "<td class=\"num\">{}</td>",
                    units::latency_us(us as f64)
                );
            }
            page.push_str("</tr>\n");
        }
        page.push_str("</tbody>\n</table>\n");
    }
    page.push_str("</section>\n");
}
