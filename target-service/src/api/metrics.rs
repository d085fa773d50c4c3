//! `/api/v1/metrics`: read time-series points of the caller's servers, and
//! ingest them in batches.
//!
//! A read for one server is served from the series cache
//! `metrics:{server_id}:{metric_type}` (1 min), which holds the newest 1000
//! points; `since` and `limit` are applied to that cached series, and the
//! caller's ownership of the server is checked before any cache is read.

use std::collections::BTreeSet;

use axum::{
    Extension, Router,
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    api::{
        response::{PRIVATE_REVALIDATE, to_completion, to_json_bytes},
        servers::cached_server,
    },
    cache::keys,
    error::{Error, Json, Result},
    model::{
        IngestSummary, MetricBatchInput, MetricPoint, MetricSeries, format_rfc3339_ms, now_ms,
        parse_rfc3339_ms, validate_metric_type,
    },
    state::AppState,
    store::{self, SERIES_MAX, StoredPoint, User},
};

/// Points returned when `limit` is not given.
pub const LIMIT_DEFAULT: i64 = 100;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/metrics", get(read_metrics).post(ingest_metrics))
}

/// Query of `GET /api/v1/metrics`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsParams {
    /// Only this server's points (must be the caller's).
    #[param(value_type = Option<i64>)]
    server_id: Option<String>,
    /// Only this metric type, e.g. `cpu`.
    #[param(pattern = "^[a-z0-9_]{1,64}$")]
    metric_type: Option<String>,
    /// Only points at or after this RFC 3339 time.
    #[param(value_type = Option<crate::model::Rfc3339Time>)]
    since: Option<String>,
    /// At most this many points, newest first (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

#[derive(Debug)]
struct MetricsRequest {
    server_id: Option<i64>,
    metric_type: Option<String>,
    since_ms: Option<i64>,
    limit: i64,
}

impl TryFrom<MetricsParams> for MetricsRequest {
    type Error = Error;

    fn try_from(params: MetricsParams) -> Result<Self> {
        let bad = |e: Error| Error::BadRequest(e.to_string());
        let limit = match params.limit {
            None => LIMIT_DEFAULT,
            Some(t) => t
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=SERIES_MAX).contains(n))
                .ok_or_else(|| {
                    Error::BadRequest(format!("limit must be 1 to {SERIES_MAX}, not {t:?}"))
                })?,
        };
        Ok(Self {
            // An id that is not a number names no server of the caller's.
            server_id: params
                .server_id
                .map(|t| t.parse::<i64>().map_err(|_| Error::NotFound("server")))
                .transpose()?,
            metric_type: params
                .metric_type
                .map(|t| validate_metric_type(&t).map(|()| t))
                .transpose()
                .map_err(bad)?,
            since_ms: params
                .since
                .map(|t| parse_rfc3339_ms("since", &t))
                .transpose()
                .map_err(bad)?,
            limit,
        })
    }
}

/// Time-series points of the caller's servers, newest first.
#[utoipa::path(get, path = "/api/v1/metrics", tag = "metrics", params(MetricsParams), security(("api_key" = [])),
    responses(
        (status = 200, body = MetricSeries),
        (status = 400, body = crate::error::ErrorBody),
        (status = 404, description = "server_id is not one of the caller's servers", body = crate::error::ErrorBody),
    ))]
pub async fn read_metrics(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Query(params): Query<MetricsParams>,
) -> Result<impl IntoResponse> {
    let request = MetricsRequest::try_from(params)?;
    let items = match request.server_id {
        None => {
            store::user_points(
                &state.db,
                user.id,
                request.metric_type.as_deref(),
                request.since_ms,
                request.limit,
            )
            .await?
        }
        Some(server_id) => {
            // Ownership first, from the (cached) server itself.
            cached_server(&state, user.id, server_id).await?;
            let metric_type = request.metric_type.as_deref();
            let bytes = state
                .cache
                .get_or_load(
                    &keys::metrics(server_id, metric_type),
                    keys::METRICS_TTL,
                    || async {
                        to_json_bytes(
                            &store::server_series(&state.db, server_id, metric_type).await?,
                        )
                    },
                )
                .await?;
            let series: Vec<StoredPoint> =
                serde_json::from_slice(&bytes).map_err(anyhow::Error::from)?;
            series
                .into_iter()
                .filter(|p| request.since_ms.is_none_or(|since| p.timestamp_ms >= since))
                .take(usize::try_from(request.limit).unwrap_or(usize::MAX))
                .map(|p| MetricPoint {
                    server_id,
                    metric_type: p.metric_type,
                    value: p.value,
                    timestamp: format_rfc3339_ms(p.timestamp_ms),
                })
                .collect()
        }
    };
    Ok((
        [(header::CACHE_CONTROL, PRIVATE_REVALIDATE)],
        Json(MetricSeries { items }),
    ))
}

/// Ingests up to 1000 points in one statement.
#[utoipa::path(post, path = "/api/v1/metrics", tag = "metrics", request_body = MetricBatchInput, security(("api_key" = [])),
    responses(
        (status = 201, body = IngestSummary),
        (status = 404, description = "A point names a server that is not the caller's", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody),
    ))]
pub async fn ingest_metrics(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Json(input): Json<MetricBatchInput>,
) -> Result<impl IntoResponse> {
    let points = input.validate(now_ms())?;
    let server_ids: BTreeSet<i64> = points.iter().map(|p| p.server_id).collect();
    let ids: Vec<i64> = server_ids.iter().copied().collect();
    let owned = store::owned_server_ids(&state.db, user.id, &ids).await?;
    if owned.len() != ids.len() {
        return Err(Error::NotFound("server"));
    }
    let inserted = to_completion(async move {
        let inserted = store::insert_points(&state.db, &points).await?;
        let touched: BTreeSet<String> = points
            .iter()
            .flat_map(|p| {
                [
                    keys::metrics(p.server_id, Some(&p.metric_type)),
                    keys::metrics(p.server_id, None),
                ]
            })
            .collect();
        state
            .cache
            .invalidate_keys(&touched.into_iter().collect::<Vec<_>>())
            .await;
        Ok(inserted)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(IngestSummary { inserted }),
    ))
}
