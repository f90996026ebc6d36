//! The binary on a Citus cluster: `serve` refuses a schema that is not
//! distributed, `bulkhead migrate --citus` distributes a database that
//! already holds data without losing or changing any of it, and a run that
//! fails leaves the schema as it was.
//!
//! They run only with `BULKHEAD_TEST_CITUS_URL` (see [`crate::server`]);
//! elsewhere they return at once. Each migrates its database without
//! `--citus` first, as a deployment that started on one node would have.

use std::path::Path;

use bulkhead_client::types::{
    AcceptInvitationRequest, CreateApiKeyRequest, CreateInvitationRequest, CreateTenantRequest,
    Role, SignupRequest,
};
use bulkhead_client::{Client, Method};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use tokio::process::Command;

use crate::harness::{anonymous_client, request};
use crate::postgres::{APP_ROLE, PgDatabase, migrate_command_distributing};
use crate::records_common::{create, post_record, query_value, records_path, spec, tasks_json};
use crate::server::{citus, node_url, workers};
use crate::support::{Server, assert_one_line_failure, assert_success, bulkhead, run};

const PASSWORD: &str = "e2e citus correct horse battery";

/// The first table `migrate --citus` distributes (the platform tables come
/// first), which the failure test makes fail.
const FIRST_DISTRIBUTED: &str = "tenants";

/// `bulkhead migrate` of `database` as its owner, with `--citus` or not.
fn migrate(database: &PgDatabase, distribute: bool) -> Command {
    let mut command = migrate_command_distributing(distribute);
    command.arg(database.owner_url());
    command
}

/// `bulkhead serve` of `database` as the runtime role.
fn serve(database: &PgDatabase, dir: &Path) -> Command {
    let mut command = bulkhead(["serve", "--addr", "127.0.0.1:0", "--data-dir"]);
    command
        .arg(dir.join("unused"))
        .arg("--database-url")
        .arg(database.app_url());
    command
}

/// The tables `migrate --citus` distributes: the whole schema but sqlx's
/// bookkeeping.
fn schema_tables() -> Vec<&'static str> {
    bulkhead_store_postgres::all_tables()
        .into_iter()
        .filter(|table| *table != "_sqlx_migrations")
        .collect()
}

/// A database on the cluster migrated without `--citus`, or `None` when
/// the tests do not run on Citus.
async fn single_node_database() -> Option<PgDatabase> {
    if !citus() {
        return None;
    }
    let database = PgDatabase::create().await?;
    assert_success(&run(migrate(&database, false), None).await);
    Some(database)
}

async fn owner_connection(database: &PgDatabase) -> PgConnection {
    PgConnection::connect(&database.owner_url()).await.unwrap()
}

/// The foreign keys of the schema's own tables, as the catalog defines them.
async fn foreign_keys(connection: &mut PgConnection) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid)
         FROM pg_constraint c
         WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY($1)
         ORDER BY 1, 2",
    )
    .bind(schema_tables())
    .fetch_all(connection)
    .await
    .unwrap()
}

