//! One tracing span per request, and one log line when it is answered.
//!
//! The span carries the method, path and request id, so every event logged
//! while handling the request has them; the closing line adds the status and
//! latency. Only the path is recorded, never the query string, which may
//! carry tokens.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

use super::request_id::REQUEST_ID_HEADER;

pub type Layer =
    TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), LogResponse, (), (), ()>;

pub fn layer() -> Layer {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(LogResponse)
        .on_body_chunk(())
        .on_eos(())
        // Failures are already logged by `LogResponse`, at error level.
        .on_failure(())
}

/// Opens the request's span.
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let request_id = request
            .headers()
            .get(&REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        )
    }
}

/// Records the outcome on the span and logs it.
#[derive(Debug, Clone, Copy)]
pub struct LogResponse;

impl OnResponse<Body> for LogResponse {
    fn on_response(self, response: &Response<Body>, latency: Duration, span: &Span) {
        let status = response.status().as_u16();
        let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        span.record("status", status);
        span.record("latency_ms", latency_ms);
        if response.status().is_server_error() {
            tracing::error!(status, latency_ms, "request failed");
        } else {
            tracing::info!(status, latency_ms, "request finished");
        }
    }
}
