//! Row-level security, checked as the real runtime role with raw SQL: what
//! the database itself enforces, whatever the store's statements say.

use bulkhead_domain::TenantId;
use bulkhead_store::{Access, Page, Store, TenantTable};
use bulkhead_store_conformance::fixtures;
use bulkhead_store_postgres::runtime_grants;
use sqlx::{Connection, PgConnection, Row};

use crate::server::{citus, on_every_node};
use crate::support::{APP_ROLE, TestDatabase, tenant_tables};

/// Two tenants with a row in every tenant table.
pub(crate) async fn seed(store: &dyn Store) -> (TenantId, TenantId) {
    let mut ids = Vec::new();
    for name in ["a", "b"] {
        let owner = fixtures::user(store, &format!("owner-{name}@example.com")).await;
        let tenant = fixtures::tenant(store, &format!("tenant-{name}"), &owner).await;
        let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
        tx.insert_api_key(fixtures::api_key(&format!("key-{name}"), None))
            .await
            .unwrap();
        tx.insert_invitation(fixtures::invitation(
            &format!("guest-{name}@example.com"),
            60,
        ))
        .await
        .unwrap();
        tx.append_audit(fixtures::audit("seed", None))
            .await
            .unwrap();
        seed_data_plane(&mut *tx).await;
        seed_ledger(&mut *tx).await;
        // An hour, a day and a remembered user of metered use.
        tx.add_metered_use(&fixtures::metered_use(fixtures::t0(), 1, 1, &[owner.id]))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        ids.push(tenant.id);
    }
    (ids[0], ids[1])
}

/// A row in each data-plane table.
async fn seed_data_plane(tx: &mut dyn bulkhead_store::TenantTx) {
    use bulkhead_store::{EventKind, NewCollection, NewRecord, NewRecordEvent, UniqueValue};
    let at = fixtures::t0();
    tx.insert_collection(NewCollection {
        name: "notes".into(),
        schema: serde_json::json!({}),
        visibility: bulkhead_domain::collection::Visibility::Tenant,
        at,
    })
    .await
    .unwrap();
    let id = bulkhead_domain::RecordId::new();
    tx.insert_record(NewRecord {
        id,
        collection: "notes".into(),
        owner_id: None,
        data: serde_json::json!({ "title": "hello" }),
        unique_values: vec![UniqueValue {
            field: "title".into(),
            value: "hello".into(),
        }],
        at,
    })
    .await
    .unwrap();
    tx.claim_idempotency_key("key-1", &fixtures::hash_of("request"), at)
        .await
        .unwrap();
    tx.complete_idempotency_key("key-1", 201, &serde_json::json!({}))
        .await
        .unwrap();
    let event = NewRecordEvent {
        collection: "notes".into(),
        record_id: id,
        kind: EventKind::Create,
        owner_id: None,
        payload: serde_json::json!({}),
        at,
    };
    let audit = fixtures::change_audit(&event);
    tx.append_record_change(event, audit).await.unwrap();
}

/// Two accounts, a transfer between them, a hold, a limit profile and a
/// charge.
async fn seed_ledger(tx: &mut dyn bulkhead_store::TenantTx) {
    let house = fixtures::ledger_account("house", "USD", None, true);
    let house = tx.insert_ledger_account(house).await.unwrap();
    let wallet = fixtures::ledger_account("wallet", "USD", None, false);
    let wallet = tx.insert_ledger_account(wallet).await.unwrap();
    tx.post_transfer(fixtures::transfer(house.id, wallet.id, 100))
        .await
        .unwrap()
        .unwrap();
    tx.place_hold(fixtures::hold(wallet.id, 10, 60))
        .await
        .unwrap()
        .unwrap();
    tx.put_limit_profile(fixtures::limit_profile("gold", Some("10")))
        .await
        .unwrap();
    tx.record_charge(fixtures::charge(wallet.id, house.id, 5))
        .await
        .unwrap()
        .unwrap();
}

/// Runs `statement` as the runtime role in `tenant` and expects it refused
/// for want of a privilege.
async fn assert_permission_denied(app: &mut PgConnection, tenant: TenantId, statement: &str) {
    let mut tx = app.begin().await.unwrap();
    sqlx::raw_sql(&format!("SET LOCAL bulkhead.tenant_id = '{tenant}'"))
        .execute(&mut *tx)
        .await
        .unwrap();
    let error = sqlx::raw_sql(statement)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("permission denied"),
        "{statement}: {error}"
    );
}

