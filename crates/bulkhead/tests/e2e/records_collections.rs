//! Collections end to end, on both backends: creating one (every schema
//! problem named by its path at once, 409 for a taken name, relations only
//! to collections of the same tenant), listing and reading, changing the
//! definition (safe changes bump the version, unsafe ones are refused,
//! `If-Match` guards it), deleting (the records go with it), and two tenants
//! whose collections share a name without seeing each other's.

use std::collections::BTreeSet;

use bulkhead_client::types::{CollectionList, CollectionView, RecordQuery, Role};
use bulkhead_client::{Method, RawResponse};
use serde_json::{Value, json};

use crate::harness::{TestServer, expect_error, expect_problem, request};
use crate::records_common::{
    all_records, collection_path, create, ids, post_record, query_value, record_path, records_path,
    spec, tasks_json, tenant_with_tasks,
};

/// The paths a 422 `validation_failed` of a schema names, each with code
/// `invalid_schema`.
#[track_caller]
fn schema_problem_paths(response: &RawResponse) -> BTreeSet<String> {
    let problem = expect_problem(response, 422, "validation_failed");
    for error in &problem.errors {
        assert_eq!(error.code, "invalid_schema", "{error:?}");
        assert!(!error.message.is_empty(), "{error:?}");
    }
    problem.errors.iter().map(|e| e.field.clone()).collect()
}

/// An edit of a collection's JSON definition.
type Change = Box<dyn Fn(&mut Value)>;

fn paths(expected: &[&str]) -> BTreeSet<String> {
    expected.iter().map(|p| (*p).to_owned()).collect()
}

