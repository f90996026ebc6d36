//! Rate limits at the edge: which limits a request counts against, and the
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers
//! of its answer.
//!
//! The limits themselves are the service's (`bulkhead_service::rate_limits`);
//! the extractors apply them as soon as they know who is asking: `Auth`
//! the principal's limit, `Tenant` the tenant's (with the principal's, in
//! one decision), and `AddressLimit` the client address's on `/v1/auth/*`.
//! Each leaves where the request stands in the [`RateLimitSlot`] this
//! layer puts in every request, and the layer writes the headers of the
//! tightest limit onto the answer, whatever the handler answered. A
//! refusal is a 429 `rate_limited` `ApiError`, which carries its own
//! headers and `Retry-After`.

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use bulkhead_service::rate_limits::RateLimitStatus;
use bulkhead_service::{Principal, RequestContext, TenantAccess};

use crate::{ApiError, AppState};

pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Where one request stands against the limits it was counted against.
#[derive(Debug, Clone, Default)]
pub struct RateLimitSlot(Arc<Mutex<Option<RateLimitStatus>>>);

impl RateLimitSlot {
    /// Keeps the tightest of the statuses given: the fewest left, then the
    /// longest until full.
    fn record(&self, status: Option<RateLimitStatus>) {
        let Some(status) = status else { return };
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let tighter = slot.is_none_or(|kept| {
            (status.remaining, std::cmp::Reverse(status.reset_secs))
                < (kept.remaining, std::cmp::Reverse(kept.reset_secs))
        });
        if tighter {
            *slot = Some(status);
        }
    }

    fn status(&self) -> Option<RateLimitStatus> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Marks a request whose principal's limit has been counted, so that a
/// handler taking both `Auth` and `Tenant` counts it once.
#[derive(Debug, Clone, Copy)]
struct PrincipalCounted;

/// The layer: a slot in, the headers out.
pub async fn apply(mut request: Request, next: Next) -> Response {
    let slot = RateLimitSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    if let Some(status) = slot.status()
        && !response.headers().contains_key(RATELIMIT_LIMIT)
    {
        set_headers(response.headers_mut(), status);
    }
    response
}

pub(crate) fn set_headers(headers: &mut HeaderMap, status: RateLimitStatus) {
    headers.insert(RATELIMIT_LIMIT, HeaderValue::from(status.limit));
    headers.insert(RATELIMIT_REMAINING, HeaderValue::from(status.remaining));
    headers.insert(RATELIMIT_RESET, HeaderValue::from(status.reset_secs));
}

fn record(parts: &Parts, status: Option<RateLimitStatus>) {
    if let Some(slot) = parts.extensions.get::<RateLimitSlot>() {
        slot.record(status);
    }
}

fn principal_counted(parts: &Parts) -> bool {
    parts.extensions.get::<PrincipalCounted>().is_some()
}

/// Counts the request against its principal's limit, once per request.
pub(crate) async fn count_principal(
    parts: &mut Parts,
    state: &AppState,
    principal: &Principal,
    ctx: &RequestContext,
) -> Result<(), ApiError> {
    if principal_counted(parts) {
        return Ok(());
    }
    let status = state
        .services
        .rate_limits
        .check_principal(principal, ctx)
        .await?;
    parts.extensions.insert(PrincipalCounted);
    record(parts, status);
    Ok(())
}

/// Counts the request against its tenant's limit and (unless already
/// counted) its principal's, as one decision.
pub(crate) async fn count_tenant(
    parts: &mut Parts,
    state: &AppState,
    access: &TenantAccess,
    ctx: &RequestContext,
) -> Result<(), ApiError> {
    let status = state
        .services
        .rate_limits
        .check_tenant(access, principal_counted(parts), ctx)
        .await?;
    parts.extensions.insert(PrincipalCounted);
    record(parts, status);
    Ok(())
}

/// Counts a request to `/v1/auth/*` against its client address's limit.
pub(crate) async fn count_address(
    parts: &Parts,
    state: &AppState,
    ctx: &RequestContext,
) -> Result<(), ApiError> {
    let status = state.services.rate_limits.check_address(ctx).await?;
    record(parts, status);
    Ok(())
}
