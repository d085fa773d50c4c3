//! `/api/v1/servers`: list (paginated, filtered, cached), create, and
//! get/patch/delete one. Every write invalidates the caller's cached lists.

use axum::{
    Extension, Router,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    api::{
        pagination::Page,
        response::{PRIVATE_REVALIDATE, json_headers, to_completion, to_json_bytes},
    },
    cache::keys,
    error::{Error, Json, Result},
    model::{
        NewServerInput, Server, ServerPage, ServerPatchInput, Status, Transport,
        reject_control_characters,
    },
    state::AppState,
    store::{self, ServerFilter, User},
};

/// Longest `q`, in characters: as long as the longest name, since a longer
/// prefix matches nothing.
pub const Q_MAX_CHARS: usize = crate::model::NAME_MAX_CHARS;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/servers", get(list_servers).post(create_server))
        .route(
            "/api/v1/servers/{id}",
            get(get_server).patch(update_server).delete(delete_server),
        )
}

/// Query of `GET /api/v1/servers`, taken as text so a bad value is a 400
/// in the service's own error shape.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1-based page number (default 1).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    page: Option<String>,
    /// Items per page (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    per_page: Option<String>,
    /// Only servers in this status.
    #[param(value_type = Option<Status>)]
    status: Option<String>,
    /// Only servers with this transport.
    #[param(value_type = Option<Transport>)]
    transport: Option<String>,
    /// Only servers whose name starts with this (case-sensitive); no
    /// control characters.
    #[param(max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    q: Option<String>,
}

/// A parsed, bounded list request.
#[derive(Debug, PartialEq, Eq)]
struct ListRequest {
    page: u32,
    per_page: u32,
    filter: ServerFilter,
}

impl TryFrom<ListParams> for ListRequest {
    type Error = Error;

    fn try_from(params: ListParams) -> Result<Self> {
        let Page { page, per_page } =
            Page::parse(params.page.as_deref(), params.per_page.as_deref())?;
        let bad_query = |e: Error| Error::BadRequest(e.to_string());
        // `q` is text a user typed, checked by the rules a name obeys, so
        // its rejections are 422s naming the field, as for a body's name.
        if let Some(q) = &params.q {
            let chars = q.chars().count();
            if chars > Q_MAX_CHARS {
                return Err(Error::validation(
                    "q",
                    format!("is {chars} characters; the maximum is {Q_MAX_CHARS}"),
                ));
            }
            reject_control_characters("q", q)?;
        }
        Ok(Self {
            page,
            per_page,
            filter: ServerFilter {
                status: params
                    .status
                    .map(|s| Status::parse("status", &s))
                    .transpose()
                    .map_err(bad_query)?,
                transport: params
                    .transport
                    .map(|t| Transport::parse("transport", &t))
                    .transpose()
                    .map_err(bad_query)?,
                name_prefix: params.q.filter(|q| !q.is_empty()),
            },
        })
    }
}

/// The caller's servers, one page at a time, in id order.
#[utoipa::path(get, path = "/api/v1/servers", tag = "servers", params(ListParams), security(("api_key" = [])),
    responses(
        (status = 200, body = ServerPage),
        (status = 400, description = "Bad page, per_page over 1000, or unknown filter value", body = crate::error::ErrorBody),
        (status = 422, description = "q over 100 characters or with control characters", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody),
    ))]
pub async fn list_servers(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Query(params): Query<ListParams>,
) -> Result<impl IntoResponse> {
    let request = ListRequest::try_from(params)?;
    if let Some(delay) = state.config.debug_list_delay {
        tokio::time::sleep(delay).await;
    }
    let bytes = state
        .cache
        .server_page(
            user.id,
            request.page,
            request.per_page,
            &request.filter,
            || async {
                let (items, total) = store::list_servers(
                    &state.db,
                    user.id,
                    &request.filter,
                    request.page,
                    request.per_page,
                )
                .await?;
                to_json_bytes(&ServerPage {
                    items,
                    page: request.page,
                    per_page: request.per_page,
                    total,
                })
            },
        )
        .await?;
    Ok((json_headers(PRIVATE_REVALIDATE), bytes))
}