/// 201 with the definition echoed at version 1; 409 `collection_exists`
/// for a taken name; every schema problem listed with its path in one
/// answer; relations only to existing collections of the same tenant;
/// only managers and up create.
async fn collections_are_created_with_every_schema_problem_named(server: TestServer) {
    let owner = server.signup("owner@acme.example").await;
    let acme = server.create_tenant(&owner, "acme").await;
    let t = acme.slug.as_str();
    let client = &owner.client;

    let created = request(
        client,
        Method::POST,
        &format!("/v1/tenants/{t}/collections"),
        Some(tasks_json("tenant")),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let view: CollectionView = created.json().unwrap();
    assert_eq!(view.spec(), spec(tasks_json("tenant")));
    assert_eq!(view.version, 1);
    assert_eq!(view.created_at, view.updated_at);

    let again = request(
        client,
        Method::POST,
        &format!("/v1/tenants/{t}/collections"),
        Some(json!({"name": "tasks", "visibility": "owner", "fields": []})),
    )
    .await;
    expect_problem(&again, 409, "collection_exists");
    assert_eq!(
        client.get_collection(t, "tasks").await.unwrap(),
        view,
        "the refused create changed the collection"
    );

    // Everything wrong at once, each problem at its own path.
    let broken = json!({
        "name": "Bad Name",
        "visibility": "public",
        "fields": [
            {"name": "1st", "type": "text"},
            {"name": "dup", "type": "integer"},
            {"name": "dup", "type": "text"},
            {"name": "kind", "type": "blob"},
            {"name": "state", "type": "select"},
            {"name": "blob", "type": "json", "unique": true},
            {"name": "short", "type": "text", "max_len": 0},
            {"name": "link", "type": "relation"},
            {"name": "count", "type": "integer", "values": ["a"]},
            {"name": "id", "type": "text"},
            {"name": "opts", "type": "select", "values": ["a", "a", ""]}
        ],
        "indexes": [["nope"], ["blob"], [], ["dup", "dup"]]
    });
    let refused = request(
        client,
        Method::POST,
        &format!("/v1/tenants/{t}/collections"),
        Some(broken),
    )
    .await;
    assert_eq!(
        schema_problem_paths(&refused),
        paths(&[
            "name",
            "visibility",
            "fields[0].name",
            "fields[2].name",
            "fields[3].type",
            "fields[4].values",
            "fields[5].unique",
            "fields[6].max_len",
            "fields[7].collection",
            "fields[8].values",
            "fields[9].name",
            "fields[10].values[1]",
            "fields[10].values[2]",
            "indexes[0][0]",
            "indexes[1][0]",
            "indexes[2]",
            "indexes[3][1]",
        ]),
        "{}",
        refused.text()
    );

    // A relation must point at a collection of this tenant (or itself).
    let other = server.signup("owner@other.example").await;
    let other_tenant = server.create_tenant(&other, "other").await;
    let people = json!({"name": "people", "visibility": "tenant", "fields": []});
    other
        .client
        .create_collection(&other_tenant.slug, &spec(people))
        .await
        .unwrap();
    for target in ["people", "nowhere"] {
        let refused = request(
            client,
            Method::POST,
            &format!("/v1/tenants/{t}/collections"),
            Some(json!({
                "name": "comments",
                "visibility": "tenant",
                "fields": [
                    {"name": "body", "type": "text"},
                    {"name": "author", "type": "relation", "collection": target}
                ]
            })),
        )
        .await;
        assert_eq!(
            schema_problem_paths(&refused),
            paths(&["fields[1].collection"]),
            "relation to {target}: {}",
            refused.text()
        );
    }
    // Relations to another collection of the tenant, and to itself.
    for (name, field, target) in [
        ("comments", "task", "tasks"),
        ("threads", "parent", "threads"),
    ] {
        let fields = json!([{"name": field, "type": "relation", "collection": target}]);
        client
            .create_collection(
                t,
                &spec(json!({"name": name, "visibility": "tenant", "fields": fields})),
            )
            .await
            .unwrap();
    }

    // Only managers and up create collections; everyone reads them.
    for role in [Role::Viewer, Role::Member] {
        let account = server
            .add_member(&owner, t, &format!("{role}@acme.example"), role)
            .await;
        let attempt = account
            .send(
                Method::POST,
                &format!("/v1/tenants/{t}/collections"),
                Some(json!({"name": "notes", "visibility": "tenant", "fields": []})),
            )
            .await;
        expect_problem(&attempt, 403, "forbidden");
        assert_eq!(
            account.client.get_collection(t, "tasks").await.unwrap(),
            view
        );
    }
    let manager = server
        .add_member(&owner, t, "manager@acme.example", Role::Manager)
        .await;
    manager
        .client
        .create_collection(
            t,
            &spec(json!({"name": "notes", "visibility": "tenant", "fields": []})),
        )
        .await
        .unwrap();
    assert!(
        expect_error(
            client
                .create_collection(
                    t,
                    &spec(json!({"name": "notes", "visibility": "tenant", "fields": []}))
                )
                .await,
            409,
            "collection_exists"
        )
        .errors
        .is_empty()
    );
}
scenario!(collections_are_created_with_every_schema_problem_named);

/// The list holds the tenant's collections by name; reading one by name,
/// 404 `collection_not_found` for a name that is not there. Two tenants
/// with a collection of the same name each see only their own definition
/// and their own records.
async fn collections_of_the_same_name_stay_in_their_tenant(server: TestServer) {
    let (a_owner, a) = tenant_with_tasks(&server, "alpha", "tenant").await;
    let b_owner = server.signup("owner@bravo.example").await;
    let b = server.create_tenant(&b_owner, "bravo").await;
    let b_tasks = json!({
        "name": "tasks",
        "visibility": "owner",
        "fields": [{"name": "label", "type": "text", "required": true}]
    });
    b_owner
        .client
        .create_collection(&b.slug, &spec(b_tasks.clone()))
        .await
        .unwrap();
    a_owner
        .client
        .create_collection(
            &a.slug,
            &spec(json!({"name": "archive", "visibility": "tenant", "fields": []})),
        )
        .await
        .unwrap();

    let a_list = a_owner.client.list_collections(&a.slug).await.unwrap();
    let names: Vec<&str> = a_list.items.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["archive", "tasks"], "by name");
    assert_eq!(a_list.items[1].spec(), spec(tasks_json("tenant")));
    let b_list: CollectionList = b_owner.client.list_collections(&b.slug).await.unwrap();
    assert_eq!(b_list.items.len(), 1);
    assert_eq!(b_list.items[0].spec(), spec(b_tasks));
    expect_error(
        b_owner.client.get_collection(&b.slug, "archive").await,
        404,
        "collection_not_found",
    );

    let a_record = create(
        &a_owner.client,
        &a.slug,
        "tasks",
        json!({"title": "alpha's task", "code": "same"}),
    )
    .await;
    let b_record = create(
        &b_owner.client,
        &b.slug,
        "tasks",
        json!({"label": "bravo's task"}),
    )
    .await;
    let a_records = all_records(&a_owner.client, &a.slug, "tasks", &RecordQuery::default()).await;
    let b_records = all_records(&b_owner.client, &b.slug, "tasks", &RecordQuery::default()).await;
    assert_eq!(ids(&a_records), [a_record.id]);
    assert_eq!(ids(&b_records), [b_record.id]);
    // B's schema is not A's: A's fields are unknown in B and the other way.
    let wrong = post_record(
        &b_owner.client,
        &b.slug,
        "tasks",
        json!({"label": "x", "title": "alpha field"}),
    )
    .await;
    let problem = expect_problem(&wrong, 422, "validation_failed");
    assert_eq!(problem.errors.len(), 1, "{problem:?}");
    assert_eq!(
        (
            problem.errors[0].field.as_str(),
            problem.errors[0].code.as_str()
        ),
        ("title", "unknown_field")
    );
    let missing = a_owner
        .send(
            Method::GET,
            &collection_path(&a.slug, "no_such_collection"),
            None,
        )
        .await;
    expect_problem(&missing, 404, "collection_not_found");
}
scenario!(collections_of_the_same_name_stay_in_their_tenant);

