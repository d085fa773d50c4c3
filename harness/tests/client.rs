//! The lean client against targets that need more than a bare GET: TLS,
//! a compressed body under a check, redirects and a session cookie. Each
//! target is a small server in the test that counts what it saw; loadgate's
//! results must agree with it.

mod common;

use std::{
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{
    Router,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect},
    routing::{get, post},
};
use common::*;
use hyper_util::{rt::TokioIo, service::TowerToHyperService};

/// A closed-model scenario of format version 4: `users` users for a 1 s
/// ramp and a 2 s hold, sending `requests` (YAML list items), after `setup`.
fn scenario_v4(users: u32, setup: &str, requests: &str) -> String {
    format!(
        "version: 4
name: client
load:
  stages:
    - {{users: {users}, ramp: 1s}}
    - {{name: steady, hold: 2s}}
setup:
{setup}
requests:
{requests}
"
    )
}

async fn run(target: &str, yaml: &str) -> reports::results::Results {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "s.yaml", yaml);
    let out = dir.path().join("out");
    let output = run_scenario(&path, target, &out).await;
    assert_exit(&output, 0);
    read_results(&out)
}

/// Serves `app` over TLS on 127.0.0.1 with a self-signed certificate for
/// `localhost`; the URL to reach it.
async fn tls_server(app: Router) -> String {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                    .await;
            });
        }
    });
    format!("https://localhost:{port}")
}

async fn plain_server(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// How many requests named `name` the run sent.
fn count_of(results: &reports::results::Results, name: &str) -> u64 {
    results
        .requests
        .iter()
        .find(|r| r.name == name)
        .map_or(0, |r| r.all.count)
}

#[tokio::test]
async fn an_https_target_with_a_self_signed_certificate_is_loaded_when_insecure() {
    let served = Arc::new(AtomicU64::new(0));
    let seen = served.clone();
    let app = Router::new().route(
        "/hello",
        get(move || {
            seen.fetch_add(1, Ordering::Relaxed);
            async { "hello over tls" }
        }),
    );
    let url = tls_server(app).await;
    let yaml = scenario_v4(
        2,
        "  []",
        "  - {name: hello, method: GET, path: /hello, checks: {body_contains: over tls}}",
    )
    .replace("requests:", "tls: {insecure: true}\nrequests:");
    let results = run(&url, &yaml).await;
    let all = &results.overall.all;
    assert!(all.count > 0, "no requests");
    assert_eq!(all.errors.total(), 0, "{:?}", all.errors);
    assert_eq!(
        all.count,
        served.load(Ordering::Relaxed),
        "one request served per sample"
    );
}

#[tokio::test]
async fn a_tls_handshake_that_never_completes_is_a_timeout_not_a_failure_to_connect() {
    // Accepts every connection and never says a word: the target is
    // there, so a request that runs out of time on it is a timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let yaml = scenario_v4(
        1,
        "  []",
        "  - {name: hello, method: GET, path: /hello, timeout: 400ms}",
    )
    .replace("requests:", "tls: {insecure: true}\nrequests:");
    let results = run(&format!("https://localhost:{port}"), &yaml).await;
    let errors = &results.overall.all.errors;
    assert!(errors.timeout > 0, "{errors:?}");
    assert_eq!(errors.connect, 0, "TCP connected every time: {errors:?}");
}

#[tokio::test]
async fn a_self_signed_certificate_fails_to_connect_when_certificates_are_checked() {
    let app = Router::new().route("/hello", get(|| async { "hello" }));
    let url = tls_server(app).await;
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "s.yaml",
        &scenario_v4(1, "  []", "  - {name: hello, method: GET, path: /hello}"),
    );
    let out = dir.path().join("out");
    let output = run_scenario(&path, &url, &out).await;
    assert_exit(&output, 0);
    let all = read_results(&out).overall.all;
    assert!(all.count > 0, "no attempts recorded");
    assert_eq!(
        all.errors.connect, all.count,
        "every attempt failed to connect: {:?}",
        all.errors
    );
    assert!(
        !stderr(&output).contains("UnknownIssuer"),
        "one log line per failed handshake: {}",
        stderr(&output)
    );
}

