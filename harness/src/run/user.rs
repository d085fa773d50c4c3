//! One virtual user: renders a step's templates, sends it through the
//! [`exchange`](super::exchange) seam, checks the response, captures values
//! for later steps, and records the sample.
//!
//! A user that has not finished its setup (a login, say) tries it again at
//! the start of its next iteration instead of sending requests whose
//! placeholders have no value: that is what a real client would do, and
//! every attempt is a real, recorded request.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rand::{Rng, SeedableRng, rngs::SmallRng};
use scenario::{
    Timeline,
    duration::whole_micros,
    plan::{Capture, CaptureSource, Checks, JsonExpectation, Plan},
    template::{CaptureSlot, TemplateContext},
};

use super::{
    clock::StageClock,
    engine,
    exchange::{Exchange, HttpClient, SendError, Transport},
    recorder::{FailureKind, Outcome, Sample, SampleSink},
    request::{Buffers, PreparedPlan, PreparedStep, Unsendable},
    schedule::{Arrival, Schedule},
};

/// How long a user that is not running sleeps at most before it looks
/// again, so that it notices the run stopping.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// How long a user pauses after a step it could not send, so a broken step
/// costs at most a hundred failures a second per user.
const UNSENT_PAUSE: Duration = Duration::from_millis(10);

/// What every user of a run shares.
#[derive(Debug)]
pub struct RunContext {
    pub plan: Plan,
    /// The stages on the run's clock: which users run when.
    pub timeline: Timeline,
    /// Users running now, for the series and the progress line.
    pub running: Arc<AtomicU32>,
    /// What every user's client shares: the target, TLS, cookies on or off.
    pub transport: Arc<Transport>,
    /// The run's clock; sample times count from its epoch, which the
    /// first user to start sets.
    pub clock: Arc<StageClock>,
    /// The plan's steps, ready to render and send.
    steps: PreparedPlan,
    /// Where users claim arrivals, for an open-model plan.
    pub arrivals: Option<Schedule>,
    /// How many `{{ seq }}` values were handed out: the plan's shard turns
    /// the count into the value.
    seq: AtomicU64,
}

impl RunContext {
    pub fn new(
        plan: Plan,
        timeline: Timeline,
        running: Arc<AtomicU32>,
        transport: Arc<Transport>,
        clock: Arc<StageClock>,
        names: &[String],
        arrivals: Option<Schedule>,
    ) -> Self {
        Self {
            arrivals,
            steps: PreparedPlan::new(&plan, names, &transport),
            plan,
            timeline,
            running,
            transport,
            clock,
            seq: AtomicU64::new(0),
        }
    }

    /// The steps of the work item for a uniform draw in `[0, 1)`.
    pub fn pick(&self, draw: f64) -> &[PreparedStep] {
        &self.steps.work[self.plan.pick_index(draw)]
    }
}

/// A user's own state, kept in the engine's session data.
#[derive(Debug, Clone)]
pub struct VirtualUser {
    /// Its connections and cookie jar.
    client: HttpClient,
    /// Where its requests are rendered.
    buffers: Buffers,
    /// Position in launch order; the timeline runs users in this order.
    index: u32,
    /// Whether the user counts among the running ones.
    running: bool,
    templates: TemplateState,
    setup_done: bool,
    sink: SampleSink,
    /// When a paced user's next iteration is due.
    next_due: Option<Instant>,
    /// A paced user's iteration about to run, as an arrival due when the
    /// pace said: its first request counts from then.
    paced: Option<Arrival>,
    /// Open model: the arrival this user has claimed and waits for.
    held: Option<Arrival>,
}

impl VirtualUser {
    /// User number `index` of the run (its key is the pool's `index`th).
    pub fn new(context: &RunContext, index: usize, sink: SampleSink) -> Self {
        Self {
            client: HttpClient::new(context.transport.clone()),
            buffers: Buffers::default(),
            index: u32::try_from(index).unwrap_or(u32::MAX),
            running: false,
            templates: TemplateState::new(&context.plan, index),
            setup_done: false,
            sink,
            next_due: None,
            paced: None,
            held: None,
        }
    }