/// PATCH replaces the definition: a safe change is accepted and bumps the
/// version; changes that could invalidate stored records are refused with
/// 422 at their path (becoming required or unique, a new required field, a
/// type change, a rename, a lower `max_len`, a removed select value);
/// `If-Match` with a stale version is 412 `version_mismatch`.
async fn collection_changes_are_safe_or_refused(server: TestServer) {
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let t = acme.slug.as_str();
    let client = &owner.client;
    let stored = create(
        client,
        t,
        "tasks",
        json!({"title": "before the change", "priority": 2}),
    )
    .await;
    let before = client.get_collection(t, "tasks").await.unwrap();
    assert_eq!(before.version, 1);

    // Safe: an optional field, an index, a wider max_len, a new select
    // value, integer to decimal, visibility.
    let mut safe = tasks_json("owner");
    safe["fields"][0]["max_len"] = json!(500);
    safe["fields"][3]["values"] = json!(["open", "closed", "blocked"]);
    safe["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "notes", "type": "text"}));
    safe["indexes"]
        .as_array_mut()
        .unwrap()
        .push(json!(["notes"]));
    let patched = request(
        client,
        Method::PATCH,
        &collection_path(t, "tasks"),
        Some(safe.clone()),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    let after: CollectionView = patched.json().unwrap();
    assert_eq!(after.spec(), spec(safe.clone()));
    assert_eq!(after.version, 2);
    assert_eq!(after.created_at, before.created_at);
    assert!(after.updated_at >= before.updated_at);
    assert_eq!(client.get_collection(t, "tasks").await.unwrap(), after);
    // The stored record is still there and the new field is usable.
    assert_eq!(
        client.get_record(t, "tasks", stored.id).await.unwrap(),
        stored
    );
    create(
        client,
        t,
        "tasks",
        json!({"title": "after", "notes": "new field", "status": "blocked"}),
    )
    .await;

    // Unsafe changes, each refused at its path; the collection stays.
    // Fields by position: 0 title, 1 code, 2 priority, 3 status, …, 9 notes.
    let unsafe_changes: Vec<(&str, Change, String)> = vec![
        (
            "priority becomes required",
            Box::new(|s: &mut Value| s["fields"][2]["required"] = json!(true)),
            "fields[2].required".to_owned(),
        ),
        (
            "notes becomes unique",
            Box::new(|s: &mut Value| s["fields"][9]["unique"] = json!(true)),
            "fields[9].unique".to_owned(),
        ),
        (
            "a new required field",
            Box::new(|s: &mut Value| {
                s["fields"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "owner_email", "type": "text", "required": true}));
            }),
            "fields[10].required".to_owned(),
        ),
        (
            "integer to text",
            Box::new(|s: &mut Value| s["fields"][2]["type"] = json!("text")),
            "fields[2].type".to_owned(),
        ),
        (
            "a lower max_len",
            Box::new(|s: &mut Value| s["fields"][0]["max_len"] = json!(10)),
            "fields[0].max_len".to_owned(),
        ),
        (
            "a removed select value",
            Box::new(|s: &mut Value| s["fields"][3]["values"] = json!(["open", "closed"])),
            "fields[3].values".to_owned(),
        ),
        (
            "a rename",
            Box::new(|s: &mut Value| s["name"] = json!("jobs")),
            "name".to_owned(),
        ),
    ];
    for (what, change, path) in &unsafe_changes {
        let mut body = safe.clone();
        change(&mut body);
        let refused = request(
            client,
            Method::PATCH,
            &collection_path(t, "tasks"),
            Some(body),
        )
        .await;
        let problem = expect_problem(&refused, 422, "validation_failed");
        assert!(
            problem.errors.iter().any(|e| &e.field == path),
            "{what}: expected an error at {path}: {}",
            refused.text()
        );
    }
    assert_eq!(
        client.get_collection(t, "tasks").await.unwrap(),
        after,
        "a refused change changed the collection"
    );

    // If-Match: a stale version is 412, the current one goes through.
    let stale = client
        .with_header("if-match", "\"1\"")
        .raw(
            Method::PATCH,
            &collection_path(t, "tasks"),
            Some(safe.clone()),
        )
        .await
        .unwrap();
    expect_problem(&stale, 412, "version_mismatch");
    let current = client
        .update_collection(t, "tasks", &spec(safe.clone()), Some(2))
        .await
        .unwrap();
    assert_eq!(current.version, 3);
    expect_error(
        client
            .update_collection(t, "tasks", &spec(safe.clone()), Some(2))
            .await,
        412,
        "version_mismatch",
    );

    // Managers and up only; a missing collection is 404.
    let member = server
        .add_member(&owner, t, "member@acme.example", Role::Member)
        .await;
    expect_error(
        member
            .client
            .update_collection(t, "tasks", &spec(safe.clone()), None)
            .await,
        403,
        "forbidden",
    );
    let mut elsewhere = safe.clone();
    elsewhere["name"] = json!("nowhere");
    expect_error(
        client
            .update_collection(t, "nowhere", &spec(elsewhere), None)
            .await,
        404,
        "collection_not_found",
    );
    assert_eq!(client.get_collection(t, "tasks").await.unwrap(), current);
}
scenario!(collection_changes_are_safe_or_refused);