/// Registers a server.
#[utoipa::path(post, path = "/api/v1/servers", tag = "servers", request_body = NewServerInput, security(("api_key" = [])),
    responses(
        (status = 201, body = Server, headers(("Location" = String, description = "URL of the new server"))),
        (status = 400, description = "JSON that does not parse", body = crate::error::ErrorBody),
        (status = 409, description = "The caller already has a server of that name", body = crate::error::ErrorBody),
        (status = 422, description = "A field breaks a rule; `field` names it", body = crate::error::ErrorBody),
    ))]
pub async fn create_server(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Json(input): Json<NewServerInput>,
) -> Result<impl IntoResponse> {
    let new = input.validate()?;
    let server = to_completion(async move {
        let server = store::create_server(&state.db, user.id, &new).await?;
        state.cache.invalidate_lists(user.id).await;
        Ok(server)
    })
    .await?;
    let location = HeaderValue::from_str(&format!("/api/v1/servers/{}", server.id))
        .map_err(anyhow::Error::from)?;
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Json(server),
    ))
}

/// Ids are numbers; anything else cannot name a server.
fn server_id(text: &str) -> Result<i64> {
    text.parse().map_err(|_| Error::NotFound("server"))
}

/// One of the caller's servers. Another user's id is a 404.
#[utoipa::path(get, path = "/api/v1/servers/{id}", tag = "servers", params(("id" = i64, Path)), security(("api_key" = [])),
    responses((status = 200, body = Server), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_server(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse> {
    let bytes = cached_server(&state, user.id, server_id(&id)?).await?;
    Ok((json_headers(PRIVATE_REVALIDATE), bytes))
}

/// One of `user_id`'s servers as JSON, through both cache layers; a 404
/// when it is not theirs (misses are not cached).
pub async fn cached_server(state: &AppState, user_id: i64, id: i64) -> Result<bytes::Bytes> {
    state
        .cache
        .get_or_load(&keys::server(user_id, id), keys::SERVER_TTL, || async {
            to_json_bytes(&store::get_server(&state.db, user_id, id).await?)
        })
        .await
}

/// Changes some fields of one of the caller's servers.
#[utoipa::path(patch, path = "/api/v1/servers/{id}", tag = "servers", params(("id" = i64, Path)), request_body = ServerPatchInput,
    security(("api_key" = [])),
    responses(
        (status = 200, body = Server),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody),
    ))]
pub async fn update_server(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    Json(input): Json<ServerPatchInput>,
) -> Result<impl IntoResponse> {
    let id = server_id(&id)?;
    let patch = input.validate()?;
    let server = to_completion(async move {
        let server = store::update_server(&state.db, user.id, id, &patch).await?;
        invalidate_server(&state, user.id, id).await;
        Ok(server)
    })
    .await?;
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(server),
    ))
}

/// Deletes one of the caller's servers and its metrics.
#[utoipa::path(delete, path = "/api/v1/servers/{id}", tag = "servers", params(("id" = i64, Path)), security(("api_key" = [])),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete_server(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = server_id(&id)?;
    to_completion(async move {
        store::delete_server(&state.db, user.id, id).await?;
        invalidate_server(&state, user.id, id).await;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// After a server changed: its own entry and its owner's list pages.
async fn invalidate_server(state: &AppState, user_id: i64, id: i64) {
    state
        .cache
        .invalidate_keys(&[keys::server(user_id, id)])
        .await;
    state.cache.invalidate_lists(user_id).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(page: Option<&str>, per_page: Option<&str>) -> ListParams {
        ListParams {
            page: page.map(Into::into),
            per_page: per_page.map(Into::into),
            ..ListParams::default()
        }
    }

    #[test]
    fn a_list_request_reads_its_page() {
        let r = ListRequest::try_from(params(Some("3"), None)).unwrap();
        assert_eq!((r.page, r.per_page), (3, 100));
        assert!(ListRequest::try_from(params(None, Some("1001"))).is_err());
    }

    fn search(q: &str) -> Result<ListRequest> {
        ListRequest::try_from(ListParams {
            q: Some(q.to_owned()),
            ..ListParams::default()
        })
    }

    #[test]
    fn q_is_at_most_a_name_long_and_has_no_control_characters() {
        assert!(search(&"é".repeat(Q_MAX_CHARS)).is_ok());
        for bad in [
            "a".repeat(Q_MAX_CHARS + 1),
            "x\0".to_owned(),
            "\u{7f}".to_owned(),
        ] {
            let err = search(&bad).unwrap_err();
            assert!(
                matches!(err, Error::Validation { field: "q", .. }),
                "{bad:?}: {err:?}"
            );
        }
    }
}
