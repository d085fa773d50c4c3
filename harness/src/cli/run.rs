//! `loadgate run`: scenario → plan → goose run → recording → results.json
//! → verdict → exit code. Whatever happens after the plan is valid (an
//! unreachable target, Ctrl-C, SIGTERM), what was measured is written.

use std::{
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use reports::{
    compare::{Comparison, compare, read_baseline},
    results::{Overrides, Results},
};
use scenario::{Plan, Vars, duration::whole_millis, load_plan, overrides::OverrideError};

use super::{
    args::{Exit, RunArgs},
    progress::Progress,
};
use crate::{
    judge::{self, RunMeta},
    run::{self as run_layer, Ending, MeasureError, Setup, engine},
};

/// What `run` produced, for callers that want more than the exit code.
#[derive(Debug)]
pub struct RunOutput {
    pub exit: Exit,
    pub out_dir: PathBuf,
    pub results: Results,
    /// The comparison with `--baseline`, when one was given.
    pub comparison: Option<Comparison>,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scenario or the command line is wrong; exit code 2.
    #[error("{0}")]
    BadInput(String),
    /// Anything else that stopped the run before it began.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// The longest `--start-at` may make a run wait: every run is bounded.
const LONGEST_START_WAIT: Duration = Duration::from_secs(3600);

/// Runs `args`; see the module docs.
pub async fn run(args: &RunArgs) -> Result<RunOutput, RunError> {
    let plan = resolve_plan(args)?;
    let wait = start_wait(args.sharding.start_at, SystemTime::now())?;
    // A bad baseline is bad input: say so before loading anything.
    let baseline = args
        .baseline
        .as_deref()
        .map(read_baseline)
        .transpose()
        .map_err(|e| RunError::BadInput(e.to_string()))?;
    let (target, service) = match args.target.as_deref().or(plan.target()) {
        Some(target) => (target.trim_end_matches('/').to_owned(), None),
        None => {
            let service = target_service::start(target_service::Config::demo())
                .await
                .map_err(|e| anyhow::anyhow!("starting the in-process reference service: {e:#}"))?;
            (service.base_url(), Some(service))
        }
    };
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(plan.name()));
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| RunError::BadInput(format!("cannot create {}: {e}", out_dir.display())))?;

    let server_metrics = server_metrics_url(args, &plan, &target, service.is_some());
    if !wait.is_zero() {
        eprintln!(
            "starting at --start-at, in {}",
            scenario::duration::format_duration(Duration::from_millis(wait.as_millis() as u64))
        );
    }
    let result = measure_and_judge(args, &plan, &target, service.is_some(), server_metrics).await;
    if let Some(service) = service
        && let Err(e) = service.shutdown().await
    {
        tracing::warn!("stopping the in-process service: {e:#}");
    }
    let (results, mut exit) = result?;
    let comparison = baseline.map(|baseline| {
        let current = out_dir.join(reports::files::RESULTS).display().to_string();
        compare(&baseline, &results, &current, &args.compare.rules())
    });
    if exit == Exit::Success && comparison.as_ref().is_some_and(Comparison::has_regression) {
        exit = Exit::BudgetFailed;
    }
    write_outputs(&results, comparison.as_ref(), args.hlog_interval, &out_dir)?;
    Ok(RunOutput {
        exit,
        out_dir,
        results,
        comparison,
    })
}

/// How long to wait for `start_at` from `now`: nothing for a time past
/// (a pod scheduled late starts at once, and its results say when).
fn start_wait(start_at: Option<SystemTime>, now: SystemTime) -> Result<Duration, RunError> {
    let wait = start_at
        .and_then(|at| at.duration_since(now).ok())
        .unwrap_or_default();
    if wait > LONGEST_START_WAIT {
        return Err(RunError::BadInput(format!(
            "--start-at is {} away; at most {} is allowed",
            scenario::duration::format_duration(Duration::from_secs(wait.as_secs())),
            scenario::duration::format_duration(LONGEST_START_WAIT)
        )));
    }
    Ok(wait)
}

/// The plan, with the command line's overrides applied, and last the
/// shard's share of it.
pub fn resolve_plan(args: &RunArgs) -> Result<Plan, RunError> {
    let mut vars = Vars::new().with_env();
    for assignment in &args.vars {
        let (name, value) = Vars::parse_assignment(assignment).map_err(RunError::BadInput)?;
        vars = vars.set(name, value);
    }
    let mut plan =
        load_plan(&args.scenario, &vars).map_err(|e| RunError::BadInput(e.to_string()))?;
    let bad = |e: OverrideError| RunError::BadInput(e.to_string());
    if let Some(users) = args.users {
        plan = plan.with_peak_users(users).map_err(bad)?;
    }
    if let Some(scale) = args.scale {
        plan = plan.scaled(scale).map_err(bad)?;
    }
    if let Some(duration) = args.duration {
        plan = plan.capped_to(duration).map_err(bad)?;
    }
    let index = std::env::var(super::args::JOB_COMPLETION_INDEX).ok();
    if let Some(shard) = args
        .sharding
        .shard(index.as_deref())
        .map_err(RunError::BadInput)?
    {
        plan = plan
            .sharded(shard)
            .map_err(|e| RunError::BadInput(format!("--shard: {e}")))?;
    }
    Ok(plan)
}

