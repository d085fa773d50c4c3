//! The run layer: a [`Plan`]'s [`Timeline`] on the engine, measured.
//!
//! [`measure`] wires the parts of one run together:
//!
//! * [`engine`]: the goose adapter, the only module that names goose;
//! * [`user`]: one virtual user: render, send, check, capture, record;
//! * [`exchange`]: the one seam through which requests reach the network;
//! * [`schedule`]: the open model's arrivals, handed to idle users when due;
//! * [`clock`]: the run's epoch, which every offset counts from;
//! * [`recorder`]: HDR histograms (µs) per request name and per second, and
//!   the abort watches;
//! * [`scrape`]: the target's Prometheus metrics, before, during and after;
//! * [`generator_cpu`]: the generator's own CPU use;
//! * [`interrupt`]: Ctrl-C, graceful once, at once twice.
//!
//! What it returns, a [`Measured`], is judged by [`crate::judge`].

pub mod clock;
pub mod engine;
pub mod exchange;
pub mod generator_cpu;
pub mod interrupt;
pub mod recorder;
pub mod request;
pub mod schedule;
pub mod scrape;
pub mod user;

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use reports::results::{ArrivalStats, LatencyBasis, LatencyOf, ServerStats};
use scenario::{Plan, Timeline, duration::whole_micros};

use clock::StageClock;
use exchange::Transport;
use recorder::{AbortWatch, Aborted, Recent, Recorder, RecorderConfig, Recording};
use schedule::Schedule;
use scrape::{ClientCounts, Scraper};
use user::RunContext;

/// A run stops early when every request has failed to connect for this many
/// seconds in a row.
const UNREACHABLE_AFTER_SECS: u32 = 5;
/// How often the target's metrics are scraped during a run.
const SCRAPE_EVERY: Duration = Duration::from_secs(2);
/// How often an open model's run looks for a stop (Ctrl-C, an abort), so
/// that its schedule ends within this of the stop, whether or not a user
/// happens to wake then.
const STOP_POLL: Duration = Duration::from_millis(10);

/// What one run is asked to do.
#[derive(Debug)]
pub struct Setup<'a> {
    pub plan: &'a Plan,
    /// The plan's stages on the engine's clock; built once, by the caller.
    pub timeline: &'a Timeline,
    /// The base URL requests go to.
    pub target: &'a str,
    /// The target's Prometheus endpoint to scrape, if any.
    pub server_metrics: Option<String>,
    /// A wall-clock time to start at (`--start-at`), so that the shards of
    /// a run line up. The wait comes after the scrape before the run: the
    /// earliest shard's scrape then precedes every shard's first request,
    /// and a merge counts the server's requests from it.
    pub start_at: Option<SystemTime>,
    /// Debug only: block a runtime thread for this long, then let it run
    /// as long, over and over, to starve the generator on purpose (the
    /// hidden `--debug-block-runtime`, for the tests of the saturation check).
    pub debug_block_runtime: Option<Duration>,
}

/// Whoever shows the run as it goes (the command line's progress line).
pub trait Observer: Send + 'static {
    /// Called about once a second.
    fn second(&mut self, elapsed: Duration, users: u32, recent: &Recent);
    /// The run is over.
    fn finish(self: Box<Self>);
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// The timeline ran to its end.
    Completed,
    /// Every request failed to connect for a while; the message says so.
    Unreachable(String),
    /// A budget's abort rule stopped the run.
    Aborted(Aborted),
    /// SIGTERM.
    Terminated,
    /// Ctrl-C.
    Interrupted,
}

/// Everything a run measured, for [`crate::judge::assemble()`].
#[derive(Debug)]
pub struct Measured {
    pub recording: Recording,
    /// When the run was stopped early, from the clock's epoch. The engine
    /// then waits for its users' requests (up to their timeout), which
    /// [`Recording::run_duration`] includes and rates must not.
    pub stopped_after: Option<Duration>,
    /// The clock's epoch as wall-clock time: the first user's start (plus
    /// the launch lead, in an open model), or when the run began if no
    /// user ever started.
    pub started_at: SystemTime,
    pub ending: Ending,
    /// The fate of the arrivals, for a run on a schedule.
    pub arrivals: Option<ArrivalStats>,
    /// The target's own metrics, when they were scraped.
    pub server: Option<ServerStats>,
}

