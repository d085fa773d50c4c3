//! `loadgate run`: scenario → plan → goose run → recording → results.json
//! → verdict → exit code. Whatever happens after the plan is valid (an
//! unreachable target, Ctrl-C, SIGTERM), what was measured is written.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use reports::{
    compare::{Comparison, compare, read_baseline},
    results::{LatencyBasis, Overrides, Results, RunStatus, write_file_atomic},
};

use crate::{
    assemble::{RunMeta, assemble, judged_spans},
    attack, budget,
    cli::{Exit, RunArgs},
    exchange::HttpClient,
    load_plan,
    plan::{OPEN_LAUNCH, Plan},
    progress::Progress,
    recorder::{AbortWatch, Recorder, RecorderConfig},
    schedule::{self, ArrivalCounters},
    scrape::{ClientCounts, Scraper},
    template::Vars,
    user::RunContext,
    verdict,
};

/// A run stops early when every request has failed to connect for this many
/// seconds in a row.
const UNREACHABLE_AFTER_SECS: u32 = 5;
/// How often the target's metrics are scraped during a run.
const SCRAPE_EVERY: Duration = Duration::from_secs(2);

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

/// Runs `args`; see the module docs.
pub async fn run(args: &RunArgs) -> Result<RunOutput, RunError> {
    let plan = resolve_plan(args)?;
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
            let service = target_service::start(target_service::Config::default())
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
    let result = measure(args, &plan, &target, service.is_some(), server_metrics).await;
    if let Some(service) = service
        && let Err(e) = service.shutdown().await
    {
        tracing::warn!("stopping the in-process service: {e:#}");
    }
    let (results, mut exit) = result?;
    let comparison = baseline.map(|baseline| {
        let current = out_dir.join("results.json").display().to_string();
        compare(&baseline, &results, &current, &args.compare.rules())
    });
    if exit == Exit::Success && comparison.as_ref().is_some_and(Comparison::has_regression) {
        exit = Exit::BudgetFailed;
    }
    write_outputs(&results, comparison.as_ref(), &out_dir)?;
    Ok(RunOutput {
        exit,
        out_dir,
        results,
        comparison,
    })
}

