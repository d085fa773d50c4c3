//! The goose adapter, the only module that names goose: goose launches
//! and stops the users on the [`Timeline`]'s stages (its test plan), waits
//! the think time between iterations, and handles Ctrl-C; everything a user
//! sends goes through [`super::user`]. The rest of the harness talks to the
//! engine through the timeline, the users, [`TICK`], [`OPEN_LAUNCH`],
//! [`stop`] and [`stopped`].
//!
//! Goose is configured in code (it never reads loadgate's argv) with its
//! own metrics off: loadgate's recorder replaces them, so recording costs
//! nothing net. Setup is the `on_start` transaction; each iteration is one
//! transaction that draws its work from the weighted mix with the user's
//! own seeded generator. Goose's weighted transactions are not used: its
//! schedulers walk one list shuffled once per run, so over a short run the
//! mix, and with it every endpoint's rate, differs from run to run by tens
//! of percent, which a comparison against a baseline would read as a change.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use goose::{
    config::{GooseConfiguration, GooseDefault, GooseDefaultType},
    prelude::*,
};
use scenario::{
    Timeline,
    plan::ThinkTime,
    timeline::{Motion, StageSpan},
};

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

/// Stops the run: the users stop, and [`Engine::run`] returns.
pub fn stop(reason: &str) {
    goose::trigger_killswitch(reason);
}

/// Whether the run has been stopped, by [`stop`] or by Ctrl-C.
pub fn stopped() -> bool {
    goose::is_killswitch_triggered()
}

/// The timeline in goose's test-plan form, `users,seconds;…`, e.g.
/// `10,30;10,300;0,30`. Goose ramps linearly from the previous users to
/// each step's users over its span, so a hold repeats the users before it,
/// and a step is a zero-second ramp followed by a hold. A plan that ends
/// with users running gets a last `0,0` step: goose keeps a final non-zero
/// step running until it is cancelled, but the timeline's end is the run's.
///
/// An open model launches all its users within [`OPEN_LAUNCH`] and keeps
/// them for the whole timeline, which starts once they are launched: they
/// wait for arrivals, and the schedule, not goose, sets the pace.
pub fn test_plan(timeline: &Timeline, open: bool) -> String {
    let seconds = |d: Duration| d.as_secs();
    if open {
        return format!(
            "{users},{};{users},{};0,0",
            seconds(OPEN_LAUNCH),
            seconds(timeline.total()),
            users = timeline.peak_users()
        );
    }
    let mut steps: Vec<String> = Vec::new();
    for span in timeline.stages() {
        let StageSpan {
            to_users, motion, ..
        } = span;
        if *motion == Motion::Step {
            steps.push(format!("{to_users},0"));
        }
        steps.push(format!("{to_users},{}", seconds(span.length())));
    }
    if timeline.stages().last().is_some_and(|span| span.to_users > 0) {
        steps.push("0,0".to_owned());
    }
    steps.join(";")
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
    let users = recorder.users();
    let mut scenario = Scenario::new("loadgate").register_transaction(
        Transaction::new(start_user(context.clone(), recorder, users.clone()))
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
        Transaction::new(stop_user(users))
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
/// epoch), gives the user its state and runs its setup.
fn start_user(
    context: SharedContext,
    recorder: &Recorder,
    users: Arc<AtomicU32>,
) -> goose::goose::TransactionFunction {
    let sink = recorder.sink();
    Arc::new(move |user: &mut GooseUser| -> TransactionFuture<'_> {
        let context = context.clone();
        let sink = sink.clone();
        let users = users.clone();
        Box::pin(async move {
            context.clock.start();
            users.fetch_add(1, Ordering::Relaxed);
            let mut state = VirtualUser::new(&context, user.weighted_users_index, sink);
            state.ensure_setup(&context).await;
            user.set_session_data(state);
            Ok(())
        })
    })
}

/// Closed model: one iteration, after the pace if there is one, of work
/// drawn from the plan's mix.
fn iteration(context: SharedContext) -> goose::goose::TransactionFunction {
    Arc::new(move |user: &mut GooseUser| -> TransactionFuture<'_> {
        let context = context.clone();
        Box::pin(async move {
            let Some(state) = user.get_session_data_mut::<VirtualUser>() else {
                return Ok(());
            };
            if let Some(pace) = context.plan.pace() {
                state.wait_for_pace(pace).await;
            }
            if !state.ensure_setup(&context).await {
                return Ok(());
            }
            let steps = context.plan.pick(state.draw()).steps();
            state.run_steps(&context, steps).await;
            Ok(())
        })
    })
}

/// How long a user waits for an arrival before it lets goose check whether
/// the run is over.
const ARRIVAL_WAIT: Duration = Duration::from_millis(200);

/// Open model: waits for the next arrival, then runs one iteration drawn
/// from the plan's mix, timed from when the arrival was due.
fn arrival(context: SharedContext) -> goose::goose::TransactionFunction {
    Arc::new(move |user: &mut GooseUser| -> TransactionFuture<'_> {
        let context = context.clone();
        Box::pin(async move {
            let Some(arrivals) = &context.arrivals else {
                return Ok(());
            };
            let arrival = match arrivals.take(ARRIVAL_WAIT).await {
                Ok(Some(arrival)) => arrival,
                // Nothing due yet: let goose see whether the run is over.
                Ok(None) => return Ok(()),
                // The schedule has run out; idle until goose stops the user.
                Err(_) => {
                    tokio::time::sleep(ARRIVAL_WAIT).await;
                    return Ok(());
                }
            };
            let Some(state) = user.get_session_data_mut::<VirtualUser>() else {
                return Ok(());
            };
            if !state.ensure_setup(&context).await {
                return Ok(());
            }
            let steps = context.plan.pick(state.draw()).steps();
            state
                .run_steps_due(&context, steps, Some(arrival.due))
                .await;
            Ok(())
        })
    })
}

/// `on_stop`: hands over the user's last samples.
fn stop_user(users: Arc<AtomicU32>) -> goose::goose::TransactionFunction {
    Arc::new(move |user: &mut GooseUser| -> TransactionFuture<'_> {
        let users = users.clone();
        Box::pin(async move {
            if let Some(state) = user.get_session_data_mut::<VirtualUser>() {
                state.flush();
            }
            users.fetch_sub(1, Ordering::Relaxed);
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
    fn a_closed_timeline_is_goose_steps_in_whole_seconds() {
        let timeline =
            timeline("{stages: [{users: 10, ramp: 30s}, {hold: 5m}, {users: 0, ramp: 30s}]}");
        assert_eq!(test_plan(&timeline, false), "10,30;10,300;0,30");
    }

    #[test]
    fn a_plan_that_ends_with_users_gets_a_last_stop() {
        let timeline = timeline("{stages: [{users: 4, ramp: 1s}, {hold: 2s}]}");
        assert_eq!(test_plan(&timeline, false), "4,1;4,2;0,0");
    }

    #[test]
    fn an_open_timeline_launches_every_user_then_keeps_them() {
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
        assert_eq!(plan, "3,3600;0,61");
        assert!(plan.parse::<goose::test_plan::TestPlan>().is_ok());
    }
}
