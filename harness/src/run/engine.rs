//! The goose adapter, the only module that names goose: goose launches
//! every user at the start, keeps them for the [`Timeline`]'s length and
//! stops them at its end (its test plan) or at a [`stop`], and waits the
//! think time between iterations. Ctrl-C is [`super::interrupt`]'s. The timeline, not goose, decides which
//! users run when (see [`test_plan`]), and everything a user sends goes
//! through [`super::user`]. The rest of the harness talks to the
//! engine through the timeline, the users, [`TICK`], [`OPEN_LAUNCH`],
//! [`stop`], [`stopped`], [`keep_stopped`] and [`clear_stop`].
//!
//! Goose is configured in code (it never reads loadgate's argv) with its
//! own metrics off: loadgate's recorder replaces them, so recording costs
//! nothing net. Setup is the `on_start` transaction; iterations run in one
//! transaction, a burst of up to 100 ms at a time, each drawing its work
//! from the weighted mix with the user's own seeded generator. Goose's
//! weighted transactions are not used: its schedulers walk one list
//! shuffled once per run, so over a short run the mix, and with it every
//! endpoint's rate, differs from run to run by tens of percent, which a
//! comparison against a baseline would read as a change.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use goose::{
    config::{GooseConfiguration, GooseDefault, GooseDefaultType},
    prelude::*,
};
use scenario::{Timeline, plan::ThinkTime};

use super::{
    recorder::Recorder,
    user::{SharedContext, VirtualUser},
};

type TransactionFuture<'r> = Pin<Box<dyn Future<Output = TransactionResult> + Send + 'r>>;

/// The engine's resolution: goose's test plan takes whole seconds, so the
/// run's [`Timeline`] is rounded to them.
pub const TICK: Duration = Duration::from_secs(1);

/// How long goose is given to launch an open model's users before the
/// schedule starts; the [`StageClock`](super::clock::StageClock)'s lead.
pub const OPEN_LAUNCH: Duration = Duration::from_secs(1);

/// The configured attack, ready to run.
pub struct Engine(GooseAttack);

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Engine")
    }
}

impl Engine {
    /// Runs the attack until the timeline ends or the run is stopped.
    pub async fn run(self) -> Result<(), String> {
        self.0
            .execute()
            .await
            .map(drop)
            .map_err(|e| format!("{e:?}"))
    }
}

/// Why the run was stopped, once it has been: loadgate's own record of
/// the stop, since goose's killswitch does not keep one. Goose clears its
/// killswitch as its run begins (and as it fails to install a Ctrl-C
/// handler, loadgate's being in place), so a stop that came before then,
/// a Ctrl-C or SIGTERM in the first moments, would be lost;
/// [`keep_stopped`] sets it again.
static STOP: Mutex<Option<String>> = Mutex::new(None);

/// Whether [`STOP`] holds a reason: read by every user at every iteration,
/// so a load, not a lock.
static STOPPED: AtomicBool = AtomicBool::new(false);

fn stop_reason() -> std::sync::MutexGuard<'static, Option<String>> {
    STOP.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Stops the run: the users stop, and [`Engine::run`] returns.
pub fn stop(reason: &str) {
    stop_reason().get_or_insert_with(|| reason.to_owned());
    STOPPED.store(true, Ordering::Release);
    goose::trigger_killswitch(reason);
}

/// Forgets a stop left by an earlier run in this process: both records of
/// it are process-wide.
pub fn clear_stop() {
    *stop_reason() = None;
    STOPPED.store(false, Ordering::Release);
    goose::reset_killswitch();
}

/// Whether the run has been stopped, by [`stop`] or by Ctrl-C.
pub fn stopped() -> bool {
    STOPPED.load(Ordering::Acquire) || goose::is_killswitch_triggered()
}

/// Sets goose's killswitch again if the run was stopped and goose has
/// cleared it since, as it does when its run begins; polled for the whole
/// run.
pub fn keep_stopped() {
    if goose::is_killswitch_triggered() {
        return;
    }
    if let Some(reason) = stop_reason().as_deref() {
        goose::trigger_killswitch(reason);
    }
}

/// The timeline in goose's test-plan form: every user launched at the
/// start (over [`OPEN_LAUNCH`] in an open model), all of them kept for the
/// whole timeline, then stopped, e.g. `10,0;10,360;0,0`.
///
/// Goose's own ramps are not used. It checks a hold's end only every
/// 500 ms, from a beat that is not the step's start, so its holds run up to
/// half a second long and every stage after drifts; and a ramp down to no
/// users on the last step ends when the last user stops, not at the step's
/// end. Instead the timeline decides which users run at each moment
/// ([`VirtualUser::wait_until_running`]): in a closed model user `i` runs
/// while more than `i` users are due; in an open model every user waits for
/// arrivals and the schedule sets the pace.
pub fn test_plan(timeline: &Timeline, open: bool) -> String {
    let launch = if open { OPEN_LAUNCH } else { Duration::ZERO };
    format!(
        "{users},{};{users},{};0,0",
        launch.as_secs(),
        timeline.total().as_secs(),
        users = timeline.peak_users()
    )
}

