//! The `loadgate` command line: its arguments, and its one table of exit
//! codes, shared by every command.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use reports::compare::{CompareRules, Metric, parse_allowance};
use scenario::duration::whole_micros;

/// Exit codes of every loadgate command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every budget passed (or, for commands without budgets, the work was done).
    Success,
    /// A budget failed, or a regression was found.
    BudgetFailed,
    /// Bad input: the scenario, a results file, or the command line.
    BadInput,
    /// The run could not be performed, or stopped early, because the target
    /// was unreachable (results and report are still written).
    Unreachable,
    /// Interrupted by SIGINT; what was measured is written.
    Interrupted,
    /// Terminated by SIGTERM; what was measured is written.
    Terminated,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Self::Success => 0,
            Self::BudgetFailed => 1,
            Self::BadInput => 2,
            Self::Unreachable => 3,
            Self::Interrupted => 130,
            Self::Terminated => 143,
        }
    }
}

const EXIT_CODES: &str = "\
Exit codes (every command):
  0    success: every budget passed (or the work was done)
  1    a budget failed or aborted the run, or a regression was found
  2    bad input: the scenario, a results file, or the command line
  3    the target was unreachable (results and report are still written)
  130  interrupted by SIGINT (what was measured is written)
  143  terminated by SIGTERM (what was measured is written)";

/// loadgate: run YAML load scenarios against an HTTP target, record every
/// request in HDR histograms (µs), and judge the run against its latency,
/// error and throughput budgets.
#[derive(Debug, Parser)]
#[command(name = "loadgate", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The worker threads of the runtime everything runs on: `run
    /// --threads`, else one per core the process may run on (tokio's
    /// default, which honours the CPU affinity `taskset` sets).
    pub fn worker_threads(&self) -> Option<usize> {
        match &self.command {
            Command::Run(run) => run.threads.map(std::num::NonZeroUsize::get),
            _ => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and judge it against its budgets.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Check scenario files without running them.
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate(ValidateArgs),
    /// Render the reports of a saved run (HTML, PNG charts, JUnit,
    /// Markdown, interval log) from its results.json.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Compare a run with a baseline, per endpoint and overall; exit 1 on a
    /// regression beyond the noise rule.
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare(CompareArgs),
    /// Merge the shards of one run (`run --shard i/N`) into one run's
    /// results: histograms added exactly, budgets judged once on the whole.
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
    /// Serve the bundled reference target (the same flags as `target-service`).
    Serve(ServeArgs),
}

const MERGE_EXAMPLES: &str = "\
Examples:
  loadgate merge shared/peak-42/shard-*/results.json --out runs/peak-42
  loadgate merge shared/peak-42
      every shared/peak-42/shard-*/results.json, merged into shared/peak-42/merged
  loadgate merge a/results.json b/results.json --allow-partial
      merge the shards there are, when a pod failed

Every file must be a shard of the same run: the same scenario and run id,
this results version, each shard once, all of them (unless --allow-partial).
Latencies are merged from the shards' HDR histograms, never from their
percentiles; the server's metrics are taken once; the budgets are judged
on the whole, and the exit code is the one a run of the whole would have.

Exit codes: 0 pass, 1 budget failed or a shard aborted, 2 bad input (files
that are not one run's shards), 3 a shard found the target unreachable.";

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' results.json files; a directory stands for its
    /// shard-*/results.json (as an Indexed Job's pods write them).
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<PathBuf>,

    /// Where to write the merged results.json and its reports
    /// [default: merged/ beside the first file's folder, or in the
    /// directory given].
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Merge even when some shards are missing (a pod that failed); the
    /// merge then holds only part of the run's load, and says so.
    #[arg(long)]
    pub allow_partial: bool,

    /// How long each untagged interval of histograms.hlog covers: whole
    /// seconds (e.g. 1s, 10s, 1m), from the per-second series.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub hlog_interval: reports::hlog::Interval,
}

const REPORT_EXAMPLES: &str = "\
Examples:
  loadgate report runs/smoke-2026-11-24T103546Z/results.json
  loadgate report results.json --out /tmp/review
  loadgate report runs/pr/results.json --baseline runs/main/results.json
  loadgate report results.json --hlog-interval 10s
      histograms.hlog with one interval per 10 s, for HdrHistogram's log tools";

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results.json written by `loadgate run`.
    pub results: PathBuf,

    /// Where to write the reports [default: beside the results file].
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Include the comparison with this baseline (exit 1 on a regression,
    /// as `loadgate compare`).
    #[arg(long, value_name = "RESULTS")]
    pub baseline: Option<PathBuf>,

    /// How long each untagged interval of histograms.hlog covers: whole
    /// seconds (e.g. 1s, 10s, 1m), from the per-second series.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub hlog_interval: reports::hlog::Interval,

    #[command(flatten)]
    pub compare: CompareRulesArgs,
}

const COMPARE_EXAMPLES: &str = "\
Examples:
  loadgate compare baseline/results.json runs/smoke-2026-11-25T101500Z/results.json
  loadgate compare k6-summary.json results.json --metric p95,error_rate --format markdown

The baseline may be a loadgate results file, k6's --summary-export JSON or
goose's JSON report (the last two: overall figures only).

Noise rule: a change is a regression only when it is for the worse by more
than --max-regression (relative to the baseline) AND by more than the
metric's floor (--latency-floor; 10 rps; 0.5 percentage points of errors),
and both runs have at least --min-samples samples for that endpoint.
Improvements never fail.

Exit codes: 0 no regression, 1 a regression, 2 bad input.";

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: loadgate results.json, k6 --summary-export, or goose --report-file JSON.
    pub baseline: PathBuf,
    /// The run to judge: a loadgate results.json.
    pub current: PathBuf,
    #[command(flatten)]
    pub rules: CompareRulesArgs,
    /// How to print the comparison.
    #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
    pub format: CompareFormat,
}

