//! The escape hatch: any method, path and body, and the answer as it came.
//! For tests that check statuses, headers or malformed input themselves.

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;

use crate::error::problem_from_body;
use crate::types::Problem;
use crate::{Client, ClientError};

/// An answer of any status, unread.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    /// The body as JSON of type `T` (`serde_json::Value` for any JSON).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body)
            .map_err(|error| ClientError::decode(self.status, &error, &self.body))
    }

    /// The body as text; invalid UTF-8 becomes U+FFFD.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of header `name` (case-insensitive), if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The problem in the body, if it is one.
    pub fn problem(&self) -> Option<Problem> {
        serde_json::from_slice(&self.body).ok()
    }

    /// `Ok(self)` for a 2xx answer; otherwise the [`ClientError::Api`] a
    /// typed method would have returned.
    pub fn error_for_status(self) -> Result<RawResponse, ClientError> {
        if (200..300).contains(&self.status) {
            Ok(self)
        } else {
            Err(ClientError::from_answer(
                self.status,
                &self.headers,
                &self.body,
            ))
        }
    }

    /// The body's problem, or the one a typed method would have made up
    /// for a body that is not a problem.
    pub fn problem_or_unexpected(&self) -> Problem {
        problem_from_body(self.status, &self.body)
    }
}

impl Client {
    /// Sends `method path` with `body` as JSON (when given) and this client's
    /// headers, and returns the answer whatever its status. `path` is used
    /// as written, query string included (`/v1/tenants?limit=1`); it is not
    /// escaped. Fails only when no answer arrives.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<RawResponse, ClientError> {
        let mut request = self.request(method, path)?;
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.exchange(request).await
    }

    /// Like [`Client::raw`], with `body` sent as it is under `content_type`,
    /// for malformed JSON, wrong media types and oversized bodies.
    pub async fn raw_bytes(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Result<RawResponse, ClientError> {
        let content_type = HeaderValue::from_str(content_type).map_err(|error| {
            ClientError::InvalidRequest(format!("content type {content_type:?}: {error}"))
        })?;
        let request = self
            .request(method, path)?
            .header(CONTENT_TYPE, content_type)
            .body(body.into());
        self.exchange(request).await
    }
}
