//! Building request URLs: the base URL's checks and path-segment escaping.

use std::borrow::Cow;
use std::fmt::Write;

use crate::ClientError;

/// Checks `base_url` and returns it without a trailing slash, ready to have
/// an absolute path (`/v1/…`) appended. A path prefix is kept, so a server
/// behind `https://example.com/bulkhead/` works.
pub(crate) fn normalize_base_url(base_url: &str) -> Result<String, ClientError> {
    let url = reqwest::Url::parse(base_url)
        .map_err(|error| ClientError::InvalidRequest(format!("base URL {base_url:?}: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ClientError::InvalidRequest(format!(
            "base URL {base_url:?}: the scheme must be http or https"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::InvalidRequest(format!(
            "base URL {base_url:?}: must not have a query or fragment"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `segment` escaped for use as one path segment: everything but RFC 3986's
/// unreserved characters is percent-encoded, so a slug or id can never add
/// a segment, a query or a fragment. Slugs and UUIDs pass through unchanged.
pub(crate) fn segment(segment: &str) -> Cow<'_, str> {
    let unreserved = |byte: u8| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
    if segment.bytes().all(unreserved) {
        return Cow::Borrowed(segment);
    }
    let mut escaped = String::with_capacity(segment.len() * 3);
    for byte in segment.bytes() {
        if unreserved(byte) {
            escaped.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(escaped, "%{byte:02X}");
        }
    }
    Cow::Owned(escaped)
}

/// `/v1/tenants/{t}`, with `tenant` (a slug or an id) escaped as one segment.
pub(crate) fn tenant_path(tenant: &str) -> String {
    format!("/v1/tenants/{}", segment(tenant))
}
