//! The latency distribution: the percentile spectrum and its figures per
//! endpoint.

use std::fmt::Write;

use super::figure;
use crate::{
    basis::Basis,
    charts::Chart,
    escape::xml,
    results::{LatencySummary, Results},
    units,
};

/// 4. The percentile spectrum, and the same percentiles as numbers; for a
///    run with raw figures, each beside the judged one.
pub(super) fn render(
    page: &mut String,
    results: &Results,
    chart: &dyn Fn(Chart) -> Result<String, String>,
) {
    page.push_str("<section>\n<h2>Latency distribution</h2>\n");
    figure(
        page,
        Chart::Percentiles,
        chart(Chart::Percentiles),
        "Latency at each percentile of the judged samples; each step right is one more nine. \
         The black line is all endpoints together.",
    );
    let basis = Basis::of(results);
    if let Some(name) = basis.raw_name() {
        let _ = writeln!(
            page,
            "<p class=\"note\">Each cell: {} (budgets judge these), and under it the {} figure, \
             from each actual send.</p>",
            xml(basis.judged_name()),
            xml(name),
        );
    }
    page.push_str(
        "<table>\n<thead><tr><th scope=\"col\">Endpoint</th><th class=\"num\">min</th>\
         <th class=\"num\">mean</th><th class=\"num\">p50</th><th class=\"num\">p90</th>\
         <th class=\"num\">p95</th><th class=\"num\">p99</th><th class=\"num\">p99.9</th>\
         <th class=\"num\">max</th></tr></thead>\n<tbody>\n",
    );
    let figures = |l: &LatencySummary| {
        [
            l.min_us as f64,
            l.mean_us,
            l.p50_us as f64,
            l.p90_us as f64,
            l.p95_us as f64,
            l.p99_us as f64,
            l.p999_us as f64,
            l.max_us as f64,
        ]
    };
    for stats in std::iter::once(&results.overall).chain(&results.requests) {
        let window = stats.judged_window();
        let raw = basis
            .raw_short()
            .and_then(|short| Some((short, figures(window.service_latency.as_ref()?))));
        let _ = write!(page, "<tr><th scope=\"row\">{}</th>", xml(&stats.name));
        for (i, us) in figures(&window.latency).into_iter().enumerate() {
            let _ = write!(page, "<td class=\"num\">{}", units::latency_us(us));
            if let Some((short, raw)) = &raw {
                let _ = write!(
                    page,
                    "<span class=\"sub\">{short} {}</span>",
                    units::latency_us(raw[i])
                );
            }
            page.push_str("</td>");
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n</section>\n");
}
