//! Idempotency keys over time: a retry within the retention is answered
//! with the first answer, and the sweep frees a key once it has expired.

use bulkhead_domain::collection::SchemaDraft;
use bulkhead_service::records::{IDEMPOTENCY_KEY_RETENTION, RecordCreated};
use serde_json::json;
use time::Duration;

use crate::support::{World, ctx};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_replayed_for_a_day_and_claimable_anew_once_swept() {
    let world = World::new();
    let services = &world.services;
    let ip = "192.0.2.1";
    let owner = world.signup("owner@example.com", ip).await;
    let owner = world.authenticate(&owner).await.unwrap();
    services
        .tenancy
        .create_tenant(&owner, "acme", "Acme", &ctx(ip))
        .await
        .unwrap();
    let access = services
        .tenancy
        .tenant_access(&owner, "acme", &ctx(ip))
        .await
        .unwrap();
    let draft: SchemaDraft = serde_json::from_value(json!({
        "name": "notes",
        "fields": [{"name": "title", "type": "text", "required": true, "unique": false}],
        "visibility": "tenant",
        "indexes": [],
    }))
    .unwrap();
    services
        .data
        .create_collection(&access, draft, &ctx(ip))
        .await
        .unwrap();
    let create = |title: &'static str| {
        let access = access.clone();
        async move {
            services
                .data
                .create_record(
                    &access,
                    "notes",
                    &json!({"title": title}),
                    Some("key-1"),
                    &ctx(ip),
                )
                .await
                .unwrap()
        }
    };

    let RecordCreated::New(first) = create("first").await else {
        panic!("the first request with the key created nothing");
    };
    world
        .clock
        .advance(IDEMPOTENCY_KEY_RETENTION - Duration::minutes(1));
    assert_eq!(services.sweep_idempotency_keys().await.unwrap(), 0);
    match create("first").await {
        RecordCreated::Replayed(body) => assert_eq!(body["id"], first.id.to_string()),
        other => panic!("a retry within the retention was not replayed: {other:?}"),
    }

    world.clock.advance(Duration::minutes(2));
    assert_eq!(services.sweep_idempotency_keys().await.unwrap(), 1);
    assert_eq!(services.sweep_idempotency_keys().await.unwrap(), 0);
    // The key is free again: even another request may take it.
    let RecordCreated::New(second) = create("second").await else {
        panic!("a swept key was not free");
    };
    assert_ne!(second.id, first.id);
}
