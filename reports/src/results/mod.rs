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
pub use server::{
    CacheLayerStats, PoolUtilization, ServerLatency, ServerReading, ServerSample, ServerStats,
};

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
/// Version 4 accounts for every arrival: a dropped one is a failure of its
/// own kind ([`ErrorCounts::dropped`]) in the overall figures (its error
/// rate and latency, not its `count` or rate) and in each second's; the
/// arrivals over the judged stages ([`ArrivalStats::judged`]); the
/// generator's start lag apart from the wait for a free user
/// ([`ArrivalStats::start_lag`], [`ArrivalStats::waiting_for_users`],
/// [`SecondStats::start_lag_p99_us`],
/// [`SecondStats::waiting_for_users_p99_us`]) with the note when the
/// target was too slow for the users ([`ArrivalStats::target_too_slow`]);
/// the busiest thread's CPU ([`SecondStats::generator_thread_cpu`]); and a
/// fixed saturation rule ([`GeneratorStats`]).
/// Older files read as version 4 files without them; their `error_rate`
/// and `saturated_seconds` keep the meaning they were written with.
/// Version 5 says why the server's request count was not held against the
/// client's ([`ServerStats::count_unchecked`]), and changes what two
/// figures measure: a paced run ([`LatencyBasis::Corrected`]) counts each
/// iteration's first request from when it was due and fills in the
/// iterations a late start skipped (version 4 corrected each request on
/// its own latency), and a run stopped early rates its requests over the
/// time until the stop, not the drain after it ([`Window::duration_ms`]).
/// Older files read as they were written.
/// Version 6 keeps the latencies of successful requests and of failures
/// apart beside the whole ([`Window::ok`], [`Window::failed`]), says which
/// the latency budgets judged ([`RunInfo::latency_of`]; older files judged
/// [`LatencyOf::All`]), counts a request that could not be sent as a
/// failure of its own kind with no latency ([`ErrorCounts::unsent`]), and
/// keeps each second's histogram ([`SecondStats::histogram`]) for interval
/// logs and merging.
/// Version 7 makes runs mergeable (`loadgate merge`): a shard of a run
/// made by several generators says which ([`RunInfo::run_id`],
/// [`RunInfo::shard`]), a merged file which shards it holds
/// ([`RunInfo::merged`]); the phases and the arrivals' start lag and wait
/// keep their histograms ([`Phases::histograms`],
/// [`ArrivalStats::histograms`]); and the server's counters at the scrapes
/// before and after the run are kept ([`ServerStats::before`],
/// [`ServerStats::after`]), so that a merge takes them once from the
/// earliest to the latest, with the pool's readings counted
/// ([`PoolUtilization::readings`]).
pub const RESULTS_VERSION: u32 = 7;
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

/// The fate of a schedule's arrivals (k6's `dropped_iterations`, and more),
/// and how their starts went.
///
/// Every arrival the schedule called for before the run ended (or was
/// stopped) is either started or dropped: `intended = started + dropped`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalStats {
    /// Arrivals the schedule called for, up to when the run ended or was
    /// stopped.
    pub intended: u64,
    /// Arrivals a user took and ran.
    pub started: u64,
    /// Arrivals not run: no user was free to claim them within the plan's
    /// longest request timeout, or the run ended first. Each is a failure
    /// of kind `dropped` in the overall figures.
    pub dropped: u64,
    /// Arrivals started more than 10 ms after they were due, for either
    /// reason below (a generator behind, or every user busy); their latency
    /// still counts from when they were due.
    pub late: u64,
    /// The histograms of `start_lag` and `waiting_for_users` (version 7),
    /// for merging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histograms: Option<ArrivalHistograms>,
    /// The same counts over the judged stages, by each arrival's due time;
    /// absent when budgets judge the whole run. `max_dropped_rate` judges
    /// these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged: Option<ArrivalCounts>,
    /// The generator's own lateness: from when an arrival was due (or
    /// claimed, if a user claimed it only after it was due) to its first
    /// send. Above 1 ms at p99 in a judged second, the generator is
    /// saturated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_lag: Option<LatencySummary>,
    /// The target's slowness for `max_users`: how long arrivals waited for
    /// a free user, from when they were due to the claim (0 for one claimed
    /// before it was due; a dropped one, until it was given up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_users: Option<LatencySummary>,
    /// Set when arrivals waited for a free user in a judged second (a p99
    /// above [`ArrivalStats::WAITING_P99_LIMIT_US`], or any dropped): the
    /// target was too slow for `max_users` at this rate. Why, for the
    /// report's note; not a generator problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_too_slow: Option<String>,
}

