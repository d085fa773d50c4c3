//! The server's own view, from its scraped metrics, beside the client's.

use std::fmt::Write;

use super::{figure, with_code};
use crate::{
    basis,
    charts::Chart,
    escape::xml,
    results::{Results, ServerStats},
    units,
};

/// 6. The target's own metrics: its request count against the client's,
///    its latency, its caches and DB pool, and those over the run.
pub(super) fn render(
    page: &mut String,
    results: &Results,
    server: &ServerStats,
    chart: &dyn Fn(Chart) -> Result<String, String>,
) {
    let _ = writeln!(
        page,
        "<section aria-label=\"server\">\n<h2>Server</h2>\n<p class=\"note\">From the target's \
         Prometheus metrics at {}: {} scrapes{}.</p>",
        xml(&server.url),
        units::count(u64::from(server.scrapes)),
        if server.failed_scrapes > 0 {
            format!(
                ", <span class=\"bad-text\">{} failed</span>",
                units::count(u64::from(server.failed_scrapes))
            )
        } else {
            String::new()
        },
    );
    if server.scrapes == 0 {
        let _ = writeln!(
            page,
            "<p class=\"warning\">No scrape returned metrics: the server's own view of the run \
             is missing, and its budgets had nothing to judge.</p>\n</section>"
        );
        return;
    }
    if let Some(mismatch) = &server.count_mismatch {
        let _ = writeln!(
            page,
            "<p class=\"warning plain\"><span class=\"lead\">⚠ Request counts disagree:</span> {}. \
             The server and the client did not see the same requests: one of them is not measuring \
             what the other is.</p>",
            with_code(mismatch)
        );
    }
    if let Some(why) = &server.count_unchecked {
        let _ = writeln!(page, "<p class=\"plain\">{}.</p>", with_code(why));
    }
    let requests = match server.requests {
        Some(n) => units::count(n),
        None => "not exported".to_owned(),
    };
    let mut facts: Vec<(&str, String)> = vec![
        ("Requests, server", requests),
        (
            "Requests, client",
            format!(
                "{} sent, {} answered",
                units::count(server.client_requests),
                units::count(server.client_responses)
            ),
        ),
    ];
    if let Some(ratio) = server.cache_hit_ratio {
        facts.push((
            "Cache hit ratio",
            format!("{} (any layer)", units::rate(ratio)),
        ));
    }
    if let Some(pool) = &server.db_pool {
        facts.push((
            "DB pool in use",
            format!(
                "mean {}, max {} of {} connections",
                units::rate(pool.mean),
                units::rate(pool.max),
                units::count(pool.max_connections)
            ),
        ));
    }
    page.push_str("<dl class=\"env\">\n");
    for (key, value) in facts {
        let _ = writeln!(page, "<dt>{key}</dt><dd>{}</dd>", xml(&value));
    }
    page.push_str("</dl>\n<div class=\"columns\">\n");

    if let Some(l) = &server.latency {
        let client = basis::from_send(&results.overall.all);
        page.push_str(
            "<div>\n<h3>Latency</h3>\n<table class=\"compact\">\n<thead><tr><th scope=\"col\"></th>\
             <th class=\"num\">p50</th><th class=\"num\">p95</th><th class=\"num\">p99</th>\
             <th class=\"num\">mean</th></tr></thead>\n<tbody>\n",
        );
        for (who, p50, p95, p99, mean) in [
            ("server", l.p50_us, l.p95_us, l.p99_us, l.mean_us),
            (
                "client, from send",
                client.p50_us,
                client.p95_us,
                client.p99_us,
                client.mean_us,
            ),
        ] {
            let _ = writeln!(
                page,
                "<tr><th scope=\"row\">{who}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                units::latency_us(p50 as f64),
                units::latency_us(p95 as f64),
                units::latency_us(p99 as f64),
                units::latency_us(mean),
            );
        }
        page.push_str(
            "</tbody>\n</table>\n<p class=\"note after\">The server's figures are interpolated \
             within its histogram's buckets; the gap to the client's is the network and the client.</p>\n</div>\n",
        );
    }
    if !server.cache_layers.is_empty() {
        page.push_str(
            "<div>\n<h3>Cache layers</h3>\n<table class=\"compact\">\n<thead><tr><th scope=\"col\">Layer</th>\
             <th class=\"num\">Hits</th><th class=\"num\">Misses</th><th class=\"num\">Hit ratio</th>\
             </tr></thead>\n<tbody>\n",
        );
        for layer in &server.cache_layers {
            let _ = writeln!(
                page,
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td></tr>",
                xml(&layer.layer),
                units::count(layer.hits),
                units::count(layer.misses),
                layer.hit_ratio.map_or("–".to_owned(), units::rate),
            );
        }
        if let Some(ratio) = server.cache_hit_ratio {
            let _ = writeln!(
                page,
                "<tr class=\"overall\"><th scope=\"row\">any layer</th><td></td><td></td>\
                 <td class=\"num\">{}</td></tr>",
                units::rate(ratio)
            );
        }
        page.push_str("</tbody>\n</table>\n</div>\n");
    }
    page.push_str("</div>\n");
    if Chart::Server.applies_to(results) {
        figure(
            page,
            Chart::Server,
            chart(Chart::Server),
            "The cache hit ratio over each interval between scrapes (steps) and the share of the \
             DB pool's connections in use at each scrape (dots); dashed lines are the server budgets.",
        );
    }
    page.push_str("</section>\n");
}
