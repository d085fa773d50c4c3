//! Prometheus metrics (architecture §5) under names other tools rely on:
//! `http_requests_total{route,method,status}`,
//! `http_request_duration_seconds{route,method}` (a histogram),
//! `cache_hits_total{layer}`, `cache_misses_total{layer}` (layer `l4` or
//! `l3`), `db_pool_connections{state}` (`in_use`, `idle`),
//! `db_pool_max_connections` and `redis_errors_total`; and for the task
//! queue, `tasks_enqueued_total{priority}`,
//! `task_attempts_total{priority,outcome}` (outcome `succeeded`, `retried`
//! or `dead`), `task_latency_seconds{priority}` (a histogram, enqueue to
//! succeeded or dead) and `task_queue_depth{priority}`.
//!
//! Each service instance owns its own recorder instead of installing a
//! process-global one, so two instances in one process (tests, the
//! harness's in-process target) never mix their counts.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use metrics::{Counter, Key, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

use crate::{
    db::PoolStats,
    queue::{
        redis::Reclaimed,
        task::{Priority, TaskRecord, TaskState},
    },
};

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Latency buckets in seconds: fine below 10 ms, where a healthy service
/// lives, and up to the 30 s request timeout.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.08, 0.1, 0.15, 0.25, 0.5, 1.0, 5.0,
    30.0,
];

/// Task latency buckets in seconds: from an idle queue's few ms to the
/// minutes that five retries with backoff can take.
const TASK_LATENCY_BUCKETS: [f64; 17] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

/// What became of an attempt, as labelled in `task_attempts_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    Retried,
    Dead,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Retried => "retried",
            AttemptOutcome::Dead => "dead",
        }
    }

    /// The outcome that left a task in `state`; `None` for a state no
    /// attempt ends in.
    pub fn of(state: TaskState) -> Option<Self> {
        match state {
            TaskState::Succeeded => Some(AttemptOutcome::Succeeded),
            TaskState::Retrying => Some(AttemptOutcome::Retried),
            TaskState::Dead => Some(AttemptOutcome::Dead),
            TaskState::Queued | TaskState::Running => None,
        }
    }
}

/// Cache layer, as labelled in `cache_*_total{layer}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The in-process LRU.
    L4,
    /// Redis.
    L3,
}