/// The comparison's printed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// An aligned table for a terminal.
    Text,
    /// A Markdown table, for a CI job summary.
    Markdown,
    /// A self-contained HTML fragment.
    Html,
}

/// The noise rule of a comparison (`compare`, and `run --baseline`).
#[derive(Debug, Clone, Args)]
pub struct CompareRulesArgs {
    /// The largest change for the worse, relative to the baseline, that is
    /// still noise: 10% or 0.1.
    #[arg(long, value_name = "ALLOWANCE", default_value = "10%", value_parser = parse_allowance)]
    pub max_regression: f64,

    /// What to compare, comma-separated: p50, p95, p99, rps, error_rate.
    #[arg(
        long = "metric",
        value_name = "METRICS",
        value_delimiter = ',',
        default_value = "p95,p99,rps,error_rate"
    )]
    pub metrics: Vec<Metric>,

    /// The smallest latency change that can count.
    #[arg(long, value_name = "DURATION", default_value = "2ms", value_parser = humantime::parse_duration)]
    pub latency_floor: Duration,

    /// The fewest samples an endpoint needs in both runs to be compared.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub min_samples: u64,
}

impl CompareRulesArgs {
    pub fn rules(&self) -> CompareRules {
        CompareRules {
            max_regression: self.max_regression,
            metrics: self.metrics.clone(),
            latency_floor_us: whole_micros(self.latency_floor),
            min_samples: self.min_samples,
            ..CompareRules::default()
        }
    }
}

const RUN_EXAMPLES: &str = "\
Examples:
  loadgate run scenarios/smoke.yaml
      the bundled service is started in-process (SQLite, in-process cache)
  loadgate run scenarios/peak.yaml --target http://127.0.0.1:8080 --scale 0.1
      a tenth of the users, durations and throughput floors
  loadgate run scenarios/endurance.yaml --duration 2m --out runs/endurance-ci
  loadgate run scenarios/normal.yaml --target http://127.0.0.1:8080 \
      --server-metrics /metrics
      scrape the target's Prometheus metrics before, during and after
  loadgate run scenarios/smoke.yaml --baseline baseline/results.json
      also exit 1 on a regression against the baseline (see `loadgate compare`)
  taskset -c 0 loadgate run scenarios/peak-open.yaml --target http://127.0.0.1:8080 --threads 1
      the generator on one core, with one worker thread
  loadgate run scenarios/peak.yaml --target http://10.0.0.5:8080 --shard 1/4 --run-id peak-42 \\
      --start-at 2026-12-04T10:00:00Z --out shared/peak-42/shard-1
      one of four generators; then `loadgate merge shared/peak-42`

Exit codes: 0 pass, 1 budget failed or aborted, 2 bad input, 3 target unreachable,
130/143 interrupted (results are written in every case but 2).";

