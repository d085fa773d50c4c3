//! The background queue: on the embedded (in-memory) queue and on real
//! Redis, the same behaviour: backoff on an injected clock, priorities,
//! the dead-letter queue and replay, tenant isolation, attempts taken over
//! from a dead worker, two instances sharing the work, and a task that
//! survives its service being killed.

mod common;

use std::{collections::BTreeMap, process::Stdio, time::Duration};

use axum::http::Method;
use common::{
    API_KEY_A, API_KEY_B, Backend, Harness, Reply, TestDb, redis_url, small_config, unique,
};
use serde_json::{Value, json};
use target_service::{
    AppState, Config,
    queue::{
        Clock, Finish, Idle, Queue,
        policy::take_order,
        task::{Action, NewTask, Priority, TaskState},
        workers::Workers,
    },
};

/// A queue config: Redis under a prefix of its own, or in memory.
fn queue_config(on_redis: bool) -> Config {
    Config {
        redis_url: on_redis.then(redis_url),
        cache_prefix: format!("{}:", unique("tasks")),
        task_backoff_base: Duration::from_millis(100),
        task_backoff_cap: Duration::from_secs(1),
        task_max_retries: 2,
        ..Config::default()
    }
}

async fn queue(config: &Config, clock: Clock) -> Queue {
    let queue = Queue::new(config, clock).unwrap();
    queue
        .prepare()
        .await
        .expect("Redis must be running (.ci/run starts it)");
    queue
}

/// Deletes a test's Redis keys.
async fn forget(config: &Config) {
    let Some(url) = &config.redis_url else {
        return;
    };
    let mut conn = ::redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("{}*", config.cache_prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = ::redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

fn new_task(user_id: i64, priority: Priority) -> NewTask {
    NewTask {
        user_id,
        server_id: 1,
        action: Action::Start,
        priority,
    }
}

macro_rules! on_both_queues {
    ($($name:ident),+ $(,)?) => {
        mod in_memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(false).await;
                }
            )+
        }
        mod on_redis {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(true).await;
                }
            )+
        }
    };
}

on_both_queues!(
    retries_wait_out_their_backoff_on_the_queue_clock,
    higher_priorities_go_first_and_the_lowest_is_not_starved,
    one_user_never_sees_another_users_tasks,
);

/// Each failed attempt waits between half and all of base · 2^(n-1) on
/// the queue's clock, which the test moves: nothing here sleeps.
async fn retries_wait_out_their_backoff_on_the_queue_clock(on_redis: bool) {
    let config = queue_config(on_redis);
    let clock = Clock::manual(1_000_000);
    let q = queue(&config, clock.clone()).await;
    let order = take_order(0);
    let task = q.enqueue(new_task(7, Priority::Normal)).await.unwrap();
    assert_eq!((task.state, task.attempts), (TaskState::Queued, 0));

    for attempt in 1..=3u32 {
        let delivery = q.take(order, "w").await.unwrap().expect("a task to take");
        assert_eq!(delivery.task().id, task.id);
        assert_eq!(delivery.task().attempts, attempt);
        assert!(matches!(
            q.take(order, "w").await.unwrap(),
            Err(Idle::Memory(_) | Idle::Redis(_))
        ));
        let finish = q.after_failure(attempt, format!("failure {attempt}"));
        let done = q
            .finish(&delivery, &finish)
            .await
            .unwrap()
            .expect("the attempt is ours");
        if attempt == 3 {
            assert_eq!(
                finish,
                Finish::Dead {
                    error: "failure 3".into()
                }
            );
            assert_eq!(done.state, TaskState::Dead, "two retries, then dead");
            break;
        }
        assert_eq!(done.state, TaskState::Retrying);
        assert_eq!(
            done.last_error.as_deref(),
            Some(format!("failure {attempt}").as_str())
        );
        let wait = done.next_attempt_at.unwrap() - clock.now();
        let ceiling = 100 * 2i64.pow(attempt - 1);
        assert!(
            (ceiling / 2..=ceiling).contains(&wait),
            "attempt {attempt} waits {wait} ms, not within [{}, {ceiling}]",
            ceiling / 2
        );
        // Not due a millisecond early.
        clock.advance(Duration::from_millis(wait as u64 - 1));
        assert_eq!(q.promote_due().await.unwrap(), 0);
        assert!(q.take(order, "w").await.unwrap().is_err(), "not due yet");
        clock.advance(Duration::from_millis(1));
        assert_eq!(q.promote_due().await.unwrap(), 1);
        assert_eq!(q.depth().await.unwrap(), [0, 1, 0]);
    }

    let (dead, total) = q.dead_page(7, 1, 10).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(dead[0].id, task.id);
    assert_eq!(dead[0].attempts, 3);

    clock.advance(Duration::from_secs(5));
    let replayed = q.replay(7, task.id).await.unwrap();
    assert_eq!((replayed.state, replayed.attempts), (TaskState::Queued, 0));
    assert_eq!(
        replayed.enqueued_at,
        clock.now(),
        "latency counts from the replay"
    );
    assert_eq!(q.dead_page(7, 1, 10).await.unwrap().1, 0);
    let delivery = q
        .take(order, "w")
        .await
        .unwrap()
        .expect("the replayed task");
    assert_eq!(delivery.task().attempts, 1);
    let done = q
        .finish(&delivery, &Finish::Succeeded)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.state, TaskState::Succeeded);
    let refused = q.replay(7, task.id).await.unwrap_err();
    assert_eq!(refused.status_code(), 409, "only dead tasks are replayed");
    forget(&config).await;
}