/// The service's metrics; cheap to clone.
#[derive(Debug, Clone)]
pub struct Telemetry(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    recorder: PrometheusRecorder,
    hits: [Counter; 2],
    misses: [Counter; 2],
    redis_errors: Counter,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &LATENCY_BUCKETS,
            )
            .expect("the latency buckets are not empty")
            .set_buckets_for_metric(
                Matcher::Full("task_latency_seconds".into()),
                &TASK_LATENCY_BUCKETS,
            )
            .expect("the task latency buckets are not empty")
            .build_recorder();
        for (name, unit, help) in [
            (
                "http_requests_total",
                Unit::Count,
                "HTTP requests answered, by route, method and status.",
            ),
            (
                "http_request_duration_seconds",
                Unit::Seconds,
                "Time from request to response head, by route and method.",
            ),
            (
                "cache_hits_total",
                Unit::Count,
                "Response-cache lookups answered by a layer (l4 in-process, l3 Redis).",
            ),
            (
                "cache_misses_total",
                Unit::Count,
                "Response-cache lookups a layer could not answer.",
            ),
            (
                "db_pool_connections",
                Unit::Count,
                "Database connections by state (in_use, idle).",
            ),
            (
                "db_pool_max_connections",
                Unit::Count,
                "Most database connections the pools may open.",
            ),
            (
                "redis_errors_total",
                Unit::Count,
                "Redis commands that failed; the request was served without Redis.",
            ),
            (
                "tasks_enqueued_total",
                Unit::Count,
                "Tasks enqueued (or replayed), by priority.",
            ),
            (
                "task_attempts_total",
                Unit::Count,
                "Task attempts finished, by priority and outcome (succeeded, retried, dead).",
            ),
            (
                "task_latency_seconds",
                Unit::Seconds,
                "Time from a task's enqueue (or replay) to its success or its death, by priority.",
            ),
            (
                "task_queue_depth",
                Unit::Count,
                "Tasks waiting for a worker (retries waiting for their backoff included), by priority; over every instance on one Redis.",
            ),
        ] {
            recorder.describe_counter(name.into(), Some(unit), help.into());
        }
        let layer_counter = |name: &'static str, layer: &'static str| {
            recorder.register_counter(
                &Key::from_parts(name, vec![Label::new("layer", layer)]),
                &METADATA,
            )
        };
        let hits = [
            layer_counter("cache_hits_total", "l4"),
            layer_counter("cache_hits_total", "l3"),
        ];
        let misses = [
            layer_counter("cache_misses_total", "l4"),
            layer_counter("cache_misses_total", "l3"),
        ];
        let redis_errors =
            recorder.register_counter(&Key::from_name("redis_errors_total"), &METADATA);
        Self(Arc::new(Inner {
            recorder,
            hits,
            misses,
            redis_errors,
        }))
    }

    pub fn cache_hit(&self, layer: Layer) {
        self.0.hits[layer as usize].increment(1);
    }

    pub fn cache_miss(&self, layer: Layer) {
        self.0.misses[layer as usize].increment(1);
    }

    pub fn redis_error(&self) {
        self.0.redis_errors.increment(1);
    }

    /// A task enqueued, or replayed.
    pub fn task_enqueued(&self, priority: Priority) {
        self.0
            .recorder
            .register_counter(
                &Key::from_parts(
                    "tasks_enqueued_total",
                    vec![Label::new("priority", priority.as_str())],
                ),
                &METADATA,
            )
            .increment(1);
    }

    /// An attempt at `task` finished, leaving it as it is now; `latency`
    /// when that was its end.
    pub fn task_attempt(&self, task: &TaskRecord, latency: Option<std::time::Duration>) {
        if let Some(outcome) = AttemptOutcome::of(task.state) {
            self.task_outcome(task.priority, outcome, latency);
        }
    }

    /// An attempt taken over from a worker that stopped answering.
    pub fn task_reclaimed(&self, task: &Reclaimed, now_ms: i64) {
        if let Some(outcome) = AttemptOutcome::of(task.state) {
            let latency = (outcome == AttemptOutcome::Dead).then(|| {
                std::time::Duration::from_millis(
                    u64::try_from(now_ms.saturating_sub(task.enqueued_at)).unwrap_or(0),
                )
            });
            self.task_outcome(task.priority, outcome, latency);
        }
    }

    fn task_outcome(
        &self,
        priority: Priority,
        outcome: AttemptOutcome,
        latency: Option<std::time::Duration>,
    ) {
        let priority = Label::new("priority", priority.as_str());
        self.0
            .recorder
            .register_counter(
                &Key::from_parts(
                    "task_attempts_total",
                    vec![priority.clone(), Label::new("outcome", outcome.as_str())],
                ),
                &METADATA,
            )
            .increment(1);
        if let Some(latency) = latency {
            self.0
                .recorder
                .register_histogram(
                    &Key::from_parts("task_latency_seconds", vec![priority]),
                    &METADATA,
                )
                .record(latency.as_secs_f64());
        }
    }

    fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let route = Label::new("route", route.to_owned());
        let method = Label::new("method", method.to_owned());
        self.0
            .recorder
            .register_histogram(
                &Key::from_parts(
                    "http_request_duration_seconds",
                    vec![route.clone(), method.clone()],
                ),
                &METADATA,
            )
            .record(seconds);
        self.0
            .recorder
            .register_counter(
                &Key::from_parts(
                    "http_requests_total",
                    vec![route, method, Label::new("status", status.to_string())],
                ),
                &METADATA,
            )
            .increment(1);
    }

    /// Drains recorded histogram samples into their buckets. Samples are
    /// buffered until then, so this runs periodically even when nobody scrapes.
    pub fn upkeep(&self) {
        self.0.recorder.handle().run_upkeep();
    }

    /// The Prometheus text exposition, with the pool gauges as of now and
    /// the queue depth by priority, highest first, when it could be read.
    pub fn render(&self, pool: PoolStats, queue_depth: Option<[u64; 3]>) -> String {
        let gauge = |name: &'static str, labels: Vec<Label>, value: u32| {
            self.0
                .recorder
                .register_gauge(&Key::from_parts(name, labels), &METADATA)
                .set(f64::from(value));
        };
        gauge(
            "db_pool_connections",
            vec![Label::new("state", "in_use")],
            pool.in_use,
        );
        gauge(
            "db_pool_connections",
            vec![Label::new("state", "idle")],
            pool.idle,
        );
        gauge("db_pool_max_connections", vec![], pool.max);
        if let Some(depth) = queue_depth {
            for priority in Priority::ALL {
                self.0
                    .recorder
                    .register_gauge(
                        &Key::from_parts(
                            "task_queue_depth",
                            vec![Label::new("priority", priority.as_str())],
                        ),
                        &METADATA,
                    )
                    .set(depth[priority.index()] as f64);
            }
        }
        self.0.recorder.handle().render()
    }
}

/// Middleware: counts and times every request under its route template
/// (`/api/v1/servers/{id}`, not the concrete path, so label cardinality stays
/// bounded). Requests no route matched are labelled `unmatched`.
pub async fn track(State(telemetry): State<Telemetry>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    telemetry.request(
        &route,
        method.as_str(),
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}
