//! Request metrics: a counter by method, route template and status, a
//! latency histogram by method and route template, and a counter of
//! refusals by problem code.
//!
//! Every label value comes from a bounded set, so no client can make the
//! series grow without end:
//! - `route` is the template the router matched (`/v1/tenants/{t}/members`),
//!   never the path itself; a path no route matches is `unmatched`.
//! - `method` is one of the methods the API knows, else `other` (HTTP lets a
//!   client send any token as a method).
//! - `status` is a status code, at most 900 values.
//! - `code` is one of [`REFUSAL_CODES`]; other problems are not refusals and
//!   are counted by status only.
//! - `tenant`, only when the operator turns it on, is the id of a tenant the
//!   request was resolved to (so one the caller belongs to, never one named
//!   by an outsider), for the first [`MAX_TENANT_LABELS`] tenants seen, and
//!   `other` after that. It goes on the two counters and not on the
//!   histogram, whose buckets would multiply the series per tenant.
//!
//! The route is known only inside the router, after matching, while the
//! latency and the refusals are best taken outside every other layer; so
//! [`capture_route`], a layer on the routes, copies the matched template
//! into the response's extensions, and [`record`], outside, reads it there
//! with the [`ProblemCode`] that [`ApiError`](crate::ApiError) leaves.
//! Latency is the time to the response's head: an event stream's body goes
//! on for as long as the stream.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use bulkhead_domain::TenantId;
use metrics::SharedString;

use crate::error::ProblemCode;

/// Requests answered, by method, route and status.
pub const REQUESTS: &str = "bulkhead_http_requests_total";
/// Seconds to the response's head, by method and route.
pub const REQUEST_DURATION: &str = "bulkhead_http_request_duration_seconds";
/// Refusals, by problem code (one of [`REFUSAL_CODES`]).
pub const REFUSALS: &str = "bulkhead_http_refusals_total";

/// The buckets of [`REQUEST_DURATION`], in seconds: from a cached read
/// (well under a millisecond) to a request that waited for the database
/// pool's acquire timeout.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The problem codes counted as refusals: the server said no to a request
/// it understood, because of a limit, a quota, a credential or a role, or
/// because it cannot serve now. Everything else is the client's mistake or
/// an answer, and shows in the status counts only.
pub const REFUSAL_CODES: &[&str] = &[
    "quota_exceeded",
    "rate_limited",
    "throttled",
    "unauthenticated",
    "forbidden",
    "tenant_not_found",
    "tenant_suspended",
    "signup_closed",
    "payload_too_large",
    "request_timeout",
    "not_ready",
];

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// How many distinct tenants get a label of their own when tenant labels
/// are on; later ones share `other`.
pub const MAX_TENANT_LABELS: usize = 1000;

/// Describes the request metrics to the installed recorder.
pub fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "HTTP requests answered, by method, route template and status"
    );
    metrics::describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time from a request's arrival to its response's head, by method and route template"
    );
    metrics::describe_counter!(
        REFUSALS,
        "Requests refused (quota, rate limit, throttling, credentials, role, unavailability), by problem code"
    );
}

/// The route template the router matched, carried on the response.
#[derive(Debug, Clone)]
struct RouteTemplate(MatchedPath);

/// A layer on the routes: puts the matched template on the response for
/// [`record`] to label it with.
pub async fn capture_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(RouteTemplate(matched));
    }
    response
}

/// What [`record`] needs: whether requests are labelled by tenant.
#[derive(Debug, Clone, Default)]
pub struct RequestMetrics {
    tenants: Option<Arc<TenantLabels>>,
}

impl RequestMetrics {
    pub fn new(tenant_labels: bool) -> Self {
        Self {
            tenants: tenant_labels.then(|| Arc::new(TenantLabels::new(MAX_TENANT_LABELS))),
        }
    }
}

