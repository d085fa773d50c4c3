//! The plan on goose: goose launches and stops the users on the plan's
//! stages (its test plan), waits the think time between iterations, and
//! handles Ctrl-C; everything a user sends goes through [`crate::user`].
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
};

use goose::{
    config::{GooseConfiguration, GooseDefault, GooseDefaultType},
    prelude::*,
};

use crate::{
    plan::ThinkTime,
    recorder::Recorder,
    user::{SharedContext, VirtualUser},
};

type TransactionFuture<'r> = Pin<Box<dyn Future<Output = TransactionResult> + Send + 'r>>;

/// Builds the goose attack for `context.plan` against `target`.
pub fn build(
    context: &SharedContext,
    recorder: &Recorder,
    target: &str,
) -> Result<GooseAttack, GooseError> {
    let mut config = GooseConfiguration::default();
    config.host = Some(target.to_owned());
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_metrics = true;
    config.no_telnet = true;
    config.no_error_summary = true;
    let mut attack = GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario(context, recorder)?);
    attack = *attack.set_default(
        GooseDefault::TestPlan,
        context.plan.goose_test_plan().as_str(),
    )?;
    Ok(attack)
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

/// `on_start`: gives the user its state and runs its setup.
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
const ARRIVAL_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

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
