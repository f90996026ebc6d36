//! Records end to end, on both backends: creating one (201, `ETag: "1"`,
//! the body's exact shape, normalised data), every bad field named in one
//! 422, unique values within the tenant, relations checked inside the
//! tenant; reading (another tenant's id is 404, even through the reader's
//! own tenant); conditional writes with `If-Match`; `Idempotency-Key`
//! replays, including sixteen racing creates; and the audit entries.

use std::collections::{BTreeMap, BTreeSet};

use bulkhead_client::types::{AuditQuery, RecordQuery, RecordView};
use bulkhead_client::{Method, RawResponse};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::harness::{TestServer, expect_error, expect_problem, is_in_flight, request};
use crate::records_common::{
    all_records, create, field_codes, post_record, query_value, record_answer, record_path,
    records_path, spec, tenant_with_tasks,
};

/// How many creates with one idempotency key race each other.
const RACERS: usize = 16;

fn codes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(field, code)| ((*field).to_owned(), (*code).to_owned()))
        .collect()
}

/// 201 with `ETag: "1"` and exactly `{id, owner_id, version, created_at,
/// updated_at, data}`, data normalised; GET answers the same; every bad
/// field named in one 422 with its code, unknown and system fields too.
async fn records_are_created_and_every_bad_field_is_named(server: TestServer) {
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let t = acme.slug.as_str();
    let client = &owner.client;

    let sent = json!({
        "title": "Write the tests",
        "code": "T-1",
        "priority": 3,
        "status": "open",
        "done": false,
        "due": "2026-03-01T10:00:00+02:00",
        "estimate": "012.50",
        "score": 1.5,
        "meta": {"tags": ["a", "b"], "n": null}
    });
    let response = post_record(client, t, "tasks", sent.clone()).await;
    let record = record_answer(&response, 201);
    assert_eq!(response.header("etag"), Some("\"1\""));
    let body: Value = response.json().unwrap();
    let keys: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "owner_id",
            "version",
            "created_at",
            "updated_at",
            "data"
        ]),
        "{body}"
    );
    assert_eq!(record.owner_id, Some(owner.id()));
    assert_eq!(record.version, 1);
    assert_eq!(record.created_at, record.updated_at);
    assert!(
        record.created_at.ends_with('Z') && record.created_at.len() == 27,
        "RFC 3339, UTC, microseconds: {}",
        record.created_at
    );
    // Stored as sent, but for the two fields with a normal form.
    let mut normalised = sent;
    normalised["due"] = json!("2026-03-01T08:00:00.000000Z");
    normalised["estimate"] = json!("12.5");
    assert_eq!(record.data, normalised);
    let read = request(
        client,
        Method::GET,
        &record_path(t, "tasks", record.id),
        None,
    )
    .await;
    assert_eq!(record_answer(&read, 200), record);
    assert_eq!(read.json::<Value>().unwrap(), body);

    // Optional fields may be left out or null; null is the same as absent.
    let sparse = create(
        client,
        t,
        "tasks",
        json!({"title": "sparse", "priority": null}),
    )
    .await;
    assert_eq!(sparse.data, json!({"title": "sparse"}));

    // Every problem at once, by field, with its code.
    let refused = post_record(
        client,
        t,
        "tasks",
        json!({
            "title": "x".repeat(201),
            "code": 7,
            "priority": 1.5,
            "status": "pending",
            "done": "yes",
            "due": "tomorrow",
            "estimate": "1,5",
            "score": "high",
            "colour": "red",
            "version": 3
        }),
    )
    .await;
    let problem = expect_problem(&refused, 422, "validation_failed");
    assert_eq!(
        field_codes(&problem),
        codes(&[
            ("title", "too_long"),
            ("code", "invalid_type"),
            ("priority", "invalid_type"),
            ("status", "not_allowed"),
            ("done", "invalid_type"),
            ("due", "invalid_format"),
            ("estimate", "invalid_format"),
            ("score", "invalid_type"),
            ("colour", "unknown_field"),
            ("version", "unknown_field"),
        ]),
        "{}",
        refused.text()
    );
    assert_eq!(problem.errors.len(), 10, "one error per field");
    for body in [json!({}), json!({"title": null}), json!({"code": "T-9"})] {
        let refused = post_record(client, t, "tasks", body.clone()).await;
        let problem = expect_problem(&refused, 422, "validation_failed");
        assert_eq!(
            field_codes(&problem),
            codes(&[("title", "required")]),
            "{body}"
        );
    }
    for body in [json!([1, 2]), json!("text"), json!(null)] {
        let refused = post_record(client, t, "tasks", body.clone()).await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.text());
    }
    let integer_overflow = post_record(
        client,
        t,
        "tasks",
        json!({"title": "big", "priority": 18_446_744_073_709_551_615_u64}),
    )
    .await;
    let problem = expect_problem(&integer_overflow, 422, "validation_failed");
    assert_eq!(
        field_codes(&problem),
        codes(&[("priority", "out_of_range")])
    );

    // Nothing refused was stored.
    let stored = all_records(client, t, "tasks", &RecordQuery::default()).await;
    assert_eq!(stored.len(), 2, "{stored:?}");

    // A missing collection is 404, whatever the body.
    let nowhere = post_record(client, t, "nowhere", json!({"title": "x"})).await;
    expect_problem(&nowhere, 404, "collection_not_found");
}
scenario!(records_are_created_and_every_bad_field_is_named);

