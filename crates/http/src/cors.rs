//! Cross-origin requests from browsers: which pages may call the API and
//! what they may read of its answers.
//!
//! Only origins listed exactly ([`CorsOrigin`]) get CORS answers; with none
//! listed there is no CORS layer at all, and a preflight is an `OPTIONS`
//! like any other (405). `*` is refused when the list is parsed: every
//! route but the probes is authenticated (RELIABILITY B7).
//!
//! Credentials mode stays off. The API authenticates with bearer tokens
//! that a page puts in the `Authorization` header itself, which needs only
//! that header to be allowed; it never asks a browser to send cookies, so
//! `Access-Control-Allow-Credentials` is never sent.

use std::time::Duration;

use axum::http::header::{
    AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::REQUEST_ID_HEADER;

/// The methods the API's routes use.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Request headers the API reads.
const REQUEST_HEADERS: [HeaderName; 6] = [
    AUTHORIZATION,
    CONTENT_TYPE,
    IF_MATCH,
    HeaderName::from_static("idempotency-key"),
    HeaderName::from_static("last-event-id"),
    REQUEST_ID_HEADER,
];

/// Answer headers a page may read beyond the few browsers always show:
/// versions for `If-Match`, where a created thing is, when to retry (and
/// the rate-limit fields of draft-ietf-httpapi-ratelimit-headers, older
/// and newer spellings), the request id to quote, and why a token failed.
const EXPOSED_HEADERS: [HeaderName; 10] = [
    ETAG,
    LOCATION,
    RETRY_AFTER,
    HeaderName::from_static("ratelimit"),
    HeaderName::from_static("ratelimit-policy"),
    HeaderName::from_static("ratelimit-limit"),
    HeaderName::from_static("ratelimit-remaining"),
    HeaderName::from_static("ratelimit-reset"),
    REQUEST_ID_HEADER,
    WWW_AUTHENTICATE,
];

/// How long a browser may reuse a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for `origins`, or none when the list is empty.
pub fn layer(origins: &[CorsOrigin]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins.iter().map(|origin| origin.0.clone()).collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods(METHODS)
            .allow_headers(REQUEST_HEADERS)
            .expose_headers(EXPOSED_HEADERS)
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

/// One origin allowed to call the API: `https://app.example.com` or
/// `http://localhost:5173`, as a browser sends it in `Origin` (scheme and
/// host in lower case, no default port, no path), so that comparing bytes
/// is comparing origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsOrigin(HeaderValue);

impl CorsOrigin {
    pub fn as_str(&self) -> &str {
        // Built from a checked ASCII string.
        self.0.to_str().unwrap_or_default()
    }
}

impl std::fmt::Display for CorsOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CorsOrigin {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.contains('*') {
            return Err(format!(
                "{text:?}: `*` is not allowed (the API is authenticated); list each origin, e.g. https://app.example.com"
            ));
        }
        let lower = text.to_ascii_lowercase();
        let (scheme, authority, default_port) = if let Some(rest) = lower.strip_prefix("https://") {
            ("https", rest, "443")
        } else if let Some(rest) = lower.strip_prefix("http://") {
            ("http", rest, "80")
        } else {
            return Err(format!(
                "{text:?} is not an origin: it must start with https:// or http://"
            ));
        };
        if authority.contains(['/', '?', '#']) {
            return Err(format!(
                "{text:?} is not an origin: leave out the path and any trailing slash"
            ));
        }
        let (host, port) = split_port(authority)
            .ok_or_else(|| format!("{text:?} is not an origin: the port is not a number"))?;
        if !is_host(host) {
            return Err(format!("{text:?} is not an origin: the host is not valid"));
        }
        if port == Some(default_port) {
            return Err(format!(
                "{text:?}: leave out the default port {default_port}, as browsers do"
            ));
        }
        let origin = match port {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        };
        HeaderValue::from_str(&origin)
            .map(CorsOrigin)
            .map_err(|_| format!("{text:?} is not an origin"))
    }
}

/// `host` and its port, if any; `None` when a port is given but is not one.
fn split_port(authority: &str) -> Option<(&str, Option<&str>)> {
    // An IPv6 host is bracketed and has colons of its own.
    let port_start = match authority.rfind(']') {
        Some(end) => authority[end..].find(':').map(|at| end + at),
        None => authority.find(':'),
    };
    let Some(colon) = port_start else {
        return Some((authority, None));
    };
    let port = &authority[colon + 1..];
    port.parse::<u16>()
        .ok()
        .filter(|number| *number > 0 && !port.starts_with('0'))?;
    Some((&authority[..colon], Some(port)))
}

fn is_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<String, String> {
        text.parse::<CorsOrigin>().map(|origin| origin.to_string())
    }

    #[test]
    fn origins_are_kept_as_browsers_send_them() {
        assert_eq!(
            parse("https://app.example.com").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            parse(" HTTPS://App.Example.COM ").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            parse("http://localhost:5173").unwrap(),
            "http://localhost:5173"
        );
        assert_eq!(
            parse("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(parse("http://[::1]:3000").unwrap(), "http://[::1]:3000");
        assert_eq!(
            parse("https://xn--bcher-kva.example").unwrap(),
            "https://xn--bcher-kva.example"
        );
    }

    #[test]
    fn a_wildcard_is_refused() {
        for text in ["*", "https://*.example.com", "https://app.example.com*"] {
            let error = parse(text).unwrap_err();
            assert!(error.contains("`*` is not allowed"), "{text}: {error}");
        }
    }

    #[test]
    fn what_a_browser_never_sends_as_an_origin_is_refused() {
        for text in [
            "",
            "null",
            "app.example.com",
            "ftp://app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "https://user@app.example.com",
            "https://app.example.com:443",
            "http://app.example.com:80",
            "https://app.example.com:0",
            "https://app.example.com:99999",
            "https://app.example.com:",
            "https://",
            "https://-app.example.com",
            "https://app..example.com",
            "https://[zz]:80",
        ] {
            assert!(parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn no_origins_means_no_layer() {
        assert!(layer(&[]).is_none());
        let origins = ["https://app.example.com".parse().unwrap()];
        assert!(layer(&origins).is_some());
    }
}