async fn tenant_ids_seen(
    connection: &mut PgConnection,
    table: &str,
    tenant: Option<TenantId>,
) -> Vec<uuid::Uuid> {
    let mut tx = connection.begin().await.unwrap();
    if let Some(tenant) = tenant {
        sqlx::raw_sql(&format!("SET LOCAL bulkhead.tenant_id = '{tenant}'"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let rows = sqlx::query(&format!("SELECT * FROM {table}"))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows.iter()
        .map(|row| row.get::<uuid::Uuid, _>("tenant_id"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_select_as_the_runtime_role_sees_only_the_current_tenant_and_nothing_without_one() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let store = database.store(4).await;
    let (a, b) = seed(&store).await;
    let mut app = database.app().await;
    let tables = tenant_tables(&mut database.owner().await).await;
    assert_eq!(tables.len(), TenantTable::ALL.len());
    for table in &tables {
        let seen_by_a = tenant_ids_seen(&mut app, table, Some(a)).await;
        assert!(!seen_by_a.is_empty(), "{table}: A sees its own rows");
        assert!(
            seen_by_a.iter().all(|id| id == a.as_uuid()),
            "{table}: A sees {seen_by_a:?}"
        );
        let seen_by_b = tenant_ids_seen(&mut app, table, Some(b)).await;
        assert!(
            !seen_by_b.is_empty() && seen_by_b.iter().all(|id| id == b.as_uuid()),
            "{table}"
        );
        assert!(
            tenant_ids_seen(&mut app, table, None).await.is_empty(),
            "{table}: rows without a tenant set"
        );
    }
    // As the superuser owner every row is there: the filtering above is RLS.
    let mut owner = database.owner().await;
    let n: i64 = sqlx::query_scalar("SELECT count(DISTINCT tenant_id) FROM api_keys")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(n, 2);
    store.close().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_role_cannot_insert_into_or_move_rows_to_another_tenant() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let store = database.store(4).await;
    let (a, b) = seed(&store).await;
    let mut app = database.app().await;
    let insert = |tenant: TenantId| {
        format!(
            "INSERT INTO api_keys (tenant_id, id, name, prefix, key_hash, role, created_at)
             VALUES ('{tenant}', gen_random_uuid(), 'x', 'bk_x', decode(repeat('ab', 32), 'hex'), 'member', now())"
        )
    };
    // The audit append of migration 0005 names its tenant, and runs as the
    // caller: the policies stop it as they stop an INSERT.
    let append = |tenant: TenantId| {
        format!(
            "SELECT bulkhead_audit_append('{tenant}', gen_random_uuid(), now(), 'system', NULL,
                 'x', 'tenant', NULL, 'success', NULL, '{{}}'::jsonb,
                 decode(repeat('00', 32), 'hex'), '\\x00'::bytea,
                 decode(repeat('00', 16), 'hex'), NULL, NULL)"
        )
    };
    let violations = [
        (Some(a), insert(b)),
        (None, insert(a)),
        (Some(a), append(b)),
        (None, append(a)),
        (Some(a), format!("UPDATE api_keys SET tenant_id = '{b}'")),
        (Some(a), format!("UPDATE memberships SET tenant_id = '{b}'")),
    ];
    for (context, statement) in violations {
        let mut tx = app.begin().await.unwrap();
        if let Some(tenant) = context {
            sqlx::raw_sql(&format!("SET LOCAL bulkhead.tenant_id = '{tenant}'"))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        let error = sqlx::raw_sql(&statement)
            .execute(&mut *tx)
            .await
            .unwrap_err()
            .to_string();
        // Citus refuses to move a row to another shard before row-level
        // security is asked.
        let refused = error.contains("violates row-level security policy")
            || (citus() && error.contains("modifying the partition value of rows is not allowed"));
        assert!(refused, "{statement}: {error}");
    }
    // Updating or deleting another tenant's rows silently matches nothing.
    let mut tx = app.begin().await.unwrap();
    sqlx::raw_sql(&format!("SET LOCAL bulkhead.tenant_id = '{a}'"))
        .execute(&mut *tx)
        .await
        .unwrap();
    let updated = sqlx::query(&format!(
        "UPDATE api_keys SET name = 'pwned' WHERE tenant_id = '{b}'"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    let deleted = sqlx::query(&format!("DELETE FROM invitations WHERE tenant_id = '{b}'"))
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!((updated.rows_affected(), deleted.rows_affected()), (0, 0));
    tx.commit().await.unwrap();
    store.close().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_setting_never_outlives_its_transaction_on_a_pooled_connection() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    // One connection, so every transaction reuses the same session.
    let store = database.store(1).await;
    let (a, b) = seed(&store).await;
    for i in 0..1000 {
        let tenant = if i % 2 == 0 { a } else { b };
        let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
        let keys = tx.list_api_keys(Page::first(10)).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].tenant_id, tenant, "iteration {i}");
        tx.commit().await.unwrap();
        // A platform transaction on the same connection sees no tenant rows.
        if i % 100 == 0 {
            let mut platform = store.platform(Access::Read).await.unwrap();
            assert!(platform.tenant_by_id(tenant).await.unwrap().is_some());
            platform.commit().await.unwrap();
        }
    }
    let mut app = database.app().await;
    let mut tx = app.begin().await.unwrap();
    sqlx::raw_sql(&format!("SET LOCAL bulkhead.tenant_id = '{a}'"))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let after: Option<String> =
        sqlx::query_scalar("SELECT current_setting('bulkhead.tenant_id', true)")
            .fetch_one(&mut app)
            .await
            .unwrap();
    assert!(after.as_deref().unwrap_or_default().is_empty(), "{after:?}");
    store.close().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_own_memberships_policy_reveals_only_that_users_memberships() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let store = database.store(2).await;
    let (a, _b) = seed(&store).await;
    let user = fixtures::user(&store, "someone@example.com").await;
    let mut tx = store.tenant(a, Access::Write).await.unwrap();
    tx.insert_membership(fixtures::membership(user.id, bulkhead_domain::Role::Viewer))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut app = database.app().await;
    let mut tx = app.begin().await.unwrap();
    sqlx::raw_sql(&format!("SET LOCAL bulkhead.user_id = '{}'", user.id))
        .execute(&mut *tx)
        .await
        .unwrap();
    let users: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT user_id FROM memberships")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(users, vec![*user.id.as_uuid()]);
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(keys, 0, "the user setting opens nothing but memberships");
    let error = sqlx::raw_sql(&format!(
        "UPDATE memberships SET role = 'owner' WHERE user_id = '{}'",
        user.id
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        error.rows_affected(),
        0,
        "the user policy is for reading only"
    );
    drop(tx);
    store.close().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_postings_transfers_and_charges_are_append_only_for_the_runtime_role() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let store = database.store(2).await;
    let (a, _) = seed(&store).await;
    let mut app = database.app().await;
    for statement in [
        "UPDATE ledger_postings SET amount = 1000000",
        "DELETE FROM ledger_postings",
        "UPDATE ledger_transfers SET amount = 1000000",
        "DELETE FROM ledger_transfers",
        "DELETE FROM ledger_accounts",
        "UPDATE ledger_charges SET amount = 0",
        "DELETE FROM ledger_charges",
        "TRUNCATE ledger_postings",
    ] {
        assert_permission_denied(&mut app, a, statement).await;
    }
    store.close().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_append_only_for_the_runtime_role_and_for_roles_granted_more() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let store = database.store(2).await;
    let (a, b) = seed(&store).await;
    let mut app = database.app().await;
    for statement in [
        "UPDATE audit_log SET action = 'forged'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "TRUNCATE memberships",
        "DELETE FROM audit_personal WHERE false; UPDATE audit_personal SET ip = 'x'",
    ] {
        assert_permission_denied(&mut app, a, statement).await;
    }
    // A role granted UPDATE and DELETE, as an owner that is not a superuser
    // holds them, finds no entry to change: row-level security allows only
    // reading and appending.
    let mut owner = database.owner().await;
    let privileged = "bulkhead_test_audit_writer";
    // Roles are the cluster's: made on every node, since Citus connects to
    // the workers as the role a statement runs as.
    on_every_node(
        &database.admin_url,
        &format!(
            "DO $$ BEGIN CREATE ROLE {privileged} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ),
    )
    .await;
    // One statement at a time: Citus grants on the shards of a distributed
    // table in parallel, and then may not touch a reference table in the
    // same transaction.
    for table in ["audit_log", "platform_audit_log"] {
        sqlx::raw_sql(&format!(
            "GRANT SELECT, UPDATE, DELETE ON {table} TO {privileged}"
        ))
        .execute(&mut owner)
        .await
        .unwrap();
    }
    for statement in [
        "UPDATE audit_log SET action = 'forged'",
        "DELETE FROM audit_log",
        "UPDATE platform_audit_log SET action = 'forged'",
        "DELETE FROM platform_audit_log",
    ] {
        let mut tx = owner.begin().await.unwrap();
        sqlx::raw_sql(&format!(
            "SET LOCAL ROLE {privileged}; SET LOCAL bulkhead.tenant_id = '{a}'"
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
        let changed = sqlx::raw_sql(statement)
            .execute(&mut *tx)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(changed, 0, "{statement}");
        tx.rollback().await.unwrap();
    }
    let triggers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal
         AND tgrelid IN ('audit_log'::regclass, 'platform_audit_log'::regclass)",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(triggers, 0, "Citus refuses tables with triggers");

    // Deleting a tenant takes its audit log with it, and only its own.
    let mut tx = store.tenant(a, Access::Write).await.unwrap();
    assert!(tx.delete_tenant().await.unwrap());
    tx.commit().await.unwrap();
    let remaining: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT DISTINCT tenant_id FROM audit_log")
        .fetch_all(&mut owner)
        .await
        .unwrap();
    assert_eq!(remaining, vec![*b.as_uuid()]);
    store.close().await;
    database.drop_database().await;
}

#[tokio::test]
async fn the_catalog_shows_forced_rls_and_checked_policies_on_every_tenant_table() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    // Read the catalog as the runtime role: what it is subject to.
    let mut app = database.app().await;
    let tables = tenant_tables(&mut app).await;
    assert!(!tables.is_empty());
    for table in &tables {
        let (enabled, forced): (bool, bool) = sqlx::query_as(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass",
        )
        .bind(table)
        .fetch_one(&mut app)
        .await
        .unwrap();
        assert!(
            enabled && forced,
            "{table}: ENABLE and FORCE ROW LEVEL SECURITY"
        );
        let policies: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT policyname::text, cmd::text, qual, with_check FROM pg_policies
             WHERE schemaname = 'public' AND tablename = $1",
        )
        .bind(table)
        .fetch_all(&mut app)
        .await
        .unwrap();
        let isolation = policies.iter().find(|p| p.0 == "tenant_isolation").unwrap();
        // The audit log is append-only: its isolation policy is for reading,
        // and a second one, for inserting, checks the tenant of new entries.
        let conditions = if table == "audit_log" {
            assert_eq!(isolation.1, "SELECT", "{table}");
            let append = policies.iter().find(|p| p.0 == "tenant_append").unwrap();
            assert_eq!(append.1, "INSERT", "{table}");
            vec![&isolation.2, &append.3]
        } else {
            assert_eq!(isolation.1, "ALL", "{table}");
            vec![&isolation.2, &isolation.3]
        };
        for expression in conditions {
            let expression = expression.as_deref().unwrap_or_default();
            assert!(
                expression.contains("bulkhead.tenant_id"),
                "{table}: {expression}"
            );
        }
        // Any other policy only ever widens reading, but for the audit
        // log's append policy, checked above.
        for (name, command, _, _) in &policies {
            assert!(
                name == "tenant_isolation" || name == "tenant_append" || command == "SELECT",
                "{table}: policy {name} for {command}"
            );
        }
    }
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut app)
            .await
            .unwrap();
    assert!(!superuser && !bypass);
    let unsafe_views: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'v'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
           AND NOT coalesce(c.reloptions @> ARRAY['security_invoker=true'], false)",
    )
    .fetch_one(&mut app)
    .await
    .unwrap();
    assert_eq!(unsafe_views, 0, "views must be security_invoker");
    let unsafe_definers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND p.prosecdef AND p.proconfig IS NULL",
    )
    .fetch_one(&mut app)
    .await
    .unwrap();
    assert_eq!(
        unsafe_definers, 0,
        "SECURITY DEFINER functions must pin search_path"
    );
    app.close().await.unwrap();
    database.drop_database().await;
}

#[tokio::test]
async fn the_runtime_role_holds_exactly_its_grants() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let mut owner = database.owner().await;
    let granted: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, privilege_type::text FROM information_schema.role_table_grants
         WHERE grantee = $1 AND table_schema = 'public' ORDER BY 1, 2",
    )
    .bind(APP_ROLE)
    .fetch_all(&mut owner)
    .await
    .unwrap();
    let mut expected: Vec<(String, String)> = runtime_grants()
        .into_iter()
        .flat_map(|(table, privileges)| {
            privileges
                .split(", ")
                .map(|p| (table.to_string(), p.to_string()))
        })
        .collect();
    expected.sort();
    assert_eq!(granted, expected);
    owner.close().await.unwrap();
    database.drop_database().await;
}