/// A NUL character (`\u0000`) is a valid JSON string character, which
/// PostgreSQL's `text` and `jsonb` cannot hold. In record data (text
/// fields, json values and keys) and in filter literals it must be
/// accepted or refused with a 4xx, the same on both backends, and never be
/// a 5xx.
async fn nul_characters_are_never_a_server_error(server: TestServer) {
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let t = acme.slug.as_str();
    let client = &owner.client;
    create(client, t, "tasks", json!({"title": "plain"})).await;
    let mut server_errors = Vec::new();
    for body in [
        json!({"title": "nul \u{0} inside"}),
        json!({"title": "ok", "meta": {"k": "\u{0}"}}),
        json!({"title": "ok", "meta": {"\u{0}": 1}}),
    ] {
        let response = post_record(client, t, "tasks", body.clone()).await;
        eprintln!("POST {body}: {} {}", response.status, response.text());
        if response.status >= 500 {
            server_errors.push(format!("POST {body}: {}", response.status));
        }
    }
    for filter in [
        "title = \"\u{0}\"",
        "title ~ \"\u{0}\"",
        "title in (\"a\", \"\u{0}\")",
        "title = \"\\u{0}\"",
    ] {
        let response = request(
            client,
            Method::GET,
            &format!(
                "{}?filter={}",
                records_path(t, "tasks"),
                query_value(filter)
            ),
            None,
        )
        .await;
        eprintln!("filter {filter:?}: {} {}", response.status, response.text());
        if response.status >= 500 {
            server_errors.push(format!("filter {filter:?}: {}", response.status));
        }
    }
    assert!(
        server_errors.is_empty(),
        "server errors: {server_errors:#?}"
    );
}
scenario!(nul_characters_are_never_a_server_error);

