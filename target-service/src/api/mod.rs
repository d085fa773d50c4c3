//! The HTTP layer: each resource has its own `router()`, merged by [`app`]
//! into the whole service. Everything under `/api` goes through
//! [`auth::require_key`].
//!
//! Dependencies point one way, from here down: the handler files use
//! [`crate::state`] and what it holds, never this file (their shared pieces
//! are in `response`, re-exported here), and the state and everything it
//! holds never use `api`.

pub mod auth;
pub mod config;
pub mod health;
pub mod metrics;
pub mod observability;
pub mod openapi;
pub mod pagination;
mod response;
pub mod servers;
pub mod tasks;

use axum::{
    Router,
    error_handling::HandleErrorLayer,
    extract::DefaultBodyLimit,
    http::{HeaderValue, header},
    middleware,
};
use tower::ServiceBuilder;
use tower_http::{
    compression::{CompressionLayer, predicate::SizeAbove},
    set_header::SetResponseHeaderLayer,
};

pub use self::response::{PRIVATE_REVALIDATE, json_headers, to_json_bytes};
use crate::{
    error::{self, Error},
    state::AppState,
    telemetry,
};

/// Largest request body accepted: room for a full 1000-point metrics batch.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Architecture §3: compress responses over 1 KiB.
pub const COMPRESS_ABOVE: u16 = 1024;

/// The whole service as a router. It is here, in the HTTP layer, rather
/// than in the crate root so that `serve` can use it while the crate root
/// re-exports `serve`'s items, without the two files importing each other.
pub fn app(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    Router::new()
        .merge(health::router())
        .merge(observability::router())
        .merge(openapi::router())
        .merge(api_router(state.clone()))
        .fallback(|| async { Error::NotFound("route") })
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(
                    state.telemetry.clone(),
                    telemetry::track,
                ))
                .layer(
                    CompressionLayer::new()
                        .gzip(true)
                        .br(true)
                        .compress_when(SizeAbove::new(COMPRESS_ABOVE)),
                )
                .layer(middleware::from_fn(error::json_errors))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    Error::Timeout
                }))
                .timeout(timeout)
                .layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .with_state(state)
}

/// The API routes (`/api/v1/...`), behind key authentication and rate limits.
pub fn api_router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(servers::router())
        .merge(metrics::router())
        .merge(config::router())
        .merge(tasks::router())
        .route_layer(middleware::from_fn_with_state(state, auth::require_key))
}
