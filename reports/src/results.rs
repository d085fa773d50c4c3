//! The results format: what one load run measured, as `results.json`.
//!
//! This file is the seam between running and reporting: `loadgate run`
//! fills it in; `loadgate report` and `compare` read it back offline. It is
//! versioned ([`RESULTS_VERSION`]) and has a JSON Schema generated from these
//! types (`reports/results.schema.json`, kept in step by a test).
//!
//! Units are in the field names: `_us` is microseconds, `_ms`
//! milliseconds. Histograms are HdrHistograms of latency in microseconds,
//! serialized as V2 + deflate and base64 encoded (the format HdrHistogram's
//! own tools read), so any percentile can be recomputed later, not only the
//! ones summarised here.

use std::{collections::BTreeMap, fs, io::Write, path::Path};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::histogram::{self, Histogram};

/// The version of the results format these types write.
///
/// Version 2 added what an arrival schedule (the open model) measures:
/// [`Results::arrivals`], service times beside latencies
/// ([`Window::service_latency`], [`SecondStats::service_p99_us`]).
/// Version 3 added the latency basis ([`RunInfo::latency_basis`]), the
/// target's own metrics ([`Results::server`]), the generator's CPU
/// ([`Results::generator`], [`SecondStats::generator_cpu`]), where each
/// request's time went ([`EndpointStats::phases`]), aborts
/// ([`RunStatus::Aborted`], [`BudgetVerdict::abort`]) and the server budgets.
/// Older files read as version 3 files without them.
pub const RESULTS_VERSION: u32 = 3;
/// The oldest results format version still read.
pub const OLDEST_RESULTS_VERSION: u32 = 1;
/// The `format` tag of every results file.
pub const RESULTS_FORMAT: &str = "loadgate-results";

/// One run, as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Results {
    /// Always `loadgate-results`.
    pub format: String,
    /// The results format version.
    pub version: u32,
    pub tool: Tool,
    pub run: RunInfo,
    pub scenario: ScenarioRun,
    pub environment: Environment,
    /// Every request of the run together.
    pub overall: EndpointStats,
    /// One entry per request name, in the order the scenario names them.
    pub requests: Vec<EndpointStats>,
    /// One entry per second of the run, by the second each request started in.
    pub series: Vec<SecondStats>,
    /// What happened to the arrivals of a run on a schedule (open model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<ArrivalStats>,
    /// What the target's own Prometheus metrics said, when they were scraped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerStats>,
    /// How busy the load generator itself was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<GeneratorStats>,
    /// Every budget of the scenario, judged.
    pub budgets: Vec<BudgetVerdict>,
    pub verdict: Verdict,
}

/// The fate of a schedule's arrivals (k6's `dropped_iterations`, and more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalStats {
    /// Arrivals the schedule called for, up to when the run ended.
    pub intended: u64,
    /// Arrivals a user took and ran.
    pub started: u64,
    /// Arrivals that found every user busy and were not run: the target
    /// (or the generator) could not keep up with the rate.
    pub dropped: u64,
    /// Started arrivals that were handed to a user more than 10 ms after
    /// they were due (the generator was behind); their latency still
    /// counts from when they were due.
    pub late: u64,
}

impl ArrivalStats {
    /// Dropped arrivals over intended ones (0 when none were intended).
    pub fn dropped_rate(&self) -> f64 {
        if self.intended == 0 {
            0.0
        } else {
            self.dropped as f64 / self.intended as f64
        }
    }
}

/// What produced the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// When the run happened and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Wall time from the first user's start to the last user's stop.
    pub duration_ms: u64,
    pub status: RunStatus,
    /// Why the run stopped early, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// What the latencies budgets judge count from.
    #[serde(default)]
    pub latency_basis: LatencyBasis,
}

/// What a latency counts from, and so what budgets judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LatencyBasis {
    /// From when each request was sent: a closed model without a pace has
    /// no schedule to fall behind, so nothing to correct.
    #[default]
    Sent,
    /// From when each arrival was due (open model), as wrk2 measures:
    /// time spent waiting for a free user counts.
    IntendedStart,
    /// A paced closed model: HdrHistogram's `record_correct` with the pace
    /// as the expected interval adds the samples a stalled user could not
    /// send. The raw (uncorrected) figures are the `service_*` ones.
    Corrected {
        /// The pace, in µs.
        expected_interval_us: u64,
    },
}

