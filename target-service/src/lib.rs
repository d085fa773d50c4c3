//! The reference target of loadgate: the "MCP Server Manager" API, with
//! the caching, pooling, limits and telemetry of its architecture made real,
//! so that load runs have something honest to measure.
//!
//! * [`app`] builds the router from an [`AppState`]; tests drive it with
//!   `tower::ServiceExt::oneshot`, no socket needed.
//! * [`start`] runs an instance on a socket (port 0 for any free port) and
//!   returns a [`RunningService`] with its address and a graceful
//!   [`RunningService::shutdown`]; the harness uses it when no target is given.
//! * [`Config`] holds every knob, as clap flags that are also env vars.
//!
//! Requests flow `telemetry → compression → timeout → route → (auth and
//! rate limit for /api) → handler → store / cache`. Errors are mapped to
//! HTTP in one place, [`error`].

pub mod api;
pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod model;
pub mod rate_limit;
pub mod seed;
pub mod serve;
pub mod state;
pub mod store;
pub mod telemetry;

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

use crate::error::Error;
pub use crate::{
    config::Config,
    serve::{RunningService, start, start_with_state},
    state::AppState,
};

/// Largest request body accepted: room for a full 1000-point metrics batch.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Architecture §3: compress responses over 1 KiB.
pub const COMPRESS_ABOVE: u16 = 1024;

/// The whole service as a router.
pub fn app(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    Router::new()
        .merge(api::health::router())
        .merge(api::observability::router())
        .merge(api::api_router(state.clone()))
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
