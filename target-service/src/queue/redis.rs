//! The shared queue, on Redis Streams with one consumer group.
//!
//! Each priority has a stream of task ids (`{prefix}tasks:ready:{priority}`),
//! read by the group `workers`; each task is a hash (`{prefix}task:{id}`)
//! that holds its state. Every step that touches both (enqueue, take,
//! finish, retry, replay) is one Lua script, so a crash between two
//! commands cannot leave a task queued twice or nowhere:
//!
//! * A take delivers an entry to one consumer and marks the task running
//!   under that entry's id. Only an outcome reported under the same id
//!   counts, so a worker whose attempt was taken over cannot overwrite it.
//! * Retries wait in a sorted set per priority (`{prefix}tasks:delayed:…`)
//!   scored by their due time, and are moved back to the stream when due.
//! * Entries a consumer holds for longer than the lease (its instance
//!   crashed) are claimed by the reclaimer of any live instance, and their
//!   attempt counts as failed: delivery is at least once.
//! * Dead tasks are in a sorted set per user (`{prefix}tasks:dead:{user}`),
//!   scored by when they died, for paging newest first.
//!
//! Keys are built inside the scripts from the prefix, so this wants one
//! Redis, not a cluster.

use std::{collections::HashMap, time::Duration};

use redis::{
    AsyncConnectionConfig, Value,
    aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection},
};

use super::{
    FINISHED_TTL, Finish, ReplayError,
    task::{Action, NewTask, Priority, TaskRecord, TaskState},
};

/// The consumer group every instance's workers read in.
const GROUP: &str = "workers";
/// A Redis command that takes longer than this has failed.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Most retries moved back per priority per promotion.
const PROMOTE_BATCH: u32 = 1000;

/// The queue's Redis and its scripts.
#[derive(Clone)]
pub struct RedisQueue {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    scripts: std::sync::Arc<Scripts>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

struct Scripts {
    enqueue: redis::Script,
    take: redis::Script,
    finish: redis::Script,
    promote: redis::Script,
    reclaim: redis::Script,
    dead_page: redis::Script,
    replay: redis::Script,
    depth: redis::Script,
}

/// An attempt a worker holds: the task as it was taken, and the stream
/// entry it came in, which names the attempt.
#[derive(Debug, Clone)]
pub struct RedisDelivery {
    pub task: TaskRecord,
    entry: String,
}

/// What a take found nothing after: the streams' last ids, so that the
/// wait ends at the first entry newer than them and none slips between
/// the take and the wait.
#[derive(Debug, Clone)]
pub struct Watermark {
    streams: Vec<(String, String)>,
}

/// A task taken over from a worker that stopped answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reclaimed {
    pub id: i64,
    pub state: TaskState,
    pub enqueued_at: i64,
    pub priority: Priority,
}