impl LatencyBasis {
    /// Whether the run has a raw histogram beside the judged one.
    pub fn has_raw(self) -> bool {
        !matches!(self, Self::Sent)
    }
}

/// The load generator watching itself: when it is saturated, its latency
/// figures measure the generator too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneratorStats {
    /// Mean CPU use of the loadgate process over the run, as a fraction of
    /// all its cores (with an in-process target, the target's share too).
    pub cpu_mean: f64,
    /// The busiest second's CPU use, same unit.
    pub cpu_max: f64,
    /// Seconds above [`GeneratorStats::SATURATED_CPU`].
    pub saturated_seconds: u32,
    /// Set when the generator was saturated: why, for the report's warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl GeneratorStats {
    /// CPU use, as a fraction of all cores, above which a second counts as
    /// saturated.
    pub const SATURATED_CPU: f64 = 0.85;
}

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_mismatch: Option<String>,
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

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every stage ran to its end.
    Completed,
    /// Stopped by SIGINT or SIGTERM; what was measured until then is here.
    Interrupted,
    /// Stopped early because the target could not be reached.
    Unreachable,
    /// Stopped early because a budget with `abort` was breached for its
    /// whole `after`.
    Aborted,
}

/// The scenario as it was run, after command-line overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRun {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The scenario file, as given on the command line.
    pub file: String,
    /// The scenario file's text, as read.
    pub source: String,
    pub overrides: Overrides,
    /// The stages as run, after overrides.
    pub stages: Vec<StageRun>,
    /// The stages whose samples budgets judge (the scenario's
    /// `budgets.during`); empty means the whole run.
    pub judged_stages: Vec<String>,
}

/// Command-line changes to the scenario's shape.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u32>,
}

/// One stage of the load shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageRun {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Offset of the stage's start from the run's start.
    pub start_ms: u64,
    pub end_ms: u64,
    /// Users at the start of the stage; they move linearly to `to_users`.
    pub from_users: u32,
    pub to_users: u32,
}

/// Where the run happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The base URL loaded.
    pub target: String,
    /// Whether the target was the bundled service started in-process.
    pub in_process_target: bool,
    /// CPUs the load generator's machine has.
    pub cpu_count: u32,
    /// `std::env::consts::OS` and `ARCH`.
    pub os: String,
}

/// What one request name (or the whole run) measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointStats {
    /// The request name, or `overall`.
    pub name: String,
    /// Every sample of the run.
    pub all: Window,
    /// Only samples that started in the judged stages; absent when budgets
    /// judge the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged: Option<Window>,
    /// Responses by HTTP status code.
    pub status_codes: BTreeMap<u16, u64>,
    /// Where the time of every sample went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<Phases>,
}

/// The parts of an exchange, over every sample of a request name: opening
/// a connection (only the samples that opened one), the wait for the first
/// byte of the response (from the send, so including any connect), and
/// reading the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phases {
    /// Samples that opened a new connection.
    pub connects: u64,
    /// Time to open a connection (TCP, and TLS for https), over `connects`.
    pub connect: LatencySummary,
    /// From the send to the response's headers.
    pub ttfb: LatencySummary,
    /// From the headers to the body's last byte.
    pub transfer: LatencySummary,
}

impl EndpointStats {
    /// The window budgets judge: `judged` when set, else `all`.
    pub fn judged_window(&self) -> &Window {
        self.judged.as_ref().unwrap_or(&self.all)
    }
}

/// Counts, rates and latency over a stretch of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Requests sent (every sample, failed or not).
    pub count: u64,
    pub errors: ErrorCounts,
    /// How long the window lasted.
    pub duration_ms: u64,
    /// `count` per second of `duration_ms`.
    pub rps: f64,
    /// Failed requests over `count` (0 when there were none).
    pub error_rate: f64,
    /// Latency from each request's start: from when it was due, for a
    /// run on an arrival schedule (coordinated-omission free, as wrk2
    /// measures); from when it was sent otherwise. Budgets judge this.
    pub latency: LatencySummary,
    /// HdrHistogram of `latency` in µs, V2 + deflate, base64.
    pub histogram: String,
    /// Service time (from the send to the last byte), for a run on an
    /// arrival schedule; without one it equals `latency` and is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_latency: Option<LatencySummary>,
    /// HdrHistogram of `service_latency` in µs, V2 + deflate, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_histogram: Option<String>,
}

