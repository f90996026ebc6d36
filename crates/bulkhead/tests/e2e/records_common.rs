//! What the collection and record scenarios share: the `tasks` collection
//! they all use, paths, and reading records and problems back.

use std::collections::BTreeMap;

use bulkhead_client::types::{CollectionSpec, Problem, RecordQuery, RecordView, TenantView};
use bulkhead_client::{Client, Method, RawResponse};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{Account, TestServer, request};

/// A collection spec from its JSON form.
pub fn spec(value: Value) -> CollectionSpec {
    serde_json::from_value(value).unwrap()
}

/// The collection most scenarios use: one field of each filterable type,
/// a unique `code`, two declared indexes.
pub fn tasks_json(visibility: &str) -> Value {
    json!({
        "name": "tasks",
        "visibility": visibility,
        "fields": [
            {"name": "title", "type": "text", "required": true, "max_len": 200},
            {"name": "code", "type": "text", "unique": true},
            {"name": "priority", "type": "integer"},
            {"name": "status", "type": "select", "values": ["open", "closed"]},
            {"name": "done", "type": "bool"},
            {"name": "due", "type": "datetime"},
            {"name": "estimate", "type": "decimal"},
            {"name": "score", "type": "number"},
            {"name": "meta", "type": "json"}
        ],
        "indexes": [["priority"], ["status", "priority"]]
    })
}

/// `owner` signs up as `<prefix>-owner@<prefix>.example` and creates tenant
/// `<prefix>` with a `tasks` collection of `visibility`.
pub async fn tenant_with_tasks(
    server: &TestServer,
    prefix: &str,
    visibility: &str,
) -> (Account, TenantView) {
    let owner = server
        .signup(&format!("{prefix}-owner@{prefix}.example"))
        .await;
    let tenant = server.create_tenant(&owner, prefix).await;
    owner
        .client
        .create_collection(&tenant.slug, &spec(tasks_json(visibility)))
        .await
        .unwrap_or_else(|error| panic!("creating tasks in {prefix}: {error}"));
    (owner, tenant)
}

pub fn collection_path(t: &str, name: &str) -> String {
    format!("/v1/tenants/{t}/collections/{name}")
}

pub fn records_path(t: &str, collection: &str) -> String {
    format!("{}/records", collection_path(t, collection))
}

pub fn record_path(t: &str, collection: &str, id: Uuid) -> String {
    format!("{}/{id}", records_path(t, collection))
}

/// `POST …/records` with `data`, the answer as it came.
pub async fn post_record(client: &Client, t: &str, collection: &str, data: Value) -> RawResponse {
    request(
        client,
        Method::POST,
        &records_path(t, collection),
        Some(data),
    )
    .await
}

/// Creates a record through the typed client.
pub async fn create(client: &Client, t: &str, collection: &str, data: Value) -> RecordView {
    client
        .create_record(t, collection, &data)
        .await
        .unwrap_or_else(|error| panic!("creating {data} in {collection}: {error}"))
}

/// A record answer with `status`, its `ETag` agreeing with its version.
#[track_caller]
pub fn record_answer(response: &RawResponse, status: u16) -> RecordView {
    assert_eq!(response.status, status, "{}", response.text());
    let record: RecordView = response.json().unwrap();
    assert_eq!(
        response.header("etag"),
        Some(format!("\"{}\"", record.version).as_str()),
        "the ETag is the record's version"
    );
    record
}

/// Every record `query` selects, following cursors; the query's limit is
/// the page size.
pub async fn all_records(
    client: &Client,
    t: &str,
    collection: &str,
    query: &RecordQuery,
) -> Vec<RecordView> {
    let mut records = Vec::new();
    let mut query = query.clone();
    loop {
        let page = client
            .list_records(t, collection, &query)
            .await
            .unwrap_or_else(|error| panic!("listing {collection} with {query:?}: {error}"));
        if let Some(limit) = query.limit {
            assert!(page.items.len() <= limit as usize, "a page over its limit");
        }
        records.extend(page.items);
        match page.next_cursor {
            Some(next) => query.cursor = Some(next),
            None => return records,
        }
        assert!(records.len() < 100_000, "the cursor never ends");
    }
}

/// The ids of `records`, in order.
pub fn ids(records: &[RecordView]) -> Vec<Uuid> {
    records.iter().map(|r| r.id).collect()
}

/// Field → code of a `validation_failed` problem's errors.
pub fn field_codes(problem: &Problem) -> BTreeMap<String, String> {
    problem
        .errors
        .iter()
        .map(|e| (e.field.clone(), e.code.clone()))
        .collect()
}

/// A filter or sort as a query-string value.
pub fn query_value(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
