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

pub mod accept;
pub mod api;
pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod model;
pub mod queue;
pub mod rate_limit;
pub mod seed;
pub mod serve;
pub mod state;
pub mod store;
pub mod telemetry;

pub use crate::{
    api::{BODY_LIMIT, COMPRESS_ABOVE, app},
    config::Config,
    serve::{RunningService, start, start_with_state},
    state::AppState,
};
