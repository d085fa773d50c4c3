//! Shared test fixtures: a service on either backend, optionally with
//! Redis, driven in-process with `oneshot` or over a socket.
//!
//! PostgreSQL and Redis are the real servers on 127.0.0.1 (override with
//! `TEST_POSTGRES_URL` / `TEST_REDIS_URL`). Tests that need them fail, never
//! skip, when they are unreachable. Each test gets its own PostgreSQL
//! database and its own Redis key prefix, so tests run in parallel.

#![allow(dead_code)]

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use serde_json::Value;
use target_service::{AppState, Config, app, serve::build_state};
use tower::ServiceExt;

pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Standard-tier user 1, premium user 11, api-tier users 21 and up.
pub const STANDARD_KEY: &str = "demo-key-1";
pub const API_KEY_A: &str = "demo-key-21";
pub const API_KEY_B: &str = "demo-key-22";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A unique name for this test's database or key prefix.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_ADMIN_URL.to_owned())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| REDIS_URL.to_owned())
}

/// A fresh PostgreSQL database, dropped by [`TestDb::drop_database`], or
/// when the value is dropped (as when a test panics).
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    name: String,
    dropped: bool,
}

impl TestDb {
    pub async fn create() -> Self {
        let name = unique("lgtest");
        let admin = postgres_admin_url();
        let mut conn = sqlx_connect(&admin).await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').expect("a database in the URL").0;
        Self {
            url: format!("{base}/{name}"),
            name,
            dropped: false,
        }
    }

    pub async fn drop_database(mut self) {
        drop_database(&self.name).await;
        self.dropped = true;
    }
}

async fn drop_database(name: &str) {
    let mut conn = sqlx_connect(&postgres_admin_url()).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .expect("drop test database");
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // A panicking test never reaches `drop_database`; clean up from a
        // thread of its own, since this may run inside a runtime.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(drop_database(&name));
        })
        .join();
    }
}

async fn sqlx_connect(url: &str) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL must be running at {url} for these tests (.ci/run starts it): {e}")
    })
}

/// A small seeded configuration: 30 users (so api-tier users exist), 3
/// servers each, 6 points per server, small pools.
pub fn small_config() -> Config {
    Config {
        seed_users: 30,
        servers_per_user: 3,
        metric_points: 6,
        db_min_connections: 1,
        db_max_connections: 5,
        ..Config::default()
    }
}

/// One service instance under test, with what must be cleaned up after it.
#[derive(Debug)]
pub struct Harness {
    pub state: AppState,
    pub router: Router,
    db: Option<TestDb>,
    /// The SQLite file's directory, named so that siblings share the file.
    _sqlite_dir: Option<tempfile::TempDir>,
}

impl Harness {
    /// A seeded service on `backend`, with `config` for the rest.
    pub async fn start(backend: Backend, mut config: Config) -> Self {
        let (db, sqlite_dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                config.database_url =
                    Some(format!("sqlite://{}", dir.path().join("test.db").display()));
                (None, Some(dir))
            }
            Backend::Postgres => {
                let db = TestDb::create().await;
                config.database_url = Some(db.url.clone());
                (Some(db), None)
            }
        };
        let state = build_state(config).await.expect("service state");
        Self {
            router: app(state.clone()),
            state,
            db,
            _sqlite_dir: sqlite_dir,
        }
    }

    /// A second instance on the same database as `self`, with its own caches.
    pub async fn sibling(&self, config: Config) -> AppState {
        let mut config = config;
        config.database_url = self.state.config.database_url.clone();
        config.seed_users = 0;
        build_state(config).await.expect("sibling state")
    }

    pub async fn finish(self) {
        self.state.db.close().await;
        if let Some(db) = self.db {
            db.drop_database().await;
        }
    }

    pub async fn call(&self, request: Request<Body>) -> Reply {
        call(&self.router, request).await
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        self.call(request(Method::GET, path, key, None)).await
    }

    pub async fn send(&self, method: Method, path: &str, key: &str, body: Value) -> Reply {
        self.call(request(method, path, Some(key), Some(body)))
            .await
    }
}

/// A request with an optional key and JSON body.
pub fn request(
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// A response with its body read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// Asserts the service's error shape and code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        self.expect(status);
        let json = self.json();
        assert_eq!(json["error"]["code"], code, "{json}");
        assert!(json["error"]["message"].is_string(), "{json}");
        json
    }
}

pub async fn call(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// Runs an async test body once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::common::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::common::Backend::Postgres).await;
                }
            )+
        }
    };
}

/// A private `redis-server`, killed when dropped.
pub struct OwnRedis {
    child: std::process::Child,
    pub port: u16,
}

impl OwnRedis {
    pub fn start(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed for this test (.ci/run installs it)");
        Self { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn connect(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..100 {
            if let Ok(conn) = client.get_multiplexed_async_connection().await {
                return conn;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("own redis-server on port {} did not come up", self.port);
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
