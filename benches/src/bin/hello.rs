//! A bare axum "hello" server: the ceiling that `service.sh` measures the
//! reference service against, and the target `loadgen.sh` and
//! `wrk-ratio.sh` load, on the same machine in the same run.
//!
//! Routes: `GET /` answers `hello` (text); `GET /json` answers
//! `{"message":"hello","token":"t-1"}` (application/json) with the response
//! header `x-request-token: t-1`, so a scenario can check the body and
//! capture a value from it.
//!
//! Usage: `hello [ADDR]` (default `127.0.0.1:8089`).

use axum::{
    Router,
    http::header::{CONTENT_TYPE, HeaderName},
    routing::get,
};

const JSON_BODY: &str = r#"{"message":"hello","token":"t-1"}"#;
const REQUEST_TOKEN: HeaderName = HeaderName::from_static("x-request-token");

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8089".into());
    let app = Router::new().route("/", get(|| async { "hello" })).route(
        "/json",
        get(|| async {
            (
                [(CONTENT_TYPE, "application/json"), (REQUEST_TOKEN, "t-1")],
                JSON_BODY,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