/// Runs `setup` to its end (or until it is stopped) and returns what was
/// measured; only a run that cannot start is an error.
pub async fn measure(
    setup: Setup<'_>,
    observer: Box<dyn Observer>,
) -> Result<Measured, MeasureError> {
    let Setup {
        plan,
        timeline,
        target,
        server_metrics,
        start_at,
        debug_block_runtime,
    } = setup;
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
    let transport = Transport::new(target, plan.tls().verify_certificates, plan.cookies())
        .map_err(|e| MeasureError::Client(format!("{e:#}")))?;
    let scheduled = plan.open_model().is_some();
    let clock = Arc::new(StageClock::new(if scheduled {
        engine::OPEN_LAUNCH
    } else {
        Duration::ZERO
    }));
    let judged = recorder::JudgedSpans::of(timeline, plan.budgets().during.as_deref());
    let recorder = Arc::new(Recorder::start(RecorderConfig {
        names: names.clone(),
        clock: clock.clone(),
        judged: judged.clone(),
        timeline_end: timeline.total(),
        longest_timeout,
        basis: latency_basis(plan),
        abort_watches: abort_watches(plan, &names),
        latency_of: latency_of(plan.budgets().latency_of),
    }));
    let scraper = match server_metrics {
        Some(url) => Some(Scraper::start(url, clock.clone(), SCRAPE_EVERY).await),
        None => None,
    };
    let arrivals = scheduled
        .then(|| Schedule::new(timeline.arrivals(), clock.clone(), longest_timeout, judged));
    let context = Arc::new(RunContext::new(
        plan.clone(),
        timeline.clone(),
        recorder.users(),
        transport,
        clock.clone(),
        &names,
        arrivals,
    ));
    let engine = engine::build(&context, &recorder, target, timeline)
        .map_err(|e| MeasureError::Engine(format!("target {target:?}: {e}")))?;
    engine::clear_stop();
    let stop = Arc::new(Stop::default());
    let watcher = tokio::spawn(watch(
        recorder.clone(),
        clock.clone(),
        stop.clone(),
        observer,
        target.to_owned(),
    ));
    let terminate = tokio::spawn(on_sigterm(stop.clone()));
    let stopped_at = Arc::new(OnceLock::new());
    let stop_watch = tokio::spawn(note_stop(context.clone(), stopped_at.clone()));
    let blocker = debug_block_runtime.map(|block| tokio::spawn(block_runtime(block)));

    interrupt::install();
    wait_until(start_at).await;
    let began = SystemTime::now();
    // A second Ctrl-C stops waiting for the users to finish what they are
    // in: the results hold what had ended by then. A stop during the wait
    // for the start leaves nothing to run: the results say so, empty.
    let cut_short = !engine::stopped()
        && tokio::select! {
            outcome = engine.run() => {
                if let Err(e) = outcome {
                    tracing::warn!("the engine ended with an error: {e}");
                }
                false
            }
            () = interrupt::pressed_again() => {
                tracing::warn!("Ctrl-C again: stopped at once; requests still in flight are not counted");
                true
            }
        };
    let ended = Instant::now();
    let run_duration = clock.epoch().map_or(Duration::ZERO, |epoch| {
        ended.saturating_duration_since(epoch)
    });
    watcher.abort();
    terminate.abort();
    stop_watch.abort();
    let _ = stop_watch.await;
    let stopped_after = match (stopped_at.get(), clock.epoch()) {
        (Some(stopped), Some(epoch)) => Some(stopped.saturating_duration_since(epoch)),
        _ => None,
    };
    if let Some(blocker) = blocker {
        blocker.abort();
    }
    let _ = watcher.await;

    let ending = if let Some(cause) = stop.unreachable.get() {
        Ending::Unreachable(cause.clone())
    } else if stop.terminated.load(Ordering::SeqCst) {
        Ending::Terminated
    } else if let Some(aborted) = recorder.aborted() {
        Ending::Aborted(aborted.clone())
    } else if interrupt::pressed() {
        Ending::Interrupted
    } else {
        Ending::Completed
    };
    let recorder = Arc::try_unwrap(recorder).expect("the watcher has stopped");
    if let Some(schedule) = &context.arrivals {
        // Every user has stopped: what nobody claimed before the end is dropped.
        schedule.stop(ended);
        let mut sink = recorder.sink();
        schedule.drop_leftovers(&mut sink);
        sink.flush();
    }
    let recording = recorder.finish(run_duration).await;
    let server = match scraper {
        Some(scraper) => Some(
            scraper
                .finish(ClientCounts {
                    requests: recording.overall.all.count,
                    responses: recording.overall.status_codes.values().sum(),
                    all_counted: !cut_short,
                    shard: !plan.shard().is_whole(),
                })
                .await,
        ),
        None => None,
    };
    Ok(Measured {
        recording,
        stopped_after,
        started_at: clock.started_at().unwrap_or(began),
        ending,
        arrivals: context.arrivals.as_ref().map(Schedule::snapshot),
        server,
    })
}

