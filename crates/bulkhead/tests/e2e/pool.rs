//! A request never holds one database connection while it waits for
//! another. If one did, as many concurrent requests as the pool has
//! connections could each hold one and wait for a second until the acquire
//! timeout, and answer 503 (sixteen racing invitation accepts once did, on a
//! pool of sixteen). A pool of one connection makes any such request fail
//! every time instead of under load: here every kind of request is made on
//! one, on PostgreSQL (SQLite's writer and readers are not a pool).

use bulkhead_client::types::{
    AuditQuery, ChangePasswordRequest, CreateApiKeyRequest, PageQuery, RecordQuery, RefreshRequest,
    Role, UpdateMemberRequest, UpdateTenantRequest,
};
use serde_json::json;

use crate::harness::{Backend, Options, PASSWORD, TestServer};
use crate::records_common::{create, spec, tasks_json, tenant_with_tasks};

#[tokio::test]
async fn one_database_connection_serves_every_kind_of_request() {
    let options = Options::default()
        .env("BULKHEAD_DATABASE_POOL_SIZE", "1")
        .env("BULKHEAD_DATABASE_ACQUIRE_TIMEOUT", "2");
    let Some(server) = TestServer::start_with(Backend::Postgres, options).await else {
        return;
    };
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let t = acme.slug.as_str();

    // Invitations: the accept checks who the invitation is for.
    let member = server
        .add_member(&owner, t, "member@acme.example", Role::Member)
        .await;
    let members = owner
        .client
        .list_members(t, &PageQuery::default())
        .await
        .unwrap();
    assert_eq!(members.items.len(), 2);

    // Records: create, read, change, list with a filter, delete.
    let record = create(&member.client, t, "tasks", json!({"title": "Pool"})).await;
    let read = owner
        .client
        .get_record(t, "tasks", record.id)
        .await
        .unwrap();
    assert_eq!(read.id, record.id);
    owner
        .client
        .patch_record(t, "tasks", record.id, &json!({"title": "Pool 2"}), None)
        .await
        .unwrap();
    let query = RecordQuery {
        filter: Some("title = \"Pool 2\"".into()),
        ..RecordQuery::default()
    };
    let listed = member
        .client
        .list_records(t, "tasks", &query)
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    owner
        .client
        .delete_record(t, "tasks", record.id, None)
        .await
        .unwrap();

    // API keys: made, then used.
    let key = owner
        .client
        .create_api_key(
            t,
            &CreateApiKeyRequest {
                name: "pool".into(),
                role: Role::Viewer,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let by_key = server.anon.with_token(&key.key);
    by_key
        .list_records(t, "tasks", &RecordQuery::default())
        .await
        .unwrap();

    // A schema change that adds a field and an index, then drops a field.
    let mut schema = tasks_json("tenant");
    schema["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "label", "type": "text"}));
    schema["indexes"]
        .as_array_mut()
        .unwrap()
        .push(json!(["label"]));
    let changed = owner
        .client
        .update_collection(t, "tasks", &spec(schema), None)
        .await
        .unwrap();
    let mut schema = tasks_json("tenant");
    schema["fields"].as_array_mut().unwrap().pop();
    owner
        .client
        .update_collection(t, "tasks", &spec(schema), Some(changed.version))
        .await
        .unwrap();

    // Members: a role change, then a removal.
    owner
        .client
        .update_member(t, member.id(), &UpdateMemberRequest { role: Role::Viewer })
        .await
        .unwrap();
    owner.client.remove_member(t, member.id()).await.unwrap();

    // Audit, sessions, token refresh and logout.
    let audit = owner
        .client
        .list_audit(t, &AuditQuery::default())
        .await
        .unwrap();
    assert!(!audit.items.is_empty());
    owner.client.list_sessions().await.unwrap();
    let refreshed = server
        .anon
        .refresh(&RefreshRequest {
            refresh_token: member.tokens.refresh_token.clone(),
        })
        .await
        .unwrap();
    server
        .anon
        .with_token(&refreshed.access_token)
        .logout()
        .await
        .unwrap();

    // The account and the tenant: a password change, a rename, a deletion.
    owner
        .client
        .change_password(&ChangePasswordRequest {
            current_password: PASSWORD.into(),
            new_password: "pool correct horse battery staple".into(),
            end_other_sessions: true,
        })
        .await
        .unwrap();
    owner
        .client
        .update_tenant(
            t,
            &UpdateTenantRequest {
                name: Some("Acme renamed".into()),
            },
        )
        .await
        .unwrap();
    owner.client.delete_tenant(t).await.unwrap();
}