impl Window {
    /// Decodes [`Window::histogram`].
    pub fn decode_histogram(&self) -> Result<Histogram, histogram::CodecError> {
        histogram::decode(&self.histogram)
    }
}

/// Failed requests by kind. A request fails once, under its first failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorCounts {
    /// Could not connect.
    pub connect: u64,
    /// No complete response within the request's timeout.
    pub timeout: u64,
    /// A status the checks did not expect.
    pub status: u64,
    /// A response check other than the status failed.
    pub check: u64,
    /// Anything else (a broken connection, a template that could not render).
    pub other: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.status + self.check + self.other
    }

    pub fn add(&mut self, other: &ErrorCounts) {
        self.connect += other.connect;
        self.timeout += other.timeout;
        self.status += other.status;
        self.check += other.check;
        self.other += other.other;
    }
}

/// Latency percentiles in µs; all 0 when there were no samples.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencySummary {
    pub min_us: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl LatencySummary {
    pub fn of(histogram: &Histogram) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            min_us: histogram.min(),
            mean_us: histogram.mean(),
            p50_us: histogram.value_at_quantile(0.50),
            p90_us: histogram.value_at_quantile(0.90),
            p95_us: histogram.value_at_quantile(0.95),
            p99_us: histogram.value_at_quantile(0.99),
            p999_us: histogram.value_at_quantile(0.999),
            max_us: histogram.max(),
        }
    }
}

/// One second of the run, over every request that started in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondStats {
    /// Seconds since the run's start.
    pub second: u32,
    pub count: u64,
    pub errors: ErrorCounts,
    /// Responses by status class: `2xx`, `3xx`, `4xx`, `5xx`.
    pub status_classes: BTreeMap<String, u64>,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// p99 of the service time, for a run on an arrival schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_p99_us: Option<u64>,
    /// Users running at the end of the second.
    pub users: u32,
    /// The generator's CPU use in this second, as a fraction of all cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_cpu: Option<f64>,
}

/// A budget, what was measured against it, and whether it held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetVerdict {
    /// `overall` or a request name.
    pub scope: String,
    pub metric: BudgetMetric,
    /// The limit, in the metric's unit (µs for latency, a fraction for the
    /// error rate, requests per second for throughput).
    pub limit: f64,
    /// What was measured; absent when nothing was (no samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    pub passed: bool,
    /// The budget's abort rule, and whether it stopped the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<AbortRule>,
}

/// Stop the run when a budget's value over the last `window_ms` breaches
/// it continuously for `after_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortRule {
    pub window_ms: u64,
    pub after_ms: u64,
    /// When this rule stopped the run, in ms from its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_at_ms: Option<u64>,
}

/// What a budget limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetMetric {
    P50,
    P95,
    P99,
    /// At most this fraction of requests may fail.
    MaxErrorRate,
    /// At least this many requests per second.
    MinRps,
    /// At most this fraction of a schedule's arrivals may be dropped (open
    /// model, whole run).
    MaxDroppedRate,
    /// At least this share of cache lookups answered by some layer (scope `server`).
    MinCacheHitRatio,
    /// At most this mean DB pool utilization (scope `server`).
    MaxDbPoolUtilization,
}

impl BudgetMetric {
    /// Whether the limit is a floor (`≥`) rather than a ceiling (`≤`).
    pub fn is_floor(self) -> bool {
        match self {
            Self::MinRps | Self::MinCacheHitRatio => true,
            Self::P50
            | Self::P95
            | Self::P99
            | Self::MaxErrorRate
            | Self::MaxDroppedRate
            | Self::MaxDbPoolUtilization => false,
        }
    }

    /// Whether `measured` keeps within `limit`.
    pub fn holds(self, measured: f64, limit: f64) -> bool {
        if self.is_floor() {
            measured >= limit
        } else {
            measured <= limit
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::P50 => "p50",
            Self::P95 => "p95",
            Self::P99 => "p99",
            Self::MaxErrorRate => "error rate",
            Self::MinRps => "rps",
            Self::MaxDroppedRate => "dropped",
            Self::MinCacheHitRatio => "cache hit ratio",
            Self::MaxDbPoolUtilization => "db pool utilization",
        }
    }
}

/// The run's overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// Every budget held and none aborted the run (true when there are none).
    pub passed: bool,
    pub failed_budgets: u32,
}

