//! Request ids: one per request, kept from the caller when it is sane.
//!
//! A caller (or a proxy in front of us) may send `x-request-id` so its logs
//! and ours can be joined. We keep it only if it is short and made of safe
//! characters, because it goes into every log line of the request;
//! otherwise we make a UUIDv7. The id is echoed in the response, put back
//! into the request headers for the trace span, and stored as a
//! [`RequestId`] extension for handlers (audit entries record it).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest caller-supplied id we keep.
const MAX_LEN: usize = 64;

/// The id of the current request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a caller-supplied id is safe to keep and log as is.
fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sane(id))
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    // Both sources yield only visible ASCII, so this cannot fail; if it
    // somehow did, the request still proceeds, just without the header.
    let value = HeaderValue::from_str(&id).ok();
    if let Some(value) = &value {
        request
            .headers_mut()
            .insert(REQUEST_ID_HEADER, value.clone());
    }
    request.extensions_mut().insert(RequestId(id));
    let mut response = next.run(request).await;
    if let Some(value) = value {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_ids_of_safe_characters_are_kept() {
        assert!(is_sane("abc-DEF_123"));
        assert!(is_sane(&"a".repeat(64)));
        assert!(!is_sane(&"a".repeat(65)));
        assert!(!is_sane(""));
        assert!(!is_sane("a b"));
        assert!(!is_sane("a\nb"));
        assert!(!is_sane("é"));
        assert!(!is_sane("a/b"));
    }
}
