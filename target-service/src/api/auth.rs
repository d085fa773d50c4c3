//! API keys: `Authorization: Bearer <key>` on every `/api` route.
//!
//! Keys are stored as SHA-256 hashes, never in clear. A verified key is
//! remembered in-process (a bounded cache separate from the 500-entry
//! response cache, which would otherwise thrash with many keys; its limits
//! are [`crate::config::KEY_CACHE_CAPACITY`] and
//! [`crate::config::KEY_CACHE_TTL`]) and in
//! Redis as `session:{key_hash}` for 24 h (architecture §1), so most
//! requests never ask the database who they are.
//!
//! A key that fails its lookup is remembered too, for a few seconds
//! ([`crate::config::UNKNOWN_KEY_TTL`]), and every failed authentication
//! counts against its IP address ([`crate::rate_limit::AuthFailures`]), so
//! neither one bad key repeated nor many bad keys from one address reach
//! the database at the rate they are sent.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, Request, State},
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
    let ip = client_ip(&request);
    let user = match authenticate(&state, ip, request.headers()).await {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    let decision = state.limits.check(user.id, user.tier);
    let mut response = match decision {
        Decision::Allowed { .. } => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Decision::Limited { retry_after, .. } => rate_limited(retry_after).into_response(),
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

/// The peer's address, as the accept loop recorded it. A request served
/// without a socket (a test's `oneshot`) counts as from `0.0.0.0`. A proxy's
/// `X-Forwarded-For` is not trusted: anyone can send one.
fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

fn rate_limited(wait: std::time::Duration) -> Error {
    Error::RateLimited {
        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
    }
}

/// Verifies the key, and counts a failure against `ip`: over its limit,
/// the failure is a 429 instead of a 401.
async fn authenticate(state: &AppState, ip: IpAddr, headers: &HeaderMap) -> Result<User> {
    let verified = verify(state, ip, headers).await;
    if matches!(verified, Err(Error::Unauthorized))
        && let Some(wait) = state.auth_failures.record(ip)
    {
        return Err(rate_limited(wait));
    }
    verified
}

async fn verify(state: &AppState, ip: IpAddr, headers: &HeaderMap) -> Result<User> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(Error::Unauthorized)?;
    let key_hash = hash_key(key);
    if let Some(user) = state.keys.get(&key_hash).await {
        return Ok(user);
    }
    if state.unknown_keys.contains_key(&key_hash) {
        return Err(Error::Unauthorized);
    }
    // Past here the key costs a lookup: refused while the address is over
    // its failure limit.
    if let Some(wait) = state.auth_failures.blocked_for(ip) {
        return Err(rate_limited(wait));
    }
    let found = state
        .keys
        .try_get_with_by_ref(&key_hash, lookup(state, &key_hash))
        .await
        .map_err(Error::from_shared);
    if matches!(found, Err(Error::Unauthorized)) {
        state.unknown_keys.insert(key_hash, ());
    }
    found
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