/// A unique value is unique within the tenant: a second record with it is
/// 422 `not_unique` on that field (create, PUT and PATCH alike), the holder
/// may keep it, deleting the holder frees it, and another tenant may hold
/// the same value all along.
async fn unique_values_are_unique_within_the_tenant(server: TestServer) {
    let (a_owner, a) = tenant_with_tasks(&server, "alpha", "tenant").await;
    let (b_owner, b) = tenant_with_tasks(&server, "bravo", "tenant").await;
    let client = &a_owner.client;
    let t = a.slug.as_str();

    let holder = create(client, t, "tasks", json!({"title": "one", "code": "U-1"})).await;
    let duplicate = post_record(client, t, "tasks", json!({"title": "two", "code": "U-1"})).await;
    let problem = expect_problem(&duplicate, 422, "validation_failed");
    assert_eq!(field_codes(&problem), codes(&[("code", "not_unique")]));

    // Another tenant holds the same value without trouble, and B's holder
    // changes nothing for A.
    let b_holder = create(
        &b_owner.client,
        &b.slug,
        "tasks",
        json!({"title": "bravo's", "code": "U-1"}),
    )
    .await;
    assert_eq!(b_holder.data["code"], "U-1");
    let still = post_record(client, t, "tasks", json!({"title": "three", "code": "U-1"})).await;
    expect_problem(&still, 422, "validation_failed");

    // Writes of other records cannot take it; the holder may keep it.
    let other = create(client, t, "tasks", json!({"title": "other", "code": "U-2"})).await;
    for patch in [true, false] {
        let method = if patch { Method::PATCH } else { Method::PUT };
        let taken = request(
            client,
            method.clone(),
            &record_path(t, "tasks", other.id),
            Some(json!({"title": "other", "code": "U-1"})),
        )
        .await;
        let problem = expect_problem(&taken, 422, "validation_failed");
        assert_eq!(
            field_codes(&problem),
            codes(&[("code", "not_unique")]),
            "{method}"
        );
    }
    let kept = client
        .patch_record(
            t,
            "tasks",
            holder.id,
            &json!({"title": "one, renamed", "code": "U-1"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(kept.version, 2);
    // Giving it up frees it.
    client
        .patch_record(t, "tasks", holder.id, &json!({"code": "U-3"}), None)
        .await
        .unwrap();
    let taken_over = client
        .patch_record(t, "tasks", other.id, &json!({"code": "U-1"}), None)
        .await
        .unwrap();
    assert_eq!(taken_over.data["code"], "U-1");
    client
        .delete_record(t, "tasks", other.id, None)
        .await
        .unwrap();
    create(
        client,
        t,
        "tasks",
        json!({"title": "after delete", "code": "U-1"}),
    )
    .await;
    // B's holder is untouched throughout.
    assert_eq!(
        b_owner
            .client
            .get_record(&b.slug, "tasks", b_holder.id)
            .await
            .unwrap(),
        b_holder
    );
}
scenario!(unique_values_are_unique_within_the_tenant);

/// A relation must name a record of its collection in the same tenant: a
/// record of another tenant is refused with 422 `not_found` on that field,
/// exactly as an id that never existed is.
async fn relations_point_only_inside_the_tenant(server: TestServer) {
    let comments = json!({
        "name": "comments",
        "visibility": "tenant",
        "fields": [
            {"name": "body", "type": "text", "required": true},
            {"name": "task", "type": "relation", "collection": "tasks"}
        ]
    });
    let (a_owner, a) = tenant_with_tasks(&server, "alpha", "tenant").await;
    let (b_owner, b) = tenant_with_tasks(&server, "bravo", "tenant").await;
    for (owner, tenant) in [(&a_owner, &a), (&b_owner, &b)] {
        owner
            .client
            .create_collection(&tenant.slug, &spec(comments.clone()))
            .await
            .unwrap();
    }
    let client = &a_owner.client;
    let t = a.slug.as_str();
    let a_task = create(client, t, "tasks", json!({"title": "alpha's"})).await;
    let b_task = create(
        &b_owner.client,
        &b.slug,
        "tasks",
        json!({"title": "bravo's"}),
    )
    .await;

    let linked = create(
        client,
        t,
        "comments",
        json!({"body": "fine", "task": a_task.id.to_string().to_uppercase()}),
    )
    .await;
    assert_eq!(
        linked.data["task"],
        json!(a_task.id.to_string()),
        "relations are stored lower-case"
    );

    // The answer for B's record is the answer for an id that never existed,
    // but for the id itself.
    let normalised = |response: &RawResponse, id: Uuid| {
        let problem = expect_problem(response, 422, "validation_failed");
        assert_eq!(field_codes(&problem), codes(&[("task", "not_found")]));
        let mut problem = serde_json::to_value(problem).unwrap();
        let text = problem.to_string().replace(&id.to_string(), "<id>");
        problem = serde_json::from_str(&text).unwrap();
        problem
    };
    let never = Uuid::now_v7();
    let to_never = post_record(client, t, "comments", json!({"body": "x", "task": never})).await;
    let to_b = post_record(
        client,
        t,
        "comments",
        json!({"body": "x", "task": b_task.id}),
    )
    .await;
    assert_eq!(normalised(&to_b, b_task.id), normalised(&to_never, never));
    // A record of this tenant in another collection is not a task either.
    let to_comment = post_record(
        client,
        t,
        "comments",
        json!({"body": "x", "task": linked.id}),
    )
    .await;
    normalised(&to_comment, linked.id);
    // A PATCH is checked the same way.
    let patched = request(
        client,
        Method::PATCH,
        &record_path(t, "comments", linked.id),
        Some(json!({"task": b_task.id})),
    )
    .await;
    normalised(&patched, b_task.id);
    assert_eq!(
        client.get_record(t, "comments", linked.id).await.unwrap(),
        linked
    );
}
scenario!(relations_point_only_inside_the_tenant);

/// Another tenant's record id is 404 `record_not_found` through the
/// caller's own tenant (same collection name, so the guess is natural) for
/// every method, with the answer for an id that never existed, and 404
/// `tenant_not_found` through the other tenant's path; B's record stays.
async fn another_tenants_record_is_not_found(server: TestServer) {
    let (a_owner, a) = tenant_with_tasks(&server, "alpha", "tenant").await;
    let (b_owner, b) = tenant_with_tasks(&server, "bravo", "tenant").await;
    let client = &a_owner.client;
    let secret = "bravo secret title q7x2k";
    let b_record = create(
        &b_owner.client,
        &b.slug,
        "tasks",
        json!({"title": secret, "code": "B-1"}),
    )
    .await;
    create(client, &a.slug, "tasks", json!({"title": "alpha's"})).await;
    let never = Uuid::now_v7();

    let requests: [(Method, Option<Value>); 4] = [
        (Method::GET, None),
        (Method::PUT, Some(json!({"title": "taken over"}))),
        (Method::PATCH, Some(json!({"title": "taken over"}))),
        (Method::DELETE, None),
    ];
    for (method, body) in &requests {
        for if_match in [None, Some("\"1\"")] {
            let caller = match if_match {
                Some(value) => client.with_header("if-match", value),
                None => client.clone(),
            };
            let send = async |tenant: &str, id: Uuid| {
                let path = record_path(tenant, "tasks", id);
                request(&caller, method.clone(), &path, body.clone()).await
            };
            let through_a = send(&a.slug, b_record.id).await;
            let never_there = send(&a.slug, never).await;
            expect_problem(&through_a, 404, "record_not_found");
            assert_eq!(
                (through_a.status, through_a.text()),
                (never_there.status, never_there.text()),
                "{method} through A's path"
            );
            for leak in [secret, &b.slug, &b.id.to_string()] {
                assert!(!through_a.text().contains(leak), "{}", through_a.text());
            }
            let through_b = send(&b.slug, b_record.id).await;
            expect_problem(&through_b, 404, "tenant_not_found");
        }
    }
    assert_eq!(
        b_owner
            .client
            .get_record(&b.slug, "tasks", b_record.id)
            .await
            .unwrap(),
        b_record,
        "B's record changed"
    );
    // Nor does a filter on B's id or value find anything in A.
    for filter in [
        format!("id = \"{}\"", b_record.id),
        format!("title = \"{secret}\""),
    ] {
        let found = all_records(
            client,
            &a.slug,
            "tasks",
            &RecordQuery {
                filter: Some(filter),
                ..RecordQuery::default()
            },
        )
        .await;
        assert!(found.is_empty(), "{found:?}");
    }
}
scenario!(another_tenants_record_is_not_found);

/// PUT replaces, PATCH merges (null clears an optional field), DELETE
/// removes; with `If-Match` each goes through only at the current version
/// (`3`, `"3"` and `W/"3"` alike) and a stale one is 412 `version_mismatch`
/// that changes nothing; versions and `ETag` count every write.
async fn writes_are_conditional_on_if_match(server: TestServer) {
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let t = acme.slug.as_str();
    let client = &owner.client;
    let first_version = json!({"title": "v1", "priority": 1, "status": "open"});
    let record = create(client, t, "tasks", first_version).await;
    let path = record_path(t, "tasks", record.id);
    let send = |if_match: Option<&str>, method: Method, body: Option<Value>| {
        let caller = match if_match {
            Some(value) => client.with_header("if-match", value),
            None => client.clone(),
        };
        let path = path.clone();
        async move { request(&caller, method, &path, body).await }
    };

    // PUT at the current version: a whole new document.
    let put = send(
        Some("\"1\""),
        Method::PUT,
        Some(json!({"title": "v2", "done": true})),
    )
    .await;
    let v2 = record_answer(&put, 200);
    assert_eq!(v2.version, 2);
    assert_eq!(v2.data, json!({"title": "v2", "done": true}));
    assert_eq!(
        (v2.id, v2.owner_id, &v2.created_at),
        (record.id, record.owner_id, &record.created_at)
    );
    assert!(v2.updated_at >= record.updated_at);

    // Stale: 412, nothing changes.
    for (method, body) in [
        (Method::PUT, Some(json!({"title": "stale"}))),
        (Method::PATCH, Some(json!({"title": "stale"}))),
        (Method::DELETE, None),
    ] {
        let stale = send(Some("\"1\""), method.clone(), body).await;
        let problem = expect_problem(&stale, 412, "version_mismatch");
        assert!(problem.detail.contains('2'), "{method}: {}", problem.detail);
    }
    assert_eq!(client.get_record(t, "tasks", record.id).await.unwrap(), v2);

    // PATCH merges; every spelling of the version works.
    let v3 = record_answer(
        &send(Some("W/\"2\""), Method::PATCH, Some(json!({"priority": 5}))).await,
        200,
    );
    assert_eq!(v3.version, 3);
    assert_eq!(v3.data, json!({"title": "v2", "done": true, "priority": 5}));
    let v4 = record_answer(
        &send(
            Some("3"),
            Method::PATCH,
            Some(json!({"done": null, "status": "closed"})),
        )
        .await,
        200,
    );
    assert_eq!(v4.version, 4);
    assert_eq!(
        v4.data,
        json!({"title": "v2", "priority": 5, "status": "closed"})
    );
    // A required field cannot be cleared; an invalid patch changes nothing.
    let cleared = send(
        None,
        Method::PATCH,
        Some(json!({"title": null, "priority": "high"})),
    )
    .await;
    let problem = expect_problem(&cleared, 422, "validation_failed");
    assert_eq!(
        field_codes(&problem),
        codes(&[("title", "required"), ("priority", "invalid_type")])
    );
    let unknown = send(None, Method::PATCH, Some(json!({"colour": "red"}))).await;
    expect_problem(&unknown, 422, "validation_failed");
    let garbage = send(
        Some("\"soon\""),
        Method::PATCH,
        Some(json!({"priority": 1})),
    )
    .await;
    assert_eq!(garbage.status, 400, "{}", garbage.text());
    assert_eq!(client.get_record(t, "tasks", record.id).await.unwrap(), v4);

    // Without If-Match a write is unconditional.
    let v5 = client
        .replace_record(t, "tasks", record.id, &json!({"title": "v5"}), None)
        .await
        .unwrap();
    assert_eq!(v5.version, 5);
    expect_error(
        client
            .patch_record(t, "tasks", record.id, &json!({"title": "x"}), Some(4))
            .await,
        412,
        "version_mismatch",
    );

    // DELETE at the current version; then it is gone.
    let deleted = send(Some("\"5\""), Method::DELETE, None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"title": "ghost"}))),
        (Method::DELETE, None),
    ] {
        let gone = send(None, method, body).await;
        expect_problem(&gone, 404, "record_not_found");
    }
}
scenario!(writes_are_conditional_on_if_match);