const VALIDATE_EXAMPLES: &str = "\
Examples:
  loadgate validate scenarios/*.yaml
Errors are printed as FILE:LINE:COLUMN: FIELD: MESSAGE; the exit code is 2
when any file has one.";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (YAML, format versions 1 to 5).
    pub scenario: PathBuf,

    /// Base URL to load, e.g. http://127.0.0.1:8080. Overrides the
    /// scenario's `target`. With neither, the bundled reference service is
    /// started in-process on 127.0.0.1 (SQLite, in-process cache, 1000
    /// seeded users) and stopped afterwards.
    #[arg(long)]
    pub target: Option<String>,

    /// Where to write results.json, the interval log and the reports
    /// (default: runs/SCENARIO-UTCTIME/).
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Multiply users, stage durations and `min_rps` budgets by this factor
    /// (e.g. 0.1 for a rehearsal of a large scenario).
    #[arg(long)]
    pub scale: Option<f64>,

    /// Cap the total planned time, shrinking every stage in proportion
    /// (e.g. 2m; at least 1s). Rounding the stages to whole seconds never
    /// runs past it.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,

    /// Set the peak number of users, scaling every stage's users in proportion.
    #[arg(long)]
    pub users: Option<u32>,

    /// A value for `{{ var.NAME }}` placeholders (repeatable); unset names
    /// fall back to the environment.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// The target's Prometheus metrics: a URL, or a path below the target
    /// (/metrics). Overrides the scenario's `server_metrics`; the bundled
    /// service's are scraped by default.
    #[arg(long, value_name = "URL", conflicts_with = "no_server_metrics")]
    pub server_metrics: Option<String>,

    /// Do not scrape the target's metrics, even the bundled service's.
    #[arg(long)]
    pub no_server_metrics: bool,

    /// Compare the run with this baseline (as `loadgate compare` does):
    /// the comparison goes into summary.md and the report, and a
    /// regression exits 1 like a failed budget.
    #[arg(long, value_name = "RESULTS")]
    pub baseline: Option<PathBuf>,

    /// Worker threads for the users [default: one per core this process
    /// may run on, so `taskset -c 0-3 loadgate run ...` uses 4]. The
    /// bundled in-process service, when no target is given, shares them.
    #[arg(long, value_name = "N")]
    pub threads: Option<std::num::NonZeroUsize>,

    /// How long each untagged interval of histograms.hlog covers: whole
    /// seconds (e.g. 1s, 10s, 1m), from the per-second series.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub hlog_interval: reports::hlog::Interval,

    #[command(flatten)]
    pub compare: CompareRulesArgs,

    #[command(flatten)]
    pub sharding: ShardArgs,

    /// Debug (hidden): block one of the generator's runtime threads for
    /// this long, then let it run as long, over and over (e.g. 100ms), to
    /// starve the generator on purpose and show that the saturation check
    /// catches it. For tests; never for a measurement.
    #[arg(long, hide = true, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub debug_block_runtime: Option<std::time::Duration>,
}

/// One generator's share of a run made by several (`--shard`), merged
/// afterwards by `loadgate merge`.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Sharding (several generators, one run)")]
pub struct ShardArgs {
    /// Run shard I of N (I from 0): the I-th share of the users or of the
    /// arrivals, its own part of the user pool and of `{{ seq }}`. The
    /// verdict is left to `loadgate merge`: the exit code is 0 once the run
    /// completed or aborted (the merge marks the whole run aborted), 2 or 3
    /// as usual otherwise. Needs --run-id.
    #[arg(long, value_name = "I/N", conflicts_with = "shards")]
    pub shard: Option<scenario::Shard>,

    /// Run one of N shards, its index read from JOB_COMPLETION_INDEX (as a
    /// Kubernetes Indexed Job sets it), so the Job needs no shell.
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,

    /// The id every shard of one run shares, so `merge` can tell them from
    /// another run's.
    #[arg(long, value_name = "ID", env = "LOADGATE_RUN_ID")]
    pub run_id: Option<String>,

    /// Wait until this wall-clock time (RFC 3339, such as
    /// 2026-12-04T10:00:00Z) before starting, so that every shard's stages
    /// line up. A time past starts at once; one more than an hour away is
    /// refused.
    #[arg(
        long,
        value_name = "TIME",
        env = "LOADGATE_START_AT",
        value_parser = humantime::parse_rfc3339_weak
    )]
    pub start_at: Option<std::time::SystemTime>,
}

/// The Indexed Job's shard number, as Kubernetes sets it.
pub const JOB_COMPLETION_INDEX: &str = "JOB_COMPLETION_INDEX";

impl ShardArgs {
    /// The shard to run: `--shard`, else `--shards` with the index from
    /// `index` (JOB_COMPLETION_INDEX's value); `None` for a whole run.
    ///
    /// # Errors
    /// A message for the command line: a shard without a run id, `--shards`
    /// without an index, or an index out of range.
    pub fn shard(&self, index: Option<&str>) -> Result<Option<scenario::Shard>, String> {
        let shard = match (self.shard, self.shards) {
            (Some(shard), _) => shard,
            (None, None) => return Ok(None),
            (None, Some(count)) => {
                let index = index.ok_or_else(|| {
                    format!("--shards {count} reads the shard's index from {JOB_COMPLETION_INDEX}, which is not set")
                })?;
                let index = index.trim().parse::<u32>().map_err(|_| {
                    format!("{JOB_COMPLETION_INDEX}=`{index}` is not a shard index (0, 1, 2…)")
                })?;
                scenario::Shard::new(index, count).map_err(|_| {
                    format!("{JOB_COMPLETION_INDEX}={index} is not below --shards {count}")
                })?
            }
        };
        if self.run_id.as_deref().is_none_or(|id| id.trim().is_empty()) {
            return Err(format!(
                "--shard {shard} needs --run-id (or LOADGATE_RUN_ID): the same id on every shard, so that `loadgate merge` can tell this run's shards from another's"
            ));
        }
        Ok(Some(shard))
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: target_service::Config,
}
