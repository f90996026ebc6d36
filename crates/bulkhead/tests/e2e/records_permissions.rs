//! Who may do what with records, end to end on both backends: viewers
//! read and cannot write; members create and change their own records but
//! not another member's (403); managers change anyone's; in an
//! `owner`-visibility collection a member sees only their own records (in
//! lists, and 404 for another's, exactly as for an id that never existed)
//! while managers see all. Users and API keys alike.

use std::collections::BTreeSet;

use bulkhead_client::types::{AuditQuery, CreateApiKeyRequest, RecordQuery, RecordView, Role};
use bulkhead_client::{Client, Method};
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Account, TestServer, expect_error, expect_problem, request};
use crate::records_common::{
    all_records, create, post_record, record_path, spec, tasks_json, tenant_with_tasks,
};

async fn api_key(owner: &Account, t: &str, role: Role) -> Client {
    let created = owner
        .client
        .create_api_key(
            t,
            &CreateApiKeyRequest {
                name: format!("{role} key"),
                role,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    owner.client.with_token(&created.key)
}

/// A viewer, two members (ann and bob) and a manager of `tenant`, added by
/// its owner.
async fn staff(server: &TestServer, owner: &Account, tenant: &str) -> [Account; 4] {
    let mut staff = Vec::new();
    for (email, role) in [
        ("viewer@acme.example", Role::Viewer),
        ("ann@acme.example", Role::Member),
        ("bob@acme.example", Role::Member),
        ("manager@acme.example", Role::Manager),
    ] {
        staff.push(server.add_member(owner, tenant, email, role).await);
    }
    let Ok(staff) = <[Account; 4]>::try_from(staff) else {
        unreachable!("four members were added")
    };
    staff
}

fn id_set(records: &[RecordView]) -> BTreeSet<Uuid> {
    records.iter().map(|r| r.id).collect()
}

/// Tenant visibility: viewers read everything and write nothing; members
/// create, and change only their own records; managers change anyone's.
async fn members_change_their_own_records_and_managers_anyones(server: TestServer) {
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let t = acme.slug.as_str();
    let [viewer, ann, bob, manager] = staff(&server, &owner, t).await;
    let viewer_key = api_key(&owner, t, Role::Viewer).await;
    let member_key = api_key(&owner, t, Role::Member).await;

    let anns = create(&ann.client, t, "tasks", json!({"title": "ann's"})).await;
    assert_eq!(anns.owner_id, Some(ann.id()));
    let bobs = create(&bob.client, t, "tasks", json!({"title": "bob's"})).await;

    // Viewers: no writes, all reads.
    for (who, client) in [("viewer", &viewer.client), ("viewer key", &viewer_key)] {
        let refused = post_record(client, t, "tasks", json!({"title": "viewer's"})).await;
        expect_problem(&refused, 403, "forbidden");
        for (method, body) in [
            (Method::PUT, Some(json!({"title": "x"}))),
            (Method::PATCH, Some(json!({"title": "x"}))),
            (Method::DELETE, None),
        ] {
            let refused = request(
                client,
                method.clone(),
                &record_path(t, "tasks", anns.id),
                body,
            )
            .await;
            expect_problem(&refused, 403, "forbidden");
        }
        let all = all_records(client, t, "tasks", &RecordQuery::default()).await;
        assert_eq!(id_set(&all), BTreeSet::from([anns.id, bobs.id]), "{who}");
        assert_eq!(client.get_record(t, "tasks", anns.id).await.unwrap(), anns);
    }

    // Bob cannot change Ann's record, whatever the method.
    for (method, body) in [
        (Method::PUT, Some(json!({"title": "bob was here"}))),
        (Method::PATCH, Some(json!({"title": "bob was here"}))),
        (Method::DELETE, None),
    ] {
        for if_match in [None, Some("\"1\"")] {
            let caller = match if_match {
                Some(value) => bob.client.with_header("if-match", value),
                None => bob.client.clone(),
            };
            let refused = request(
                &caller,
                method.clone(),
                &record_path(t, "tasks", anns.id),
                body.clone(),
            )
            .await;
            expect_problem(&refused, 403, "forbidden");
        }
    }
    assert_eq!(
        ann.client.get_record(t, "tasks", anns.id).await.unwrap(),
        anns
    );
    // The refusals are in the log as denied.
    let denied = owner
        .client
        .list_audit(
            t,
            &AuditQuery {
                actor: Some(bob.id().to_string()),
                limit: Some(100),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(
        denied
            .items
            .iter()
            .any(|e| e.outcome == "denied" && e.resource_id == Some(anns.id.to_string())),
        "{denied:#?}"
    );

    // Each member changes their own.
    let anns = ann
        .client
        .patch_record(t, "tasks", anns.id, &json!({"priority": 1}), None)
        .await
        .unwrap();
    assert_eq!(anns.version, 2);
    bob.client
        .replace_record(t, "tasks", bobs.id, &json!({"title": "bob's, again"}), None)
        .await
        .unwrap();

    // A manager changes anyone's; ownership stays with the creator.
    let changed = manager
        .client
        .patch_record(t, "tasks", anns.id, &json!({"status": "closed"}), Some(2))
        .await
        .unwrap();
    assert_eq!((changed.version, changed.owner_id), (3, Some(ann.id())));
    manager
        .client
        .delete_record(t, "tasks", bobs.id, None)
        .await
        .unwrap();
    expect_error(
        bob.client.get_record(t, "tasks", bobs.id).await,
        404,
        "record_not_found",
    );

    // A member API key creates records; a key is no user, so the record
    // has no owner, and only managers and up may change it.
    let by_key = post_record(&member_key, t, "tasks", json!({"title": "by a key"})).await;
    assert_eq!(by_key.status, 201, "{}", by_key.text());
    let by_key: RecordView = by_key.json().unwrap();
    eprintln!(
        "a record created by a member API key has owner_id {:?}",
        by_key.owner_id
    );
    let key_patch = request(
        &member_key,
        Method::PATCH,
        &record_path(t, "tasks", by_key.id),
        Some(json!({"priority": 2})),
    )
    .await;
    eprintln!(
        "the member key patching its own record: {} {}",
        key_patch.status,
        key_patch.text()
    );
    let key_on_anns = request(
        &member_key,
        Method::PATCH,
        &record_path(t, "tasks", anns.id),
        Some(json!({"priority": 2})),
    )
    .await;
    expect_problem(&key_on_anns, 403, "forbidden");
    manager
        .client
        .patch_record(t, "tasks", by_key.id, &json!({"priority": 3}), None)
        .await
        .unwrap();
}
scenario!(members_change_their_own_records_and_managers_anyones);

/// Owner visibility: a member lists only their own records and gets 404
/// `record_not_found` for anyone else's (read or write, byte for byte the
/// answer for an id that never existed); a viewer sees none of anyone's; a
/// manager and the owner see and change them all.
async fn owner_visibility_hides_other_members_records(server: TestServer) {
    let owner = server.signup("owner@acme.example").await;
    let acme = server.create_tenant(&owner, "acme").await;
    let t = acme.slug.as_str();
    let mut diary = tasks_json("owner");
    diary["name"] = json!("diary");
    owner
        .client
        .create_collection(t, &spec(diary))
        .await
        .unwrap();
    let [viewer, ann, bob, manager] = staff(&server, &owner, t).await;
    let member_key = api_key(&owner, t, Role::Member).await;
    let manager_key = api_key(&owner, t, Role::Manager).await;

    let mut anns = Vec::new();
    for i in 0..3 {
        anns.push(
            create(
                &ann.client,
                t,
                "diary",
                json!({"title": format!("ann's entry {i}"), "priority": i}),
            )
            .await,
        );
    }
    let bobs = create(
        &bob.client,
        t,
        "diary",
        json!({"title": "bob's secret", "priority": 1}),
    )
    .await;
    let managers = create(&manager.client, t, "diary", json!({"title": "manager's"})).await;
    let everything: BTreeSet<Uuid> = anns
        .iter()
        .chain([&bobs, &managers])
        .map(|r| r.id)
        .collect();

    // Lists: each member their own, also page by page and under filters.
    let ann_ids: BTreeSet<Uuid> = id_set(&anns);
    for limit in [1, 50] {
        let query = RecordQuery {
            limit: Some(limit),
            ..RecordQuery::default()
        };
        assert_eq!(
            id_set(&all_records(&ann.client, t, "diary", &query).await),
            ann_ids
        );
        assert_eq!(
            id_set(&all_records(&bob.client, t, "diary", &query).await),
            BTreeSet::from([bobs.id])
        );
        assert!(
            all_records(&viewer.client, t, "diary", &query)
                .await
                .is_empty()
        );
        assert!(
            all_records(&member_key, t, "diary", &query)
                .await
                .is_empty()
        );
        for client in [&manager.client, &owner.client, &manager_key] {
            assert_eq!(
                id_set(&all_records(client, t, "diary", &query).await),
                everything
            );
        }
    }
    for filter in [
        format!("owner_id = \"{}\"", bob.id()),
        format!("id = \"{}\"", bobs.id),
        "title ~ \"secret\"".to_owned(),
        "priority = 1".to_owned(),
    ] {
        let found = all_records(
            &ann.client,
            t,
            "diary",
            &RecordQuery {
                filter: Some(filter.clone()),
                ..RecordQuery::default()
            },
        )
        .await;
        assert!(
            found.iter().all(|r| r.owner_id == Some(ann.id())),
            "{filter}: {found:?}"
        );
        assert!(!found.iter().any(|r| r.id == bobs.id), "{filter}");
    }

    // Another member's record does not exist for Ann, whatever she does.
    let never = Uuid::now_v7();
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({"title": "ann was here"}))),
        (Method::PATCH, Some(json!({"title": "ann was here"}))),
        (Method::DELETE, None),
    ] {
        for (who, client) in [
            ("ann", &ann.client),
            ("the viewer", &viewer.client),
            ("the member key", &member_key),
        ] {
            let hidden = request(
                client,
                method.clone(),
                &record_path(t, "diary", bobs.id),
                body.clone(),
            )
            .await;
            let missing = request(
                client,
                method.clone(),
                &record_path(t, "diary", never),
                body.clone(),
            )
            .await;
            if who == "the viewer" && method != Method::GET {
                // Viewers are refused any write before the record is looked up.
                expect_problem(&hidden, 403, "forbidden");
            } else {
                expect_problem(&hidden, 404, "record_not_found");
            }
            assert_eq!(
                (hidden.status, hidden.text()),
                (missing.status, missing.text()),
                "{who}: {method} on bob's record"
            );
            assert!(!hidden.text().contains("secret"));
        }
    }
    assert_eq!(
        bob.client.get_record(t, "diary", bobs.id).await.unwrap(),
        bobs
    );

    // Ann reads and changes her own; managers and the owner read and change
    // anyone's.
    ann.client
        .patch_record(t, "diary", anns[0].id, &json!({"priority": 9}), None)
        .await
        .unwrap();
    for client in [&manager.client, &owner.client, &manager_key] {
        assert_eq!(
            client.get_record(t, "diary", bobs.id).await.unwrap().id,
            bobs.id
        );
    }
    let changed = manager
        .client
        .patch_record(t, "diary", bobs.id, &json!({"status": "open"}), Some(1))
        .await
        .unwrap();
    assert_eq!(changed.owner_id, Some(bob.id()));
    owner
        .client
        .delete_record(t, "diary", anns[2].id, None)
        .await
        .unwrap();
    assert_eq!(
        all_records(&ann.client, t, "diary", &RecordQuery::default())
            .await
            .len(),
        2
    );
}
scenario!(owner_visibility_hides_other_members_records);

/// Record reads use a cached schema; a collection change must reach them
/// at once: a member who just read another member's record through a
/// `tenant` collection gets 404 as soon as it becomes `owner`, and a field
/// added a moment ago can be filtered on.
async fn a_collection_change_reaches_record_reads_at_once(server: TestServer) {
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let t = acme.slug.as_str();
    let ann = server
        .add_member(&owner, t, "ann@acme.example", Role::Member)
        .await;
    let owners = create(&owner.client, t, "tasks", json!({"title": "the owner's"})).await;
    let query = RecordQuery::default();
    assert_eq!(
        ann.client.get_record(t, "tasks", owners.id).await.unwrap(),
        owners
    );
    assert_eq!(all_records(&ann.client, t, "tasks", &query).await.len(), 1);

    let mut changed = tasks_json("owner");
    changed["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "notes", "type": "text"}));
    let patched = owner
        .send(
            Method::PATCH,
            &format!("/v1/tenants/{t}/collections/tasks"),
            Some(changed),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text());

    let hidden = ann
        .send(Method::GET, &record_path(t, "tasks", owners.id), None)
        .await;
    expect_problem(&hidden, 404, "record_not_found");
    assert!(
        all_records(&ann.client, t, "tasks", &query)
            .await
            .is_empty()
    );
    let filtered = RecordQuery {
        filter: Some("notes = \"x\"".into()),
        ..RecordQuery::default()
    };
    assert_eq!(
        all_records(&owner.client, t, "tasks", &filtered)
            .await
            .len(),
        0
    );
}
scenario!(a_collection_change_reaches_record_reads_at_once);