impl ArrivalStats {
    /// A judged second whose arrivals waited longer than this for a free
    /// user at p99 says the target is too slow for `max_users`.
    pub const WAITING_P99_LIMIT_US: u64 = 1_000;

    /// The whole run's counts.
    pub fn counts(&self) -> ArrivalCounts {
        ArrivalCounts {
            intended: self.intended,
            started: self.started,
            dropped: self.dropped,
            late: self.late,
        }
    }

    /// The counts budgets judge: the judged stages' when set, else the
    /// whole run's.
    pub fn judged_counts(&self) -> ArrivalCounts {
        self.judged.unwrap_or_else(|| self.counts())
    }

    /// Dropped arrivals over intended ones, whole run (0 when none were
    /// intended).
    pub fn dropped_rate(&self) -> f64 {
        self.counts().dropped_rate()
    }
}

/// [`ArrivalStats::start_lag`] and [`ArrivalStats::waiting_for_users`] as
/// HdrHistograms in µs, V2 + deflate, base64; each absent when its summary is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalHistograms {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_lag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_users: Option<String>,
}

/// Arrivals of a stretch of the schedule, by due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalCounts {
    pub intended: u64,
    pub started: u64,
    pub dropped: u64,
    pub late: u64,
}

impl ArrivalCounts {
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
    /// Whose latencies the latency budgets judged (the scenario's
    /// `budgets.latency_of`); files before version 6 judged all.
    #[serde(default)]
    pub latency_of: LatencyOf,
    /// The run's id (`--run-id`), shared by every shard of a run made by
    /// several generators (version 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Which share of the run this file is (`--shard i/N`, version 7);
    /// absent for a whole run and for a merged one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// The shards a merged file was made from (`loadgate merge`, version 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergedFrom>,
}

/// Shard `index` of `count` (`index` in `0..count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShardInfo {
    pub index: u32,
    pub count: u32,
}

/// What a merged file was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergedFrom {
    /// The shards the run was cut into.
    pub count: u32,
    /// The shards merged, by index; fewer than `count` only with
    /// `--allow-partial`.
    pub shards: Vec<MergedShard>,
}

/// One shard of a merged file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergedShard {
    pub index: u32,
    /// The results file, as given to `merge`.
    pub file: String,
    /// RFC 3339, UTC: when the shard's run started.
    pub started_at: String,
    pub status: RunStatus,
    /// How many whole seconds after the earliest shard its series starts.
    pub offset_s: u32,
}

/// Whose latencies the latency budgets (and abort watches) judge. Error
/// rates and rates always count every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LatencyOf {
    /// Every request, failed or not, and every dropped arrival, as k6's
    /// thresholds on `http_req_duration` and Gatling's assertions judge.
    #[default]
    All,
    /// Successful requests alone, as k6's
    /// `http_req_duration{expected_response:true}`: fast failures (a load
    /// shedder's 503s, refused connections) cannot pull a percentile down.
    Ok,
}

impl LatencyOf {
    /// The name a scenario and the reports use: `all`, `ok`.
    pub fn name(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Ok => "ok",
        }
    }
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
    /// A paced closed model: each iteration's first request counts from
    /// when the iteration was due, and each whole pace it started late is
    /// an iteration the user skipped, filled in a pace less late each:
    /// floor(lateness / pace) fill-ins, so the last may be under a pace
    /// (HdrHistogram's `record_correct` is driven by the latency instead,
    /// and stops at the pace). The raw (uncorrected) figures, from each
    /// send, are the `service_*` ones.
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
///
/// Saturated, since version 4, means that in some judged second the
/// generator's start lag had a p99 above
/// [`GeneratorStats::SATURATED_START_LAG_P99_US`] or one of its threads used
/// more than [`GeneratorStats::SATURATED_THREAD_CPU`] of a core
/// ([`SecondStats::generator_saturated`]). Both limits are fixed: a share of
/// all cores would hide one hot thread on a machine with many (one of 16
/// cores is 6%). Arrivals waiting for a free user are the target's
/// slowness, not saturation ([`ArrivalStats::target_too_slow`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneratorStats {
    /// Mean CPU use of the loadgate process over the run, as a fraction of
    /// all its cores (with an in-process target, the target's share too).
    pub cpu_mean: f64,
    /// The busiest second's CPU use, same unit.
    pub cpu_max: f64,
    /// The busiest thread of the process in its busiest judged second, as
    /// a fraction of one core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_cpu_max: Option<f64>,
    /// The highest start-lag p99 of a judged second, µs (open model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_lag_p99_max_us: Option<u64>,
    /// Judged seconds in which the generator was saturated. (Before
    /// version 4: seconds above 85% of all cores.)
    pub saturated_seconds: u32,
    /// Set when the generator was saturated: why, for the report's warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl GeneratorStats {
    /// A judged second whose start lag has a p99 above this (µs) is saturated.
    pub const SATURATED_START_LAG_P99_US: u64 = 1_000;
    /// A judged second in which a thread used more than this fraction of a
    /// core is saturated.
    pub const SATURATED_THREAD_CPU: f64 = 0.90;
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
    /// The three as HdrHistograms (version 7), for merging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histograms: Option<PhaseHistograms>,
}