/// The plan, with the command line's overrides applied.
pub fn resolve_plan(args: &RunArgs) -> Result<Plan, RunError> {
    let mut vars = Vars::new().with_env();
    for assignment in &args.vars {
        let (name, value) = Vars::parse_assignment(assignment).map_err(RunError::BadInput)?;
        vars = vars.set(name, value);
    }
    let mut plan =
        load_plan(&args.scenario, &vars).map_err(|e| RunError::BadInput(e.to_string()))?;
    let bad = |e: crate::overrides::OverrideError| RunError::BadInput(e.to_string());
    if let Some(users) = args.users {
        plan = plan.with_peak_users(users).map_err(bad)?;
    }
    if let Some(scale) = args.scale {
        plan = plan.scaled(scale).map_err(bad)?;
    }
    if let Some(duration) = args.duration {
        plan = plan.capped_to(duration).map_err(bad)?;
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

/// What a recording counts latency from: the schedule's due times for an
/// open model, corrected for a pace, else the send.
fn latency_basis(plan: &Plan) -> LatencyBasis {
    if plan.open_model().is_some() {
        LatencyBasis::IntendedStart
    } else if let Some(pace) = plan.pace() {
        LatencyBasis::Corrected {
            expected_interval_us: u64::try_from(pace.as_micros()).unwrap_or(u64::MAX),
        }
    } else {
        LatencyBasis::Sent
    }
}

/// One watch per latency or error-rate limit of every budget with `abort`.
fn abort_watches(plan: &Plan, names: &[String]) -> Vec<AbortWatch> {
    let budgets = plan.budgets();
    let scopes = std::iter::once((None, &budgets.overall)).chain(budgets.requests.iter().map(
        |(name, budget)| {
            let index = names.iter().position(|n| n == name);
            (index.and_then(|i| u16::try_from(i).ok()), budget)
        },
    ));
    let mut watches = Vec::new();
    for (scope, budget) in scopes {
        let Some(when) = budget.abort else { continue };
        let watched = budget::limits(budget)
            .into_iter()
            .filter_map(|(metric, limit)| Some((metric, limit?)))
            .filter(|&(metric, _)| budget::watchable(metric));
        for (metric, limit) in watched {
            watches.push(AbortWatch {
                scope,
                metric,
                limit,
                window: when.window,
                after: when.after,
            });
        }
    }
    watches
}

/// Why the run ended early, as the watchers saw it.
#[derive(Debug, Default)]
struct Stop {
    /// Set, with the message to report, when the target was unreachable.
    unreachable: OnceLock<String>,
    terminated: AtomicBool,
}

async fn measure(
    args: &RunArgs,
    plan: &Plan,
    target: &str,
    in_process_target: bool,
    server_metrics: Option<String>,
) -> Result<(Results, Exit), RunError> {
    let names: Vec<String> = plan
        .request_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let longest_timeout = plan
        .setup()
        .iter()
        .chain(plan.work().iter().flat_map(|w| w.work.steps()))
        .map(|s| s.timeout)
        .max()
        .unwrap_or(Duration::from_secs(30));
    let client = HttpClient::new(target, plan.tls().verify_certificates)?;
    let scheduled = plan.open_model().is_some();
    // The clock samples, stages and the schedule count from. An open model
    // first lets goose launch its users; its schedule starts after that.
    let launch = if scheduled {
        OPEN_LAUNCH
    } else {
        Duration::ZERO
    };
    let started_at = SystemTime::now() + launch;
    let epoch = Instant::now() + launch;
    let recorder = Arc::new(Recorder::start(RecorderConfig {
        names: names.clone(),
        epoch,
        judged: judged_spans(plan),
        longest_timeout,
        basis: latency_basis(plan),
        abort_watches: abort_watches(plan, &names),
    }));
    let scraper = match server_metrics {
        Some(url) => Some(Scraper::start(url, epoch, SCRAPE_EVERY).await),
        None => None,
    };
    let counters = Arc::new(ArrivalCounters::default());
    let (to_users, arrivals) = schedule::queue(longest_timeout, counters.clone());
    let context = Arc::new(RunContext::new(
        plan.clone(),
        client,
        epoch,
        &names,
        scheduled.then_some(arrivals),
    ));
    let attack = attack::build(&context, &recorder, target)
        .map_err(|e| RunError::BadInput(format!("target {target:?}: {e}")))?;
    let stop_dispatching = Arc::new(AtomicBool::new(false));
    let dispatcher = scheduled.then(|| {
        schedule::spawn_dispatcher(
            plan.arrivals(),
            epoch,
            to_users,
            counters.clone(),
            stop_dispatching.clone(),
        )
    });

    let stop = Arc::new(Stop::default());
    let watcher = tokio::spawn(watch(
        recorder.clone(),
        stop.clone(),
        plan.total_duration(),
        target.to_owned(),
    ));
    let terminate = tokio::spawn(on_sigterm(stop.clone()));

    let outcome = attack.execute().await;
    let run_duration = Instant::now().saturating_duration_since(epoch);
    watcher.abort();
    terminate.abort();
    stop_dispatching.store(true, Ordering::Relaxed);
    if let Some(dispatcher) = dispatcher {
        let _ = tokio::task::spawn_blocking(move || dispatcher.join()).await;
    }
    let _ = watcher.await;
    if let Err(e) = outcome {
        tracing::warn!("goose ended with an error: {e:?}");
    }

    let (status, exit, stop_reason) = if let Some(cause) = stop.unreachable.get() {
        (
            RunStatus::Unreachable,
            Exit::Unreachable,
            Some(cause.clone()),
        )
    } else if stop.terminated.load(Ordering::SeqCst) {
        (
            RunStatus::Interrupted,
            Exit::Terminated,
            Some("SIGTERM".to_owned()),
        )
    } else if let Some(aborted) = recorder.aborted() {
        (
            RunStatus::Aborted,
            Exit::BudgetFailed,
            Some(aborted.reason.clone()),
        )
    } else if goose::is_killswitch_triggered() {
        (
            RunStatus::Interrupted,
            Exit::Interrupted,
            Some("SIGINT".to_owned()),
        )
    } else {
        (RunStatus::Completed, Exit::Success, None)
    };
    let recorder = Arc::try_unwrap(recorder).expect("the watcher has stopped");
    let aborted = recorder.aborted().cloned();
    let recording = recorder.finish(run_duration).await;
    let server = match scraper {
        Some(scraper) => Some(
            scraper
                .finish(ClientCounts {
                    requests: recording.overall.all.count,
                    responses: recording.overall.status_codes.values().sum(),
                })
                .await,
        ),
        None => None,
    };
    let results = assemble(
        plan,
        &recording,
        RunMeta {
            started_at,
            scenario_file: args.scenario.display().to_string(),
            overrides: Overrides {
                scale: args.scale,
                duration_ms: args
                    .duration
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                users: args.users,
            },
            target: target.to_owned(),
            in_process_target,
            status,
            stop_reason,
            arrivals: scheduled.then(|| counters.snapshot()),
            server,
            aborted,
        },
    );
    let exit = match exit {
        Exit::Success if !results.verdict.passed => Exit::BudgetFailed,
        other => other,
    };
    Ok((results, exit))
}

/// Shows progress, and stops the run when the target has refused every
/// request for [`UNREACHABLE_AFTER_SECS`] or a budget's abort rule fired.
async fn watch(recorder: Arc<Recorder>, stop: Arc<Stop>, planned: Duration, target: String) {
    let mut progress = Progress::new(planned);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let recent = progress.tick(&recorder);
        if recent.connect_only_streak >= UNREACHABLE_AFTER_SECS {
            let message = format!(
                "stopped early: every request to {target} failed to connect for {UNREACHABLE_AFTER_SECS}s"
            );
            goose::trigger_killswitch(&message);
            let _ = stop.unreachable.set(message);
        }
        if let Some(aborted) = recorder.aborted() {
            goose::trigger_killswitch(&aborted.reason);
            progress.finish();
            return;
        }
        if stop.unreachable.get().is_some() || stop.terminated.load(Ordering::SeqCst) {
            progress.finish();
            return;
        }
    }
}

/// SIGTERM stops the users; goose already handles SIGINT.
async fn on_sigterm(stop: Arc<Stop>) {
    #[cfg(unix)]
    if let Ok(mut signal) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        signal.recv().await;
        stop.terminated.store(true, Ordering::SeqCst);
        goose::trigger_killswitch("SIGTERM received");
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await;
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
    out_dir: &Path,
) -> Result<(), RunError> {
    results
        .write_atomic(&out_dir.join("results.json"))
        .map_err(|e| anyhow::anyhow!(e))?;
    render_reports(results, comparison, out_dir).map_err(RunError::Failed)
}

/// The interval log and every report of `results` (with the comparison
/// against a baseline, if any), into `out_dir`.
pub fn render_reports(
    results: &Results,
    comparison: Option<&Comparison>,
    out_dir: &Path,
) -> anyhow::Result<()> {
    let hlog = reports::hlog::render(results)?;
    write_file_atomic(&out_dir.join(HLOG_FILE), &hlog)?;
    reports::report::render_all_with(results, comparison, out_dir)?;
    Ok(())
}

/// The interval log's file name in an output directory.
pub const HLOG_FILE: &str = "histograms.hlog";

/// Prints the verdict table and where the outputs are.
pub fn print_summary(output: &RunOutput) {
    print!("{}", verdict::table(&output.results));
    if let Some(comparison) = &output.comparison {
        print!("\n{}", comparison.to_terminal());
    }
    println!(
        "results: {}\nreport:  {}",
        output.out_dir.join("results.json").display(),
        output.out_dir.join(reports::report::HTML_FILE).display()
    );
}
