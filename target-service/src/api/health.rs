//! Liveness and readiness.

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
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

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    status: &'static str,
    database: &'static str,
    /// `up`, or `not configured` when the service runs without Redis.
    redis: &'static str,
}

/// Readiness: the database answers, and Redis does when configured.
#[utoipa::path(get, path = "/ready", tag = "health", responses(
    (status = 200, body = Readiness),
    (status = 503, description = "A dependency is down; the message names it", body = crate::error::ErrorBody),
))]
pub async fn ready(State(state): State<AppState>) -> Result<(StatusCode, Json<Readiness>)> {
    let database = state.db.ping().await;
    let redis = state.cache.redis_ready().await;
    let mut down = Vec::new();
    if !database {
        down.push("database");
    }
    if redis == Some(false) {
        down.push("redis");
    }
    if !down.is_empty() {
        return Err(Error::Unavailable(format!(
            "not ready: {} down",
            down.join(" and ")
        )));
    }
    Ok((
        StatusCode::OK,
        Json(Readiness {
            status: "ready",
            database: "up",
            redis: if redis.is_some() {
                "up"
            } else {
                "not configured"
            },
        }),
    ))
}