    /// Counts the user among the running ones, or no longer; a user that
    /// starts running again starts a fresh pace.
    pub fn set_running(&mut self, running: bool, context: &RunContext) {
        if running == self.running {
            return;
        }
        self.running = running;
        if running {
            self.next_due = None;
            context.running.fetch_add(1, Ordering::Relaxed);
        } else {
            context.running.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Closed model: waits while the timeline has this user stopped, until
    /// it runs (true) or will not run again soon or the run stops (false).
    /// The timeline, not the engine, decides which users run: the engine
    /// launches every user at the start (see [`engine::test_plan`]).
    pub async fn wait_until_running(&mut self, context: &RunContext) -> bool {
        loop {
            let now = context.clock.elapsed();
            if context.timeline.runs(self.index, now) {
                self.set_running(true, context);
                return true;
            }
            self.set_running(false, context);
            self.sink.flush();
            let next = context
                .timeline
                .next_start(self.index, now)
                .filter(|_| !engine::stopped());
            let Some(next) = next else {
                // Sleep even so: a user that returned at once, with no think
                // time, would spin and starve the engine's own timers.
                tokio::time::sleep(IDLE_POLL).await;
                return false;
            };
            tokio::time::sleep((next - now).min(IDLE_POLL)).await;
        }
    }

    /// Closed model: whether the timeline still runs this user. One it has
    /// stopped meanwhile (a ramp down) no longer counts as running, even
    /// while it waits before its next look.
    pub fn still_running(&mut self, context: &RunContext) -> bool {
        let running = context.timeline.runs(self.index, context.clock.elapsed());
        if !running {
            self.set_running(false, context);
        }
        running
    }

    /// For a paced plan: waits until this user's next iteration is due and
    /// books the one after. The iteration's first request (its setup's, if
    /// that runs first) counts from the due time, as an open model's
    /// arrival does, so an iteration that started late shows it even when
    /// no single request was slow. A user that fell behind starts at once
    /// and does not catch up in a burst; the recorder fills in the
    /// iterations it skipped, from how late it started.
    pub async fn wait_for_pace(&mut self, pace: Duration) {
        let now = Instant::now();
        let due = self.next_due.unwrap_or(now);
        if due > now {
            self.sink.flush();
            tokio::time::sleep_until(due.into()).await;
        }
        self.paced = Some(Arrival { due, claimed: due });
        self.next_due = Some(next_due(due, now, pace));
    }

    /// Runs the setup steps unless done; whether the user is ready for work.
    pub async fn ensure_setup(&mut self, context: &RunContext) -> bool {
        if !self.setup_done {
            self.setup_done = self.run_steps(context, &context.steps.setup).await;
        }
        self.setup_done
    }

    /// Runs `steps` in order, stopping at the first that fails; whether all
    /// passed. The first step sent takes a paced iteration's due time.
    pub async fn run_steps(&mut self, context: &RunContext, steps: &[PreparedStep]) -> bool {
        let mut paced = self.paced.take();
        let passed = self.run_steps_from(context, steps, &mut paced).await;
        // Not sent (a placeholder without a value): the next steps' first.
        self.paced = paced;
        passed
    }

    /// Open model: the next arrival to start, by [`Schedule::next`], which
    /// keeps this user's claim and records the arrivals it gives up.
    pub async fn next_arrival(
        &mut self,
        schedule: &Schedule,
        patience: Duration,
    ) -> Option<Arrival> {
        let next = schedule
            .next(&mut self.held, patience, &mut self.sink)
            .await;
        if next.is_none() {
            // No arrival for this user within its patience: it is idle.
            self.sink.flush();
        }
        next
    }

    /// Open model: keeps `arrival` claimed without starting it (the run
    /// has stopped), for [`Self::abandon_claim`].
    pub fn keep_claim(&mut self, arrival: Arrival) {
        self.held = Some(arrival);
    }

    /// Open model: gives back the claim held as the user stops; the
    /// schedule counts it dropped if it was due before the run ended.
    pub fn abandon_claim(&mut self, schedule: &Schedule) {
        if let Some(held) = self.held.take() {
            schedule.abandon(held, &mut self.sink);
        }
    }

    /// Open model: one iteration for `arrival`: the setup if it is not
    /// done yet, then work drawn from the mix. The first request sent
    /// counts its latency from the arrival's due time, not from its send,
    /// so time spent waiting to start is not hidden (coordinated
    /// omission), and carries how the start went.
    pub async fn run_arrival(&mut self, context: &RunContext, arrival: Arrival) -> bool {
        let mut arrival = Some(arrival);
        if !self.setup_done {
            self.setup_done = self
                .run_steps_from(context, &context.steps.setup, &mut arrival)
                .await;
            if !self.setup_done {
                return false;
            }
        }
        let steps = context.pick(self.draw());
        self.run_steps_from(context, steps, &mut arrival).await
    }

    /// Runs `steps` in order, stopping at the first that fails; the first
    /// step sent takes `arrival`.
    async fn run_steps_from(
        &mut self,
        context: &RunContext,
        steps: &[PreparedStep],
        arrival: &mut Option<Arrival>,
    ) -> bool {
        for step in steps {
            if !self.run_step(context, step, arrival.take()).await {
                return false;
            }
        }
        true
    }

    /// A uniform draw in `[0, 1)`, for picking an arrival's work.
    pub fn draw(&mut self) -> f64 {
        self.templates.rng.random::<f64>()
    }

    /// Hands over buffered samples; called as the user stops, and before
    /// the engine waits a think time.
    pub fn flush(&mut self) {
        self.sink.flush();
    }

    async fn run_step(
        &mut self,
        context: &RunContext,
        prepared: &PreparedStep,
        arrival: Option<Arrival>,
    ) -> bool {
        let step = &prepared.step;
        self.templates.seq = context
            .plan
            .shard()
            .seq(context.seq.fetch_add(1, Ordering::Relaxed));
        let sent = Instant::now();
        let started = arrival.map_or(sent, |a| a.due).min(sent);
        let start_us = context.clock.offset_us(started);
        // The send, not the start: a late arrival's or paced iteration's
        // due time lies in the past, and against it what the user holds
        // would look newer than it is.
        self.sink.flush_if_older(context.clock.offset_us(sent));
        let (timing, result) = match prepared.render(&mut self.templates, &mut self.buffers) {
            Ok(request) => self.client.send(request).await,
            Err(unsendable) => {
                // Failed before it began: its error counts, and it has no
                // latency to count (not even the wait for its arrival).
                match unsendable {
                    Unsendable::Unfilled => {
                        tracing::warn!(step = %step.name, "a placeholder has no value; step not sent");
                    }
                    Unsendable::Invalid(why) => {
                        tracing::debug!(step = %step.name, "the request could not be sent: {why}");
                    }
                }
                let start = arrival.map(|a| a.start_timing(sent));
                self.sink
                    .record(Sample::unsent(prepared.name, start_us, start));
                // Nothing was awaited: without a pause a user whose step
                // can never be sent would record failures as fast as the
                // CPU allows, not at the planned load.
                tokio::time::sleep(UNSENT_PAUSE).await;
                return false;
            }
        };
        let outcome = match result {
            Ok(exchange) => {
                let outcome = self.judge(step, &exchange);
                self.client.recycle(exchange);
                outcome
            }
            Err(error) => Outcome::Failed {
                kind: match error {
                    SendError::Connect(_) => FailureKind::Connect,
                    SendError::Timeout(_) => FailureKind::Timeout,
                    SendError::Other(_) => FailureKind::Other,
                },
                status: None,
            },
        };
        let micros = whole_micros;
        let service_us = micros(timing.total);
        let waited_us = micros(sent - started);
        self.sink.record(Sample {
            name: Some(prepared.name),
            start_us,
            latency_us: service_us.saturating_add(waited_us),
            service_us,
            connect_us: timing
                .connect
                .map_or(0, |d| u32::try_from(micros(d).max(1)).unwrap_or(u32::MAX)),
            ttfb_us: timing.ttfb.map_or(0, |d| micros(d).max(1)),
            start: arrival.map(|a| a.start_timing(sent)),
            outcome,
        });
        matches!(outcome, Outcome::Ok { .. })
    }

    /// Applies the step's checks and captures to a response.
    fn judge(&mut self, step: &scenario::plan::Step, exchange: &Exchange) -> Outcome {
        let status = exchange.status;
        if !step.checks.status.accepts(status) {
            return Outcome::Failed {
                kind: FailureKind::Status,
                status: Some(status),
            };
        }
        let passed =
            passes_checks(&step.checks, exchange) && self.capture(&step.captures, exchange);
        if passed {
            Outcome::Ok { status }
        } else {
            Outcome::Failed {
                kind: FailureKind::Check,
                status: Some(status),
            }
        }
    }

    /// Stores each capture; a capture that finds nothing fails the step
    /// and leaves its variable without a value, so steps that use it are
    /// skipped rather than sent with a stale one.
    /// The body is decoded and parsed only when a capture reads it; of a
    /// repeated header, the first value is taken.
    fn capture(&mut self, captures: &[Capture], exchange: &Exchange) -> bool {
        let mut json = None;
        for capture in captures {
            // The slot's string is reused: a capture that repeats each
            // request allocates nothing once it has its size.
            let slot = self.templates.captures[capture.slot.0].get_or_insert_with(String::new);
            slot.clear();
            match &capture.source {
                CaptureSource::Header(name) => match exchange.headers.get(name.as_str()) {
                    Some(value) => slot.push_str(&String::from_utf8_lossy(value.as_bytes())),
                    None => {
                        self.templates.captures[capture.slot.0] = None;
                        return false;
                    }
                },
                CaptureSource::Json(pointer) => {
                    if json.is_none() {
                        json = exchange.decoded_body().and_then(|body| {
                            serde_json::from_slice::<serde_json::Value>(&body).ok()
                        });
                    }
                    match json.as_ref().and_then(|j| j.pointer(pointer)) {
                        Some(serde_json::Value::String(text)) => slot.push_str(text),
                        Some(other) => {
                            use std::fmt::Write;
                            let _ = write!(slot, "{other}");
                        }
                        None => {
                            self.templates.captures[capture.slot.0] = None;
                            return false;
                        }
                    }
                }
            }
        }
        true
    }
}

/// When a paced iteration due at `due` and started at `now` (or at `due`,
/// if that is later) books the next: the first slot of the pace's grid
/// after the start. Re-anchoring on the start instead (`now + pace`) would
/// forgive a late user its lateness at every iteration, so one that can
/// never keep its pace would look merely a little late each time.
fn next_due(due: Instant, now: Instant, pace: Duration) -> Instant {
    let behind = now.saturating_duration_since(due).as_nanos();
    let skipped = behind / pace.as_nanos().max(1);
    due + pace * u32::try_from(skipped + 1).unwrap_or(u32::MAX)
}

/// The checks beyond the status.
fn passes_checks(checks: &Checks, exchange: &Exchange) -> bool {
    if !checks
        .headers_present
        .iter()
        .all(|h| exchange.headers.contains_key(h.as_str()))
    {
        return false;
    }
    if checks.body_contains.is_empty() && checks.json.is_empty() {
        return true;
    }
    let Some(body) = exchange.decoded_body() else {
        return false;
    };
    if !checks.body_contains.is_empty() {
        let body = String::from_utf8_lossy(&body);
        if !checks
            .body_contains
            .iter()
            .all(|needle| body.contains(needle.as_str()))
        {
            return false;
        }
    }
    if checks.json.is_empty() {
        return true;
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return false;
    };
    checks.json.iter().all(|check| {
        let found = json.pointer(&check.pointer);
        match &check.expect {
            JsonExpectation::Exists(should) => found.is_some() == *should,
            JsonExpectation::Equals(expected) => found == Some(expected),
        }
    })
}

/// What a user's templates are filled from: its key, the values it
/// captured, its own seeded generator for `{{ random(..) }}` and the
/// request's `{{ seq }}`.
#[derive(Debug, Clone)]
pub struct TemplateState {
    pub key: String,
    /// One slot per capture name of the plan.
    pub captures: Vec<Option<String>>,
    pub rng: SmallRng,
    pub seq: u64,
}

impl TemplateState {
    /// The state of user number `index` of a run of `plan`: the pool's key
    /// for it, no captures yet, a generator seeded with its number in the
    /// whole run, so runs repeat and shards draw apart.
    pub fn new(plan: &Plan, index: usize) -> Self {
        Self {
            key: plan.key(index).into_owned(),
            captures: vec![None; plan.capture_names().len()],
            rng: SmallRng::seed_from_u64(plan.whole_run_user(index) as u64),
            seq: 0,
        }
    }
}

impl TemplateContext for TemplateState {
    fn key(&self) -> &str {
        &self.key
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    fn random(&mut self, low: i64, high: i64) -> i64 {
        self.rng.random_range(low..=high)
    }

    fn captured(&self, slot: CaptureSlot) -> Option<&str> {
        self.captures.get(slot.0)?.as_deref()
    }
}

/// Shared ownership of the run context, as the engine's closures need it.
pub type SharedContext = Arc<RunContext>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_iteration_keeps_the_next_on_the_paces_grid() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let pace = ms(600);
        assert_eq!(next_due(t, t, pace), t + ms(600), "on time");
        assert_eq!(
            next_due(t + ms(600), t, pace),
            t + ms(1200),
            "early: slept till due"
        );
        assert_eq!(
            next_due(t, t + ms(150), pace),
            t + ms(600),
            "late, not by a pace"
        );
        assert_eq!(
            next_due(t, t + ms(1500), pace),
            t + ms(1800),
            "two slots skipped"
        );
        assert_eq!(
            next_due(t, t + ms(1200), pace),
            t + ms(1800),
            "exactly on a slot"
        );
    }
}
