//! The background queue of architecture §3: lifecycle actions on servers
//! run as tasks, by workers, with priorities, retries with backoff and a
//! dead-letter queue.
//!
//! * [`task`]: what a task is and the states it moves through.
//! * [`policy`]: the backoff and the priority order, shared by backends.
//! * [`redis`]: the shared backend on Redis Streams, for several instances
//!   and restarts; [`memory`]: the embedded one, single-instance.
//! * [`workers`]: the workers that run the actions, and the upkeep
//!   (retries due, attempts whose worker died).
//!
//! [`Queue`] is what handlers and workers hold. It takes the time from
//! its [`Clock`], which tests replace, so backoff is tested without
//! waiting for it.
//!
//! Delivery is at least once: an attempt cut off by a crash counts as
//! failed and is retried, so an action may have run (its effect in the
//! database) without its success being recorded.

pub mod memory;
pub mod policy;
pub mod redis;
pub mod task;
pub mod workers;

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use crate::{
    config::Config,
    error::{Error, Result},
    model::now_ms,
};
use memory::{MemoryDelivery, MemoryQueue};
use policy::Backoff;
use redis::{RedisDelivery, RedisQueue, Watermark};
use task::{NewTask, Priority, TaskRecord, TaskState};

/// How long a succeeded task stays readable (`GET /api/v1/tasks/{id}`)
/// before it is forgotten, so a load test's millions of tasks do not
/// fill Redis or memory. Dead tasks stay until replayed.
pub const FINISHED_TTL: Duration = Duration::from_secs(3600);

/// The outcome of one attempt, as the queue records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    Succeeded,
    /// Failed; the next attempt runs `after` from now.
    Retry {
        error: String,
        after: Duration,
    },
    /// Failed for good: to the dead-letter queue.
    Dead {
        error: String,
    },
}

/// Why a replay was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// No such task, or another user's.
    NotFound,
    /// Only dead tasks are replayed.
    NotDead(TaskState),
}

/// Where "now" comes from, in epoch milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands at `start` until moved by [`Clock::advance`].
    pub fn manual(start: i64) -> Self {
        Self(Some(Arc::new(AtomicI64::new(start))))
    }

    pub fn now(&self) -> i64 {
        self.0
            .as_ref()
            .map_or_else(now_ms, |ms| ms.load(Ordering::SeqCst))
    }

    /// Moves a manual clock on; the system clock moves by itself.
    pub fn advance(&self, by: Duration) {
        if let Some(ms) = &self.0 {
            ms.fetch_add(
                i64::try_from(by.as_millis()).unwrap_or(i64::MAX),
                Ordering::SeqCst,
            );
        }
    }
}

/// A backend's hold on one attempt.
#[derive(Debug, Clone)]
pub enum Delivery {
    Memory(MemoryDelivery),
    Redis(RedisDelivery),
}

impl Delivery {
    pub fn task(&self) -> &TaskRecord {
        match self {
            Delivery::Memory(d) => &d.task,
            Delivery::Redis(d) => &d.task,
        }
    }
}

/// What to wait on after a take found nothing.
#[derive(Debug, Clone)]
pub enum Idle {
    Memory(u64),
    Redis(Watermark),
}

#[derive(Debug, Clone)]
enum Backend {
    Memory(Arc<MemoryQueue>),
    Redis(RedisQueue),
}

/// The task queue of one service instance; cheap to clone.
#[derive(Debug, Clone)]
pub struct Queue {
    backend: Backend,
    pub backoff: Backoff,
    pub clock: Clock,
}

/// A Redis failure, to the client: the queue is away, try again.
fn unavailable(e: ::redis::RedisError) -> Error {
    tracing::warn!(error = %e, "task queue command failed");
    Error::Unavailable("the task queue is unavailable, retry shortly".to_owned())
}

impl Queue {
    /// On Redis when the service has one, else in memory.
    pub fn new(config: &Config, clock: Clock) -> anyhow::Result<Self> {
        let backend = match &config.redis_url {
            Some(url) => Backend::Redis(RedisQueue::new(url, &config.cache_prefix)?),
            None => Backend::Memory(Arc::new(MemoryQueue::new())),
        };
        Ok(Self {
            backend,
            backoff: Backoff {
                base: config.task_backoff_base,
                cap: config.task_backoff_cap,
                max_retries: config.task_max_retries,
            },
            clock,
        })
    }

