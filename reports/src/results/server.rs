//! What the target's own Prometheus metrics said about the run: the
//! server's side of the story, beside the client's.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The target's own view of the run, from its Prometheus metrics scraped
/// before, during (every few seconds) and after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerStats {
    /// The metrics URL scraped.
    pub url: String,
    /// Scrapes that returned metrics.
    pub scrapes: u32,
    /// Scrapes that failed (unreachable, not Prometheus text).
    pub failed_scrapes: u32,
    /// Requests the server counted between the first and last scrape
    /// (`http_requests_total`), not counting the scrapes themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// Requests the client sent over the same span.
    pub client_requests: u64,
    /// Of those, the ones a response came back for.
    pub client_responses: u64,
    /// Set when the server's count is outside `client_responses..=client_requests`.
    /// Only set when the scrapes before and after the run both worked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_mismatch: Option<String>,
    /// Why the counts were not compared: the scrape before or after the
    /// run failed, so the server's count covers part of the run (version 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_unchecked: Option<String>,
    /// Server-side latency (`http_request_duration_seconds`), interpolated
    /// within its histogram's buckets as Prometheus' `histogram_quantile` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<ServerLatency>,
    /// Hits and misses per cache layer (`cache_hits_total{layer}`, `cache_misses_total{layer}`).
    #[serde(default)]
    pub cache_layers: Vec<CacheLayerStats>,
    /// Lookups some layer answered: 1 − (misses of the layer with the
    /// fewest lookups, the last one asked) / (lookups of the layer with the
    /// most, the first one asked). Layers without lookups are left out (the
    /// bundled service exports `l3` at 0 when it runs without Redis).
    /// Budgets judge this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit_ratio: Option<f64>,
    /// Connections in use over the pool's maximum (`db_pool_connections{state="in_use"}`
    /// / `db_pool_max_connections`), over the scrapes during the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_pool: Option<PoolUtilization>,
    /// One entry per interval between scrapes.
    #[serde(default)]
    pub series: Vec<ServerSample>,
    /// The counters at the scrape before the run, when it worked (version 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<ServerReading>,
    /// The counters at the scrape after the run, when it worked (version 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<ServerReading>,
}

/// The series a scrape read, kept so that a merge of shards that scraped
/// one server can take its counters once, from the earliest scrape before
/// to the latest after, instead of adding up each shard's share of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerReading {
    /// RFC 3339, UTC, to the millisecond: when the server answered.
    pub at: String,
    /// The series used (requests, request durations, cache lookups, the
    /// DB pool), one `name{labels} value` line each, in Prometheus' text
    /// format.
    pub metrics: String,
}

/// Server-side latency percentiles in µs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerLatency {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
}

/// One cache layer over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheLayerStats {
    /// The `layer` label.
    pub layer: String,
    pub hits: u64,
    pub misses: u64,
    /// `hits / (hits + misses)`; absent without lookups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit_ratio: Option<f64>,
}

/// DB pool utilization, as fractions of the pool's maximum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolUtilization {
    /// Mean over the scrapes during the run. Budgets judge this.
    pub mean: f64,
    /// The highest scrape.
    pub max: f64,
    /// The pool's maximum size.
    pub max_connections: u64,
    /// How many scrapes `mean` is over (version 7), to weigh it by in a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readings: Option<u32>,
}

/// The server between two scrapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerSample {
    /// When the interval ended, in ms from the run's start.
    pub at_ms: u64,
    /// Server-counted requests per second over the interval.
    pub rps: f64,
    /// Mean server-side latency over the interval, in µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_us: Option<f64>,
    /// Cache hit ratio over the interval (as [`ServerStats::cache_hit_ratio`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit_ratio: Option<f64>,
    /// Pool utilization at the interval's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_pool_utilization: Option<f64>,
}
