//! `/metrics`: the service's metrics in Prometheus text.

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::IntoResponse,
    routing::get,
};

use crate::state::AppState;

/// Longest a scrape waits for the task queue's depth.
const DEPTH_WITHIN: std::time::Duration = std::time::Duration::from_millis(500);

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(prometheus_metrics))
}

/// Prometheus text exposition of the service's metrics.
#[utoipa::path(get, path = "/metrics", tag = "observability",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain")))]
pub async fn prometheus_metrics(State(state): State<AppState>) -> impl IntoResponse {
    // The depth is read at each scrape; a queue that does not answer in
    // time leaves the gauges as they were rather than hold up the scrape.
    let depth = tokio::time::timeout(DEPTH_WITHIN, state.queue.depth())
        .await
        .ok()
        .and_then(Result::ok);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.telemetry.render(state.db.pool_stats(), depth),
    )
}