    /// `redis` or `memory`, for `/ready` and the logs.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    /// Makes the Redis streams and group exist; nothing in memory.
    pub async fn prepare(&self) -> Result<()> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(r) => r.ensure_groups().await.map_err(unavailable),
        }
    }

    pub async fn enqueue(&self, new: NewTask) -> Result<TaskRecord> {
        let now = self.clock.now();
        match &self.backend {
            Backend::Memory(m) => Ok(m.enqueue(new, now)),
            Backend::Redis(r) => r.enqueue(new, now).await.map_err(unavailable),
        }
    }

    /// One of `user_id`'s tasks; another user's is a 404.
    pub async fn get(&self, user_id: i64, id: i64) -> Result<TaskRecord> {
        let task = match &self.backend {
            Backend::Memory(m) => m.get(user_id, id),
            Backend::Redis(r) => r.get(user_id, id).await.map_err(unavailable)?,
        };
        task.ok_or(Error::NotFound("task"))
    }

    /// A page of `user_id`'s dead tasks, newest first, and how many there are.
    pub async fn dead_page(
        &self,
        user_id: i64,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<TaskRecord>, i64)> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.dead_page(user_id, page, per_page)),
            Backend::Redis(r) => r
                .dead_page(user_id, page, per_page)
                .await
                .map_err(unavailable),
        }
    }

    /// Queues one of `user_id`'s dead tasks again, its attempts reset.
    pub async fn replay(&self, user_id: i64, id: i64) -> Result<TaskRecord> {
        let now = self.clock.now();
        let replayed = match &self.backend {
            Backend::Memory(m) => m.replay(user_id, id, now),
            Backend::Redis(r) => r.replay(user_id, id, now).await.map_err(unavailable)?,
        };
        replayed.map_err(|e| match e {
            ReplayError::NotFound => Error::NotFound("task"),
            ReplayError::NotDead(state) => Error::Conflict(format!(
                "task {id} is {}; only dead tasks are replayed",
                state.as_str()
            )),
        })
    }

    /// Starts an attempt at the first waiting task in `order`, for the
    /// worker `consumer`; or says what to wait on.
    pub async fn take(
        &self,
        order: [Priority; 3],
        consumer: &str,
    ) -> ::redis::RedisResult<Result<Delivery, Idle>> {
        let now = self.clock.now();
        Ok(match &self.backend {
            Backend::Memory(m) => m
                .take(order, now)
                .map(Delivery::Memory)
                .map_err(Idle::Memory),
            Backend::Redis(r) => r
                .take(order, consumer, now)
                .await?
                .map(Delivery::Redis)
                .map_err(Idle::Redis),
        })
    }

    /// Records an attempt's outcome: the task as it now is, or `None` when
    /// the attempt was taken over meanwhile (its outcome does not count).
    pub async fn finish(
        &self,
        delivery: &Delivery,
        finish: &Finish,
    ) -> ::redis::RedisResult<Option<TaskRecord>> {
        let now = self.clock.now();
        match (&self.backend, delivery) {
            (Backend::Memory(m), Delivery::Memory(d)) => Ok(m.finish(d, finish, now)),
            (Backend::Redis(r), Delivery::Redis(d)) => r.finish(d, finish, now).await,
            _ => unreachable!("a delivery comes from its own queue's backend"),
        }
    }

    /// What an attempt that failed with `error` leads to: a retry after
    /// the backoff, or the dead-letter queue after the last one.
    pub fn after_failure(&self, attempt: u32, error: String) -> Finish {
        match self.backoff.delay(attempt, fastrand::f64()) {
            Some(after) => Finish::Retry { error, after },
            None => Finish::Dead { error },
        }
    }

    /// Queues again the retries that are due.
    pub async fn promote_due(&self) -> ::redis::RedisResult<u64> {
        let now = self.clock.now();
        match &self.backend {
            Backend::Memory(m) => Ok(m.promote_due(now)),
            Backend::Redis(r) => r.promote_due(now).await,
        }
    }

    /// Waiting tasks per priority, highest first.
    pub async fn depth(&self) -> ::redis::RedisResult<[u64; 3]> {
        match &self.backend {
            Backend::Memory(m) => Ok(m.depth()),
            Backend::Redis(r) => r.depth().await,
        }
    }

    pub(crate) fn redis(&self) -> Option<&RedisQueue> {
        match &self.backend {
            Backend::Redis(r) => Some(r),
            Backend::Memory(_) => None,
        }
    }

    pub(crate) fn memory(&self) -> Option<&MemoryQueue> {
        match &self.backend {
            Backend::Memory(m) => Some(m),
            Backend::Redis(_) => None,
        }
    }
}
