//! Where a request goes: the target's scheme, host and port, parsed once
//! per run, and the absolute URLs (a request's own, a redirect's
//! `Location`) that point somewhere else.

use http::header::HeaderValue;
use url::Url;

/// A scheme, host and port: what one connection talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub tls: bool,
    /// The host as DNS and TLS see it (no brackets around IPv6).
    pub host: String,
    pub port: u16,
    /// The `Host` header: the host, and the port when it is not the
    /// scheme's default.
    pub authority: HeaderValue,
}

/// Why a URL cannot be a request's target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("{0:?} is not a URL: {1}")]
    Invalid(String, url::ParseError),
    #[error("{0:?}: only http:// and https:// targets are supported")]
    Scheme(String),
    #[error("{0:?} has no host")]
    NoHost(String),
}

impl Origin {
    /// The origin of `url`, and its path and query as a request sends them.
    pub fn of(url: &Url) -> Result<(Self, String), UrlError> {
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            _ => return Err(UrlError::Scheme(url.to_string())),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| UrlError::NoHost(url.to_string()))?;
        let port = url
            .port_or_known_default()
            .expect("http and https have default ports");
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let origin = Self {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            authority: HeaderValue::from_str(&authority).expect("a parsed host is a valid header"),
        };
        let mut path = url.path().to_owned();
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        Ok((origin, path))
    }

    /// This origin as a base URL, to resolve a relative `Location` against.
    pub fn url_with(&self, path_and_query: &str) -> Option<Url> {
        let scheme = if self.tls { "https" } else { "http" };
        let authority = self.authority.to_str().ok()?;
        Url::parse(&format!("{scheme}://{authority}{path_and_query}")).ok()
    }
}

/// The run's target, parsed once: its origin and the path every request's
/// own path is appended to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub origin: Origin,
    /// The target URL's path without its trailing slash (`""` for `/`).
    pub prefix: String,
}

impl Target {
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let url = parse_url(text)?;
        let (origin, path) = Origin::of(&url)?;
        Ok(Self {
            origin,
            prefix: path
                .split('?')
                .next()
                .unwrap_or("")
                .trim_end_matches('/')
                .to_owned(),
        })
    }
}

/// The request target for `path` (path and query). Most paths are valid
/// as they are; one with characters a URI cannot carry (a space, non-ASCII
/// text, often from a captured value) is percent-encoded as a browser, and
/// reqwest before, would send it.
pub fn request_uri(path: &str) -> Result<http::Uri, String> {
    if let Ok(uri) = http::Uri::try_from(path) {
        return Ok(uri);
    }
    let url = Url::parse(&format!("http://placeholder{path}")).map_err(|e| e.to_string())?;
    let mut encoded = url.path().to_owned();
    if let Some(query) = url.query() {
        encoded.push('?');
        encoded.push_str(query);
    }
    http::Uri::try_from(encoded).map_err(|e| e.to_string())
}

/// Parses an absolute URL, naming it in the error.
pub fn parse_url(text: &str) -> Result<Url, UrlError> {
    Url::parse(text).map_err(|e| UrlError::Invalid(text.to_owned(), e))
}

/// Whether a request's path is an absolute URL rather than a path below
/// the target.
pub fn is_absolute(path: &str) -> bool {
    path.starts_with("http://") || path.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_port_is_left_out_of_the_host_header() {
        let target = Target::parse("https://example.test/").unwrap();
        assert_eq!(target.origin.port, 443);
        assert!(target.origin.tls);
        assert_eq!(target.origin.authority, "example.test");
        assert_eq!(target.prefix, "");
    }

    #[test]
    fn a_port_and_a_path_prefix_are_kept() {
        let target = Target::parse("http://127.0.0.1:8080/api/").unwrap();
        assert_eq!(target.origin.port, 8080);
        assert_eq!(target.origin.authority, "127.0.0.1:8080");
        assert_eq!(target.prefix, "/api");
    }

    #[test]
    fn an_ipv6_host_connects_without_brackets_and_sends_them() {
        let target = Target::parse("http://[::1]:9000").unwrap();
        assert_eq!(target.origin.host, "::1");
        assert_eq!(target.origin.authority, "[::1]:9000");
    }

    #[test]
    fn other_schemes_and_non_urls_are_refused() {
        assert!(matches!(
            Target::parse("ftp://example.test"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            Target::parse("example.test"),
            Err(UrlError::Invalid(..))
        ));
    }

    #[test]
    fn a_path_a_uri_cannot_carry_is_percent_encoded() {
        assert_eq!(request_uri("/servers?q=a").unwrap(), "/servers?q=a");
        assert_eq!(
            request_uri("/search?q=web 1&city=Zürich").unwrap(),
            "/search?q=web%201&city=Z%C3%BCrich"
        );
    }

    #[test]
    fn an_absolute_url_gives_its_own_origin_and_path() {
        let url = parse_url("http://other.test:81/a/b?c=1").unwrap();
        let (origin, path) = Origin::of(&url).unwrap();
        assert_eq!(origin.authority, "other.test:81");
        assert_eq!(path, "/a/b?c=1");
    }
}
