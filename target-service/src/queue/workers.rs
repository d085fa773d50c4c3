//! The workers that run tasks, and the upkeep beside them: retries moved
//! back when due, and attempts of crashed workers taken over (Redis only).
//!
//! A worker takes one task at a time, runs its action in a task of its own
//! (so a panic fails the attempt rather than the worker) for at most half
//! the lease, and reports the outcome. Half the lease, so that an attempt
//! is over well before another instance may take it over: no attempt runs
//! in two workers at once.

use std::time::Duration;

use tokio::{sync::watch, task::JoinHandle};

use super::{
    Delivery, Finish, Idle, Queue, policy::take_order, redis::RedisQueue, task::TaskRecord,
};
use crate::{cache::keys, error::Error, model::now_ms, state::AppState, store};

/// How long an idle worker waits for a task before asking again anyway.
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// How often due retries are moved back to their queues.
const PROMOTE_EVERY: Duration = Duration::from_millis(50);
/// How long a worker pauses after its queue failed (Redis away).
const ERROR_PAUSE: Duration = Duration::from_millis(500);
/// Tries at reporting an outcome while Redis is failing: an outcome lost
/// would make the reclaimer count a done attempt as failed.
const FINISH_TRIES: u32 = 10;

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failed {
    /// Worth another attempt (the database away, an injected failure).
    Transient(String),
    /// No retry can mend it (the server is gone).
    Permanent(String),
}

/// The running workers and upkeep of one instance.
#[derive(Debug)]
pub struct Workers {
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    upkeep: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts `config.task_workers` workers and the upkeep, as `instance`.
    pub fn spawn(state: &AppState, instance: &str) -> Self {
        let (stop, stopped) = watch::channel(false);
        let workers = (0..state.config.task_workers)
            .map(|n| {
                tokio::spawn(work(
                    state.clone(),
                    format!("{instance}-{n}"),
                    u64::from(n),
                    stopped.clone(),
                ))
            })
            .collect();
        let mut upkeep = vec![tokio::spawn(promote(state.queue.clone()))];
        if state.queue.redis().is_some() {
            upkeep.push(tokio::spawn(reclaim(
                state.clone(),
                format!("{instance}-reclaimer"),
            )));
        }
        Self {
            stop,
            workers,
            upkeep,
        }
    }

