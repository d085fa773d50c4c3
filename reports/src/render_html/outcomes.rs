//! Latency by outcome: the successful requests' and the failures' apart,
//! per endpoint, so a load shedder's fast 503s or refused connections
//! cannot hide in (or flatter) one distribution.

use std::fmt::Write;

use crate::{
    escape::xml,
    results::{LatencyOf, LatencyPart, Results},
    units,
};

/// 4b. Each endpoint's judged latencies, successful and failed apart;
/// nothing for a file from before results version 6, which kept them
/// together only.
pub(super) fn render(page: &mut String, results: &Results) {
    let rows: Vec<_> = std::iter::once(&results.overall)
        .chain(&results.requests)
        .filter_map(|stats| {
            let window = stats.judged_window();
            Some((&stats.name, window.ok.as_ref()?, window.failed.as_ref()?))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let judged = match results.run.latency_of {
        LatencyOf::All => {
            "Budgets judge both together (<code>budgets.latency_of: all</code>, the default)."
        }
        LatencyOf::Ok => {
            "Budgets judge the successful requests alone (<code>budgets.latency_of: ok</code>); \
             failures count in the error rate."
        }
    };
    let _ = write!(
        page,
        "<section>\n<h2>Latency by outcome</h2>\n<p class=\"note\">The judged samples, \
         successful requests apart from failures (failed requests, and arrivals dropped \
         unsent; a request that could not be sent has no latency). {judged}</p>\n<table>\n\
         <thead><tr><th scope=\"col\" rowspan=\"2\">Endpoint</th>\
         <th colspan=\"4\">Successful</th><th colspan=\"4\">Failed</th></tr>\n<tr>\
         <th class=\"num\">n</th><th class=\"num\">p50</th><th class=\"num\">p95</th>\
         <th class=\"num\">p99</th><th class=\"num\">n</th><th class=\"num\">p50</th>\
         <th class=\"num\">p95</th><th class=\"num\">p99</th></tr></thead>\n<tbody>\n"
    );
    for (name, ok, failed) in rows {
        let _ = write!(page, "<tr><th scope=\"row\">{}</th>", xml(name));
        cells(page, ok);
        cells(page, failed);
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n</section>\n");
}

/// A part's count and percentiles; `–` for the percentiles of none.
fn cells(page: &mut String, part: &LatencyPart) {
    let _ = write!(page, "<td class=\"num\">{}</td>", units::count(part.count));
    let latency = &part.latency;
    for us in [latency.p50_us, latency.p95_us, latency.p99_us] {
        let text = match part.count {
            0 => "–".to_owned(),
            _ => units::latency_us(us as f64),
        };
        let _ = write!(page, "<td class=\"num\">{text}</td>");
    }
}
