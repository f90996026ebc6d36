//! The one error type handlers return, rendered as RFC 9457 problem+json.
//!
//! Clients branch on `code`, which never changes once published; `title` is
//! the HTTP reason phrase and `detail` a sentence for people. Internal
//! causes are logged where they happen and never put into a response.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: status, stable code and a human detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: Cow<'static, str>,
}

impl ApiError {
    /// Nothing exists at this address, or the caller may not know it does.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "No resource exists at this address.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This resource does not support this method.",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is larger than the server accepts.",
        )
    }

    /// A request the server could not understand; `detail` says why.
    pub fn bad_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// The server is up but cannot serve yet (for example, the database is
    /// unreachable). Worth retrying.
    pub fn not_ready() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "The service is not ready to handle requests. Try again later.",
        )
    }

    /// Something failed inside the server. The cause must already be logged.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The server could not complete the request.",
        )
    }

    /// The problem for an error status produced outside any handler (by a
    /// layer or by axum itself), so those answers are problem+json too.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => Self::method_not_allowed(),
            StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(),
            StatusCode::SERVICE_UNAVAILABLE => Self::not_ready(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                status,
                "unsupported_media_type",
                "The request body has a media type this resource does not accept.",
            ),
            StatusCode::BAD_REQUEST => Self::bad_request("The request could not be understood."),
            status if status.is_client_error() => {
                Self::new(status, "request_rejected", "The request was rejected.")
            }
            status if status.is_server_error() => Self::new(
                status,
                "internal",
                "The server could not complete the request.",
            ),
            _ => Self::internal(),
        }
    }

    fn new(status: StatusCode, code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

/// The JSON body, in RFC 9457's field order.
#[derive(Serialize)]
struct Problem<'a> {
    /// `about:blank`: the problem is fully described by the status and
    /// our `code`; there is no documentation page to link to yet.
    r#type: &'static str,
    title: &'static str,
    status: u16,
    code: &'static str,
    detail: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            r#type: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            code: self.code,
            detail: &self.detail,
        };
        let body = match serde_json::to_vec(&problem) {
            Ok(body) => body,
            // Serialising a struct of strings cannot fail; answer a bare
            // status if it somehow does rather than panic.
            Err(_) => return self.status.into_response(),
        };
        (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response()
    }
}

/// The fallback for paths no route matches.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// The fallback for a known path with a method it does not have.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
