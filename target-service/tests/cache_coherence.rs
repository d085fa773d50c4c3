//! The caches never serve what a write replaced, past the L4 TTL: not
//! when Redis is briefly unusable or killed, not when a fill races a
//! write, not when the writing client disconnects.
//!
//! Tests that make Redis misbehave start a `redis-server` of their own.

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Router, http::Method};
use bytes::Bytes;
use common::{
    API_KEY_A, API_KEY_B, Backend, Harness, OwnRedis, call, free_port, redis_url, request,
    small_config, unique,
};
use serde_json::{Value, json};
use target_service::{Config, app, cache::Cache, telemetry::Telemetry};
use tokio::sync::Mutex;

/// Makes Redis answer no client for `ms`: the service's next command
/// times out (250 ms) and it leaves Redis alone for a second, while
/// everything Redis holds stays.
async fn pause(conn: &mut redis::aio::MultiplexedConnection, ms: u64) {
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(ms)
        .arg("ALL")
        .query_async(conn)
        .await
        .unwrap();
}

fn own_redis_config(redis: &OwnRedis) -> Config {
    Config {
        redis_url: Some(redis.url()),
        ..small_config()
    }
}

async fn first_server(router: &Router, key: &str) -> i64 {
    let page = call(
        router,
        request(Method::GET, "/api/v1/servers", Some(key), None),
    )
    .await;
    page.expect(200).json()["items"][0]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_delete_while_redis_is_briefly_unusable_is_replayed() {
    let redis = OwnRedis::start(free_port());
    let mut direct = redis.connect().await;
    let h = Harness::start(Backend::Sqlite, own_redis_config(&redis)).await;
    let id = first_server(&h.router, API_KEY_A).await;
    let path = format!("/api/v1/servers/{id}");
    h.get(&path, Some(API_KEY_A)).await.expect(200);

    pause(&mut direct, 600).await;
    // Its L3 read times out: Redis is now left alone for a second.
    h.get("/api/v1/config", Some(API_KEY_A)).await.expect(200);
    h.send(Method::DELETE, &path, API_KEY_A, Value::Null)
        .await
        .expect(204);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // The first read replays what is pending; the later ones read L3.
    for _ in 0..10 {
        h.get(&path, Some(API_KEY_A))
            .await
            .expect_error(404, "not_found");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.finish().await;
}

#[tokio::test]
async fn pages_cached_in_one_outage_are_not_read_in_the_next() {
    let redis = OwnRedis::start(free_port());
    let mut direct = redis.connect().await;
    let h = Harness::start(Backend::Sqlite, own_redis_config(&redis)).await;
    let _subscriber = h.state.cache.spawn_subscriber();
    let b = app(h.sibling(own_redis_config(&redis)).await);
    let names = |reply: common::Reply| -> Vec<String> {
        reply.expect(200).json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = "/api/v1/servers?per_page=1000";
    h.get("/api/v1/config", Some(API_KEY_A)).await.expect(200);
    let create = |name: &str| {
        request(
            Method::POST,
            "/api/v1/servers",
            Some(API_KEY_A),
            Some(json!({"name": name, "transport": "http"})),
        )
    };

    // Outage 1: the page is cached for this outage only.
    pause(&mut direct, 400).await;
    let during_first = names(h.get(list, Some(API_KEY_A)).await);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // Another instance writes; this one is told and shows it.
    call(&b, create("between-outages")).await.expect(201);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(names(h.get(list, Some(API_KEY_A)).await).contains(&"between-outages".to_owned()));
    call(&b, create("just-before-the-second")).await.expect(201);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Outage 2: the first outage's page must not come back.
    pause(&mut direct, 400).await;
    let during_second = names(h.get(list, Some(API_KEY_A)).await);
    assert!(!during_first.contains(&"between-outages".to_owned()));
    for name in ["between-outages", "just-before-the-second"] {
        assert!(
            during_second.contains(&name.to_owned()),
            "{name} missing: a page of the first outage was served in the second"
        );
    }
    h.finish().await;
}

#[tokio::test]
async fn a_fill_that_races_a_write_does_not_outlive_it() {
    let config = Config {
        redis_url: Some(redis_url()),
        cache_prefix: format!("{}:", unique("lgtest")),
        ..Config::default()
    };
    let reader = Cache::new(&config, Telemetry::new()).unwrap();
    let writer = Cache::new(&config, Telemetry::new()).unwrap();
    let third = Cache::new(&config, Telemetry::new()).unwrap();
    let _subscriber = reader.spawn_subscriber();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let key = "api:servers:item:1:1";
    let ttl = Duration::from_secs(60);

    // The reader loads the old value; before its fill lands, another
    // instance commits a write and invalidates, and its message arrives.
    let raced = reader
        .get_or_load(key, ttl, || async {
            writer.invalidate_keys(&[key.to_owned()]).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(Bytes::from_static(b"old"))
        })
        .await
        .unwrap();
    assert_eq!(
        raced, "old",
        "the racing request itself may see the old value"
    );
    let new = || async { Ok(Bytes::from_static(b"new")) };
    assert_eq!(
        reader.get_or_load(key, ttl, new).await.unwrap(),
        "new",
        "L4 kept the raced fill"
    );
    assert_eq!(
        third.get_or_load(key, ttl, new).await.unwrap(),
        "new",
        "L3 kept the raced fill"
    );
}

#[tokio::test]
async fn a_write_whose_client_disconnects_still_invalidates() {
    use futures::FutureExt;

    let h = Harness::start(Backend::Postgres, small_config()).await;
    let observer = sqlx::AnyPool::connect(h.state.config.database_url.as_deref().unwrap())
        .await
        .unwrap();
    let id = first_server(&h.router, API_KEY_A).await;
    let path = format!("/api/v1/servers/{id}");
    let mut cut_after_commit = 0;
    for attempt in 0..20 {
        let name = format!("renamed-{attempt}");
        let before = h.get(&path, Some(API_KEY_A)).await.expect(200).json();
        assert_ne!(before["name"], name.as_str());
        let patch = request(
            Method::PATCH,
            &path,
            Some(API_KEY_A),
            Some(json!({"name": name})),
        );
        let mut write = Box::pin(call(&h.router, patch));
        // Poll the request only between looks at the database, and drop it
        // as soon as the commit shows: as a client that hangs up would.
        let cut = loop {
            if (&mut write).now_or_never().is_some() {
                break false;
            }
            let stored: String = sqlx::query_scalar("SELECT name FROM servers WHERE id = $1")
                .bind(id)
                .fetch_one(&observer)
                .await
                .unwrap();
            if stored == name {
                break true;
            }
            tokio::task::yield_now().await;
        };
        drop(write);
        if !cut {
            continue;
        }
        cut_after_commit += 1;
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let seen = h.get(&path, Some(API_KEY_A)).await.expect(200).json();
            if seen["name"] == name.as_str() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the cache still serves {:?} after {name:?} was committed",
                seen["name"]
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(
        cut_after_commit > 0,
        "no attempt cut a request between its commit and its answer"
    );
    observer.close().await;
    h.finish().await;
}

/// One read: when it started, and the version of the name it saw.
#[derive(Debug, Clone, Copy)]
struct Read {
    started: Instant,
    version: u64,
}

fn version_of(name: &str) -> u64 {
    name.strip_prefix('v')
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn two_instances_stay_coherent_while_redis_is_killed_and_restarted() {
    let port = free_port();
    let mut redis = OwnRedis::start(port);
    redis.connect().await;
    let l4_ttl = Duration::from_millis(500);
    let config = || Config {
        redis_url: Some(format!("redis://127.0.0.1:{port}")),
        l4_ttl,
        ..small_config()
    };
    let h = Harness::start(Backend::Postgres, config()).await;
    let sibling = h.sibling(config()).await;
    let mut tasks = Vec::new();
    for state in [&h.state, &sibling] {
        tasks.extend(state.cache.spawn_subscriber());
        tasks.extend(state.cache.spawn_replayer());
    }
    let instances = [h.router.clone(), app(sibling)];
    let id = first_server(&instances[0], API_KEY_B).await;
    let item = format!("/api/v1/servers/{id}");
    let (write_for, run_for) = (Duration::from_secs(5), Duration::from_secs(7));
    let quiet = Duration::from_millis(3800)..Duration::from_millis(4650);
    let started = Instant::now();

    // Acknowledged versions, with when each was acknowledged.
    let acks: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let writer = {
        let (instances, item, acks, quiet) =
            (instances.clone(), item.clone(), acks.clone(), quiet.clone());
        tokio::spawn(async move {
            let mut version = 1;
            while started.elapsed() < write_for {
                // Quiet while the readers fill L3 and Redis turns slow, so
                // the writes after it are the ones Redis missed.
                if quiet.contains(&started.elapsed()) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                let patch = request(
                    Method::PATCH,
                    &item,
                    Some(API_KEY_B),
                    Some(json!({"name": format!("v{version}")})),
                );
                call(&instances[version as usize % 2], patch)
                    .await
                    .expect(200);
                acks.lock().await.push((version, Instant::now()));
                version += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut readers = Vec::new();
    for instance in instances.clone() {
        for list in [false, true] {
            let (instance, item) = (instance.clone(), item.clone());
            readers.push(tokio::spawn(async move {
                let mut reads = Vec::new();
                while started.elapsed() < run_for {
                    let path = if list {
                        "/api/v1/servers?per_page=1000".to_owned()
                    } else {
                        item.clone()
                    };
                    let begun = Instant::now();
                    let reply = call(
                        &instance,
                        request(Method::GET, &path, Some(API_KEY_B), None),
                    )
                    .await;
                    let body = reply.expect(200).json();
                    let name = if list {
                        body["items"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|s| s["id"] == id)
                            .map(|s| s["name"].as_str().unwrap().to_owned())
                            .unwrap()
                    } else {
                        body["name"].as_str().unwrap().to_owned()
                    };
                    reads.push(Read {
                        started: begun,
                        version: version_of(&name),
                    });
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                reads
            }));
        }
    }
    // Killed at 1 s and restarted empty at 2.5 s; at 4 s slow for 600 ms
    // (every command times out, nothing is lost), and the last writes are
    // made while the instances leave it alone; the readers go on to 7 s.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let redis = OwnRedis::start(port);
    let mut direct = redis.connect().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    pause(&mut direct, 600).await;
    writer.await.unwrap();
    let mut reads = Vec::new();
    for reader in readers {
        reads.extend(reader.await.unwrap());
    }
    for task in tasks {
        task.abort();
    }

    // A read is stale when it began more than the L4 TTL (and the replay's
    // period and a Redis timeout) after a newer version was acknowledged.
    let slack = l4_ttl + Duration::from_millis(500);
    let acks = acks.lock().await.clone();
    assert!(acks.len() > 50, "only {} writes acknowledged", acks.len());
    let stale: Vec<_> = reads
        .iter()
        .filter(|read| {
            acks.iter()
                .any(|(version, acked)| *version > read.version && read.started > *acked + slack)
        })
        .collect();
    println!(
        "{} reads, {} writes acknowledged, {} stale past {slack:?}",
        reads.len(),
        acks.len(),
        stale.len()
    );
    assert!(
        stale.is_empty(),
        "stale reads: {:?}",
        &stale[..stale.len().min(5)]
    );
    h.finish().await;
}
