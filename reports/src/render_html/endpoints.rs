//! Each endpoint over the whole run: counts, status codes, failures by
//! kind, and where its time went.

use std::fmt::Write;

use crate::{
    basis,
    escape::xml,
    metric::{self, Judged, Metric},
    results::{EndpointStats, ErrorCounts, LatencyOf, Results},
    units,
};

/// 5. Counts, status codes and error kinds per endpoint, whole run.
pub(super) fn table(page: &mut String, results: &Results) {
    let dropped = if results.arrivals.is_some() {
        " On an arrival schedule, the overall row's failures also count the arrivals dropped \
         before any request was sent: in its error rate, not in its requests or rate."
    } else {
        ""
    };
    let _ = write!(
        page,
        "<section>\n<h2>Endpoints</h2>\n<p class=\"note\">Every request of the run, \
         ramps included.{dropped}</p>\n<table>\n<thead><tr><th scope=\"col\">Endpoint</th>\
         <th class=\"num\">Requests</th><th class=\"num\">RPS</th><th class=\"num\">Failed</th>\
         <th class=\"num\">Error rate</th><th>Status codes</th><th>Failures by kind</th>\
         </tr></thead>\n<tbody>\n",
    );
    for stats in results
        .requests
        .iter()
        .chain(std::iter::once(&results.overall))
    {
        endpoint_row(page, stats, stats.name == results.overall.name);
    }
    page.push_str("</tbody>\n</table>\n</section>\n");
}

/// One endpoint's row; its rate and error rate are `–` when it sent
/// nothing (an empty window has no value).
fn endpoint_row(page: &mut String, stats: &EndpointStats, overall: bool) {
    let w = &stats.all;
    // The rate and error rate only: whose latencies does not matter here.
    let value = |metric| {
        metric::value(&Judged::new(w, LatencyOf::All), metric)
            .map_or_else(|| "–".to_owned(), |v| metric.format(v))
    };
    let failed = w.errors.total();
    let class = if overall { " class=\"overall\"" } else { "" };
    let error_class = if failed > 0 { " bad" } else { "" };
    let _ = write!(
        page,
        "<tr{class}><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num{error_class}\">{}</td><td class=\"num{error_class}\">{}</td><td>",
        xml(&stats.name),
        units::count(w.count),
        value(Metric::Rps),
        units::count(failed),
        value(Metric::ErrorRate),
    );
    for (code, n) in &stats.status_codes {
        let kind = match code {
            200..=299 => "ok",
            300..=399 => "redirect",
            400..=499 => "client",
            _ => "server",
        };
        let _ = write!(
            page,
            "<span class=\"chip {kind}\">{code} <b>{}</b></span>",
            units::count(*n)
        );
    }
    page.push_str("</td><td>");
    let kinds = error_kinds(&w.errors);
    if kinds.is_empty() {
        page.push_str("<span class=\"quiet\">none</span>");
    }
    for (kind, n) in kinds {
        let _ = write!(
            page,
            "<span class=\"chip server\">{kind} <b>{}</b></span>",
            units::count(n)
        );
    }
    page.push_str("</td></tr>\n");
}

/// The non-zero failure kinds, named as the results name them.
fn error_kinds(errors: &ErrorCounts) -> Vec<(&'static str, u64)> {
    [
        ("connect", errors.connect),
        ("timeout", errors.timeout),
        ("status", errors.status),
        ("check", errors.check),
        ("other", errors.other),
        ("dropped", errors.dropped),
        ("unsent", errors.unsent),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .collect()
}

/// 5b. Where each endpoint's time went: connecting, waiting for the first
/// byte, reading the body, beside the whole exchange. Over every sample,
/// from the send (the raw figures), as the phases are.
pub(super) fn phases(page: &mut String, results: &Results) {
    let rows: Vec<&EndpointStats> = results
        .requests
        .iter()
        .chain(std::iter::once(&results.overall))
        .filter(|s| s.phases.is_some())
        .collect();
    if rows.is_empty() {
        return;
    }
    page.push_str(
        "<section>\n<h2>Where the time goes</h2>\n<p class=\"note\">Every request of the run, \
         from its send. Connect: opening a connection (TCP, and TLS for https), over the requests \
         that opened one. TTFB: from the send to the response's headers, connect included. \
         Transfer: from the headers to the body's last byte. Whole: the full exchange.</p>\n\
         <table class=\"phases\">\n<thead><tr><th scope=\"col\" rowspan=\"2\">Endpoint</th>\
         <th scope=\"colgroup\" colspan=\"3\" class=\"group\">Connect</th>\
         <th scope=\"colgroup\" colspan=\"3\" class=\"group\">TTFB</th>\
         <th scope=\"colgroup\" colspan=\"3\" class=\"group\">Transfer</th>\
         <th scope=\"colgroup\" colspan=\"2\" class=\"group\">Whole</th></tr>\n<tr>\
         <th class=\"num\">count</th><th class=\"num\">p50</th><th class=\"num\">p99</th>\
         <th class=\"num start\">p50</th><th class=\"num\">p95</th><th class=\"num\">p99</th>\
         <th class=\"num start\">p50</th><th class=\"num\">p95</th><th class=\"num\">p99</th>\
         <th class=\"num start\">p50</th><th class=\"num\">p99</th></tr></thead>\n<tbody>\n",
    );
    let ms = |us: u64| units::latency_us(us as f64);
    for stats in rows {
        let Some(p) = &stats.phases else { continue };
        let whole = basis::from_send(&stats.all);
        let class = if stats.name == results.overall.name {
            " class=\"overall\""
        } else {
            ""
        };
        let share = if stats.all.count > 0 && p.connects > 0 {
            format!(
                "<span class=\"sub\">{} of requests</span>",
                units::rate(p.connects as f64 / stats.all.count as f64)
            )
        } else {
            String::new()
        };
        let connect = if p.connects > 0 {
            format!(
                "<td class=\"num\">{}</td><td class=\"num\">{}</td>",
                ms(p.connect.p50_us),
                ms(p.connect.p99_us)
            )
        } else {
            "<td class=\"num quiet\">–</td><td class=\"num quiet\">–</td>".to_owned()
        };
        let _ = writeln!(
            page,
            "<tr{class}><th scope=\"row\">{}</th><td class=\"num\">{}{share}</td>{connect}\
             <td class=\"num start\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num start\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num start\">{}</td><td class=\"num\">{}</td></tr>",
            xml(&stats.name),
            units::count(p.connects),
            ms(p.ttfb.p50_us),
            ms(p.ttfb.p95_us),
            ms(p.ttfb.p99_us),
            ms(p.transfer.p50_us),
            ms(p.transfer.p95_us),
            ms(p.transfer.p99_us),
            ms(whole.p50_us),
            ms(whole.p99_us),
        );
    }
    page.push_str("</tbody>\n</table>\n</section>\n");
}
