//! Query plans of the common record lists on PostgreSQL: over 20,000
//! records of three tenants, after `ANALYZE`, planned as the runtime role
//! inside a tenant transaction (so under the row-level security policy),
//! each list must be served by its index, never by a sequential scan of
//! `records`. The plans are printed.

use bulkhead_domain::UserId;
use bulkhead_domain::collection::{FieldName, FieldType};
use bulkhead_domain::filter::{FieldRef, SortKey, parse, typecheck};
use bulkhead_store::{Access, Cursor, Record, RecordQuery, Store};
use bulkhead_store_conformance::plans::{self, LIMIT, RECORDS};
use sqlx::{Connection, PgConnection};

use crate::server::citus;
use crate::support::TestDatabase;

/// The columns `Records::list_records` (tenant/records.rs) selects.
const RECORD_COLUMNS: &str =
    "tenant_id, id, collection, owner_id, version, created_at, updated_at, data";

/// The SQL `Records::list_records` (tenant/records.rs) builds for a list, with literals
/// where it binds parameters (each literal cast to the type of the bound
/// value): the tenant and collection, then the owner, the compiled filter
/// (`record_query::push_filter`), the keyset condition after a cursor
/// (`record_query::push_after`), `ORDER BY` from `record_query::order_by`
/// and the limit. Reproduced here because the compiler is private; the test
/// checks it returns what the store returns.
fn list_sql(
    tenant: &uuid::Uuid,
    owner: Option<&UserId>,
    filter: Option<&str>,
    after: Option<&str>,
    order_by: &str,
) -> String {
    let mut sql = format!(
        "SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = '{tenant}'::uuid AND collection = 'tasks'::text"
    );
    if let Some(owner) = owner {
        sql.push_str(&format!(" AND owner_id = '{owner}'::uuid"));
    }
    if let Some(filter) = filter {
        sql.push_str(&format!(" AND ({filter})"));
    }
    if let Some(after) = after {
        sql.push_str(&format!(" AND {after}"));
    }
    sql.push_str(&format!(" ORDER BY {order_by} LIMIT {LIMIT}::bigint"));
    sql
}

/// `at` as a `timestamptz` literal.
fn timestamp(at: time::OffsetDateTime) -> String {
    let text = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    format!("'{text}'::timestamptz")
}

/// Begins a transaction as the runtime role bound to `tenant`, as
/// `PgStore` does.
async fn begin_as_tenant(app: &mut PgConnection, tenant: &uuid::Uuid) {
    sqlx::raw_sql(&format!(
        "BEGIN READ ONLY; SET LOCAL bulkhead.tenant_id = '{tenant}'"
    ))
    .execute(&mut *app)
    .await
    .unwrap();
}

async fn plan(app: &mut PgConnection, tenant: &uuid::Uuid, sql: &str) -> Vec<String> {
    begin_as_tenant(app, tenant).await;
    let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN (FORMAT TEXT) {sql}"))
        .fetch_all(&mut *app)
        .await
        .unwrap();
    sqlx::raw_sql("ROLLBACK").execute(&mut *app).await.unwrap();
    lines
}

async fn ids(app: &mut PgConnection, tenant: &uuid::Uuid, sql: &str) -> Vec<uuid::Uuid> {
    begin_as_tenant(app, tenant).await;
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(&format!("SELECT id FROM ({sql}) AS page"))
        .fetch_all(&mut *app)
        .await
        .unwrap();
    sqlx::raw_sql("ROLLBACK").execute(&mut *app).await.unwrap();
    ids
}

struct Case {
    what: &'static str,
    sql: String,
    index: String,
    /// Whether the index also gives the order, so no sort reads the whole
    /// collection for one page.
    ordered: bool,
    query: RecordQuery,
}

