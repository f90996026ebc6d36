//! Problem+json for error answers that no handler wrote.
//!
//! The body-limit layer, axum's own rejections and any future layer answer
//! errors in plain text. Clients should see one error format, so an error
//! status without a problem+json body is replaced by the [`ApiError`] for
//! that status. Headers that matter to the client (`Allow`, `Retry-After`)
//! are kept.

use axum::extract::Request;
use axum::http::header::{ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;
use crate::error::PROBLEM_JSON;

pub async fn normalize(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let status = response.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::REQUEST_TIMEOUT {
        // The unread body makes the connection unusable: say so, or a
        // client reusing it gets a reset instead of this answer.
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes() == PROBLEM_JSON.as_bytes());
    if is_problem {
        return response;
    }
    let mut problem = ApiError::for_status(status).into_response();
    for name in [ALLOW, RETRY_AFTER, CONNECTION] {
        if let Some(value) = response.headers().get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}
