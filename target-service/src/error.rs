//! The service's one error type and the one place it becomes HTTP.
//!
//! Handlers return [`Result<T>`]; every failure, including a body that does
//! not parse and a request that times out, leaves the service as
//! `{"error": {"code": "...", "message": "...", "field": ...}}`. Internal
//! errors are logged with their cause and shown to the client only as
//! `internal`, so database or Redis details never leak.

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
    #[error("request took longer than the server's timeout")]
    Timeout,
    /// A dependency the route needs is down (used by `/ready`).
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
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
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            Self::Database(e) => Self::Internal(anyhow::anyhow!("database: {e}")),
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
            Self::Unavailable(_) => "unavailable",
            Self::Database(_) | Self::Internal(_) => "internal",
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
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
                field,
            },
        };
        let mut response = (self.status_code(), axum::Json(body)).into_response();
        if let Self::RateLimited { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
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
            _ => Error::Database(e),
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