/// Waits until `start_at` (`--start-at`), or until a stop (Ctrl-C,
/// SIGTERM) comes first. The handlers are in place by then, so a stop is
/// kept and the (empty) results are still written.
async fn wait_until(start_at: Option<SystemTime>) {
    let Some(start_at) = start_at else {
        return;
    };
    while let Ok(left) = start_at.duration_since(SystemTime::now()) {
        if engine::stopped() {
            return;
        }
        tokio::time::sleep(left.min(STOP_POLL)).await;
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// The HTTP client could not be built (a bad TLS setting, say).
    #[error("{0}")]
    Client(String),
    /// The engine refused the target or the timeline.
    #[error("{0}")]
    Engine(String),
}

/// What a recording counts latency from: the schedule's due times for an
/// open model, corrected for a pace, else the send.
fn latency_basis(plan: &Plan) -> LatencyBasis {
    if plan.open_model().is_some() {
        LatencyBasis::IntendedStart
    } else if let Some(pace) = plan.pace() {
        LatencyBasis::Corrected {
            expected_interval_us: whole_micros(pace),
        }
    } else {
        LatencyBasis::Sent
    }
}

/// Whose latencies budgets judge, in the results' words.
pub fn latency_of(of: scenario::plan::LatencyOf) -> LatencyOf {
    match of {
        scenario::plan::LatencyOf::All => LatencyOf::All,
        scenario::plan::LatencyOf::Ok => LatencyOf::Ok,
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
        let watched = recorder::limits(budget)
            .into_iter()
            .filter_map(|(metric, limit)| Some((metric, limit?)))
            .filter(|&(metric, _)| recorder::watchable(metric));
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

/// Shows progress, and stops the run when the target has refused every
/// request for [`UNREACHABLE_AFTER_SECS`] or a budget's abort rule fired.
async fn watch(
    recorder: Arc<Recorder>,
    clock: Arc<StageClock>,
    stop: Arc<Stop>,
    mut observer: Box<dyn Observer>,
    target: String,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let recent = recorder.take_recent();
        let users = recorder.users().load(Ordering::Relaxed);
        observer.second(clock.elapsed(), users, &recent);
        if recent.connect_only_streak >= UNREACHABLE_AFTER_SECS {
            let message = format!(
                "stopped early: every request to {target} failed to connect for {UNREACHABLE_AFTER_SECS}s"
            );
            engine::stop(&message);
            let _ = stop.unreachable.set(message);
        }
        if let Some(aborted) = recorder.aborted() {
            engine::stop(&aborted.reason);
            break;
        }
        if stop.unreachable.get().is_some() || stop.terminated.load(Ordering::SeqCst) {
            break;
        }
    }
    observer.finish();
}

/// Notes the moment the run is stopped (by Ctrl-C or by [`engine::stop`])
/// in `stopped_at`: rates end there, not when the engine has drained its
/// users. It also ends an open model's schedule then, so that the arrivals
/// that fall due during the drain are never intended (users that notice
/// the stop first end it themselves). And it keeps the engine stopped
/// ([`engine::keep_stopped`]). Runs until aborted.
async fn note_stop(context: Arc<RunContext>, stopped_at: Arc<OnceLock<Instant>>) {
    let mut poll = tokio::time::interval(STOP_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        poll.tick().await;
        engine::keep_stopped();
        if stopped_at.get().is_none() && engine::stopped() {
            let now = Instant::now();
            if let Some(schedule) = &context.arrivals {
                schedule.stop(now);
            }
            let _ = stopped_at.set(now);
        }
    }
}

/// Debug only (`--debug-block-runtime`): blocks the runtime thread this
/// task runs on for `block`, then yields for as long, until aborted: a
/// generator starved on purpose, whose arrivals start late although its
/// users are free, for the tests of the saturation check. Never part of a
/// real run.
async fn block_runtime(block: Duration) {
    loop {
        std::thread::sleep(block);
        tokio::time::sleep(block).await;
    }
}

/// SIGTERM stops the users; the engine already handles SIGINT.
async fn on_sigterm(stop: Arc<Stop>) {
    #[cfg(unix)]
    if let Ok(mut signal) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        signal.recv().await;
        stop.terminated.store(true, Ordering::SeqCst);
        engine::stop("SIGTERM received");
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await;
}