/// Where the `Tenant` extractor leaves the tenant a request resolved to,
/// when tenant labels are on (it is in the request's extensions only then).
#[derive(Debug, Clone, Default)]
pub struct TenantSlot(Arc<OnceLock<TenantId>>);

impl TenantSlot {
    pub fn set(&self, tenant: TenantId) {
        // A request resolves one tenant; a second resolution is the same one.
        let _ = self.0.set(tenant);
    }
}

/// The outer layer: times the request and counts it when answered.
pub async fn record(
    State(config): State<RequestMetrics>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let slot = config.tenants.as_ref().map(|_| {
        let slot = TenantSlot::default();
        request.extensions_mut().insert(slot.clone());
        slot
    });
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let route: SharedString = match response.extensions().get::<RouteTemplate>() {
        Some(RouteTemplate(matched)) => matched.as_str().to_owned().into(),
        None => SharedString::const_str(UNMATCHED),
    };
    let status = SharedString::from(response.status().as_str().to_owned());
    let tenant = match (&config.tenants, slot.as_ref().and_then(|s| s.0.get())) {
        (Some(labels), Some(tenant)) => Some(labels.label(*tenant)),
        _ => None,
    };
    metrics::histogram!(REQUEST_DURATION, "method" => method, "route" => route.clone())
        .record(elapsed);
    let refusal = response
        .extensions()
        .get::<ProblemCode>()
        .and_then(|ProblemCode(code)| refusal_label(code));
    match tenant {
        None => {
            metrics::counter!(REQUESTS, "method" => method, "route" => route, "status" => status)
                .increment(1);
            if let Some(code) = refusal {
                metrics::counter!(REFUSALS, "code" => code).increment(1);
            }
        }
        Some(tenant) => {
            metrics::counter!(
                REQUESTS,
                "method" => method,
                "route" => route,
                "status" => status,
                "tenant" => tenant.clone()
            )
            .increment(1);
            if let Some(code) = refusal {
                metrics::counter!(REFUSALS, "code" => code, "tenant" => tenant).increment(1);
            }
        }
    }
    response
}

/// The method as a label: the API's methods by name, anything else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The code as a refusal label, if it is one of [`REFUSAL_CODES`].
fn refusal_label(code: &str) -> Option<&'static str> {
    REFUSAL_CODES.iter().copied().find(|known| *known == code)
}

/// The tenants that have a label of their own: the first `capacity` seen.
#[derive(Debug)]
struct TenantLabels {
    capacity: usize,
    labelled: Mutex<HashSet<TenantId>>,
}

impl TenantLabels {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            labelled: Mutex::new(HashSet::new()),
        }
    }

    fn label(&self, tenant: TenantId) -> SharedString {
        let mut labelled = self.labelled.lock().unwrap_or_else(|p| p.into_inner());
        if labelled.contains(&tenant) || labelled.len() < self.capacity {
            labelled.insert(tenant);
            SharedString::from(tenant.to_string())
        } else {
            SharedString::const_str("other")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_api_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let invented = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&invented), "other");
        assert_eq!(method_label(&Method::TRACE), "other");
    }

    #[test]
    fn only_listed_codes_are_refusals() {
        assert_eq!(refusal_label("quota_exceeded"), Some("quota_exceeded"));
        assert_eq!(refusal_label("rate_limited"), Some("rate_limited"));
        assert_eq!(refusal_label("throttled"), Some("throttled"));
        assert_eq!(refusal_label("validation_failed"), None);
        assert_eq!(refusal_label("record_not_found"), None);
    }

    #[test]
    fn tenants_past_the_cap_share_one_label() {
        let labels = TenantLabels::new(2);
        let (a, b, c) = (TenantId::new(), TenantId::new(), TenantId::new());
        assert_eq!(&*labels.label(a), a.to_string());
        assert_eq!(&*labels.label(b), b.to_string());
        assert_eq!(&*labels.label(c), "other");
        // One labelled before the cap keeps its label.
        assert_eq!(&*labels.label(a), a.to_string());
    }
}
