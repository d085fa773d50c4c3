//! The OpenAPI 3 document of every route, generated from the handlers'
//! annotations so it cannot drift from the code.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{api, error::ErrorBody, model};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "loadgate reference target: MCP Server Manager API"),
    paths(
        api::health::health,
        api::health::ready,
        api::servers::list_servers,
        api::servers::create_server,
        api::servers::get_server,
        api::servers::update_server,
        api::servers::delete_server,
        api::metrics::read_metrics,
        api::metrics::ingest_metrics,
        api::config::public_config,
        api::observability::prometheus_metrics,
        api::observability::openapi_json,
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
