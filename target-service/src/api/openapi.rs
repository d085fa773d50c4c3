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

use super::{config, health, metrics, observability, response::json_headers, servers, tasks};
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
        tasks::enqueue_action,
        tasks::get_task,
        tasks::dead_tasks,
        tasks::replay_task,
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
        model::Rfc3339Time,
        crate::queue::task::Action,
        crate::queue::task::Priority,
        crate::queue::task::TaskState,
        crate::queue::task::ActionInput,
        crate::queue::task::Task,
        crate::queue::task::TaskPage,
    )),
    modifiers(&BearerKey, &CommonResponses),
)]
pub struct ApiDoc;

/// Adds the answers any operation of a kind can give, so that no handler's
/// annotation can forget one: every `/api` operation can be refused its key
/// (401), throttled (429) or find the database away (503); every one with a
/// body can get JSON that does not parse (400) or is over the limit (413).
#[derive(Debug)]
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            ContentBuilder, Ref, ResponseBuilder, header::HeaderBuilder, schema::Type,
        };
        let error = |description: &str, retry_after: bool| {
            let mut response = ResponseBuilder::new().description(description).content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            );
            if retry_after {
                response = response.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(utoipa::openapi::Object::with_type(Type::Integer))
                        .description(Some("Seconds to wait before trying again"))
                        .build(),
                );
            }
            response.build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/api/");
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let mut add = |status: &str, response: utoipa::openapi::Response| {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| response.into());
                };
                if api {
                    add("401", error("Missing or unknown API key", false));
                    add(
                        "429",
                        error(
                            "Over the key's rate limit, or too many failed keys from this address",
                            true,
                        ),
                    );
                    add(
                        "503",
                        error(
                            "The database is away or the request timed out; retry after Retry-After",
                            true,
                        ),
                    );
                }
                if operation.request_body.is_some() {
                    add("400", error("A body that is not JSON", false));
                    add("413", error("A body over 1 MiB", false));
                }
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::model::{NewServerInput, reject_control_characters};

    fn document() -> Value {
        serde_json::from_slice(&OPENAPI).unwrap()
    }

    fn pattern(at: &Value) -> regex::Regex {
        regex::Regex::new(at["pattern"].as_str().expect("a pattern")).unwrap()
    }

    /// Strings at the edges of both rules: controls, Unicode spaces, and
    /// the characters just past each range.
    const CASES: &[&str] = &[
        "a",
        " a ",
        "é",
        "\u{a0}x",
        "\u{1f}",
        "\u{20}",
        "\u{7f}",
        "\u{9f}",
        "\u{a0}",
        "\u{a1}",
        "\u{3000}",
        "\u{2009}x",
        "\u{feff}",
        "x\u{85}",
        "\t",
        "名前",
        "\u{2028}",
        "\u{1680}y",
    ];

    #[test]
    fn the_name_pattern_is_the_name_rule() {
        let doc = document();
        let name = &doc["components"]["schemas"]["NewServerInput"]["properties"]["name"];
        let re = pattern(name);
        for case in CASES {
            let input = NewServerInput {
                name: (*case).to_owned(),
                transport: "http".into(),
                status: None,
                config: None,
            };
            assert_eq!(re.is_match(case), input.validate().is_ok(), "{case:?}");
        }
    }

    #[test]
    fn the_q_pattern_is_the_q_rule() {
        let doc = document();
        let parameters = doc["paths"]["/api/v1/servers"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .clone();
        let q = parameters.iter().find(|p| p["name"] == "q").unwrap();
        assert_eq!(q["in"], "query");
        let re = pattern(&q["schema"]);
        for case in CASES {
            assert_eq!(
                re.is_match(case),
                reject_control_characters("q", case).is_ok(),
                "{case:?}"
            );
        }
    }

    #[test]
    fn every_api_operation_documents_401_429_and_503() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                if path.starts_with("/api/") {
                    for status in ["401", "429", "503"] {
                        assert!(responses.contains_key(status), "{method} {path}: {status}");
                    }
                }
                if operation.get("requestBody").is_some() {
                    assert!(responses.contains_key("400"), "{method} {path}: 400");
                }
            }
        }
    }
}
