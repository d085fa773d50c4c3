//! Following a redirect as browsers and reqwest do: 301, 302, 303, 307 and
//! 308 with a `Location`, each hop inside the request's own time. A 303,
//! and a 301 or 302 answering a POST, turn the request into a GET without
//! a body; 307 and 308 repeat it as it was. A hop to another origin does
//! not carry the request's `Authorization` there.

use http::{Method, Uri, header::LOCATION};

use super::{Exchange, Hop, origin::Origin};

/// The hop a redirect points to; `None` when `exchange` is not one to follow.
pub(super) fn next<'a>(hop: &Hop<'a>, home: &Origin, exchange: &Exchange) -> Option<Hop<'a>> {
    if !matches!(exchange.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = exchange.headers.get(LOCATION)?.to_str().ok()?;
    let here = hop.origin.as_ref().unwrap_or(home);
    let url = here
        .url_with(hop.uri.path_and_query()?.as_str())?
        .join(location)
        .ok()?;
    let (origin, path) = Origin::of(&url).ok()?;
    let to_get = exchange.status == 303 && hop.method != Method::HEAD
        || matches!(exchange.status, 301 | 302) && hop.method == Method::POST;
    let credentials = hop.credentials && origin == *here;
    Some(Hop {
        method: if to_get {
            Method::GET
        } else {
            hop.method.clone()
        },
        origin: (origin != *home).then_some(origin),
        uri: Uri::try_from(path).ok()?,
        body: if to_get { None } else { hop.body },
        credentials,
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::header::{HeaderMap, HeaderValue};

    use super::*;
    use crate::run::exchange::origin::Target;

    fn home() -> Origin {
        Target::parse("http://127.0.0.1:8080").unwrap().origin
    }

    fn hop(method: Method, path: &str) -> Hop<'static> {
        Hop {
            method,
            origin: None,
            uri: Uri::try_from(path).unwrap(),
            body: Some(b"{}"),
            credentials: true,
        }
    }

    fn redirect(status: u16, location: &'static str) -> Exchange {
        let mut headers = HeaderMap::new();
        headers.insert(LOCATION, HeaderValue::from_static(location));
        Exchange {
            status,
            headers,
            body: Bytes::new(),
        }
    }

    #[test]
    fn a_relative_location_resolves_against_the_request() {
        let next = next(&hop(Method::GET, "/a/b?x=1"), &home(), &redirect(302, "c")).unwrap();
        assert_eq!(next.uri, "/a/c");
        assert!(next.origin.is_none());
    }

    #[test]
    fn a_303_turns_a_post_into_a_get_without_its_body() {
        let next = next(
            &hop(Method::POST, "/login"),
            &home(),
            &redirect(303, "/home"),
        )
        .unwrap();
        assert_eq!(next.method, Method::GET);
        assert!(next.body.is_none());
    }

    #[test]
    fn a_307_repeats_the_request_as_it_was() {
        let next = next(
            &hop(Method::POST, "/upload"),
            &home(),
            &redirect(307, "/v2/upload"),
        )
        .unwrap();
        assert_eq!(next.method, Method::POST);
        assert!(next.body.is_some());
    }

    #[test]
    fn a_hop_to_another_host_leaves_the_credentials_behind() {
        let next = next(
            &hop(Method::GET, "/"),
            &home(),
            &redirect(301, "http://other.test/landing"),
        )
        .unwrap();
        assert_eq!(next.origin.unwrap().authority, "other.test");
        assert!(!next.credentials);
    }

    #[test]
    fn a_success_or_a_redirect_without_location_is_not_followed() {
        assert!(next(&hop(Method::GET, "/"), &home(), &redirect(200, "/x")).is_none());
        let mut bare = redirect(302, "/x");
        bare.headers.clear();
        assert!(next(&hop(Method::GET, "/"), &home(), &bare).is_none());
    }
}
