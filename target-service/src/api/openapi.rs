//! The OpenAPI 3 document of every route, generated from the handlers'
//! annotations so it cannot drift from the code, and `/openapi.json`, which
//! serves it.
//!
//! The document and its route share this file because the document lists
//! the route's handler while the handler serves the document: split over
//! two files, each would import the other.

use std::sync::LazyLock;

use axum::{Router, http::HeaderValue, response::IntoResponse, routing::get};
use bytes::Bytes;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use super::{config, health, metrics, observability, response::json_headers, servers};
use crate::{error::ErrorBody, model, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "loadgate reference target: MCP Server Manager API"),
    paths(
        health::health,
        health::ready,
        servers::list_servers,
        servers::create_server,
        servers::get_server,
        servers::update_server,
        servers::delete_server,
        metrics::read_metrics,
        metrics::ingest_metrics,
        config::public_config,
        observability::prometheus_metrics,
        openapi_json,
    ),
    components(schemas(
        ErrorBody,
        model::Server,
        model::ServerPage,
        model::NewServerInput,
        model::ServerPatchInput,
        model::MetricPoint,
        model::MetricSeries,
        model::MetricBatchInput,
        model::MetricPointInput,
        model::IngestSummary,
    )),
    modifiers(&BearerKey),
)]
pub struct ApiDoc;

/// Declares the `Authorization: Bearer <key>` scheme the `/api` routes use.
#[derive(Debug)]
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
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
