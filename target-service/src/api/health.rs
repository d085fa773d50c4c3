//! Liveness and readiness.

use std::time::Duration;

use axum::{Json, Router, extract::State, routing::get};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::{Error, Result},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
}

/// Liveness: answers without touching the database or Redis.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// How long `/ready` waits for each dependency. Kubernetes' probe times out
/// after 1 s by default; answering within half of that keeps the probe's
/// verdict ours.
pub const READY_PING_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    status: &'static str,
    database: &'static str,
    /// `up`; `degraded` when Redis does not answer (the service runs on its
    /// in-process cache and the database meanwhile); `not configured` when
    /// the service runs without Redis.
    #[schema(example = "up")]
    redis: &'static str,
}

/// Readiness: the database answers. Redis being away does not make the
/// instance unready, only `degraded`: every instance shares one Redis, so
/// failing readiness on it would take every pod out of the Service at once
/// and turn a slower cache into a full outage.
#[utoipa::path(get, path = "/ready", tag = "health", responses(
    (status = 200, body = Readiness),
    (status = 503, description = "The database is down", body = crate::error::ErrorBody,
        headers(("Retry-After" = u64, description = "Seconds to wait before asking again"))),
))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Readiness>> {
    let (database, redis) = tokio::join!(
        state.db.ping(READY_PING_TIMEOUT),
        tokio::time::timeout(READY_PING_TIMEOUT, state.cache.redis_ready()),
    );
    if !database {
        return Err(Error::Unavailable("not ready: database down".to_owned()));
    }
    let redis = match redis {
        Err(_) | Ok(Some(false)) => "degraded",
        Ok(Some(true)) => "up",
        Ok(None) => "not configured",
    };
    Ok(Json(Readiness {
        status: "ready",
        database: "up",
        redis,
    }))
}
