//! Versions as `ETag`s, and `If-Match` as the version a write expects.

use axum::http::header::{ETAG, IF_MATCH};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use crate::ApiError;

/// The version named by `If-Match` (`3`, `"3"` or `W/"3"`), if any.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse()
        .map(Some)
        .map_err(|_| ApiError::bad_request("If-Match must be a record version, e.g. \"3\"."))
}

/// Adds the version as the answer's `ETag`.
pub fn tag(mut response: Response, version: Option<i64>) -> Response {
    if let Some(version) = version
        && let Ok(value) = HeaderValue::from_str(&format!("\"{version}\""))
    {
        response.headers_mut().insert(ETAG, value);
    }
    response
}
