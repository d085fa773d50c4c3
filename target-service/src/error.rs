//! The service's one error type and the one place it becomes HTTP.
//!
//! Handlers return [`Result<T>`]; every failure, including a body that does
//! not parse and a request that times out, leaves the service as
//! `{"error": {"code": "...", "message": "...", "field": ...}}`. Internal
//! errors are logged with their cause and shown to the client only as
//! `internal`, so database or Redis details never leak.
//!
//! A failure the client can retry (the database restarting or out of
//! connections, a request over the server's timeout) is a 503 with
//! `Retry-After`, never a 500: a 500 says "this request is broken", which
//! makes clients and load tests give up on a request that would succeed a
//! second later.

use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};

/// `Result` with the service's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed in a way no field explains (bad query, bad JSON).
    #[error("{0}")]
    BadRequest(String),
    /// The body parsed but a field breaks a rule.
    #[error("{field}: {message}")]
    Validation {
        field: &'static str,
        message: String,
    },
    #[error("missing or unknown API key")]
    Unauthorized,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than the limit")]
    PayloadTooLarge,
    /// Over the caller's rate limit; carries the seconds until a token is free.
    #[error("rate limit exceeded, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Over the server's request timeout: the server's fault, so 503, not
    /// 408 (which blames a client that was only waiting).
    #[error("request took longer than the server's timeout")]
    Timeout,
    /// A dependency the route needs is down (used by `/ready`).
    #[error("{0}")]
    Unavailable(String),
    /// The database could not be reached in time or dropped the connection
    /// (restarting, failing over, out of connections): worth a retry.
    /// Built by `From<sqlx::Error>`, which tells it from [`Self::Database`].
    #[error("database unavailable, retry shortly")]
    DatabaseUnavailable(sqlx::Error),
    /// Any other database failure: a bug or a broken schema.
    #[error(transparent)]
    Database(sqlx::Error),
    /// A rejection made below the handlers (axum's extractors, the method
    /// router), re-dressed in the error shape by [`json_errors`].
    #[error("{message}")]
    Rejected { status: StatusCode, message: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn validation(field: &'static str, message: impl Into<String>) -> Self {
        Self::Validation {
            field,
            message: message.into(),
        }
    }

    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout | Self::Unavailable(_) | Self::DatabaseUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Rejected { status, .. } => *status,
        }
    }

    /// The error a coalesced cache load failed with, for one of the
    /// requests that waited on it (they share one `Arc`).
    pub fn from_shared(shared: std::sync::Arc<Error>) -> Self {
        std::sync::Arc::try_unwrap(shared).unwrap_or_else(|shared| match &*shared {
            Self::BadRequest(m) => Self::BadRequest(m.clone()),
            Self::Validation { field, message } => Self::Validation {
                field,
                message: message.clone(),
            },
            Self::Unauthorized => Self::Unauthorized,
            Self::NotFound(what) => Self::NotFound(what),
            Self::Conflict(m) => Self::Conflict(m.clone()),
            Self::PayloadTooLarge => Self::PayloadTooLarge,
            Self::RateLimited { retry_after_secs } => Self::RateLimited {
                retry_after_secs: *retry_after_secs,
            },
            Self::Timeout => Self::Timeout,
            Self::Unavailable(m) => Self::Unavailable(m.clone()),
            Self::DatabaseUnavailable(_) => Self::Unavailable(shared.to_string()),
            Self::Database(e) => Self::Internal(anyhow::anyhow!("database: {e}")),
            Self::Rejected { status, message } => Self::Rejected {
                status: *status,
                message: message.clone(),
            },
            Self::Internal(e) => Self::Internal(anyhow::anyhow!("{e:#}")),
        })
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Validation { .. } => "validation",
            Self::Unauthorized => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::Timeout => "timeout",
            Self::Unavailable(_) | Self::DatabaseUnavailable(_) => "unavailable",
            Self::Database(_) | Self::Internal(_) => "internal",
            Self::Rejected { status, .. } => match *status {
                StatusCode::BAD_REQUEST => "bad_request",
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                StatusCode::UNPROCESSABLE_ENTITY => "validation",
                s if s.is_server_error() => "internal",
                _ => "rejected",
            },
        }
    }
}