/// Builds the goose attack for `context.plan` on `timeline` against `target`.
pub fn build(
    context: &SharedContext,
    recorder: &Recorder,
    target: &str,
    timeline: &Timeline,
) -> Result<Engine, String> {
    build_attack(context, recorder, target, timeline).map_err(|e| e.to_string())
}

fn build_attack(
    context: &SharedContext,
    recorder: &Recorder,
    target: &str,
    timeline: &Timeline,
) -> Result<Engine, GooseError> {
    let mut config = GooseConfiguration::default();
    config.host = Some(target.to_owned());
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_metrics = true;
    config.no_telnet = true;
    config.no_error_summary = true;
    let mut attack = GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario(context, recorder)?);
    let test_plan = test_plan(timeline, context.arrivals.is_some());
    attack = *attack.set_default(GooseDefault::TestPlan, test_plan.as_str())?;
    Ok(Engine(attack))
}

fn scenario(context: &SharedContext, recorder: &Recorder) -> Result<Scenario, GooseError> {
    let mut scenario = Scenario::new("loadgate").register_transaction(
        Transaction::new(start_user(context.clone(), recorder))
            .set_name("setup")
            .set_on_start(),
    );
    scenario = if context.arrivals.is_some() {
        // Open model: one transaction that takes the next arrival and runs
        // the work it draws; the schedule, not think time, sets the pace.
        scenario
            .register_transaction(Transaction::new(arrival(context.clone())).set_name("arrival"))
    } else {
        scenario.register_transaction(
            Transaction::new(iteration(context.clone())).set_name("iteration"),
        )
    };
    scenario = scenario.register_transaction(
        Transaction::new(stop_user(context.clone()))
            .set_name("teardown")
            .set_on_stop(),
    );
    if context.arrivals.is_some() {
        return Ok(scenario);
    }
    match context.plan.think_time() {
        ThinkTime::None => Ok(scenario),
        ThinkTime::Fixed(pause) => scenario.set_wait_time(pause, pause),
        ThinkTime::Uniform { min, max } => scenario.set_wait_time(min, max),
    }
}

/// `on_start`: starts the run's clock (the first user's start is its
/// epoch) and gives the user its state. In an open model the user runs
/// from now on and does its setup during the launch; in a closed model it
/// runs, and sets up, when the timeline first has it running.
fn start_user(context: SharedContext, recorder: &Recorder) -> goose::goose::TransactionFunction {
    let sink = recorder.sink();
    Arc::new(move |user: &mut GooseUser| -> TransactionFuture<'_> {
        let context = context.clone();
        let sink = sink.clone();
        Box::pin(async move {
            context.clock.start();
            let mut state = VirtualUser::new(&context, user.weighted_users_index, sink);
            if context.arrivals.is_some() {
                state.set_running(true, &context);
                state.ensure_setup(&context).await;
            }
            user.set_session_data(state);
            Ok(())
        })
    })
}

/// How long one call of a user's transaction keeps it iterating before it
/// hands back to goose, when nothing else (think time) returns it sooner.
/// Goose's own work between two calls (a boxed future, a poll of the
/// user's command channel, its metric bookkeeping) is then paid once per
/// burst, not once per request; a tenth of a second still lets goose stop
/// a user promptly.
const BURST: Duration = Duration::from_millis(100);

/// Closed model: once the timeline has the user running, iterations (each
/// after the pace if there is one) of work drawn from the plan's mix. With
/// think time, one per call: goose waits the think time between calls.
fn iteration(context: SharedContext) -> goose::goose::TransactionFunction {
    Arc::new(move |user: &mut GooseUser| -> TransactionFuture<'_> {
        let context = context.clone();
        Box::pin(async move {
            let Some(state) = user.get_session_data_mut::<VirtualUser>() else {
                return Ok(());
            };
            let burst = matches!(context.plan.think_time(), ThinkTime::None);
            let began = Instant::now();
            loop {
                if !state.wait_until_running(&context).await {
                    return Ok(());
                }
                if let Some(pace) = context.plan.pace() {
                    state.wait_for_pace(pace).await;
                    // The pace may have outlasted the user's stage; the next
                    // iteration waits for it to run again, on a fresh pace.
                    if !state.still_running(&context) {
                        return Ok(());
                    }
                }
                if !state.ensure_setup(&context).await {
                    return Ok(());
                }
                let steps = context.pick(state.draw());
                state.run_steps(&context, steps).await;
                if !state.still_running(&context) || !burst || began.elapsed() >= BURST || stopped()
                {
                    if !burst {
                        // Goose waits the think time next: the user is idle.
                        state.flush();
                    }
                    return Ok(());
                }
            }
        })
    })
}

