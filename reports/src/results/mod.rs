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
//!
//! The run's own measurements are here; the judged budgets
//! (`budgets.rs`), the target's scraped metrics (`server.rs`) and reading
//! and writing the file (`file.rs`) are modules of their own, their items
//! re-exported here, so every type of the format is `results::Name`.

mod budgets;
mod file;
mod server;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::histogram::{self, Histogram};

pub use budgets::{AbortRule, BudgetMetric, BudgetVerdict, Verdict};
pub use file::{ResultsError, json_schema_text, write_file_atomic};
pub use server::{CacheLayerStats, PoolUtilization, ServerLatency, ServerSample, ServerStats};

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
    /// The window of `count` requests, `errors` of them failed, over
    /// `duration_us`, with their latencies in `histogram` and, when the
    /// latency basis is not the send, the raw service times in `service`.
    /// The rate and error rate are 0 over nothing; readers ask
    /// [`crate::metric::value`], which reads an empty window as no value.
    pub fn of(
        count: u64,
        errors: ErrorCounts,
        duration_us: u64,
        histogram: &Histogram,
        service: Option<&Histogram>,
    ) -> Self {
        let ratio = |part: f64, whole: f64| if whole > 0.0 { part / whole } else { 0.0 };
        Self {
            count,
            errors,
            duration_ms: duration_us / 1000,
            rps: ratio(count as f64, duration_us as f64 / 1e6),
            error_rate: ratio(errors.total() as f64, count as f64),
            latency: LatencySummary::of(histogram),
            histogram: histogram::encode(histogram),
            service_latency: service.map(LatencySummary::of),
            service_histogram: service.map(histogram::encode),
        }
    }

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
