//! `cookies` and `http_version`: how each user's HTTP client talks to the
//! target (format version 4).
//!
//! loadgate's client speaks HTTP/1.1 only. `http_version` exists so that a
//! scenario written for HTTP/2 is refused with a reason at validation,
//! rather than run quietly over HTTP/1.1 and measured as something it is
//! not.

use super::Builder;

/// Where the format docs explain which protocols loadgate speaks.
const PROTOCOLS_DOC: &str = "see \"Protocols\" in scenarios/README.md";

impl Builder<'_> {
    /// Whether each user keeps a cookie jar: on unless the file says
    /// `cookies: false`.
    pub(super) fn cookies(&mut self, raw: Option<bool>) -> bool {
        if raw.is_some() {
            self.needs_version(4, "cookies");
        }
        raw.unwrap_or(true)
    }

    /// Checks `http_version`; HTTP/1.1 is the only version there is, so
    /// nothing is carried into the plan.
    pub(super) fn http_version(&mut self, raw: Option<&str>) {
        let Some(raw) = raw else { return };
        self.needs_version(4, "http_version");
        match HttpVersion::of(raw) {
            HttpVersion::Http11 => {}
            HttpVersion::Http2 => self.error(
                "http_version",
                format!(
                    "{raw:?} is HTTP/2, which loadgate does not support: it speaks HTTP/1.1 only ({PROTOCOLS_DOC})"
                ),
            ),
            HttpVersion::Other => self.error(
                "http_version",
                format!(
                    "{raw:?} is not an HTTP version loadgate speaks: the only accepted value is \"1.1\" (or \"HTTP/1.1\")"
                ),
            ),
        }
    }
}

/// What an `http_version` value names.
#[derive(Debug, PartialEq, Eq)]
enum HttpVersion {
    Http11,
    Http2,
    Other,
}

impl HttpVersion {
    /// Case-insensitive, surrounding blanks ignored; the `HTTP/` prefix is
    /// optional.
    fn of(text: &str) -> Self {
        let text = text.trim().to_ascii_lowercase();
        let bare = text.strip_prefix("http/").unwrap_or(&text);
        match bare {
            "1.1" => HttpVersion::Http11,
            "2" | "2.0" | "h2" | "h2c" => HttpVersion::Http2,
            _ => HttpVersion::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HttpVersion;

    #[test]
    fn http_versions_by_name() {
        for text in ["1.1", "HTTP/1.1", "http/1.1", "Http/1.1", " 1.1 "] {
            assert_eq!(HttpVersion::of(text), HttpVersion::Http11, "{text:?}");
        }
        for text in [
            "2", "2.0", "h2", "H2", "HTTP/2", "http/2", "HTTP/2.0", "h2c",
        ] {
            assert_eq!(HttpVersion::of(text), HttpVersion::Http2, "{text:?}");
        }
        for text in [
            "", "1", "1.0", "HTTP/1.0", "HTTP/3", "h3", "11", "HTTP/", "HTTP 1.1",
        ] {
            assert_eq!(HttpVersion::of(text), HttpVersion::Other, "{text:?}");
        }
    }
}