impl Verdict {
    /// A budget that aborted the run fails it, even if its value over the
    /// whole (shortened) run keeps within the limit.
    pub fn of(budgets: &[BudgetVerdict]) -> Self {
        let failed = budgets
            .iter()
            .filter(|b| !b.passed || b.aborted_run())
            .count();
        Self {
            passed: failed == 0,
            failed_budgets: u32::try_from(failed).unwrap_or(u32::MAX),
        }
    }
}

impl BudgetVerdict {
    /// Whether this budget's abort rule stopped the run.
    pub fn aborted_run(&self) -> bool {
        self.abort.is_some_and(|a| a.triggered_at_ms.is_some())
    }
}

/// Reading or writing a results file.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a loadgate results file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error(
        "{path}: results format version {found} is not supported (this loadgate reads versions {OLDEST_RESULTS_VERSION} to {RESULTS_VERSION})"
    )]
    Version { path: String, found: u32 },
}

impl Results {
    /// Reads and checks a results file.
    pub fn read(path: &Path) -> Result<Self, ResultsError> {
        let shown = path.display().to_string();
        let text = fs::read_to_string(path).map_err(|source| ResultsError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&shown, &text)
    }

    /// Parses results text; `source_name` names it in errors.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, ResultsError> {
        #[derive(Deserialize)]
        struct Header {
            format: String,
            version: u32,
        }
        let parse_error = |source| ResultsError::Parse {
            path: source_name.to_owned(),
            source,
        };
        let supported = |format: &str, version| {
            format == RESULTS_FORMAT
                && (OLDEST_RESULTS_VERSION..=RESULTS_VERSION).contains(&version)
        };
        // One pass for a good file; the header alone is read again only to
        // tell a file of another version from a broken one.
        if let Ok(results) = serde_json::from_str::<Self>(text)
            && supported(&results.format, results.version)
        {
            return Ok(results);
        }
        let header: Header = serde_json::from_str(text).map_err(parse_error)?;
        if !supported(&header.format, header.version) {
            return Err(ResultsError::Version {
                path: source_name.to_owned(),
                found: header.version,
            });
        }
        serde_json::from_str(text).map_err(parse_error)
    }

    /// Writes the file atomically: to a temporary file beside it, then
    /// renamed over it, so a reader never sees half a file and a crash never
    /// leaves one.
    pub fn write_atomic(&self, path: &Path) -> Result<(), ResultsError> {
        let json = serde_json::to_vec_pretty(self).expect("results serialize");
        write_file_atomic(path, &json)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let io = |source| ResultsError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    // A temporary file is private (0600); results are for whoever can read
    // the directory.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// The JSON Schema of [`Results`], as committed in `results.schema.json`.
pub fn json_schema_text() -> String {
    let schema = schemars::schema_for!(Results);
    let mut text = serde_json::to_string_pretty(&schema).expect("schema serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schema_matches_the_types() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results.schema.json");
        let generated = json_schema_text();
        if std::env::var_os("LOADGATE_BLESS").is_some() {
            fs::write(&path, &generated).unwrap();
        }
        let committed = fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "reports/results.schema.json is stale; regenerate it with\n  \
             LOADGATE_BLESS=1 cargo test -p reports --lib committed_schema_matches_the_types"
        );
    }

    #[test]
    fn budgets_hold_in_the_right_direction() {
        assert!(BudgetMetric::P95.holds(100.0, 100.0));
        assert!(!BudgetMetric::P95.holds(101.0, 100.0));
        assert!(BudgetMetric::MinRps.holds(100.0, 100.0));
        assert!(!BudgetMetric::MinRps.holds(99.0, 100.0));
        assert!(!BudgetMetric::MaxErrorRate.holds(0.02, 0.01));
    }

    #[test]
    fn other_versions_and_formats_are_refused() {
        let err = Results::parse("r.json", r#"{"format": "loadgate-results", "version": 99}"#)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "r.json: results format version 99 is not supported (this loadgate reads versions 1 to 3)"
        );
        assert!(matches!(
            Results::parse("r.json", "[1, 2]"),
            Err(ResultsError::Parse { .. })
        ));
    }

    #[test]
    fn atomic_writes_replace_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::files::RESULTS);
        write_file_atomic(&path, b"first, longer content").unwrap();
        write_file_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
