//! A `TestApp` that owns a store and sends requests through the router.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use bulkhead_domain::{Clock, ManualClock};
use bulkhead_http::EdgeSettings;
use bulkhead_http::prometheus::Metrics;
use bulkhead_http::{AppState, router};
use bulkhead_service::signing_keys::KeyRing;
use bulkhead_service::{AuthSettings, Keys, Services};
use bulkhead_store::Store;
use bulkhead_store_sqlite::{DATABASE_FILE, SqliteStore};
use time::macros::datetime;
use tower::ServiceExt;

pub struct TestApp {
    pub store: SqliteStore,
    router: Router,
    _dir: tempfile::TempDir,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestApp {
    pub fn new() -> Self {
        Self::with_edge(EdgeSettings::default())
    }

    pub fn with_edge(edge: EdgeSettings) -> Self {
        Self::build(edge, None)
    }

    /// An app with request metrics and `/metrics` on.
    pub fn with_metrics(metrics: Metrics) -> Self {
        Self::build(EdgeSettings::default(), Some(metrics))
    }

    fn build(edge: EdgeSettings, metrics: Option<Metrics>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 0:00 UTC)));
        let store = SqliteStore::open(&dir.path().join(DATABASE_FILE), clock.now()).unwrap();
        let keys = KeyRing::from_file_secret(&[7; 32], clock.now()).unwrap();
        let services = Services::new(
            Arc::new(store.clone()) as Arc<dyn Store>,
            clock,
            Keys::fixed(keys),
            AuthSettings::default(),
        )
        .unwrap();
        let mut state = AppState::new(services, edge);
        if let Some(metrics) = metrics {
            state = state.with_metrics(metrics);
        }
        Self {
            store,
            router: router(state),
            _dir: dir,
        }
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// A JSON request from a client at `peer`, with extra headers.
    pub async fn json_from(
        &self,
        peer: &str,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: serde_json::Value,
    ) -> TestResponse {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(Body::from(body.to_string())).unwrap();
        let peer: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        self.send(request).await
    }

    pub async fn request(&self, method: Method, uri: &str, body: Vec<u8>) -> TestResponse {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-length", body.len())
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts a problem+json answer with this status and code.
    pub fn assert_problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let problem = self.json();
        assert_eq!(problem["type"], "about:blank");
        assert_eq!(problem["title"], status.canonical_reason().unwrap());
        assert_eq!(problem["status"], status.as_u16());
        assert_eq!(problem["code"], code);
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}