/// The wire shape of every error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation`, `not_found`.
    code: &'static str,
    message: String,
    /// The offending field, for `validation` errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let message = match &self {
            Self::Database(e) => {
                tracing::error!(error = %e, "database error");
                "internal server error".to_owned()
            }
            Self::DatabaseUnavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                self.to_string()
            }
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal server error".to_owned()
            }
            other => other.to_string(),
        };
        let field = match &self {
            Self::Validation { field, .. } => Some(*field),
            _ => None,
        };
        let status = self.status_code();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
                field,
            },
        };
        let retry_after = match self {
            Self::RateLimited { retry_after_secs } => Some(retry_after_secs),
            Self::Timeout | Self::Unavailable(_) | Self::DatabaseUnavailable(_) => {
                Some(RETRY_UNAVAILABLE_AFTER_SECS)
            }
            _ => None,
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// What a 503 tells the client to wait: a restarting PostgreSQL is back
/// within seconds, and the pool answers within its acquire timeout, so a
/// short wait is the right first retry.
pub const RETRY_UNAVAILABLE_AFTER_SECS: u64 = 1;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if is_transient(&e) {
            Self::DatabaseUnavailable(e)
        } else {
            Self::Database(e)
        }
    }
}

/// Whether a database error says "the server, not this request": no
/// connection in time, a broken connection, or a server shutting down,
/// shedding connections or cancelling on its statement timeout.
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            db.code().is_some_and(|code| {
                if sqlite {
                    sqlite_busy(&code)
                } else {
                    transient_sqlstate(&code)
                }
            })
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs worth a retry.
fn transient_sqlstate(code: &str) -> bool {
    // Class 08: connection exceptions.
    code.starts_with("08")
        || matches!(
            code,
            // admin_shutdown, crash_shutdown, cannot_connect_now (a restart).
            "57P01" | "57P02" | "57P03"
            // too_many_connections; query_canceled (the statement timeout).
            | "53300" | "57014"
            // serialization_failure, deadlock_detected: retry the transaction.
            | "40001" | "40P01"
        )
}

/// SQLite's extended result codes worth a retry: the primary code is the
/// low byte, and SQLITE_BUSY (5) and SQLITE_LOCKED (6) mean "try again".
/// Only for SQLite's errors: read as a number, a SQLSTATE such as 42501
/// (insufficient_privilege) has a low byte of 5 too.
fn sqlite_busy(code: &str) -> bool {
    code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
}

/// Longest rejection text kept as the message; axum's are one line.
const REJECTION_TEXT_MAX: usize = 4096;

/// Middleware: any error response that is not already JSON (axum's
/// query and path rejections, a 405 from the method router) gets the
/// error shape, keeping its status and headers (`Allow` on a 405).
pub async fn json_errors(request: Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, REJECTION_TEXT_MAX)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("rejected").to_owned(),
        text => text.to_owned(),
    };
    let mut shaped = Error::Rejected { status, message }.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            shaped.headers_mut().insert(name, value.clone());
        }
    }
    shaped
}

/// Turns database errors that are the client's fault into client errors.
pub trait ResultExt<T> {
    /// A unique-key violation becomes `409 Conflict` with `message`.
    fn on_unique_violation(self, message: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn on_unique_violation(self, message: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(message()),
            _ => Error::from(e),
        })
    }
}