impl RedisQueue {
    /// Connects lazily, like the cache: a Redis that is down at start-up
    /// fails the first commands, not the start.
    pub fn new(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self {
            client,
            conn,
            prefix: prefix.to_owned(),
            scripts: std::sync::Arc::new(Scripts {
                enqueue: redis::Script::new(include_str!("lua/enqueue.lua")),
                take: redis::Script::new(include_str!("lua/take.lua")),
                finish: redis::Script::new(include_str!("lua/finish.lua")),
                promote: redis::Script::new(include_str!("lua/promote.lua")),
                reclaim: redis::Script::new(include_str!("lua/reclaim.lua")),
                dead_page: redis::Script::new(include_str!("lua/dead_page.lua")),
                replay: redis::Script::new(include_str!("lua/replay.lua")),
                depth: redis::Script::new(include_str!("lua/depth.lua")),
            }),
        })
    }

    fn stream(&self, priority: Priority) -> String {
        format!("{}tasks:ready:{}", self.prefix, priority.as_str())
    }

    /// Creates the streams and the group where they are missing: at start,
    /// and again after a Redis that restarted empty.
    pub async fn ensure_groups(&self) -> redis::RedisResult<()> {
        for priority in Priority::ALL {
            let created: redis::RedisResult<()> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(self.stream(priority))
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(&mut self.conn.clone())
                .await;
            match created {
                Err(e) if e.code() == Some("BUSYGROUP") => {}
                other => other?,
            }
        }
        Ok(())
    }

    pub async fn enqueue(&self, new: NewTask, now: i64) -> redis::RedisResult<TaskRecord> {
        let fields: Value = self
            .scripts
            .enqueue
            .arg(&self.prefix)
            .arg(new.user_id)
            .arg(new.server_id)
            .arg(new.action.as_str())
            .arg(new.priority.as_str())
            .arg(now)
            .invoke_async(&mut self.conn.clone())
            .await?;
        record(fields)
    }

    pub async fn get(&self, user_id: i64, id: i64) -> redis::RedisResult<Option<TaskRecord>> {
        let fields: Value = redis::cmd("HGETALL")
            .arg(format!("{}task:{id}", self.prefix))
            .query_async(&mut self.conn.clone())
            .await?;
        let task = optional_record(fields)?;
        Ok(task.filter(|t| t.user_id == user_id))
    }

    pub async fn dead_page(
        &self,
        user_id: i64,
        page: u32,
        per_page: u32,
    ) -> redis::RedisResult<(Vec<TaskRecord>, i64)> {
        let first = u64::from(page.saturating_sub(1)) * u64::from(per_page);
        let last = first + u64::from(per_page) - 1;
        let reply: Vec<Value> = self
            .scripts
            .dead_page
            .arg(&self.prefix)
            .arg(user_id)
            .arg(first)
            .arg(last)
            .invoke_async(&mut self.conn.clone())
            .await?;
        let mut reply = reply.into_iter();
        let total: i64 = redis::from_redis_value(reply.next().unwrap_or(Value::Int(0)))?;
        let mut items = Vec::new();
        for fields in reply {
            // A task whose hash is gone (it cannot expire while dead, but
            // a flushed Redis can lose it) is left out of the page.
            if let Some(task) = optional_record(fields)? {
                items.push(task);
            }
        }
        Ok((items, total))
    }

    pub async fn replay(
        &self,
        user_id: i64,
        id: i64,
        now: i64,
    ) -> redis::RedisResult<Result<TaskRecord, ReplayError>> {
        let reply: Vec<Value> = self
            .scripts
            .replay
            .arg(&self.prefix)
            .arg(user_id)
            .arg(id)
            .arg(now)
            .invoke_async(&mut self.conn.clone())
            .await?;
        let mut reply = reply.into_iter();
        let verdict: String = redis::from_redis_value(reply.next().unwrap_or(Value::Nil))?;
        Ok(match verdict.as_str() {
            "ok" => Ok(record(reply.next().unwrap_or(Value::Nil))?),
            "not_dead" => {
                let state: String = redis::from_redis_value(reply.next().unwrap_or(Value::Nil))?;
                Err(ReplayError::NotDead(
                    TaskState::parse(&state).ok_or_else(|| corrupt(id, "state"))?,
                ))
            }
            _ => Err(ReplayError::NotFound),
        })
    }

    /// Takes the first waiting task in `order` for `consumer`.
    pub async fn take(
        &self,
        order: [Priority; 3],
        consumer: &str,
        now: i64,
    ) -> redis::RedisResult<Result<RedisDelivery, Watermark>> {
        let mut invocation = self.scripts.take.prepare_invoke();
        invocation.arg(&self.prefix).arg(consumer).arg(now);
        for priority in order {
            invocation.arg(priority.as_str());
        }
        let (entry, rest): (Option<String>, Value) =
            invocation.invoke_async(&mut self.conn.clone()).await?;
        match entry {
            Some(entry) => Ok(Ok(RedisDelivery {
                task: record(rest)?,
                entry,
            })),
            None => {
                let ids: Vec<String> = redis::from_redis_value(rest)?;
                Ok(Err(Watermark {
                    streams: order.iter().map(|p| self.stream(*p)).zip(ids).collect(),
                }))
            }
        }
    }

    /// A connection of its own for a worker's blocking waits: a blocked
    /// command holds up every other on its connection.
    pub async fn waiting_connection(
        &self,
        block: Duration,
    ) -> redis::RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(block + TIMEOUT));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    /// Blocks on `conn` until a stream has an entry newer than
    /// `watermark`, or `block`.
    pub async fn wait(
        conn: &mut MultiplexedConnection,
        watermark: &Watermark,
        block: Duration,
    ) -> redis::RedisResult<()> {
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(block.as_millis().max(1) as u64)
            .arg("STREAMS");
        for (stream, _) in &watermark.streams {
            cmd.arg(stream);
        }
        for (_, id) in &watermark.streams {
            cmd.arg(id);
        }
        let _: Value = cmd.query_async(conn).await?;
        Ok(())
    }

    /// Records an attempt's outcome; `None` when the attempt is no longer
    /// the task's.
    pub async fn finish(
        &self,
        delivery: &RedisDelivery,
        finish: &Finish,
        now: i64,
    ) -> redis::RedisResult<Option<TaskRecord>> {
        let (outcome, error, due) = match finish {
            Finish::Succeeded => ("succeeded", "", 0),
            Finish::Retry { error, after } => (
                "retry",
                error.as_str(),
                now.saturating_add(i64::try_from(after.as_millis()).unwrap_or(i64::MAX)),
            ),
            Finish::Dead { error } => ("dead", error.as_str(), 0),
        };
        let fields: Value = self
            .scripts
            .finish
            .arg(&self.prefix)
            .arg(delivery.task.id)
            .arg(&delivery.entry)
            .arg(outcome)
            .arg(now)
            .arg(error)
            .arg(due)
            .arg(FINISHED_TTL.as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await?;
        optional_record(fields)
    }

    pub async fn promote_due(&self, now: i64) -> redis::RedisResult<u64> {
        self.scripts
            .promote
            .arg(&self.prefix)
            .arg(now)
            .arg(PROMOTE_BATCH)
            .invoke_async(&mut self.conn.clone())
            .await
    }

    /// Takes over attempts idle for longer than `lease` as `consumer` and
    /// fails them; `delays[n - 1]` is the wait after failed attempt `n`.
    pub async fn reclaim(
        &self,
        consumer: &str,
        lease: Duration,
        now: i64,
        delays: &[Duration],
    ) -> redis::RedisResult<Vec<Reclaimed>> {
        let mut invocation = self.scripts.reclaim.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(consumer)
            .arg(lease.as_millis() as u64)
            .arg(now)
            .arg(delays.len());
        for delay in delays {
            invocation.arg(delay.as_millis() as u64);
        }
        let reply: Vec<(i64, String, i64, String)> =
            invocation.invoke_async(&mut self.conn.clone()).await?;
        reply
            .into_iter()
            .map(|(id, state, enqueued_at, priority)| {
                Ok(Reclaimed {
                    id,
                    state: TaskState::parse(&state).ok_or_else(|| corrupt(id, "state"))?,
                    enqueued_at,
                    priority: Priority::parse(&priority).map_err(|_| corrupt(id, "priority"))?,
                })
            })
            .collect()
    }

    pub async fn depth(&self) -> redis::RedisResult<[u64; 3]> {
        let depth: Vec<u64> = self
            .scripts
            .depth
            .arg(&self.prefix)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok([0, 1, 2].map(|i| depth.get(i).copied().unwrap_or(0)))
    }
}

