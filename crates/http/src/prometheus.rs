//! `GET /metrics`: the Prometheus text exposition of every metric the
//! process records, for a scraper that presents the metrics token.
//!
//! The endpoint is off unless the operator gives a token: metrics tell an
//! outsider the routes in use, the traffic, the failed logins and the load,
//! and the API usually faces the internet. A bearer token is what
//! Prometheus sends natively (`authorization: credentials_file`), works
//! through any proxy, and needs no second listener. Without a token every
//! scrape is refused alike (401), and no recorder is installed, so metrics
//! cost nothing.
//!
//! The pools are sampled here, at scrape time, from the store's memory;
//! everything else is recorded where it happens, through the `metrics`
//! facade, into the recorder the binary installs.

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bulkhead_service::secrets::{same_digest, sha256};
use bulkhead_store::PoolStats;
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::middleware::metrics::RequestMetrics;
use crate::{ApiError, AppState};

/// Connections of each pool, by `pool` and `state` (`in_use`, `idle`).
pub const POOL_CONNECTIONS: &str = "bulkhead_db_pool_connections";
/// The most connections each pool opens, by `pool`.
pub const POOL_MAX_CONNECTIONS: &str = "bulkhead_db_pool_max_connections";

/// The version of the text format the exporter writes.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The shortest token accepted: a scraper's secret, not a password to type.
pub const MIN_TOKEN_LEN: usize = 16;

/// The metrics endpoint's state: the recorder's handle, the token's digest
/// and how requests are labelled.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    token_digest: [u8; 32],
    requests: RequestMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

/// Why a metrics token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token must be at least {MIN_TOKEN_LEN} characters")]
    TooShort,
    #[error("the token must be printable ASCII without spaces, as an HTTP header carries it")]
    NotPrintable,
}

impl Metrics {
    /// Serves what `handle`'s recorder holds to whoever presents `token`,
    /// labelling requests by tenant if `tenant_labels`.
    pub fn new(
        handle: PrometheusHandle,
        token: &str,
        tenant_labels: bool,
    ) -> Result<Self, TokenError> {
        if token.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort);
        }
        if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        Ok(Self {
            handle,
            token_digest: sha256(token),
            requests: RequestMetrics::new(tenant_labels),
        })
    }

    pub(crate) fn requests(&self) -> &RequestMetrics {
        &self.requests
    }

    /// Whether the request carries the token, compared in constant time.
    fn admits(&self, headers: &HeaderMap) -> bool {
        headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .is_some_and(|token| same_digest(&sha256(token), &self.token_digest))
    }
}

/// Describes the metrics sampled here to the installed recorder.
pub fn describe() {
    metrics::describe_gauge!(
        POOL_CONNECTIONS,
        "Database connections open, by pool and state (in_use, idle)"
    );
    metrics::describe_gauge!(
        POOL_MAX_CONNECTIONS,
        "The most database connections each pool opens"
    );
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Prometheus metrics: requests by route template and status, latency,
/// database pools, SQLite group commits, realtime subscribers, refusals and
/// failed logins. Needs the metrics token (`--metrics-token-file`); with
/// none configured, every request is refused.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    security(("metrics_token" = [])),
    responses((status = 200, description = "Prometheus text exposition format 0.0.4",
        content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(metrics) = state.metrics.as_deref() else {
        return Err(ApiError::unauthenticated());
    };
    if !metrics.admits(&headers) {
        return Err(ApiError::unauthenticated());
    }
    record_pools(&state.store().pool_stats());
    let mut response = metrics.handle.render().into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
    Ok(response)
}

fn record_pools(pools: &[PoolStats]) {
    for stats in pools {
        let pool = stats.pool;
        metrics::gauge!(POOL_CONNECTIONS, "pool" => pool, "state" => "in_use")
            .set(f64::from(stats.in_use));
        metrics::gauge!(POOL_CONNECTIONS, "pool" => pool, "state" => "idle")
            .set(f64::from(stats.idle));
        metrics::gauge!(POOL_MAX_CONNECTIONS, "pool" => pool).set(f64::from(stats.max));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    fn metrics_with(token: &str) -> Result<Metrics, TokenError> {
        Metrics::new(
            PrometheusBuilder::new().build_recorder().handle(),
            token,
            false,
        )
    }

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_the_token_admits() {
        let metrics = metrics_with("s3cret-metrics-token").unwrap();
        assert!(metrics.admits(&bearer("Bearer s3cret-metrics-token")));
        assert!(metrics.admits(&bearer("bearer s3cret-metrics-token")));
        assert!(!metrics.admits(&bearer("Bearer s3cret-metrics-tokeN")));
        assert!(!metrics.admits(&bearer("Bearer s3cret-metrics-token-and-more")));
        assert!(!metrics.admits(&bearer("Basic s3cret-metrics-token")));
        assert!(!metrics.admits(&bearer("Bearer ")));
        assert!(!metrics.admits(&HeaderMap::new()));
    }

    #[test]
    fn weak_or_unsendable_tokens_are_refused() {
        assert_eq!(metrics_with("short").unwrap_err(), TokenError::TooShort);
        assert_eq!(
            metrics_with("sixteen chars ok").unwrap_err(),
            TokenError::NotPrintable
        );
        assert!(metrics_with("0123456789abcdef").is_ok());
    }

    #[test]
    fn pools_are_sampled_as_gauges_by_pool_and_state() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            record_pools(&[PoolStats {
                pool: "sqlite_readers",
                in_use: 3,
                idle: 2,
                max: 8,
            }]);
        });
        let text = handle.render();
        for line in [
            r#"bulkhead_db_pool_connections{pool="sqlite_readers",state="in_use"} 3"#,
            r#"bulkhead_db_pool_connections{pool="sqlite_readers",state="idle"} 2"#,
            r#"bulkhead_db_pool_max_connections{pool="sqlite_readers"} 8"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
    }
}
