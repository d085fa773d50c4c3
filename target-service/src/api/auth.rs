//! API keys: `Authorization: Bearer <key>` on every `/api` route.
//!
//! Keys are stored as SHA-256 hashes, never in clear. A verified key is
//! remembered in-process (a bounded cache separate from the 500-entry
//! response cache, which would otherwise thrash with many keys; its limits
//! are [`crate::config::KEY_CACHE_CAPACITY`] and
//! [`crate::config::KEY_CACHE_TTL`]) and in
//! Redis as `session:{key_hash}` for 24 h (architecture §1), so most
//! requests never ask the database who they are.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use crate::{
    cache::keys,
    error::{Error, Result},
    rate_limit::Decision,
    state::AppState,
    store::{self, User},
};

/// The stored form of an API key: lowercase hex SHA-256.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    hex
}

/// Middleware for `/api`: authenticates the key, takes a token from its
/// bucket, puts the [`User`] in the request's extensions and the
/// `RateLimit-*` headers on the response.
pub async fn require_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let user = match authenticate(&state, request.headers()).await {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    let decision = state.limits.check(user.id, user.tier);
    let mut response = match decision {
        Decision::Allowed { .. } => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Decision::Limited { retry_after, .. } => Error::RateLimited {
            retry_after_secs: retry_after.as_secs_f64().ceil().max(1.0) as u64,
        }
        .into_response(),
    };
    set_rate_limit_headers(response.headers_mut(), decision);
    response
}

fn set_rate_limit_headers(headers: &mut HeaderMap, decision: Decision) {
    let (limit, remaining, reset_secs) = match decision {
        Decision::Allowed { limit, remaining } => (limit, remaining, 0),
        Decision::Limited { limit, retry_after } => {
            (limit, 0, retry_after.as_secs_f64().ceil() as u64)
        }
    };
    headers.insert(
        "ratelimit-limit",
        HeaderValue::from(limit.requests_per_minute),
    );
    headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(reset_secs));
    headers.insert(
        "ratelimit-policy",
        HeaderValue::from_str(&format!(
            "{};w=60;burst={}",
            limit.requests_per_minute, limit.burst
        ))
        .expect("digits and ascii"),
    );
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<User> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(Error::Unauthorized)?;
    let key_hash = hash_key(key);
    state
        .keys
        .try_get_with_by_ref(&key_hash, lookup(state, &key_hash))
        .await
        .map_err(Error::from_shared)
}

async fn lookup(state: &AppState, key_hash: &str) -> Result<User> {
    let session_key = keys::session(key_hash);
    if let Some(bytes) = state.cache.l3_get(&session_key).await
        && let Ok(user) = serde_json::from_slice::<User>(&bytes)
    {
        return Ok(user);
    }
    let user = store::user_by_key_hash(&state.db, key_hash)
        .await?
        .ok_or(Error::Unauthorized)?;
    let bytes = serde_json::to_vec(&user).map_err(anyhow::Error::from)?;
    state
        .cache
        .l3_set(&session_key, &bytes, keys::SESSION_TTL)
        .await;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_to_lowercase_sha256_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