fn corrupt(id: i64, what: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Parse,
        "corrupt task",
        format!("task {id} has a corrupt {what}"),
    ))
}

/// A task hash as HGETALL returns it; `None` when it is empty (no such task).
fn optional_record(fields: Value) -> redis::RedisResult<Option<TaskRecord>> {
    if matches!(&fields, Value::Nil) {
        return Ok(None);
    }
    let map: HashMap<String, String> = redis::from_redis_value(fields)?;
    if map.is_empty() {
        return Ok(None);
    }
    parse_record(&map).map(Some)
}

/// A task hash that must exist.
fn record(fields: Value) -> redis::RedisResult<TaskRecord> {
    optional_record(fields)?.ok_or_else(|| corrupt(0, "hash (it is missing)"))
}

fn parse_record(map: &HashMap<String, String>) -> redis::RedisResult<TaskRecord> {
    let id: i64 = map
        .get("id")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| corrupt(0, "id"))?;
    let text = |field: &str| map.get(field).ok_or_else(|| corrupt(id, field));
    let number = |field: &str| -> redis::RedisResult<i64> {
        text(field)?.parse().map_err(|_| corrupt(id, field))
    };
    Ok(TaskRecord {
        id,
        user_id: number("user")?,
        server_id: number("server")?,
        action: Action::parse(text("action")?).map_err(|_| corrupt(id, "action"))?,
        priority: Priority::parse(text("priority")?).map_err(|_| corrupt(id, "priority"))?,
        state: TaskState::parse(text("state")?).ok_or_else(|| corrupt(id, "state"))?,
        attempts: u32::try_from(number("attempts")?).map_err(|_| corrupt(id, "attempts"))?,
        last_error: map.get("error").cloned(),
        enqueued_at: number("enqueued")?,
        updated_at: number("updated")?,
        next_attempt_at: map.get("next").and_then(|n| n.parse().ok()),
    })
}