/// [`Phases`] as HdrHistograms in µs, V2 + deflate, base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseHistograms {
    pub connect: String,
    pub ttfb: String,
    pub transfer: String,
}

impl EndpointStats {
    /// The window budgets judge: `judged` when set, else `all`.
    pub fn judged_window(&self) -> &Window {
        self.judged.as_ref().unwrap_or(&self.all)
    }
}

/// Counts, rates and latency over a stretch of the run.
///
/// On an arrival schedule, the overall window also holds the arrivals
/// dropped before any request was sent (`errors.dropped`): they are
/// failures, in `error_rate` and `latency`, but no requests, so not in
/// `count` or `rps`. A generator that could not send cannot meet a
/// throughput floor with requests it never sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Requests sent (every sample, failed or not); dropped arrivals are
    /// not in it.
    pub count: u64,
    pub errors: ErrorCounts,
    /// How long the window lasted.
    pub duration_ms: u64,
    /// `count` per second of `duration_ms`.
    pub rps: f64,
    /// Failures (failed requests and dropped arrivals) over everything
    /// attempted ([`Window::attempts`]); 0 when there was nothing. Before
    /// version 4, failed requests over `count`.
    pub error_rate: f64,
    /// Latency from each request's start: from when it was due, for a
    /// run on an arrival schedule (coordinated-omission free, as wrk2
    /// measures); from when it was sent otherwise. A dropped arrival counts
    /// from when it was due to when it was given up. Budgets judge this.
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
    /// The successful requests' share of `latency` (version 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<LatencyPart>,
    /// The failures' share of `latency` (version 6): failed requests, and
    /// dropped arrivals. A request that could not be sent has no latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<LatencyPart>,
}

/// The latencies of some of a window's samples, on the window's basis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyPart {
    /// Samples in `histogram` (a pace's fill-ins aside).
    pub count: u64,
    pub latency: LatencySummary,
    /// HdrHistogram of `latency` in µs, V2 + deflate, base64.
    pub histogram: String,
}

impl LatencyPart {
    pub fn of(count: u64, histogram: &Histogram) -> Self {
        Self {
            count,
            latency: LatencySummary::of(histogram),
            histogram: histogram::encode(histogram),
        }
    }
}

/// A window's latencies, apart by outcome: what [`Window::of`] takes.
#[derive(Debug, Clone, Copy)]
pub struct Latencies<'a> {
    /// Successful requests.
    pub ok: &'a Histogram,
    /// Failed requests and dropped arrivals.
    pub failed: &'a Histogram,
    /// The raw service times, when the latency basis is not the send.
    pub service: Option<&'a Histogram>,
}

impl Window {
    /// The window of `count` requests sent, and of the attempts that sent
    /// none (`errors.dropped`, `errors.unsent`), `errors` of them failures,
    /// over `duration_us`, with their latencies. The rate and error rate
    /// are 0 over nothing; readers ask [`crate::metric::value`], which
    /// reads an empty window as no value.
    pub fn of(count: u64, errors: ErrorCounts, duration_us: u64, latencies: Latencies<'_>) -> Self {
        let ratio = |part: f64, whole: f64| if whole > 0.0 { part / whole } else { 0.0 };
        let mut all = latencies.ok.clone();
        all.add(latencies.failed)
            .expect("the recorder's histograms share one range");
        let failed = errors.requests_failed() + errors.dropped;
        let ok = count.saturating_sub(errors.requests_failed());
        Self {
            count,
            errors,
            duration_ms: duration_us / 1000,
            rps: ratio(count as f64, duration_us as f64 / 1e6),
            error_rate: ratio(errors.total() as f64, errors.attempts_beyond(count) as f64),
            latency: LatencySummary::of(&all),
            histogram: histogram::encode(&all),
            service_latency: latencies.service.map(LatencySummary::of),
            service_histogram: latencies.service.map(histogram::encode),
            ok: Some(LatencyPart::of(ok, latencies.ok)),
            failed: Some(LatencyPart::of(failed, latencies.failed)),
        }
    }