/// `Idempotency-Key`: a replay answers the first answer (same id, same
/// body) and creates nothing; the same key with another body is 422
/// `idempotency_key_reused`; keys are per tenant; sixteen racing creates
/// with one key and body make exactly one record and all carry its id
/// (those told the first was in flight, once they retry).
async fn idempotency_keys_replay_the_first_answer(server: TestServer) {
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let (b_owner, b) = tenant_with_tasks(&server, "bravo", "tenant").await;
    let t = acme.slug.as_str();
    let keyed = owner.client.with_header("idempotency-key", "create-once-1");
    let body = json!({"title": "exactly once", "priority": 2});

    let first = post_record(&keyed, t, "tasks", body.clone()).await;
    let record = record_answer(&first, 201);
    let replay = post_record(&keyed, t, "tasks", body.clone()).await;
    assert_eq!(replay.status, 201, "the first answer: {}", replay.text());
    assert_eq!(
        replay.json::<Value>().unwrap(),
        first.json::<Value>().unwrap()
    );
    assert_eq!(replay.header("etag"), Some("\"1\""));
    let with_title = |title: &str| RecordQuery {
        filter: Some(format!("title = \"{title}\"")),
        ..RecordQuery::default()
    };
    let stored = all_records(&owner.client, t, "tasks", &with_title("exactly once")).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, record.id);

    let reused = post_record(&keyed, t, "tasks", json!({"title": "something else"})).await;
    expect_problem(&reused, 422, "idempotency_key_reused");
    assert!(
        all_records(&owner.client, t, "tasks", &with_title("something else"))
            .await
            .is_empty()
    );

    // The same key in another tenant is another key.
    let b_keyed = b_owner
        .client
        .with_header("idempotency-key", "create-once-1");
    let in_b = record_answer(
        &post_record(&b_keyed, &b.slug, "tasks", body.clone()).await,
        201,
    );
    assert_ne!(in_b.id, record.id);

    // An empty or oversized key is refused.
    for key in [String::new(), "k".repeat(256)] {
        let refused = post_record(
            &owner.client.with_header("idempotency-key", key.as_str()),
            t,
            "tasks",
            body.clone(),
        )
        .await;
        assert_eq!(
            refused.status,
            400,
            "key of {} bytes: {}",
            key.len(),
            refused.text()
        );
    }

    // Sixteen racing creates with one key and one body.
    let racing = owner.client.with_header("idempotency-key", "racing-key");
    let mut racers = JoinSet::new();
    for _ in 0..RACERS {
        let client = racing.clone();
        let path = records_path(t, "tasks");
        racers.spawn(async move {
            request(
                &client,
                Method::POST,
                &path,
                Some(json!({"title": "raced", "priority": 7})),
            )
            .await
        });
    }
    let mut answers = racers.join_all().await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    // On PostgreSQL a racer that came while the first create was running is
    // told so; now that every racer has its answer, a retry gets the one.
    for answer in &mut answers {
        if is_in_flight(answer) {
            *answer = request(
                &racing,
                Method::POST,
                &records_path(t, "tasks"),
                Some(json!({"title": "raced", "priority": 7})),
            )
            .await;
        }
    }
    let stored = all_records(&owner.client, t, "tasks", &with_title("raced")).await;
    assert_eq!(stored.len(), 1, "statuses {statuses:?}, stored {stored:?}");
    for answer in &answers {
        assert_eq!(
            answer.status,
            201,
            "statuses {statuses:?}: {}",
            answer.text()
        );
        let raced: RecordView = answer.json().unwrap();
        assert_eq!(raced.id, stored[0].id);
    }
}
scenario!(idempotency_keys_replay_the_first_answer);

