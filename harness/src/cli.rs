//! The `loadgate` command line: its arguments, and its one table of exit
//! codes, shared by every command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Serve the bundled reference target (the same flags as `target-service`).
    Serve(ServeArgs),
}

const REPORT_EXAMPLES: &str = "\
Examples:
  loadgate report runs/smoke-2026-11-24T103546Z/results.json
  loadgate report results.json --out /tmp/review";

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results.json written by `loadgate run`.
    pub results: PathBuf,

    /// Where to write the reports [default: beside the results file].
    #[arg(long)]
    pub out: Option<PathBuf>,
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

Exit codes: 0 pass, 1 budget failed or aborted, 2 bad input, 3 target unreachable,
130/143 interrupted (results are written in every case but 2).";

const VALIDATE_EXAMPLES: &str = "\
Examples:
  loadgate validate scenarios/*.yaml
Errors are printed as FILE:LINE:COLUMN: FIELD: MESSAGE; the exit code is 2
when any file has one.";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (YAML, format versions 1 to 3).
    pub scenario: PathBuf,

    /// Base URL to load, e.g. http://127.0.0.1:8080. Overrides the
    /// scenario's `target`. With neither, the bundled reference service is
    /// started in-process on 127.0.0.1 (SQLite, in-process cache, 1000
    /// seeded users) and stopped afterwards.
    #[arg(long)]
    pub target: Option<String>,

    /// Where to write results.json, the interval log and the reports
    /// [default: runs/<scenario>-<UTC time>/].
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Multiply users, stage durations and `min_rps` budgets by this factor
    /// (e.g. 0.1 for a rehearsal of a large scenario).
    #[arg(long)]
    pub scale: Option<f64>,

    /// Cap the total planned time, shrinking every stage in proportion
    /// (e.g. 2m).
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