    /// Lets the attempts in flight finish (at most `drain`), then stops.
    pub async fn shutdown(mut self, drain: Duration) {
        let _ = self.stop.send(true);
        let workers = std::mem::take(&mut self.workers);
        let aborts: Vec<_> = workers.iter().map(JoinHandle::abort_handle).collect();
        if tokio::time::timeout(drain, futures::future::join_all(workers))
            .await
            .is_err()
        {
            tracing::warn!(
                ?drain,
                "task attempts still running after the drain timeout were cut"
            );
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for task in self.workers.drain(..).chain(self.upkeep.drain(..)) {
            task.abort();
        }
    }
}

/// One worker: take, run, report, until stopped.
async fn work(state: AppState, consumer: String, offset: u64, mut stop: watch::Receiver<bool>) {
    let queue = &state.queue;
    // Workers start at different points of the priority cycle, so that
    // together they follow its weights from the first takes.
    let mut takes = offset;
    let mut waiting: Option<redis::aio::MultiplexedConnection> = None;
    let mut failing = false;
    while !*stop.borrow() {
        let order = take_order(takes);
        takes += 1;
        match queue.take(order, &consumer).await {
            Ok(Ok(delivery)) => {
                failing = false;
                attempt(&state, delivery).await;
            }
            Ok(Err(idle)) => {
                failing = false;
                tokio::select! {
                    () = wait(queue, idle, &mut waiting) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, %consumer, "taking a task failed; retrying");
                }
                failing = true;
                // A Redis that restarted empty lost the group.
                let _ = queue.prepare().await;
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
}

/// Waits until a task may be takeable.
async fn wait(queue: &Queue, idle: Idle, waiting: &mut Option<redis::aio::MultiplexedConnection>) {
    match (idle, queue.memory(), queue.redis()) {
        (Idle::Memory(seen), Some(memory), _) => memory.wait(seen, IDLE_WAIT).await,
        (Idle::Redis(watermark), _, Some(redis)) => {
            if waiting.is_none() {
                *waiting = redis.waiting_connection(IDLE_WAIT).await.ok();
            }
            let waited = match waiting.as_mut() {
                Some(conn) => RedisQueue::wait(conn, &watermark, IDLE_WAIT).await.is_ok(),
                None => false,
            };
            if !waited {
                *waiting = None;
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
        _ => unreachable!("a take's idle state comes from its own queue's backend"),
    }
}

/// Runs one attempt and reports its outcome.
async fn attempt(state: &AppState, delivery: Delivery) {
    let task = delivery.task().clone();
    let limit = state.config.task_lease / 2;
    let mut run = tokio::spawn(perform(state.clone(), task.clone()));
    let result = match tokio::time::timeout(limit, &mut run).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(Failed::Transient(format!("the attempt panicked: {e}"))),
        Err(_) => {
            run.abort();
            Err(Failed::Transient(format!(
                "the attempt took longer than {}",
                humantime::format_duration(limit)
            )))
        }
    };
    let finish = match result {
        Ok(()) => Finish::Succeeded,
        Err(Failed::Permanent(error)) => Finish::Dead { error },
        Err(Failed::Transient(error)) => state.queue.after_failure(task.attempts, error),
    };
    for tries in 1.. {
        match state.queue.finish(&delivery, &finish).await {
            Ok(Some(done)) => {
                let latency = (done.state.is_final()).then(|| {
                    Duration::from_millis(
                        done.updated_at.saturating_sub(done.enqueued_at).max(0) as u64
                    )
                });
                state.telemetry.task_attempt(&done, latency);
                return;
            }
            Ok(None) => {
                tracing::warn!(
                    task = task.id,
                    "an attempt's outcome came after it was taken over"
                );
                return;
            }
            Err(e) if tries < FINISH_TRIES => {
                tracing::debug!(error = %e, task = task.id, "reporting an outcome failed; retrying");
                tokio::time::sleep(ERROR_PAUSE).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, task = task.id, "an attempt's outcome was lost; it will be taken over");
                return;
            }
        }
    }
}

/// The action itself: fails when asked to (`--debug-action-failure-rate`),
/// else changes the server's status, records a metric point and drops the
/// cached copies they were in.
async fn perform(state: AppState, task: TaskRecord) -> Result<(), Failed> {
    let rate = state.config.debug_action_failure_rate;
    if rate > 0.0 && fastrand::f64() < rate {
        return Err(Failed::Transient(
            "injected failure (--debug-action-failure-rate)".to_owned(),
        ));
    }
    if let Some(delay) = state.config.debug_action_delay {
        tokio::time::sleep(delay).await;
    }
    match store::apply_action(&state.db, &task, now_ms()).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(Failed::Permanent(format!(
                "server {} no longer exists",
                task.server_id
            )));
        }
        Err(e) => {
            let error = match e {
                Error::DatabaseUnavailable(_) => "the database is unavailable".to_owned(),
                other => {
                    tracing::error!(error = %other, task = task.id, "an action's database write failed");
                    "internal error".to_owned()
                }
            };
            return Err(Failed::Transient(error));
        }
    }
    state
        .cache
        .invalidate_keys(&[
            keys::server(task.user_id, task.server_id),
            keys::metrics(task.server_id, Some(task.action.metric_type())),
            keys::metrics(task.server_id, None),
        ])
        .await;
    state.cache.invalidate_lists(task.user_id).await;
    Ok(())
}

/// Moves due retries back, forever.
async fn promote(queue: Queue) {
    let mut tick = tokio::time::interval(PROMOTE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = queue.promote_due().await {
            tracing::debug!(error = %e, "promoting due retries failed");
        }
    }
}

/// Takes over attempts whose worker stopped answering, forever.
async fn reclaim(state: AppState, consumer: String) {
    let lease = state.config.task_lease;
    let mut tick = tokio::time::interval((lease / 4).max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(redis) = state.queue.redis() else {
            return;
        };
        let backoff = state.queue.backoff;
        let delays: Vec<Duration> = (1..=backoff.max_retries)
            .filter_map(|attempt| backoff.delay(attempt, fastrand::f64()))
            .collect();
        let now = state.queue.clock.now();
        match redis.reclaim(&consumer, lease, now, &delays).await {
            Ok(reclaimed) => {
                for task in reclaimed {
                    tracing::warn!(
                        task = task.id,
                        state = task.state.as_str(),
                        "took over an attempt whose worker stopped answering"
                    );
                    state.telemetry.task_reclaimed(&task, now);
                }
            }
            Err(e) => tracing::debug!(error = %e, "reclaiming attempts failed"),
        }
    }
}
