//! The HTTP surface: each resource has its own `router()`, merged here.
//! Everything under `/api` goes through [`auth::require_key`].

pub mod auth;
pub mod config;
pub mod health;
pub mod metrics;
pub mod observability;
pub mod openapi;
pub mod servers;

use axum::{
    Router,
    http::{HeaderValue, header},
    middleware,
};

use crate::state::AppState;

/// `Cache-Control` of responses that belong to one caller: a client or
/// proxy may keep them but must revalidate, so a write is seen at once.
pub const PRIVATE_REVALIDATE: HeaderValue = HeaderValue::from_static("private, no-cache");

/// The API routes (`/api/v1/...`), behind key authentication and rate limits.
pub fn api_router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(servers::router())
        .merge(metrics::router())
        .merge(config::router())
        .route_layer(middleware::from_fn_with_state(state, auth::require_key))
}

/// Response header pair for JSON bytes produced elsewhere (the caches).
pub fn json_headers(cache_control: HeaderValue) -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (header::CACHE_CONTROL, cache_control),
    ]
}

/// Serializes a response body once, so it can be cached as bytes.
pub fn to_json_bytes<T: serde::Serialize>(value: &T) -> crate::error::Result<bytes::Bytes> {
    Ok(serde_json::to_vec(value)
        .map_err(anyhow::Error::from)?
        .into())
}