#[tokio::test]
async fn a_gzipped_body_is_decoded_for_its_checks_and_captures() {
    let ids = Arc::new(AtomicU64::new(0));
    let seen = ids.clone();
    let gzipped = |text: &str| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    };
    let listing = gzipped(r#"{"items": [{"id": 4242, "name": "compressed"}]}"#);
    let app = Router::new()
        .route(
            "/servers",
            get(move |headers: HeaderMap| {
                let listing = listing.clone();
                async move {
                    let asked = headers
                        .get(header::ACCEPT_ENCODING)
                        .is_some_and(|v| v.to_str().unwrap_or("").contains("gzip"));
                    assert!(asked, "the client asks for gzip");
                    (
                        [
                            (header::CONTENT_ENCODING, "gzip"),
                            (header::CONTENT_TYPE, "application/json"),
                        ],
                        listing,
                    )
                }
            }),
        )
        .route(
            "/servers/{id}",
            get(move |axum::extract::Path(id): axum::extract::Path<u64>| {
                if id == 4242 {
                    seen.fetch_add(1, Ordering::Relaxed);
                }
                async { "ok" }
            }),
        );
    let url = plain_server(app).await;
    let yaml = scenario_v4(
        2,
        "  - {name: list, method: GET, path: /servers, checks: {body_contains: compressed, json: [{pointer: /items/0/name, equals: compressed}]}, capture: {id: /items/0/id}}",
        "  - {name: get, method: GET, path: \"/servers/{{ id }}\"}",
    );
    let results = run(&url, &yaml).await;
    let all = &results.overall.all;
    assert_eq!(all.errors.total(), 0, "{:?}", all.errors);
    let gets = count_of(&results, "get");
    assert!(gets > 0, "no request used the captured id");
    assert_eq!(
        gets,
        ids.load(Ordering::Relaxed),
        "every get used the id from the gzipped body"
    );
}

#[tokio::test]
async fn redirects_are_followed_and_a_session_cookie_goes_back() {
    let logins = Arc::new(AtomicU64::new(0));
    let private_ok = Arc::new(AtomicU64::new(0));
    let private_refused = Arc::new(AtomicU64::new(0));
    let (l, ok, refused) = (logins.clone(), private_ok.clone(), private_refused.clone());
    let app = Router::new()
        .route(
            "/login",
            post(move || {
                let n = l.fetch_add(1, Ordering::Relaxed);
                async move {
                    (
                        [(header::SET_COOKIE, format!("session=s{n}; Path=/"))],
                        Redirect::to("/welcome"),
                    )
                }
            }),
        )
        .route(
            "/welcome",
            get(|headers: HeaderMap| async move {
                match headers.get(header::COOKIE) {
                    Some(_) => (StatusCode::OK, "welcome").into_response(),
                    None => StatusCode::UNAUTHORIZED.into_response(),
                }
            }),
        )
        .route(
            "/private",
            get(move |headers: HeaderMap| {
                let has_session = headers
                    .get(header::COOKIE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("session=s"));
                if has_session {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
                async move {
                    if has_session {
                        StatusCode::OK
                    } else {
                        StatusCode::UNAUTHORIZED
                    }
                }
            }),
        )
        .route("/moved", get(|| async { Redirect::temporary("/private") }));
    let url = plain_server(app).await;
    let yaml = scenario_v4(
        3,
        "  - {name: login, method: POST, path: /login, body: {user: u}, checks: {body_contains: welcome}}",
        "  - {name: private, method: GET, path: /moved}\n  - {name: unfollowed, method: GET, path: /moved, redirects: 0, checks: {status: 307}}",
    );
    let results = run(&url, &yaml).await;
    let all = &results.overall.all;
    assert_eq!(all.errors.total(), 0, "{:?}", all.errors);
    assert_eq!(logins.load(Ordering::Relaxed), 3, "one login per user");
    assert_eq!(
        private_refused.load(Ordering::Relaxed),
        0,
        "every follow carried the cookie"
    );
    let followed = count_of(&results, "private");
    assert!(followed > 0);
    assert_eq!(
        followed,
        private_ok.load(Ordering::Relaxed),
        "each followed redirect reached /private once"
    );
}

#[tokio::test]
async fn without_cookies_the_session_is_not_sent_back() {
    let app = Router::new()
        .route(
            "/login",
            post(|| async { ([(header::SET_COOKIE, "session=x; Path=/")], "in") }),
        )
        .route(
            "/private",
            get(|headers: HeaderMap| async move {
                if headers.contains_key(header::COOKIE) {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }),
        );
    let url = plain_server(app).await;
    let yaml = scenario_v4(
        1,
        "  - {name: login, method: POST, path: /login}",
        "  - {name: private, method: GET, path: /private, checks: {status: 401}}",
    )
    .replace("requests:", "cookies: false\nrequests:");
    let results = run(&url, &yaml).await;
    assert_eq!(
        results.overall.all.errors.total(),
        0,
        "{:?}",
        results.overall.all.errors
    );
}