/// The common list queries use an index, not a sequential scan: the
/// default list (newest first) and the page after a cursor through
/// `ix_records_created`, `priority >= 3` sorted by `priority` through the
/// declared expression index, an owner's records through
/// `ix_records_owner`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_common_list_queries_use_an_index() {
    let Some(database) = TestDatabase::migrated().await else {
        return;
    };
    let started = std::time::Instant::now();
    let store = database.store(4).await;
    let schema = plans::tasks_schema();
    let index_name = bulkhead_store::record_index_name(&plans::index_fields());
    let tenants = plans::seed(&store).await;
    let inserted = started.elapsed();
    let mut owner_connection = database.owner().await;
    sqlx::raw_sql("ANALYZE")
        .execute(&mut owner_connection)
        .await
        .unwrap();
    owner_connection.close().await.unwrap();

    let (tenant, owners) = &tenants[0];
    let tenant_id = *tenant.id.as_uuid();
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();

    // The queries, and the records their second pages start after.
    let filter = typecheck(&parse("priority >= 3").unwrap(), &schema).unwrap();
    let by_priority = vec![SortKey {
        field: FieldRef::Data {
            name: FieldName::parse("priority").unwrap(),
            field_type: FieldType::Integer,
        },
        descending: false,
    }];
    let default_query = RecordQuery {
        limit: LIMIT as u32,
        ..RecordQuery::default()
    };
    let priority_query = RecordQuery {
        filter: Some(filter),
        sort: by_priority,
        limit: LIMIT as u32,
        ..RecordQuery::default()
    };
    let owner_query = RecordQuery {
        owner: Some(owners[3]),
        limit: LIMIT as u32,
        ..RecordQuery::default()
    };
    let mut last_of = async |query: &RecordQuery| -> Record {
        tx.list_records("tasks", query)
            .await
            .unwrap()
            .last()
            .unwrap()
            .clone()
    };
    let default_last = last_of(&default_query).await;
    let priority_last = last_of(&priority_query).await;
    let owner_last = last_of(&owner_query).await;
    let after = |query: &RecordQuery, last: &Record| RecordQuery {
        after: Some(Cursor::after_record(last, &query.order())),
        ..query.clone()
    };

    let newest_first = "created_at DESC, id DESC";
    let priority_order = "((data ->> 'priority')::bigint) ASC NULLS FIRST, id ASC";
    let priority_filter = "((data ->> 'priority')::bigint) >= 3::bigint";
    let after_newest = |last: &Record| {
        let at = timestamp(last.created_at);
        format!(
            "(((created_at < {at} OR created_at IS NULL)) OR (created_at = {at} AND (id < '{}'::uuid OR id IS NULL)))",
            last.id
        )
    };
    let priority = priority_last
        .data
        .field("priority")
        .unwrap()
        .as_i64()
        .unwrap();
    let after_priority = format!(
        "((((data ->> 'priority')::bigint) > '{priority}'::text::bigint) OR (((data ->> 'priority')::bigint) = '{priority}'::text::bigint AND id > '{}'::uuid))",
        priority_last.id
    );
    let owner = Some(&owners[3]);
    let cases = [
        Case {
            what: "(a) the default list: newest first",
            sql: list_sql(&tenant_id, None, None, None, newest_first),
            index: "ix_records_created".into(),
            ordered: true,
            query: default_query.clone(),
        },
        Case {
            what: "(a') the default list, the page after a cursor",
            sql: list_sql(
                &tenant_id,
                None,
                None,
                Some(&after_newest(&default_last)),
                newest_first,
            ),
            index: "ix_records_created".into(),
            ordered: true,
            query: after(&default_query, &default_last),
        },
        Case {
            what: "(b) priority >= 3, sorted by priority",
            sql: list_sql(
                &tenant_id,
                None,
                Some(priority_filter),
                None,
                priority_order,
            ),
            index: index_name.clone(),
            ordered: false,
            query: priority_query.clone(),
        },
        Case {
            what: "(b') priority >= 3, sorted by priority, the page after a cursor",
            sql: list_sql(
                &tenant_id,
                None,
                Some(priority_filter),
                Some(&after_priority),
                priority_order,
            ),
            index: index_name.clone(),
            ordered: false,
            query: after(&priority_query, &priority_last),
        },
        Case {
            what: "(c) an owner's records (owner visibility), newest first",
            sql: list_sql(&tenant_id, owner, None, None, newest_first),
            index: "ix_records_owner".into(),
            ordered: true,
            query: owner_query.clone(),
        },
        Case {
            what: "(c') an owner's records, the page after a cursor",
            sql: list_sql(
                &tenant_id,
                owner,
                None,
                Some(&after_newest(&owner_last)),
                newest_first,
            ),
            index: "ix_records_owner".into(),
            ordered: true,
            query: after(&owner_query, &owner_last),
        },
    ];

    let mut app = database.app().await;
    let mut failures = Vec::new();
    for case in &cases {
        // The reproduced SQL answers what the store answers.
        let from_store = plans::listed_ids(&mut *tx, &case.query).await;
        let from_sql = ids(&mut app, &tenant_id, &case.sql).await;
        if from_sql.len() != LIMIT as usize || from_sql != from_store {
            failures.push(format!(
                "{}: the reproduced SQL no longer matches tenant/records.rs (list_records)",
                case.what
            ));
        }
        let plan = plan(&mut app, &tenant_id, &case.sql).await;
        eprintln!(
            "PostgreSQL, {}:\n  {}\n  plan:\n    {}",
            case.what,
            case.sql,
            plan.join("\n    ")
        );
        // On Citus the plan is the one shard's: its index and table carry
        // the shard's number (`ix_records_created_102226 on records_102226`).
        let uses_index = plan.iter().any(|line| {
            ["Index Scan", "Index Only Scan", "Bitmap Index Scan"]
                .iter()
                .any(|scan| {
                    [" ", "_"].iter().any(|after| {
                        line.contains(&format!("{scan} using {}{after}", case.index))
                            || line
                                .contains(&format!("{scan} Backward using {}{after}", case.index))
                            || line.contains(&format!("{scan} on {}{after}", case.index))
                    }) || line
                        .trim_end()
                        .ends_with(&format!("{scan} on {}", case.index))
                })
        });
        let seq_scan = plan.iter().any(|line| line.contains("Seq Scan on records"));
        // A tenant's read goes to the one shard that holds the tenant: a
        // router plan of one task.
        if citus() && !plan.iter().any(|line| line.trim() == "Task Count: 1") {
            failures.push(format!(
                "{}: expected a single-shard router plan",
                case.what
            ));
        }
        // On Citus a tenant is often alone in its shard, where reading the
        // shard through and sorting the matches can be the cheaper plan: the
        // choice of index is plain PostgreSQL's to show.
        if !citus() && (!uses_index || seq_scan) {
            failures.push(format!(
                "{}: expected an index scan on {} and no Seq Scan on records",
                case.what, case.index
            ));
        }
        let sorts = plan
            .iter()
            .any(|line| line.trim_start().starts_with("->  Sort"));
        if !citus() && case.ordered && sorts {
            failures.push(format!(
                "{}: expected {} to give the order, not a Sort",
                case.what, case.index
            ));
        }
        if sorts {
            eprintln!("  note: a Sort reads every match before the first row is returned");
        }
        if plan
            .iter()
            .any(|line| line.contains("Filter: ") && line.contains("priority"))
        {
            eprintln!(
                "  note: the priority condition is a Filter, not an Index Cond (not leakproof, so it may not run before the row-level security policy)"
            );
        }
    }
    drop(tx);
    app.close().await.unwrap();
    store.close().await;
    database.drop_database().await;
    eprintln!(
        "PostgreSQL plans over {RECORDS} records: {inserted:.1?} to insert, {:.1?} in all",
        started.elapsed()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