/// Collection and record changes are in the tenant's audit log:
/// `collection.create`, `collection.update`, `collection.delete`,
/// `record.create`, `record.update`, `record.delete`, each naming its
/// resource and actor.
async fn record_changes_are_audited(server: TestServer) {
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let t = acme.slug.as_str();
    let client = &owner.client;
    let record = create(client, t, "tasks", json!({"title": "audited"})).await;
    client
        .patch_record(t, "tasks", record.id, &json!({"priority": 1}), None)
        .await
        .unwrap();
    client
        .replace_record(t, "tasks", record.id, &json!({"title": "replaced"}), None)
        .await
        .unwrap();
    client
        .delete_record(t, "tasks", record.id, None)
        .await
        .unwrap();
    client
        .create_collection(
            t,
            &spec(json!({"name": "scratch", "visibility": "tenant", "fields": []})),
        )
        .await
        .unwrap();
    client
        .update_collection(
            t,
            "scratch",
            &spec(json!({"name": "scratch", "visibility": "owner", "fields": []})),
            None,
        )
        .await
        .unwrap();
    client.delete_collection(t, "scratch").await.unwrap();

    let record_id = record.id.to_string();
    for (action, resource_type, resource_id, count) in [
        ("collection.create", "collection", "tasks", 1),
        ("collection.create", "collection", "scratch", 1),
        ("collection.update", "collection", "scratch", 1),
        ("collection.delete", "collection", "scratch", 1),
        ("record.create", "record", record_id.as_str(), 1),
        ("record.update", "record", record_id.as_str(), 2),
        ("record.delete", "record", record_id.as_str(), 1),
    ] {
        let raw = request(
            client,
            Method::GET,
            &format!("/v1/tenants/{t}/audit?action={action}&limit=100"),
            None,
        )
        .await;
        assert_eq!(raw.status, 200, "{}", raw.text());
        let entries = client
            .list_audit(
                t,
                &AuditQuery {
                    action: Some(action.to_owned()),
                    limit: Some(100),
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap()
            .items;
        let matching: Vec<_> = entries
            .iter()
            .filter(|e| e.resource_id.as_deref() == Some(resource_id))
            .collect();
        assert_eq!(
            matching.len(),
            count,
            "{action} {resource_id}: {entries:#?}"
        );
        for entry in matching {
            assert_eq!(entry.resource_type, resource_type);
            assert_eq!(entry.outcome, "success");
            assert_eq!(entry.actor.id, Some(owner.id()));
        }
    }
}
scenario!(record_changes_are_audited);
