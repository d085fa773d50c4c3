//! `GET /api/v1/config`: the settings a client may see, cached as
//! `config:{key}` for an hour (architecture §1).

use axum::{Router, extract::State, http::HeaderValue, response::IntoResponse, routing::get};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    api::{
        pagination::{PER_PAGE_DEFAULT, PER_PAGE_MAX},
        response::{json_headers, to_json_bytes},
    },
    cache::keys,
    error::Result,
    model::METRIC_BATCH_MAX,
    rate_limit::TierLimit,
    state::AppState,
    store::Tier,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/config", get(public_config))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicConfig {
    tiers: Vec<TierInfo>,
    pagination: Pagination,
    max_metric_batch: usize,
}

#[derive(Debug, Serialize, ToSchema)]
struct TierInfo {
    name: &'static str,
    #[serde(flatten)]
    limit: TierLimit,
}

#[derive(Debug, Serialize, ToSchema)]
struct Pagination {
    default_per_page: u32,
    max_per_page: u32,
}

/// The service settings a client may see.
#[utoipa::path(get, path = "/api/v1/config", tag = "config", security(("api_key" = [])),
    responses((status = 200, body = PublicConfig), (status = 401, body = crate::error::ErrorBody)))]
pub async fn public_config(State(state): State<AppState>) -> Result<impl IntoResponse> {
    let bytes = state
        .cache
        .get_or_load(&keys::config("public"), keys::CONFIG_TTL, || async {
            to_json_bytes(&PublicConfig {
                tiers: Tier::ALL
                    .into_iter()
                    .map(|t| TierInfo {
                        name: t.as_str(),
                        limit: t.limit(),
                    })
                    .collect(),
                pagination: Pagination {
                    default_per_page: PER_PAGE_DEFAULT,
                    max_per_page: PER_PAGE_MAX,
                },
                max_metric_batch: METRIC_BATCH_MAX,
            })
        })
        .await?;
    Ok((
        json_headers(HeaderValue::from_static("private, max-age=3600")),
        bytes,
    ))
}