    /// Requests sent plus the attempts that sent none (dropped arrivals,
    /// requests that could not be sent): what the error rate is a share of.
    pub fn attempts(&self) -> u64 {
        self.errors.attempts_beyond(self.count)
    }

    /// The latencies `of` judges, and how many samples they are of (a
    /// pace's fill-ins aside); `None` for [`LatencyOf::Ok`] in a file
    /// from before version 6, which kept no such part.
    pub fn latency_of(&self, of: LatencyOf) -> Option<(&LatencySummary, u64)> {
        match (of, &self.ok, &self.failed) {
            (LatencyOf::All, Some(ok), Some(failed)) => {
                Some((&self.latency, ok.count + failed.count))
            }
            (LatencyOf::All, _, _) => Some((&self.latency, self.count + self.errors.dropped)),
            (LatencyOf::Ok, ok, _) => ok.as_ref().map(|ok| (&ok.latency, ok.count)),
        }
    }

    /// Decodes [`Window::histogram`].
    pub fn decode_histogram(&self) -> Result<Histogram, histogram::CodecError> {
        histogram::decode(&self.histogram)
    }
}

/// Failures by kind. A request fails once, under its first failure; an
/// arrival dropped before it sent anything is a failure of its own kind.
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
    /// Arrivals of an open model that never became a request: no user was
    /// free to claim them within the longest request timeout, or the run
    /// ended first. Counted in the overall figures only (no request name
    /// had been drawn) and not in `count`.
    #[serde(default)]
    pub dropped: u64,
    /// Requests that could not be sent (version 6): a header value that
    /// is not valid, a placeholder with no value (a capture that found
    /// nothing). Failures with no latency, and not in `count`. Before
    /// version 6 the first were `other` with a 1 µs latency, and the
    /// second were not counted.
    #[serde(default)]
    pub unsent: u64,
}

impl ErrorCounts {
    /// Every failure, dropped arrivals and requests never sent included.
    pub fn total(&self) -> u64 {
        self.requests_failed() + self.dropped + self.unsent
    }

    /// `sent` requests and the attempts that sent none: everything a
    /// failure is a share of.
    pub fn attempts_beyond(&self, sent: u64) -> u64 {
        sent.saturating_add(self.dropped)
            .saturating_add(self.unsent)
    }

    /// Failed requests: the failures that were sent.
    pub fn requests_failed(&self) -> u64 {
        self.connect + self.timeout + self.status + self.check + self.other
    }

    pub fn add(&mut self, other: &ErrorCounts) {
        self.connect += other.connect;
        self.timeout += other.timeout;
        self.status += other.status;
        self.check += other.check;
        self.other += other.other;
        self.dropped += other.dropped;
        self.unsent += other.unsent;
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

/// One second of the run, over every request that started in it (on a
/// schedule, that was due in it) and every arrival dropped that was due in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondStats {
    /// Seconds since the run's start.
    pub second: u32,
    /// Requests sent; the second's dropped arrivals are `errors.dropped`.
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
    /// The busiest thread of the generator's process in this second, as a
    /// fraction of one core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_thread_cpu: Option<f64>,
    /// p99 of the start lag ([`ArrivalStats::start_lag`]) of the arrivals
    /// started that were due in this second, µs (open model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_lag_p99_us: Option<u64>,
    /// p99 of how long the arrivals due in this second waited for a free
    /// user ([`ArrivalStats::waiting_for_users`]), µs (open model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for_users_p99_us: Option<u64>,
    /// HdrHistogram of the second's latencies (the basis of `p50_us` to
    /// `max_us`) in µs, V2 + deflate, base64 (version 6): what the interval
    /// log is written from, and what merging runs adds up. Samples that
    /// arrived after the second had closed are in its counts, not here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
}

impl SecondStats {
    /// Whether the generator was saturated in this second, by the fixed
    /// rule of [`GeneratorStats`]: a start-lag p99 above 1 ms, or a thread
    /// above 90% of a core.
    pub fn generator_saturated(&self) -> bool {
        self.start_lag_p99_us
            .is_some_and(|us| us > GeneratorStats::SATURATED_START_LAG_P99_US)
            || self
                .generator_thread_cpu
                .is_some_and(|cpu| cpu > GeneratorStats::SATURATED_THREAD_CPU)
    }

    /// Whether this second's arrivals waited for a free user: a p99 wait
    /// above [`ArrivalStats::WAITING_P99_LIMIT_US`], or any dropped.
    pub fn waited_for_users(&self) -> bool {
        self.errors.dropped > 0
            || self
                .waiting_for_users_p99_us
                .is_some_and(|us| us > ArrivalStats::WAITING_P99_LIMIT_US)
    }
}