/// With ten of each waiting, 14 takes follow the 4:2:1 cycle: high first,
/// but low gets its turn.
async fn higher_priorities_go_first_and_the_lowest_is_not_starved(on_redis: bool) {
    let config = queue_config(on_redis);
    let q = queue(&config, Clock::system()).await;
    for priority in [Priority::Low, Priority::Normal, Priority::High] {
        for _ in 0..10 {
            q.enqueue(new_task(1, priority)).await.unwrap();
        }
    }
    assert_eq!(q.depth().await.unwrap(), [10, 10, 10]);
    let mut taken = Vec::new();
    for take in 0..14 {
        let delivery = q.take(take_order(take), "w").await.unwrap().unwrap();
        taken.push(delivery.task().priority);
        q.finish(&delivery, &Finish::Succeeded)
            .await
            .unwrap()
            .unwrap();
    }
    let count = |p| taken.iter().filter(|t| **t == p).count();
    assert_eq!(
        [
            count(Priority::High),
            count(Priority::Normal),
            count(Priority::Low)
        ],
        [8, 4, 2],
        "{taken:?}"
    );
    assert_eq!(q.depth().await.unwrap(), [2, 6, 8]);
    // Once high is empty, its turns fall to the next priority down.
    for take in 14..30 {
        let delivery = q.take(take_order(take), "w").await.unwrap().unwrap();
        q.finish(&delivery, &Finish::Succeeded)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(q.depth().await.unwrap(), [0, 0, 0]);
    forget(&config).await;
}

async fn one_user_never_sees_another_users_tasks(on_redis: bool) {
    let config = queue_config(on_redis);
    let q = queue(&config, Clock::system()).await;
    let task = q.enqueue(new_task(1, Priority::High)).await.unwrap();
    let delivery = q.take(take_order(0), "w").await.unwrap().unwrap();
    q.finish(&delivery, &Finish::Dead { error: "x".into() })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(q.get(1, task.id).await.unwrap().state, TaskState::Dead);
    assert_eq!(q.get(2, task.id).await.unwrap_err().status_code(), 404);
    assert_eq!(q.dead_page(2, 1, 100).await.unwrap().1, 0);
    assert_eq!(q.dead_page(1, 1, 100).await.unwrap().1, 1);
    assert_eq!(q.replay(2, task.id).await.unwrap_err().status_code(), 404);
    assert_eq!(
        q.get(1, task.id).await.unwrap().state,
        TaskState::Dead,
        "untouched"
    );
    forget(&config).await;
}

/// An attempt held longer than the lease is taken over and counted as
/// failed; the worker that held it cannot report it afterwards.
#[tokio::test]
async fn an_attempt_past_its_lease_is_taken_over_and_its_late_outcome_ignored() {
    let config = queue_config(true);
    let q = queue(&config, Clock::system()).await;
    let task = q.enqueue(new_task(3, Priority::Low)).await.unwrap();
    let delivery = q.take(take_order(0), "crashed").await.unwrap().unwrap();
    let redis = q_redis(&config);
    let lease = Duration::from_millis(200);
    let none = redis
        .reclaim("reclaimer", lease, q.clock.now(), &[Duration::ZERO; 2])
        .await
        .unwrap();
    assert!(none.is_empty(), "not idle for the lease yet");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reclaimed = redis
        .reclaim("reclaimer", lease, q.clock.now(), &[Duration::ZERO; 2])
        .await
        .unwrap();
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(
        (reclaimed[0].id, reclaimed[0].state),
        (task.id, TaskState::Retrying)
    );
    let now = q.get(3, task.id).await.unwrap();
    assert_eq!(now.state, TaskState::Retrying);
    assert!(now.last_error.unwrap().contains("cut off"));
    assert_eq!(
        q.finish(&delivery, &Finish::Succeeded).await.unwrap(),
        None,
        "the late outcome of a taken-over attempt does not count"
    );
    assert_eq!(q.get(3, task.id).await.unwrap().state, TaskState::Retrying);
    q.promote_due().await.unwrap();
    let retry = q.take(take_order(0), "alive").await.unwrap().unwrap();
    assert_eq!(retry.task().attempts, 2);
    forget(&config).await;
}

fn q_redis(config: &Config) -> target_service::queue::redis::RedisQueue {
    target_service::queue::redis::RedisQueue::new(
        config.redis_url.as_deref().unwrap(),
        &config.cache_prefix,
    )
    .unwrap()
}

// ---- through the API, with workers running ----

/// A service config with fast retries.
fn service_config(on_redis: bool) -> Config {
    Config {
        task_backoff_base: Duration::from_millis(5),
        task_backoff_cap: Duration::from_millis(20),
        task_max_retries: 2,
        ..small_config().with_queue(queue_config(on_redis))
    }
}

trait WithQueue {
    fn with_queue(self, queue: Config) -> Self;
}

impl WithQueue for Config {
    fn with_queue(self, queue: Config) -> Self {
        Config {
            redis_url: queue.redis_url,
            cache_prefix: queue.cache_prefix,
            ..self
        }
    }
}

/// The id of one of `key`'s servers.
async fn a_server_of(h: &Harness, key: &str) -> i64 {
    let page = h.get("/api/v1/servers", Some(key)).await;
    page.expect(200).json()["items"][0]["id"].as_i64().unwrap()
}

async fn enqueue(h: &Harness, key: &str, server: i64, body: Value) -> Reply {
    h.send(
        Method::POST,
        &format!("/api/v1/servers/{server}/actions"),
        key,
        body,
    )
    .await
}

/// Polls a task until it is final.
async fn settled(h: &Harness, key: &str, location: &str) -> Value {
    for _ in 0..500 {
        let task = h.get(location, Some(key)).await.expect(200).json();
        if task["state"] == "succeeded" || task["state"] == "dead" {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{location} did not finish");
}

async fn metrics(state: &AppState) -> String {
    let router = target_service::app(state.clone());
    let reply = common::call(
        &router,
        common::request(Method::GET, "/metrics", None, None),
    )
    .await;
    String::from_utf8(reply.body).unwrap()
}

/// The sum of the samples of `name` whose line contains `label`.
fn sample_sum(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']) && l.contains(label)
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

on_both_backends!(
    an_action_runs_changes_its_server_and_is_measured,
    dead_tasks_are_listed_and_replayed
);

fn on_redis(backend: Backend) -> bool {
    backend == Backend::Postgres
}

/// SQLite with the in-memory queue, PostgreSQL with Redis.
async fn an_action_runs_changes_its_server_and_is_measured(backend: Backend) {
    let h = Harness::start(backend, service_config(on_redis(backend))).await;
    let workers = Workers::spawn(&h.state, "test");
    let server = a_server_of(&h, API_KEY_A).await;

    let reply = enqueue(
        &h,
        API_KEY_A,
        server,
        json!({"action": "start", "priority": "high"}),
    )
    .await;
    reply.expect(202);
    let location = reply.header("location").unwrap().to_owned();
    let queued = reply.json();
    assert_eq!(location, format!("/api/v1/tasks/{}", queued["id"]));
    assert_eq!(queued["action"], "start");
    assert_eq!(queued["priority"], "high");
    let task = settled(&h, API_KEY_A, &location).await;
    assert_eq!(task["state"], "succeeded", "{task}");
    assert_eq!(task["attempts"], 1);
    let shown = h
        .get(&format!("/api/v1/servers/{server}"), Some(API_KEY_A))
        .await;
    assert_eq!(
        shown.expect(200).json()["status"],
        "running",
        "the cached server was dropped"
    );
    let points = h
        .get(
            &format!("/api/v1/metrics?server_id={server}&metric_type=action_start"),
            Some(API_KEY_A),
        )
        .await;
    assert_eq!(
        points.expect(200).json()["items"].as_array().unwrap().len(),
        1
    );

    // Stop, with the default priority.
    let reply = enqueue(&h, API_KEY_A, server, json!({"action": "stop"})).await;
    assert_eq!(reply.expect(202).json()["priority"], "normal");
    settled(&h, API_KEY_A, reply.header("location").unwrap()).await;
    let shown = h
        .get(&format!("/api/v1/servers/{server}"), Some(API_KEY_A))
        .await;
    assert_eq!(shown.json()["status"], "stopped");

    // Refusals.
    enqueue(&h, API_KEY_A, server, json!({"action": "reboot"}))
        .await
        .expect_error(422, "validation");
    enqueue(
        &h,
        API_KEY_A,
        server,
        json!({"action": "start", "priority": "urgent"}),
    )
    .await
    .expect_error(422, "validation");
    let other = a_server_of(&h, API_KEY_B).await;
    enqueue(&h, API_KEY_A, other, json!({"action": "start"}))
        .await
        .expect_error(404, "not_found");
    enqueue(&h, API_KEY_A, 999_999, json!({"action": "start"}))
        .await
        .expect_error(404, "not_found");
    h.get(&location, Some(API_KEY_B))
        .await
        .expect_error(404, "not_found");
    h.get("/api/v1/tasks/x", Some(API_KEY_A))
        .await
        .expect_error(404, "not_found");

    let text = metrics(&h.state).await;
    assert_eq!(
        sample_sum(&text, "tasks_enqueued_total", "priority=\"high\""),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample_sum(&text, "task_attempts_total", "outcome=\"succeeded\""),
        2.0,
        "{text}"
    );
    assert_eq!(
        sample_sum(&text, "task_latency_seconds_count", ""),
        2.0,
        "{text}"
    );
    assert_eq!(sample_sum(&text, "task_queue_depth", ""), 0.0, "{text}");
    assert!(
        text.contains("task_queue_depth{priority=\"low\"} 0"),
        "{text}"
    );

    workers.shutdown(Duration::from_secs(5)).await;
    forget(&h.state.config).await;
    h.finish().await;
}

async fn dead_tasks_are_listed_and_replayed(backend: Backend) {
    let config = Config {
        debug_action_failure_rate: 1.0,
        ..service_config(on_redis(backend))
    };
    let h = Harness::start(backend, config).await;
    let workers = Workers::spawn(&h.state, "test");
    let server = a_server_of(&h, API_KEY_A).await;
    let mut locations = Vec::new();
    for action in ["start", "health_check", "restart"] {
        let reply = enqueue(&h, API_KEY_A, server, json!({"action": action})).await;
        locations.push(reply.expect(202).header("location").unwrap().to_owned());
    }
    for location in &locations {
        let task = settled(&h, API_KEY_A, location).await;
        assert_eq!(task["state"], "dead", "{task}");
        assert_eq!(task["attempts"], 3, "the first attempt and two retries");
        assert!(
            task["last_error"].as_str().unwrap().contains("injected"),
            "{task}"
        );
    }
    let page = h
        .get("/api/v1/tasks/dead?per_page=2", Some(API_KEY_A))
        .await
        .expect(200)
        .json();
    assert_eq!(page["total"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let page2 = h
        .get("/api/v1/tasks/dead?per_page=2&page=2", Some(API_KEY_A))
        .await
        .expect(200)
        .json();
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    h.get("/api/v1/tasks/dead?per_page=1001", Some(API_KEY_A))
        .await
        .expect_error(400, "bad_request");
    let empty = h
        .get("/api/v1/tasks/dead", Some(API_KEY_B))
        .await
        .expect(200)
        .json();
    assert_eq!(
        empty["total"], 0,
        "another user's dead tasks are not listed"
    );

    let replay = format!("{}/replay", locations[0]);
    h.send(Method::POST, &replay, API_KEY_B, json!({}))
        .await
        .expect_error(404, "not_found");
    let reply = h.send(Method::POST, &replay, API_KEY_A, json!({})).await;
    assert_eq!(
        reply.expect(202).header("location"),
        Some(locations[0].as_str())
    );
    assert_eq!(reply.json()["attempts"], 0);
    let task = settled(&h, API_KEY_A, &locations[0]).await;
    assert_eq!(
        (task["state"].as_str(), task["attempts"].as_i64()),
        (Some("dead"), Some(3)),
        "ran again, died again"
    );
    let text = metrics(&h.state).await;
    assert_eq!(
        sample_sum(&text, "task_attempts_total", "outcome=\"retried\""),
        8.0,
        "{text}"
    );
    assert_eq!(
        sample_sum(&text, "task_attempts_total", "outcome=\"dead\""),
        4.0,
        "{text}"
    );
    workers.shutdown(Duration::from_secs(5)).await;
    forget(&h.state.config).await;
    h.finish().await;
}

/// A server deleted while its task waits: the task dies at once, since no
/// retry can bring the server back.
#[tokio::test]
async fn a_task_whose_server_is_gone_dies_without_retries() {
    let h = Harness::start(Backend::Sqlite, service_config(false)).await;
    let server = a_server_of(&h, API_KEY_A).await;
    let reply = enqueue(&h, API_KEY_A, server, json!({"action": "restart"})).await;
    let location = reply.expect(202).header("location").unwrap().to_owned();
    h.send(
        Method::DELETE,
        &format!("/api/v1/servers/{server}"),
        API_KEY_A,
        json!({}),
    )
    .await
    .expect(204);
    let workers = Workers::spawn(&h.state, "test");
    let task = settled(&h, API_KEY_A, &location).await;
    assert_eq!(
        (task["state"].as_str(), task["attempts"].as_i64()),
        (Some("dead"), Some(1)),
        "{task}"
    );
    assert!(
        task["last_error"]
            .as_str()
            .unwrap()
            .contains("no longer exists")
    );
    workers.shutdown(Duration::from_secs(5)).await;
    h.finish().await;
}

/// Two instances on one Redis and one database: every task is done once,
/// both instances do some, and the attempts add up to the tasks plus the
/// retries the instances counted.
#[tokio::test]
async fn two_instances_share_the_work_and_every_attempt_is_counted() {
    const TASKS: usize = 200;
    let config = Config {
        debug_action_failure_rate: 0.3,
        task_max_retries: 5,
        ..service_config(true)
    };
    let h = Harness::start(Backend::Postgres, config.clone()).await;
    let sibling = h.sibling(config).await;
    let workers = [
        Workers::spawn(&h.state, "one"),
        Workers::spawn(&sibling, "two"),
    ];
    let mut servers = Vec::new();
    for key in 21..=30 {
        servers.push((
            format!("demo-key-{key}"),
            a_server_of(&h, &format!("demo-key-{key}")).await,
        ));
    }
    let mut tasks = Vec::new();
    for n in 0..TASKS {
        let (key, server) = &servers[n % servers.len()];
        let priority = Priority::ALL[n % 3].as_str();
        let reply = enqueue(
            &h,
            key,
            *server,
            json!({"action": "health_check", "priority": priority}),
        )
        .await;
        tasks.push((
            key.clone(),
            reply.expect(202).header("location").unwrap().to_owned(),
        ));
    }
    let mut attempts = 0;
    let mut outcomes = BTreeMap::new();
    for (key, location) in &tasks {
        let task = settled(&h, key, location).await;
        attempts += task["attempts"].as_i64().unwrap();
        *outcomes
            .entry(task["state"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    let (one, two) = (metrics(&h.state).await, metrics(&sibling).await);
    let counted = |outcome: &str| {
        let label = format!("outcome=\"{outcome}\"");
        sample_sum(&one, "task_attempts_total", &label)
            + sample_sum(&two, "task_attempts_total", &label)
    };
    assert_eq!(
        counted("succeeded") + counted("dead"),
        TASKS as f64,
        "every task finished once: {outcomes:?}"
    );
    assert_eq!(
        attempts as f64,
        TASKS as f64 + counted("retried"),
        "attempts = tasks + retries counted"
    );
    for (name, text) in [("one", &one), ("two", &two)] {
        assert!(
            sample_sum(text, "task_attempts_total", "outcome=\"succeeded\"") > 0.0,
            "instance {name} did some of the work:\n{text}"
        );
    }
    // Each success applied its effect once: one point per succeeded task.
    let (points,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM metrics WHERE metric_type = 'action_health_check'")
            .fetch_one(&h.state.db.read)
            .await
            .unwrap();
    assert_eq!(points as f64, counted("succeeded"));
    for w in workers {
        w.shutdown(Duration::from_secs(5)).await;
    }
    sibling.db.close().await;
    forget(&h.state.config).await;
    h.finish().await;
}

/// The service killed (SIGKILL) while an attempt runs: a new process on
/// the same Redis and database takes the attempt over once its lease is
/// out, counts it failed, and the task completes on its retry.
#[tokio::test]
async fn a_task_survives_its_service_being_killed_mid_attempt() {
    let db = TestDb::create().await;
    let prefix = format!("{}:", unique("restart"));
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let spawn = |extra: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_target-service"));
        command
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args([
                "--database-url",
                &db.url,
                "--redis-url",
                &redis_url(),
                "--cache-prefix",
                &prefix,
            ])
            .args(["--db-min-connections", "1", "--db-max-connections", "5"])
            .args(["--task-lease", "2s", "--task-backoff-base", "10ms"])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command.spawn().expect("the service binary")
    };
    let client = reqwest::Client::new();
    let up = |client: reqwest::Client, base: String| async move {
        for _ in 0..200 {
            if client.get(format!("{base}/health")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the service did not come up");
    };
    let mut first = spawn(&[
        "--seed-users",
        "30",
        "--servers-per-user",
        "1",
        "--debug-action-delay",
        "30s",
    ]);
    up(client.clone(), base.clone()).await;
    let get = |path: String| {
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .get(format!("{base}{path}"))
                .bearer_auth(API_KEY_A)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let server = get("/api/v1/servers".into()).await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let reply = client
        .post(format!("{base}/api/v1/servers/{server}/actions"))
        .bearer_auth(API_KEY_A)
        .json(&json!({"action": "start"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202);
    let location = reply.headers()["location"].to_str().unwrap().to_owned();
    let mut running = false;
    for _ in 0..200 {
        if get(location.clone()).await["state"] == "running" {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(running, "the attempt started");
    first.kill().unwrap();
    first.wait().unwrap();

    let mut second = spawn(&[]);
    up(client.clone(), base.clone()).await;
    let mut task = Value::Null;
    for _ in 0..300 {
        task = get(location.clone()).await;
        if task["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(task["state"], "succeeded", "{task}");
    assert_eq!(
        task["attempts"], 2,
        "the cut-off attempt counted as failed: {task}"
    );
    let shown = get(format!("/api/v1/servers/{server}")).await;
    assert_eq!(shown["status"], "running");
    second.kill().unwrap();
    second.wait().unwrap();
    forget(&Config {
        redis_url: Some(redis_url()),
        cache_prefix: prefix,
        ..Config::default()
    })
    .await;
    db.drop_database().await;
}
