//! A user's cookie jar, as a browser keeps one (k6 and Locust do the
//! same): `Set-Cookie` from a response is stored for its URL, and every
//! later request to a matching URL sends it back. `cookie_store` does the
//! matching (domain, path, expiry, `Secure`).
//!
//! A target that sets no cookies costs nothing per request: the request's
//! URL is only built when the jar holds a cookie or a response sets one.

use cookie_store::{CookieStore, RawCookie};
use http::header::{HeaderMap, HeaderValue, SET_COOKIE};
use url::Url;

#[derive(Debug, Default)]
pub struct CookieJar {
    store: CookieStore,
    /// Whether the store has ever taken a cookie; until then there is
    /// nothing to match.
    holds_any: bool,
}

impl CookieJar {
    /// The `Cookie` header for `url` (built only when needed), if the jar
    /// holds any cookie for it.
    pub fn header_for(&self, url: impl FnOnce() -> Option<Url>) -> Option<String> {
        if !self.holds_any {
            return None;
        }
        let value = self
            .store
            .get_request_values(&url()?)
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        // A value a header cannot carry is not sent, rather than sent broken.
        (!value.is_empty() && HeaderValue::from_str(&value).is_ok()).then_some(value)
    }

    /// Stores the cookies a response to `url` set.
    pub fn store_from(&mut self, response: &HeaderMap, url: impl FnOnce() -> Option<Url>) {
        let mut set = response.get_all(SET_COOKIE).iter().peekable();
        if set.peek().is_none() {
            return;
        }
        let Some(url) = url() else { return };
        let cookies = set
            .filter_map(|value| value.to_str().ok())
            .filter_map(|text| RawCookie::parse(text.to_owned()).ok());
        self.store.store_response_cookies(cookies, &url);
        self.holds_any = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> impl FnOnce() -> Option<Url> {
        let url = Url::parse(text).unwrap();
        move || Some(url)
    }

    #[test]
    fn a_cookie_set_by_one_response_goes_back_with_the_next_request() {
        let mut jar = CookieJar::default();
        let mut response = HeaderMap::new();
        response.append(SET_COOKIE, HeaderValue::from_static("session=abc; Path=/"));
        response.append(SET_COOKIE, HeaderValue::from_static("theme=dark"));
        jar.store_from(&response, url("http://127.0.0.1:8080/login"));

        let sent = jar
            .header_for(url("http://127.0.0.1:8080/servers"))
            .unwrap();
        assert!(sent.contains("session=abc"), "{sent}");
        assert!(sent.contains("theme=dark"), "{sent}");
    }

    #[test]
    fn an_empty_jar_builds_no_url_and_sends_nothing() {
        let jar = CookieJar::default();
        assert_eq!(jar.header_for(|| panic!("no URL is needed")), None);
    }

    #[test]
    fn a_cookie_for_another_path_stays_home() {
        let mut jar = CookieJar::default();
        let mut response = HeaderMap::new();
        response.append(SET_COOKIE, HeaderValue::from_static("admin=1; Path=/admin"));
        jar.store_from(&response, url("http://127.0.0.1/admin/login"));
        assert_eq!(jar.header_for(url("http://127.0.0.1/servers")), None);
    }
}
