//! PostgreSQL away mid-test: requests that need it are answered 503 with
//! Retry-After within the acquire timeout, never a 500 and never a hang,
//! and the service takes requests again at once when it is back.
//!
//! The outage is made by a TCP proxy between the service and the shared
//! PostgreSQL: cutting it resets every connection and refuses new ones,
//! as a restart does, without touching the server the other tests use.

mod common;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::http::Method;
use common::{API_KEY_A, Reply, TestDb, call, request, small_config, unique};
use serde_json::json;
use target_service::{Config, app, serve::build_state};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// A TCP proxy to `upstream` that can be cut and restored.
struct FaultProxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
}

impl FaultProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, watching) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *watching.borrow() {
                    // Closed at once: the database is not there.
                    continue;
                }
                let mut watching = watching.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watching.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { addr, cut }
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }

    fn restore(&self) {
        self.cut.send_replace(false);
    }
}

/// `url` with its host and port replaced by `addr`.
fn through(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let user = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"));
    format!("{scheme}://{}{addr}/{path}", user.unwrap_or_default())
}

/// Creates a server named `name` as user A.
async fn create(router: &axum::Router, name: &str) -> Reply {
    let body = json!({"name": name, "transport": "http"});
    call(
        router,
        request(Method::POST, "/api/v1/servers", Some(API_KEY_A), Some(body)),
    )
    .await
}

fn upstream(url: &str) -> SocketAddr {
    let authority = url.split_once("://").unwrap().1.split('/').next().unwrap();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    host_port
        .parse()
        .expect("TEST_POSTGRES_URL names an IP address and port")
}

#[tokio::test]
async fn postgres_away_answers_503_with_retry_after_and_recovers_at_once() {
    let db = TestDb::create().await;
    // Seed the database directly, then serve it through the proxy.
    let seeded = build_state(Config {
        database_url: Some(db.url.clone()),
        ..small_config()
    })
    .await
    .unwrap();
    seeded.db.close().await;
    let proxy = FaultProxy::start(upstream(&db.url)).await;
    let acquire = Duration::from_millis(500);
    let state = build_state(Config {
        database_url: Some(through(&db.url, proxy.addr)),
        db_acquire_timeout: acquire,
        seed_users: 0,
        ..small_config()
    })
    .await
    .unwrap();
    let router = app(state.clone());
    let list = |q: &str| {
        request(
            Method::GET,
            &format!("/api/v1/servers?q={q}"),
            Some(API_KEY_A),
            None,
        )
    };
    call(&router, list("warm")).await.expect(200);

    proxy.cut();
    let started = Instant::now();
    let reply = call(&router, list(&unique("away"))).await;
    let waited = started.elapsed();
    reply.expect_error(503, "unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(
        waited < acquire + Duration::from_secs(1),
        "answered after {waited:?}, not within the acquire timeout"
    );
    create(&router, "during-outage")
        .await
        .expect_error(503, "unavailable");
    let started = Instant::now();
    let ready = call(&router, request(Method::GET, "/ready", None, None)).await;
    ready.expect_error(503, "unavailable");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "/ready hung"
    );

    proxy.restore();
    let restored = Instant::now();
    loop {
        let reply = call(&router, list(&unique("back"))).await;
        if reply.status == 200 {
            break;
        }
        reply.expect_error(503, "unavailable");
        assert!(
            restored.elapsed() < Duration::from_secs(5),
            "still unavailable 5 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    create(&router, "after-outage").await.expect(201);
    state.db.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn postgres_cancels_statements_before_the_request_times_out() {
    let db = TestDb::create().await;
    let state = build_state(Config {
        database_url: Some(db.url.clone()),
        request_timeout: Duration::from_secs(10),
        seed_users: 0,
        ..small_config()
    })
    .await
    .unwrap();
    let shown: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(&state.db.read)
        .await
        .unwrap();
    assert_eq!(shown, "9s");
    state.db.close().await;
    db.drop_database().await;
}