async fn distributed_tables(connection: &mut PgConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_dist_partition")
        .fetch_one(connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn serving_a_schema_that_is_not_distributed_is_refused_in_one_line() {
    let Some(database) = single_node_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let line = assert_one_line_failure(&run(serve(&database, dir.path()), None).await);
    assert!(line.contains("not distributed for Bulkhead"), "{line}");
    assert!(
        line.contains("not hash-distributed on tenant_id: memberships"),
        "{line}"
    );
    assert!(line.contains("not reference tables: tenants"), "{line}");
    assert!(
        line.contains("run `bulkhead migrate --citus` as the schema owner"),
        "{line}"
    );

    // Distributed, but with the tenant's `SET LOCAL` kept off the workers
    // by the runtime role's setting in this database, where `migrate
    // --citus` had turned it on.
    assert_success(&run(migrate(&database, true), None).await);
    let mut owner = owner_connection(&database).await;
    sqlx::raw_sql(&format!(
        "ALTER ROLE {APP_ROLE} IN DATABASE {} SET citus.propagate_set_commands = 'none'",
        database.name()
    ))
    .execute(&mut owner)
    .await
    .unwrap();
    owner.close().await.unwrap();
    let line = assert_one_line_failure(&run(serve(&database, dir.path()), None).await);
    assert!(
        line.contains("citus.propagate_set_commands is 'none'"),
        "{line}"
    );
    assert!(!line.contains("not hash-distributed"), "{line}");

    // What the message says to do puts it right.
    assert_success(&run(migrate(&database, true), None).await);
    let server = Server::start_with(serve(&database, dir.path())).await;
    assert_eq!(
        server.get("/readyz").await.status(),
        reqwest::StatusCode::OK
    );
    let (status, stderr) = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// What the tenant's owner reads back: records, audit log, keys, members.
async fn tenant_view(owner: &Client, t: &str) -> Vec<Value> {
    let mut views = Vec::new();
    for path in [
        format!("{}?limit=100", records_path(t, "tasks")),
        format!("/v1/tenants/{t}/audit?limit=100"),
        format!("/v1/tenants/{t}/api-keys?limit=100"),
        format!("/v1/tenants/{t}/members?limit=100"),
        format!("/v1/tenants/{t}"),
    ] {
        let response = request(owner, Method::GET, &path, None).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        views.push(response.json().unwrap());
    }
    views
}

/// `bulkhead audit verify` of `database` succeeds; its report, one line
/// per chain (without the log lines around it).
async fn audit_verifies(database: &PgDatabase) -> Vec<String> {
    let mut verify = bulkhead(["audit", "verify", "--database-url"]);
    verify.arg(database.app_url());
    let output = assert_success(&run(verify, None).await);
    let report: Vec<String> = output
        .lines()
        .filter(|line| line.starts_with("ok ") || line.starts_with("BROKEN "))
        .map(str::to_owned)
        .collect();
    assert!(
        report.iter().any(|line| line.starts_with("ok tenant")),
        "{output}"
    );
    assert!(
        report.iter().all(|line| line.starts_with("ok ")),
        "{output}"
    );
    report
}

/// The coordinator's own copy of each distributed table (the shell the
/// shards hang from) holds no rows: they moved to the shards.
async fn assert_shells_empty(database: &PgDatabase) {
    let mut owner = owner_connection(database).await;
    for table in schema_tables() {
        let size: i64 = sqlx::query_scalar("SELECT pg_relation_size($1::regclass)")
            .bind(table)
            .fetch_one(&mut owner)
            .await
            .unwrap();
        assert_eq!(size, 0, "the coordinator's {table} still holds rows");
    }
    owner.close().await.unwrap();
}

/// A database that served on one node and holds data moves to the
/// cluster: the citus extension is installed, then `migrate --citus`. The
/// data is served before the extension is there, since `serve` refuses a
/// database with the extension whose schema is not distributed.
#[tokio::test]
async fn a_populated_single_node_database_distributes_with_everything_intact() {
    if !citus() {
        return;
    }
    let Some(database) = PgDatabase::create_without_citus().await else {
        return;
    };
    assert_success(&run(migrate(&database, false), None).await);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(serve(&database, dir.path())).await;
    let anon = anonymous_client(&server);
    let signup = |email: &str| SignupRequest {
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
        display_name: None,
    };
    let owner_tokens = anon.signup(&signup("owner@acme.example")).await.unwrap();
    let owner = anon.with_token(&owner_tokens.access_token);
    let invitee_tokens = anon.signup(&signup("invitee@acme.example")).await.unwrap();
    let tenant = owner
        .create_tenant(&CreateTenantRequest {
            slug: "acme".into(),
            name: "Acme".into(),
        })
        .await
        .unwrap();
    let t = tenant.slug.as_str();
    owner
        .create_collection(t, &spec(tasks_json("tenant")))
        .await
        .unwrap();
    for n in 0..5 {
        create(
            &owner,
            t,
            "tasks",
            json!({"title": format!("task {n}"), "code": format!("T-{n}"), "priority": n}),
        )
        .await;
    }
    let key = owner
        .create_api_key(
            t,
            &CreateApiKeyRequest {
                name: "before".into(),
                role: Role::Member,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let invitation = owner
        .create_invitation(
            t,
            &CreateInvitationRequest {
                email: "invitee@acme.example".into(),
                role: Role::Member,
            },
        )
        .await
        .unwrap();
    let before = tenant_view(&owner, t).await;
    let report_before = audit_verifies(&database).await;
    let (status, stderr) = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{stderr}");

    // The rows are in the coordinator's tables until they are distributed,
    // which is what makes the emptiness below mean they moved.
    let mut owner_before = owner_connection(&database).await;
    let size: i64 = sqlx::query_scalar("SELECT pg_relation_size('records')")
        .fetch_one(&mut owner_before)
        .await
        .unwrap();
    assert!(size > 0, "the records were not written to the coordinator");
    owner_before.close().await.unwrap();

    database.install_citus().await;
    let distributed = assert_success(&run(migrate(&database, true), None).await);
    let expected = format!("distributed {} table(s)", schema_tables().len());
    assert!(distributed.contains(&expected), "{distributed}");
    assert_shells_empty(&database).await;

    let server = Server::start_with(serve(&database, dir.path())).await;
    let anon = anonymous_client(&server);
    // The tokens signed before still hold: the signing keys moved too.
    let owner = anon.with_token(&owner_tokens.access_token);
    let invitee = anon.with_token(&invitee_tokens.access_token);
    assert_eq!(tenant_view(&owner, t).await, before);
    // A filter on the declared index, answered from the shards.
    let filtered = request(
        &owner,
        Method::GET,
        &format!(
            "{}?filter={}&sort=priority",
            records_path(t, "tasks"),
            query_value("priority >= 3")
        ),
        None,
    )
    .await;
    assert_eq!(filtered.status, 200, "{}", filtered.text());
    let codes: Vec<Value> = filtered.json::<Value>().unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["data"]["code"].clone())
        .collect();
    assert_eq!(codes, [json!("T-3"), json!("T-4")]);
    assert_eq!(audit_verifies(&database).await, report_before);

    // Writes go on: a record, its unique value still enforced against the
    // rows written before; the invitation accepted; the key still works.
    create(
        &owner,
        t,
        "tasks",
        json!({"title": "after", "code": "T-after"}),
    )
    .await;
    let duplicate = post_record(&owner, t, "tasks", json!({"title": "again", "code": "T-0"})).await;
    assert_eq!(duplicate.status, 422, "{}", duplicate.text());
    assert!(
        duplicate.text().contains("not_unique"),
        "{}",
        duplicate.text()
    );
    let accepted = invitee
        .accept_invitation(&AcceptInvitationRequest {
            token: invitation.token,
        })
        .await
        .unwrap();
    assert_eq!(accepted.role, Role::Member);
    let as_key = anon.with_token(&key.key);
    let listed = request(&as_key, Method::GET, &records_path(t, "tasks"), None).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let items = listed.json::<Value>().unwrap()["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(items, 6);
    let report_after = audit_verifies(&database).await;
    assert_ne!(report_after, report_before, "the writes were audited");
    let (status, stderr) = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_shells_empty(&database).await;

    let again = assert_success(&run(migrate(&database, true), None).await);
    assert!(again.contains("distributed 0 table(s)"), "{again}");
}

/// A URL of `database` on the first worker, as the superuser.
async fn first_worker_url(database: &PgDatabase) -> String {
    let (host, port) = workers(&database.owner_url()).await.remove(0);
    node_url(&database.owner_url(), &host, port)
}

#[tokio::test]
async fn a_failed_distribution_changes_nothing_and_says_so_in_one_line() {
    let Some(database) = single_node_database().await else {
        return;
    };
    let mut owner = owner_connection(&database).await;
    let keys_before = foreign_keys(&mut owner).await;
    assert!(!keys_before.is_empty());

    // A table on a worker with the name the first shard will get makes
    // Citus fail to create that shard, for real, after the transaction
    // has dropped the foreign keys. Shard ids come from a sequence of this
    // database, so the name is knowable and no other test takes it.
    let next_shard: i64 = sqlx::query_scalar(
        "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END
         FROM pg_dist_shardid_seq",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    let obstacle = format!("{FIRST_DISTRIBUTED}_{next_shard}");
    let mut worker = PgConnection::connect(&first_worker_url(&database).await)
        .await
        .unwrap();
    sqlx::raw_sql(&format!("CREATE TABLE {obstacle} (obstacle int)"))
        .execute(&mut worker)
        .await
        .unwrap();

    let line = assert_one_line_failure(&run(migrate(&database, true), None).await);
    assert!(
        line.contains(&format!("distributing {FIRST_DISTRIBUTED}")),
        "{line}"
    );
    assert!(line.contains(&obstacle), "{line}");
    assert!(line.contains("nothing was changed"), "{line}");
    assert_eq!(distributed_tables(&mut owner).await, 0);
    assert_eq!(foreign_keys(&mut owner).await, keys_before);

    // The cause gone, the same command succeeds.
    sqlx::raw_sql(&format!("DROP TABLE {obstacle}"))
        .execute(&mut worker)
        .await
        .unwrap();
    worker.close().await.unwrap();
    let distributed = assert_success(&run(migrate(&database, true), None).await);
    let expected = format!("distributed {} table(s)", schema_tables().len());
    assert!(distributed.contains(&expected), "{distributed}");
    assert_eq!(
        distributed_tables(&mut owner).await,
        i64::try_from(schema_tables().len()).unwrap()
    );
    assert_eq!(foreign_keys(&mut owner).await, keys_before);
    owner.close().await.unwrap();
}