/// The metrics URL to scrape, if any: the command line's, else the
/// scenario's, else the bundled service's `/metrics` when it is the
/// target. A path is taken below the target.
fn server_metrics_url(
    args: &RunArgs,
    plan: &Plan,
    target: &str,
    in_process_target: bool,
) -> Option<String> {
    if args.no_server_metrics {
        return None;
    }
    let given = args
        .server_metrics
        .as_deref()
        .or(plan.server_metrics())
        .or(in_process_target.then_some("/metrics"))?;
    Some(if given.starts_with('/') {
        format!("{target}{given}")
    } else {
        given.to_owned()
    })
}

/// Runs the plan on its timeline (built here, once) and judges it.
async fn measure_and_judge(
    args: &RunArgs,
    plan: &Plan,
    target: &str,
    in_process_target: bool,
    server_metrics: Option<String>,
) -> Result<(Results, Exit), RunError> {
    let timeline = plan.timeline(engine::TICK);
    let measured = run_layer::measure(
        Setup {
            plan,
            timeline: &timeline,
            target,
            server_metrics,
            start_at: args.sharding.start_at,
            debug_block_runtime: args.debug_block_runtime,
        },
        Box::new(Progress::new(timeline.total())),
    )
    .await
    .map_err(|e| match e {
        MeasureError::Client(message) => RunError::Failed(anyhow::anyhow!(message)),
        MeasureError::Engine(message) => RunError::BadInput(message),
    })?;
    let results = judge::assemble(
        plan,
        &timeline,
        &measured,
        RunMeta {
            scenario_file: args.scenario.display().to_string(),
            overrides: Overrides {
                scale: args.scale,
                duration_ms: args.duration.map(whole_millis),
                users: args.users,
            },
            target: target.to_owned(),
            in_process_target,
            run_id: args.sharding.run_id.clone(),
        },
    );
    // A shard's verdict is the merge's: its share cannot meet the whole
    // run's budgets, and a pod that failed would end (or rerun) the Job.
    // An abort is part of the verdict, which the merge takes on.
    let sharded = !plan.shard().is_whole();
    let exit = match measured.ending {
        Ending::Completed | Ending::Aborted(_) if sharded => Exit::Success,
        Ending::Completed if !results.verdict.passed => Exit::BudgetFailed,
        Ending::Completed => Exit::Success,
        Ending::Unreachable(_) => Exit::Unreachable,
        Ending::Aborted(_) => Exit::BudgetFailed,
        Ending::Terminated => Exit::Terminated,
        Ending::Interrupted => Exit::Interrupted,
    };
    Ok((results, exit))
}

/// `runs/<scenario>-<UTC time>/`.
fn default_out_dir(scenario: &str) -> PathBuf {
    let slug: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "");
    Path::new("runs").join(format!("{}-{stamp}", slug.trim_matches('-')))
}

/// results.json (atomically, first, so nothing measured is lost), then
/// what is rendered from it.
fn write_outputs(
    results: &Results,
    comparison: Option<&Comparison>,
    hlog_interval: reports::hlog::Interval,
    out_dir: &Path,
) -> Result<(), RunError> {
    results
        .write_atomic(&out_dir.join(reports::files::RESULTS))
        .map_err(|e| anyhow::anyhow!(e))?;
    reports::report::render_all_with(results, comparison, hlog_interval, out_dir)
        .map(drop)
        .map_err(|e| RunError::Failed(e.into()))
}

/// Prints the verdict table and where the outputs are.
pub fn print_summary(output: &RunOutput) {
    print!("{}", reports::terminal::verdict_table(&output.results));
    if let Some(shard) = output.results.run.shard {
        println!(
            "shard {}/{} of run {}: its budgets are judged on the whole run, by `loadgate merge`",
            shard.index,
            shard.count,
            output.results.run.run_id.as_deref().unwrap_or("?")
        );
    }
    if let Some(comparison) = &output.comparison {
        print!("\n{}", comparison.to_terminal());
    }
    println!(
        "results: {}\nreport:  {}",
        output.out_dir.join(reports::files::RESULTS).display(),
        output.out_dir.join(reports::files::HTML).display()
    );
}
