//! A bare axum "hello" server: the ceiling that `service.sh` measures the
//! reference service against, on the same machine in the same run.
//!
//! Usage: `hello [ADDR]` (default `127.0.0.1:8089`).

use axum::{Router, routing::get};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8089".into());
    let app = Router::new().route("/", get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