/// DELETE removes the collection and every record in it: afterwards the
/// collection and its records answer 404, and a new collection of the same
/// name starts empty, with its unique values free again, and its records are
/// checked against its own schema, not the old one's.
async fn deleting_a_collection_deletes_its_records(server: TestServer) {
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let t = acme.slug.as_str();
    let client = &owner.client;
    let mut records = Vec::new();
    for i in 0..5 {
        records.push(
            create(
                client,
                t,
                "tasks",
                json!({"title": format!("task {i}"), "code": format!("C-{i}")}),
            )
            .await,
        );
    }
    let member = server
        .add_member(&owner, t, "member@acme.example", Role::Member)
        .await;
    expect_error(
        member.client.delete_collection(t, "tasks").await,
        403,
        "forbidden",
    );

    let deleted = request(client, Method::DELETE, &collection_path(t, "tasks"), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert!(deleted.body.is_empty());
    expect_error(
        client.get_collection(t, "tasks").await,
        404,
        "collection_not_found",
    );
    expect_error(
        client
            .list_records(t, "tasks", &RecordQuery::default())
            .await,
        404,
        "collection_not_found",
    );
    let gone = request(
        client,
        Method::GET,
        &record_path(t, "tasks", records[0].id),
        None,
    )
    .await;
    assert_eq!(gone.status, 404, "{}", gone.text());
    expect_error(
        client.delete_collection(t, "tasks").await,
        404,
        "collection_not_found",
    );
    assert!(client.list_collections(t).await.unwrap().items.is_empty());

    // Same name again: empty, and the old records do not come back.
    client
        .create_collection(t, &spec(tasks_json("tenant")))
        .await
        .unwrap();
    assert!(
        all_records(client, t, "tasks", &RecordQuery::default())
            .await
            .is_empty()
    );
    for record in &records {
        expect_error(
            client.get_record(t, "tasks", record.id).await,
            404,
            "record_not_found",
        );
    }
    let reused = create(client, t, "tasks", json!({"title": "again", "code": "C-0"})).await;
    assert!(!records.iter().any(|r| r.id == reused.id));

    // Same name, another schema: writes check the new one. (The server
    // reuses a parsed schema only for the identical stored text, and it has
    // parsed the old `tasks` for every write above.)
    assert_eq!(
        request(client, Method::DELETE, &collection_path(t, "tasks"), None)
            .await
            .status,
        204
    );
    client
        .create_collection(
            t,
            &spec(json!({
                "name": "tasks",
                "visibility": "tenant",
                "fields": [{"name": "label", "type": "text", "required": true}]
            })),
        )
        .await
        .unwrap();
    let old_shape = post_record(client, t, "tasks", json!({"title": "old", "code": "C-9"})).await;
    expect_problem(&old_shape, 422, "validation_failed");
    let new_shape = create(client, t, "tasks", json!({"label": "new"})).await;
    assert_eq!(new_shape.data, json!({"label": "new"}));
}
scenario!(deleting_a_collection_deletes_its_records);

/// A removed field's values go with it: a new field of the same name, of
/// another type, starts empty, and filtering on it is never a 5xx (an old
/// text value under a new integer field would fail PostgreSQL's cast).
async fn a_removed_field_takes_its_values_with_it(server: TestServer) {
    let owner = server.signup("removed-field@example.com").await;
    server.create_tenant(&owner, "removed").await;
    let client = &owner.client;
    let with_code = |code_type: &str| {
        json!({
            "name": "things", "visibility": "tenant",
            "fields": [{ "name": "title", "type": "text" }, { "name": "code", "type": code_type, "unique": true }],
        })
    };
    let created = request(
        client,
        Method::POST,
        &collection_path_of("removed"),
        Some(with_code("text")),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    create(
        client,
        "removed",
        "things",
        json!({ "title": "old", "code": "ABC" }),
    )
    .await;

    let without = json!({ "name": "things", "visibility": "tenant", "fields": [{ "name": "title", "type": "text" }] });
    let changed = request(
        client,
        Method::PATCH,
        &format!("{}/things", collection_path_of("removed")),
        Some(without),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let readded = request(
        client,
        Method::PATCH,
        &format!("{}/things", collection_path_of("removed")),
        Some(with_code("integer")),
    )
    .await;
    assert_eq!(readded.status, 200, "{}", readded.text());

    let listed = request(
        client,
        Method::GET,
        &format!(
            "{}?filter={}",
            records_path("removed", "things"),
            query_value("code > 1 || code = null")
        ),
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let body: Value = listed.json().unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(
        items[0]["data"].get("code").is_none(),
        "the old value survived: {}",
        items[0]
    );
    // The old unique value is free again.
    create(
        client,
        "removed",
        "things",
        json!({ "title": "new", "code": 7 }),
    )
    .await;
}

fn collection_path_of(t: &str) -> String {
    format!("/v1/tenants/{t}/collections")
}

scenario!(a_removed_field_takes_its_values_with_it);
