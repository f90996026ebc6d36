//! The one error type handlers return, rendered as RFC 9457 problem+json.
//!
//! Clients branch on `code`, which never changes once published; `title` is
//! the HTTP reason phrase and `detail` a sentence for people. Internal
//! causes are logged where they happen and never put into a response.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bulkhead_service::ServiceError;
use bulkhead_service::rate_limits::RateLimitStatus;
use bulkhead_store::StoreError;
use serde::Serialize;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: status, stable code and a human detail, and for
/// validation the list of bad fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: Cow<'static, str>,
    errors: Vec<FieldError>,
    /// Seconds, for 429, 503 and an idempotent request still in flight (409).
    retry_after: Option<u64>,
    /// Which quota a `quota_exceeded` answer ran into.
    quota: Option<&'static str>,
    /// The `RateLimit-*` headers of a 429 `rate_limited` (boxed: rare,
    /// and every handler's `Result` carries this type).
    rate_limit: Option<Box<RateLimitStatus>>,
}

/// The `code` of a problem+json answer, kept in the response's extensions
/// by [`ApiError`]'s rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemCode(pub &'static str);

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
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

    /// The client stopped sending its request body.
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The request body stopped arriving before it was complete.",
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
            StatusCode::REQUEST_TIMEOUT => Self::request_timeout(),
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

    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            quota: None,
            rate_limit: None,
        }
    }

    /// No credential, or one that is not (or no longer) valid.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "A valid bearer token or API key is required.",
        )
    }

    /// The body is not JSON of the expected shape.
    pub fn invalid_body(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_body", detail)
    }

    /// Fields of a well-formed request are invalid; each is listed.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Some fields are invalid; see `errors`.",
            )
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
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
    #[serde(skip_serializing_if = "Option::is_none")]
    quota: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            r#type: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            code: self.code,
            detail: &self.detail,
            errors: &self.errors,
            quota: self.quota,
        };
        let body = match serde_json::to_vec(&problem) {
            Ok(body) => body,
            // Serialising a struct of strings cannot fail; answer a bare
            // status if it somehow does rather than panic.
            Err(_) => return self.status.into_response(),
        };
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response();
        // For the layers outside the handler (the metrics middleware counts
        // refusals by code), which would otherwise have to parse the body.
        response.extensions_mut().insert(ProblemCode(self.code));
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(status) = self.rate_limit {
            crate::middleware::rate_limit::set_headers(response.headers_mut(), *status);
        }
        response
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

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        use StatusCode as S;
        match error {
            ServiceError::Validation(errors) => Self::validation(
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        field: e.field,
                        code: e.code.into(),
                        message: e.message,
                    })
                    .collect(),
            ),
            ServiceError::EmailTaken => Self::new(
                S::CONFLICT,
                "email_taken",
                "An account with this email address already exists.",
            ),
            ServiceError::InvalidCredentials => Self::new(
                S::UNAUTHORIZED,
                "invalid_credentials",
                "The email address or password is not correct.",
            ),
            ServiceError::Unauthenticated => Self::unauthenticated(),
            ServiceError::InvalidRefreshToken => Self::new(
                S::UNAUTHORIZED,
                "invalid_refresh_token",
                "The refresh token is not valid. Sign in again.",
            ),
            ServiceError::Throttled { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(
                    S::TOO_MANY_REQUESTS,
                    "throttled",
                    "Too many attempts. Wait before trying again.",
                )
            },
            ServiceError::RateLimited(refused) => Self {
                retry_after: Some(refused.retry_after_secs),
                rate_limit: Some(Box::new(RateLimitStatus {
                    limit: refused.limit,
                    remaining: 0,
                    reset_secs: refused.reset_secs,
                })),
                ..Self::new(
                    S::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "Too many requests. Wait as long as Retry-After says before sending more.",
                )
            },
            ServiceError::SignupClosed => Self::new(
                S::FORBIDDEN,
                "signup_closed",
                "Sign-up is closed on this server.",
            ),
            ServiceError::Forbidden => {
                Self::new(S::FORBIDDEN, "forbidden", "Your role does not allow this.")
            }
            ServiceError::TenantNotFound => {
                Self::new(S::NOT_FOUND, "tenant_not_found", "No such tenant.")
            }
            ServiceError::TenantSuspended => Self::new(
                S::FORBIDDEN,
                "tenant_suspended",
                "This tenant is suspended.",
            ),
            ServiceError::NotFound(code) => Self::new(S::NOT_FOUND, code, "No such resource."),
            ServiceError::Conflict(code) => Self::new(S::CONFLICT, code, conflict_detail(code)),
            ServiceError::InvalidQuery {
                parameter,
                position,
                message,
            } => Self::new(
                S::BAD_REQUEST,
                match parameter {
                    "filter" => "invalid_filter",
                    "sort" => "invalid_sort",
                    _ => "invalid_cursor",
                },
                format!("{parameter}: {message} (at position {position})"),
            ),
            ServiceError::VersionMismatch { current } => Self::new(
                S::PRECONDITION_FAILED,
                "version_mismatch",
                format!("The resource is at version {current}, not the one in If-Match."),
            ),
            ServiceError::Refused { code, detail } => {
                Self::new(S::UNPROCESSABLE_ENTITY, code, detail)
            }
            ServiceError::IdempotencyKeyReused => Self::new(
                S::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request.",
            ),
            ServiceError::IdempotencyKeyInFlight => Self {
                retry_after: Some(1),
                ..Self::new(
                    S::CONFLICT,
                    "idempotency_key_in_flight",
                    conflict_detail("idempotency_key_in_flight"),
                )
            },
            ServiceError::Store(StoreError::QuotaExceeded(quota)) => Self {
                quota: Some(quota.name()),
                ..Self::new(
                    S::FORBIDDEN,
                    "quota_exceeded",
                    format!(
                        "This would take the tenant past its plan's limit of {}.",
                        quota.name().replace('_', " ")
                    ),
                )
            },
            ServiceError::Store(StoreError::Unavailable(cause) | StoreError::Contention(cause)) => {
                tracing::warn!(%cause, "database unavailable");
                Self {
                    retry_after: Some(1),
                    ..Self::not_ready()
                }
            }
            error => {
                tracing::error!(%error, "request failed");
                Self::internal()
            }
        }
    }
}

fn conflict_detail(code: &str) -> &'static str {
    match code {
        "slug_taken" => "Another tenant already uses this slug.",
        "last_owner" => "A tenant must keep at least one owner.",
        "invitation_used" => "This invitation was already accepted.",
        "invitation_expired" => "This invitation has expired.",
        "already_member" => "You are already a member of this tenant.",
        "collection_exists" => "A collection with this name already exists in this tenant.",
        "hold_expired" => "The hold expired before it was settled; what it reserved is free again.",
        "hold_settled" => "The hold was already captured or released.",
        "limit_profile_exists" => "A limit profile with this name already exists in this tenant.",
        "idempotency_key_in_flight" => {
            "A request with this Idempotency-Key is still being processed. Retry after a moment to get its answer."
        }
        _ => "The request conflicts with the current state.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_whose_key_is_in_flight_is_a_409_to_retry_after_a_second() {
        let response = ApiError::from(ServiceError::IdempotencyKeyInFlight).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            response.extensions().get::<ProblemCode>(),
            Some(&ProblemCode("idempotency_key_in_flight"))
        );
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], "idempotency_key_in_flight");
        assert_eq!(
            problem["detail"],
            conflict_detail("idempotency_key_in_flight")
        );
        assert_ne!(
            problem["detail"],
            conflict_detail("an unknown conflict"),
            "the detail says what to do"
        );
    }
}
