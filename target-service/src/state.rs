//! What every handler can reach: the database, the caches, the limits and
//! the metrics.

use std::sync::Arc;

use crate::{
    cache::Cache,
    config::{Config, KEY_CACHE_CAPACITY, KEY_CACHE_TTL, UNKNOWN_KEY_TTL},
    db::Db,
    queue::{Clock, Queue},
    rate_limit::{AuthFailures, RateLimits},
    store::User,
    telemetry::Telemetry,
};

/// The state of one service instance; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub cache: Cache,
    pub telemetry: Telemetry,
    pub limits: Arc<RateLimits>,
    /// Verified API keys by hash, filled by the `/api` key middleware
    /// (`api::auth`; named, not linked, since the state sits below the HTTP
    /// layer and must not depend on it).
    pub keys: moka::future::Cache<String, User>,
    /// Hashes of keys that failed their lookup, refused without another
    /// for [`UNKNOWN_KEY_TTL`].
    pub unknown_keys: moka::sync::Cache<String, ()>,
    /// Failed authentications per IP address.
    pub auth_failures: Arc<AuthFailures>,
    /// The background task queue (architecture §3).
    pub queue: Queue,
    pub config: Arc<Config>,
}

impl AppState {
    /// Builds the state around an open database.
    pub fn new(config: Config, db: Db) -> anyhow::Result<Self> {
        let telemetry = Telemetry::new();
        Ok(Self {
            cache: Cache::new(&config, telemetry.clone())?,
            db,
            telemetry,
            limits: Arc::new(RateLimits::new()),
            keys: moka::future::Cache::builder()
                .max_capacity(KEY_CACHE_CAPACITY)
                .time_to_live(KEY_CACHE_TTL)
                .build(),
            unknown_keys: moka::sync::Cache::builder()
                .max_capacity(KEY_CACHE_CAPACITY)
                .time_to_live(UNKNOWN_KEY_TTL)
                .build(),
            auth_failures: Arc::new(AuthFailures::new(config.auth_failures_per_minute)),
            queue: Queue::new(&config, Clock::system())?,
            config: Arc::new(config),
        })
    }
}

impl axum::extract::FromRef<AppState> for Telemetry {
    fn from_ref(state: &AppState) -> Self {
        state.telemetry.clone()
    }
}
