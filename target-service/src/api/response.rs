//! Response pieces every handler file shares. They live in their own file,
//! not in `api/mod.rs`, because `api/mod.rs` imports the handler files to
//! merge their routers: the handlers importing it back would be a cycle.
//! `api/mod.rs` re-exports them, so their public paths are `api::…`.

use axum::http::{HeaderValue, header};

/// `Cache-Control` of responses that belong to one caller: a client or
/// proxy may keep them but must revalidate, so a write is seen at once.
pub const PRIVATE_REVALIDATE: HeaderValue = HeaderValue::from_static("private, no-cache");

/// Response header pair for JSON bytes produced elsewhere (the caches).
pub fn json_headers(cache_control: HeaderValue) -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (header::CACHE_CONTROL, cache_control),
    ]
}

/// Serializes a response body once, so it can be cached as bytes.
pub fn to_json_bytes<T: serde::Serialize>(value: &T) -> crate::error::Result<bytes::Bytes> {
    Ok(serde_json::to_vec(value)
        .map_err(anyhow::Error::from)?
        .into())
}

/// Runs a write and the cache invalidation after it as a task of its own,
/// and waits for it.
///
/// A client that disconnects drops the handler's future, and with it
/// whatever the handler had still to do: a commit whose invalidation never
/// ran would leave every cache stale for its TTL. A spawned task runs to
/// its end whether or not anyone still waits for it.
pub async fn to_completion<T, F>(work: F) -> crate::error::Result<T>
where
    T: Send + 'static,
    F: Future<Output = crate::error::Result<T>> + Send + 'static,
{
    tokio::spawn(work)
        .await
        .map_err(|e| crate::error::Error::Internal(anyhow::anyhow!("write task: {e}")))?
}
