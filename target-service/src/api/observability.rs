//! `/metrics` (Prometheus text) and `/openapi.json`.

use std::sync::LazyLock;

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::IntoResponse,
    routing::get,
};
use bytes::Bytes;
use utoipa::OpenApi;

use crate::{
    api::{json_headers, openapi::ApiDoc},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(prometheus_metrics))
        .route("/openapi.json", get(openapi_json))
}

/// Prometheus text exposition of the service's metrics.
#[utoipa::path(get, path = "/metrics", tag = "observability",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain")))]
pub async fn prometheus_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.telemetry.render(state.db.pool_stats()),
    )
}

static OPENAPI: LazyLock<Bytes> = LazyLock::new(|| {
    Bytes::from(
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes"),
    )
});

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "observability",
    responses((status = 200, description = "The OpenAPI 3 document of every route", content_type = "application/json")))]
pub async fn openapi_json() -> impl IntoResponse {
    (
        json_headers(HeaderValue::from_static("public, max-age=3600")),
        OPENAPI.clone(),
    )
}
