//! `GET /v1/tenants/{t}/events`: record changes as Server-Sent Events.
//!
//! Each event has `id: <seq>` (increasing per tenant; the number of the
//! change's audit entry, so there are gaps), `event: create |
//! update | delete` and `data: {"collection", "record"}` (for a delete,
//! `record` is `{"id"}`). Send `Last-Event-ID` to resume after a
//! disconnection: nothing in between is lost. A comment line is sent every
//! 15 seconds of silence to keep proxies from closing the connection.
//! Open streams are capped per principal and per tenant: past the cap the
//! answer is 429 `rate_limited`.

use std::collections::HashSet;
use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use bulkhead_api_types::Problem;
use bulkhead_service::Data;
use futures_util::Stream;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Ctx, Tenant};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// `?collections=a,b`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events of these collections (comma-separated); all when absent.
    pub collections: Option<String>,
}

/// Live record changes the caller may see.
#[utoipa::path(get, path = "/v1/tenants/{t}/events", tag = "records", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "resume after this event")),
    responses((status = 200, description = "text/event-stream of record changes", content_type = "text/event-stream"),
        (status = 404, body = Problem),
        (status = 429, description = "rate_limited: over a rate limit, or the caller or tenant holds as many streams open as allowed; see Retry-After", body = Problem)))]
async fn events(
    State(data): State<Data>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let collections: Option<HashSet<String>> = query.collections.as_deref().map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID must be an event id we sent.")
                })?,
        ),
    };
    // The subscription's slot under the caps on open streams is given
    // back when the stream is dropped, however the connection ends.
    let subscription = data
        .subscribe(access, collections, last_event_id, ctx)
        .await?;
    let stream = futures_util::stream::unfold(subscription, |mut subscription| async move {
        let delivered = subscription.recv().await?;
        let data =
            serde_json::json!({ "collection": delivered.collection, "record": delivered.payload });
        let event = Event::default()
            .id(delivered.seq.to_string())
            .event(delivered.kind)
            .data(data.to_string());
        Some((Ok(event), subscription))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(bulkhead_service::realtime::HEARTBEAT)))
}
