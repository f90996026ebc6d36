//! Our own extractors: identity, tenant scope and request facts appear in
//! every handler's signature, and every rejection is an [`ApiError`].

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use bulkhead_service::{Principal, RequestContext, TenantAccess};
use serde::de::DeserializeOwned;

use crate::edge::client_ip;
use crate::middleware::metrics::TenantSlot;
use crate::middleware::rate_limit;
use crate::{ApiError, AppState, RequestId};

/// The longest user agent kept for the audit log.
const MAX_USER_AGENT: usize = 256;

/// Where the request came from: client address, user agent, request id.
#[derive(Debug, Clone)]
pub struct Ctx(pub RequestContext);

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Ctx(context(parts, state)))
    }
}

fn context(parts: &Parts, state: &AppState) -> RequestContext {
    RequestContext {
        ip: client_ip(&state.edge, parts).map(|ip| ip.to_string()),
        user_agent: parts
            .headers
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
        request_id: parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
    }
}

/// The authenticated principal: a bearer access token or API key. Anything
/// else is 401 with `WWW-Authenticate: Bearer`. The request counts against
/// the principal's rate limit (429 `rate_limited` over it).
#[derive(Debug, Clone, Copy)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(parts, state).await?;
        let ctx = context(parts, state);
        rate_limit::count_principal(parts, state, &principal, &ctx).await?;
        Ok(Auth(principal))
    }
}

/// The request's principal, authenticated once per request.
async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Principal, ApiError> {
    if let Some(principal) = parts.extensions.get::<Principal>() {
        return Ok(*principal);
    }
    let bearer = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or_else(ApiError::unauthenticated)?;
    let principal = state.services.identity.authenticate(bearer).await?;
    parts.extensions.insert(principal);
    Ok(principal)
}

/// The principal's standing in the tenant named by `{t}`: the only way a
/// handler reaches a tenant. A tenant the principal does not belong to is
/// 404 `tenant_not_found`, exactly like one that does not exist. The
/// request counts against the tenant's rate limit and the principal's (a
/// request for a tenant it cannot reach, against the principal's alone),
/// and, once let through, in the tenant's metered use.
#[derive(Debug, Clone)]
pub struct Tenant(pub TenantAccess);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        let reference = params
            .iter()
            .find(|(name, _)| *name == "t")
            .map(|(_, value)| value.to_owned())
            .ok_or_else(ApiError::not_found)?;
        let ctx = context(parts, state);
        let principal = match authenticate(parts, state).await {
            Ok(principal) => principal,
            Err(error) => {
                state
                    .services
                    .tenancy
                    .record_unauthenticated(&reference, &ctx)
                    .await;
                return Err(error);
            }
        };
        match state
            .services
            .tenancy
            .tenant_access(&principal, &reference, &ctx)
            .await
        {
            Ok(access) => {
                rate_limit::count_tenant(parts, state, &access, &ctx).await?;
                // In memory; flushed to the tenant's metered use later.
                state.services.metering.note_request(&access);
                // Only there when the operator labels request metrics by tenant.
                if let Some(slot) = parts.extensions.get::<TenantSlot>() {
                    slot.set(access.tenant_id());
                }
                Ok(Tenant(access))
            }
            Err(error) => {
                rate_limit::count_principal(parts, state, &principal, &ctx).await?;
                Err(error.into())
            }
        }
    }
}

/// The client address's rate limit on `/v1/auth/*` (429 `rate_limited`
/// over it), counted before the handler reads the body.
#[derive(Debug, Clone, Copy)]
pub struct AddressLimit;

impl FromRequestParts<AppState> for AddressLimit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ctx = context(parts, state);
        rate_limit::count_address(parts, state, &ctx).await?;
        Ok(AddressLimit)
    }
}

/// A JSON body whose rejection is problem+json: 400 `invalid_body` for
/// malformed JSON, unknown fields or wrong types.
#[derive(Debug, Clone)]
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                let essence = value.split(';').next().unwrap_or_default().trim();
                essence.eq_ignore_ascii_case("application/json")
                    || (essence.starts_with("application/") && essence.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::invalid_body(
                "The body must be JSON, sent with Content-Type: application/json.",
            ));
        }
        let bytes = match axum::body::Bytes::from_request(request, state).await {
            Ok(bytes) => bytes,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::payload_too_large());
            }
            Err(rejection) if is_body_timeout(&rejection) => {
                return Err(ApiError::request_timeout());
            }
            Err(_) => return Err(ApiError::invalid_body("The body could not be read.")),
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|error| {
            ApiError::invalid_body(format!("The body is not valid JSON: {error}."))
        })?;
        // No text we keep may contain a NUL character (PostgreSQL refuses it
        // in text and jsonb alike): refuse it here, once, for every body.
        if contains_nul(&value) {
            return Err(ApiError::invalid_body(
                "Text must not contain NUL (\\u0000) characters.",
            ));
        }
        serde_json::from_value(value)
            .map(AppJson)
            .map_err(|error| ApiError::invalid_body(format!("The body does not fit: {error}.")))
    }
}

/// Whether reading the body failed because the client stopped sending it
/// (the server's body timeout, a `tower_http` timeout error in the chain).
fn is_body_timeout(rejection: &axum::extract::rejection::BytesRejection) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = source {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = error.source();
    }
    false
}

fn contains_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(contains_nul),
        serde_json::Value::Object(members) => members
            .iter()
            .any(|(key, value)| key.contains('\0') || contains_nul(value)),
        _ => false,
    }
}

/// The default page size of lists.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page size. The OpenAPI document states the same bounds
/// (`minimum: 1, maximum: 100` on every `limit`), and a test compares them.
pub const MAX_LIMIT: u32 = 100;

/// The page size asked for, or the default. A size outside 1 to
/// [`MAX_LIMIT`] is refused rather than clamped, so what the document says
/// is what the server accepts.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            "limit must be an integer from 1 to 100.",
        )),
    }
}

/// Parses a cursor that is an id we handed out.
pub fn cursor<T: std::str::FromStr>(cursor: Option<&str>) -> Result<Option<T>, ApiError> {
    match cursor {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request("The cursor is not one this server handed out.")),
    }
}

/// The request's `Idempotency-Key`, if it sent one: 1 to 255 visible
/// characters, or a 400.
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default();
    if key.is_empty() || key.len() > bulkhead_service::records::MAX_IDEMPOTENCY_KEY {
        return Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 255 visible characters.",
        ));
    }
    Ok(Some(key))
}