/// How long a user waits for its arrival before it lets goose check
/// whether the run is over; it keeps its claim meanwhile.
const ARRIVAL_WAIT: Duration = Duration::from_millis(200);

/// Open model: claims the next arrival and waits until it is due, then
/// runs one iteration drawn from the plan's mix, timed from the due time;
/// and the next, for up to a [`BURST`]. Once the run is stopped (Ctrl-C,
/// an abort) it starts nothing: the schedule ends at the stop, and the
/// claim is given back as the user stops.
fn arrival(context: SharedContext) -> goose::goose::TransactionFunction {
    Arc::new(move |user: &mut GooseUser| -> TransactionFuture<'_> {
        let context = context.clone();
        Box::pin(async move {
            let (Some(schedule), Some(state)) = (
                &context.arrivals,
                user.get_session_data_mut::<VirtualUser>(),
            ) else {
                return Ok(());
            };
            let began = Instant::now();
            loop {
                let Some(arrival) = state.next_arrival(schedule, ARRIVAL_WAIT).await else {
                    return Ok(());
                };
                if stopped() {
                    schedule.stop(Instant::now());
                }
                if !schedule.start(arrival) {
                    state.keep_claim(arrival);
                    return Ok(());
                }
                state.run_arrival(&context, arrival).await;
                if began.elapsed() >= BURST || stopped() {
                    return Ok(());
                }
            }
        })
    })
}

/// `on_stop`: gives back the user's claim (an open model's arrival it had
/// not started: the schedule ends as the engine stops its users) and hands
/// over its last samples; it no longer runs.
fn stop_user(context: SharedContext) -> goose::goose::TransactionFunction {
    Arc::new(move |user: &mut GooseUser| -> TransactionFuture<'_> {
        let context = context.clone();
        Box::pin(async move {
            if let Some(state) = user.get_session_data_mut::<VirtualUser>() {
                if let Some(schedule) = &context.arrivals {
                    schedule.stop(std::time::Instant::now());
                    state.abandon_claim(schedule);
                }
                state.flush();
                state.set_running(false, &context);
            }
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use scenario::{Vars, parse_plan};

    use super::*;

    fn timeline(load: &str) -> Timeline {
        let yaml = format!(
            "version: 2\nname: t\nload: {load}\nrequests: [{{name: a, method: GET, path: /a}}]\n"
        );
        parse_plan("t.yaml", &yaml, Path::new("."), &Vars::new())
            .unwrap()
            .timeline(TICK)
    }

    #[test]
    fn a_stop_before_goose_begins_its_run_survives_goose_clearing_it() {
        clear_stop();
        stop("SIGINT received");
        // What goose does as its run begins.
        goose::reset_killswitch();
        assert!(stopped(), "the users still see the stop");
        keep_stopped();
        assert!(goose::is_killswitch_triggered(), "and goose is told again");
        clear_stop();
        assert!(!stopped());
    }

    #[test]
    fn goose_launches_every_user_and_keeps_them_for_the_timeline() {
        let timeline =
            timeline("{stages: [{users: 10, ramp: 30s}, {hold: 5m}, {users: 0, ramp: 30s}]}");
        assert_eq!(test_plan(&timeline, false), "10,0;10,360;0,0");
    }

    #[test]
    fn an_open_model_launches_its_users_over_the_lead() {
        let timeline = timeline(
            "{model: open, max_users: 50, stages: [{rate: 100/s, ramp: 2s}, {hold: 3s}, {rate: 0/s, ramp: 1500ms}]}",
        );
        assert_eq!(timeline.total(), Duration::from_secs(7));
        assert_eq!(test_plan(&timeline, true), "50,1;50,7;0,0");
    }

    #[test]
    fn every_test_plan_parses_as_goose_reads_it() {
        let timeline = timeline("{stages: [{users: 3, ramp: 1h}, {users: 0, ramp: 61s}]}");
        let plan = test_plan(&timeline, false);
        assert_eq!(plan, "3,0;3,3661;0,0");
        assert!(plan.parse::<goose::test_plan::TestPlan>().is_ok());
    }
}
