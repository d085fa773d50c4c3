//! The name of every file in an output directory, in one place.
//!
//! `loadgate run` writes the directory, `loadgate report` rewrites it, CI
//! steps and people look files up in it by name: a name spelled twice is
//! a name that will one day be spelled two ways.

/// The results, the seam every report is rendered from
/// ([`Results::write_atomic`](crate::results::Results::write_atomic)).
pub const RESULTS: &str = "results.json";
/// The run's histograms as an HdrHistogram interval log ([`hlog`](crate::hlog)).
pub const HLOG: &str = "histograms.hlog";
/// The self-contained HTML report ([`render_html`](crate::render_html)).
pub const HTML: &str = "report.html";
/// One testcase per budget, for CI ([`junit`](crate::junit)).
pub const JUNIT: &str = "junit.xml";
/// The Markdown summary for CI step summaries ([`markdown`](crate::markdown)).
pub const SUMMARY: &str = "summary.md";

/// The latency chart as a PNG.
pub const LATENCY_PNG: &str = "latency.png";
/// The throughput chart as a PNG.
pub const THROUGHPUT_PNG: &str = "throughput.png";
/// The users chart as a PNG.
pub const USERS_PNG: &str = "users.png";
/// The generator's CPU chart as a PNG.
pub const GENERATOR_PNG: &str = "generator.png";
/// The percentile spectrum as a PNG.
pub const PERCENTILES_PNG: &str = "percentiles.png";
/// The server's cache and DB pool chart as a PNG.
pub const SERVER_PNG: &str = "server.png";