/// `axum::Json`, but a body that fails to parse answers in the service's own
/// error shape: 400 for JSON that does not parse, 413 over the body limit,
/// 422 for JSON of the wrong shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => Error::Validation {
                    field: "body",
                    message: e.body_text(),
                },
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    Error::PayloadTooLarge
                }
                other => Error::BadRequest(other.body_text()),
            }),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::{borrow::Cow, io};

    use sqlx::error::{DatabaseError, ErrorKind};

    use super::*;

    /// A database error with a given SQLSTATE, as a driver would report it.
    #[derive(Debug, thiserror::Error)]
    #[error("sqlstate {0}")]
    struct Coded(&'static str);

    impl DatabaseError for Coded {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn answer(e: sqlx::Error) -> (StatusCode, Option<String>) {
        let response = Error::from(e).into_response();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), retry_after)
    }

    #[test]
    fn a_database_that_is_away_answers_503_with_retry_after() {
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "reset by peer");
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(reset),
            sqlx::Error::database(Coded("57P01")),
            sqlx::Error::database(Coded("08006")),
            sqlx::Error::database(Coded("53300")),
            sqlx::Error::database(Coded("57014")),
        ] {
            let shown = e.to_string();
            assert_eq!(
                answer(e),
                (StatusCode::SERVICE_UNAVAILABLE, Some("1".to_owned())),
                "{shown}"
            );
        }
    }

    #[test]
    fn other_database_errors_stay_500() {
        for e in [
            sqlx::Error::RowNotFound,
            sqlx::Error::ColumnNotFound("name".into()),
            sqlx::Error::database(Coded("42P01")),
            // insufficient_privilege and invalid byte sequence: numeric
            // SQLSTATEs whose low byte is SQLite's BUSY.
            sqlx::Error::database(Coded("42501")),
            sqlx::Error::database(Coded("22021")),
        ] {
            let shown = e.to_string();
            assert_eq!(
                answer(e),
                (StatusCode::INTERNAL_SERVER_ERROR, None),
                "{shown}"
            );
        }
    }

    /// A real SQLITE_BUSY: a second connection writes while the first holds
    /// the database's write lock, with no busy timeout to wait it out.
    #[tokio::test]
    async fn a_busy_sqlite_answers_503_with_retry_after() {
        use sqlx::{ConnectOptions, Connection, sqlite::SqliteConnectOptions};

        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("busy.db"))
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let mut holder = options.connect().await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut holder)
            .await
            .unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut holder)
            .await
            .unwrap();
        let mut writer = options.connect().await.unwrap();
        let busy = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut writer)
            .await
            .unwrap_err();
        let shown = busy.to_string();
        assert_eq!(
            answer(busy),
            (StatusCode::SERVICE_UNAVAILABLE, Some("1".to_owned())),
            "{shown}"
        );
        writer.close().await.unwrap();
    }

    #[tokio::test]
    async fn rejections_below_the_handlers_get_the_error_shape() {
        use axum::{Router, routing::get};
        use tower::ServiceExt;

        let app = Router::new()
            .route(
                "/n",
                get(
                    |q: axum::extract::Query<std::collections::HashMap<String, u32>>| async move {
                        q.0.len().to_string()
                    },
                ),
            )
            .layer(axum::middleware::from_fn(json_errors));
        let call = |method: &str, uri: &str| {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .body(axum::body::Body::empty())
                .unwrap();
            app.clone().oneshot(request)
        };
        let ok = call("GET", "/n?a=1").await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        for (method, uri, status, code) in [
            ("GET", "/n?a=x", StatusCode::BAD_REQUEST, "bad_request"),
            (
                "POST",
                "/n",
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            ),
        ] {
            let response = call(method, uri).await.unwrap();
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            if status == StatusCode::METHOD_NOT_ALLOWED {
                assert_eq!(response.headers()[header::ALLOW], "GET,HEAD");
            }
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["error"]["code"], code, "{body}");
            assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        }
    }

    #[test]
    fn a_timed_out_request_is_the_servers_fault() {
        let response = Error::Timeout.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn a_coalesced_unavailable_error_stays_unavailable() {
        let shared = std::sync::Arc::new(Error::from(sqlx::Error::PoolTimedOut));
        let _waiter = shared.clone();
        let copy = Error::from_shared(shared);
        assert_eq!(copy.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(copy.code(), "unavailable");
    }
}
