//! The raw variants of the PostgreSQL isolation benchmark: the store's
//! statements copied from its private SQL, their unscoped forms on the
//! baselines, and how each runs in its own read-only transaction.

use bulkhead_domain::RecordId;
use bulkhead_store_conformance::bench::{
    Case, LIMIT, Row, SCOPED_COLUMNS, THRESHOLD, UNSCOPED_COLUMNS,
};
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, Row as _};
use uuid::Uuid;

/// `record_query::order_by` for the default order (never-null columns get
/// no `NULLS` clause).
pub(crate) const NEWEST_FIRST: &str = "created_at DESC, id DESC";

/// Decodes a record as the store's `record_row` does.
pub(crate) fn decode(row: &PgRow, scoped: bool) -> sqlx::Result<Row> {
    Ok(Row {
        tenant_id: if scoped {
            Some(row.try_get("tenant_id")?)
        } else {
            None
        },
        id: row.try_get("id")?,
        collection: row.try_get("collection")?,
        owner_id: row.try_get("owner_id")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        data: bulkhead_store::Document::from_raw(
            row.try_get::<sqlx::types::Json<Box<serde_json::value::RawValue>>, _>("data")?
                .0,
        ),
    })
}

/// A bound parameter of the raw statements.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Uuid(Uuid),
    Text(&'a str),
    Int(i64),
}

/// One raw variant: the statement, its parameters, and the transaction
/// setting it begins with (the tenant, for the scoped variant).
#[derive(Debug)]
pub(crate) struct Raw<'a> {
    pub(crate) sql: &'a str,
    pub(crate) params: Vec<Param<'a>>,
    pub(crate) tenant: Option<Uuid>,
    /// `get_record` filters the collection after reading by primary key,
    /// as the store's `record` does.
    pub(crate) collection: Option<&'a str>,
}

pub(crate) fn bound<'q>(
    sql: &'q str,
    params: &[Param<'q>],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut query = sqlx::query(sql);
    for param in params {
        query = match *param {
            Param::Uuid(uuid) => query.bind(uuid),
            Param::Text(text) => query.bind(text),
            Param::Int(n) => query.bind(n),
        };
    }
    query
}

/// The statements that begin the transaction, in one round trip, as
/// `PgStore::begin` sends them for a read.
pub(crate) fn begin_sql(tenant: Option<Uuid>) -> String {
    match tenant {
        Some(tenant) => format!(
            "BEGIN READ ONLY; SET LOCAL bulkhead.tenant_id = '{}';",
            tenant.hyphenated()
        ),
        None => "BEGIN READ ONLY;".to_owned(),
    }
}

/// Runs a raw variant in its own read-only transaction.
pub(crate) async fn run_raw(connection: &mut PgConnection, raw: &Raw<'_>, begin: &str) -> Vec<Row> {
    let scoped = raw.tenant.is_some();
    let mut tx = connection.begin_with(begin.to_owned()).await.unwrap();
    let mut rows = bound(raw.sql, &raw.params)
        .try_map(|row: PgRow| decode(&row, scoped))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    if let Some(collection) = raw.collection {
        rows.retain(|row| row.collection == collection);
    }
    rows
}

pub(crate) async fn explain(connection: &mut PgConnection, raw: &Raw<'_>) -> String {
    let mut tx = connection.begin_with(begin_sql(raw.tenant)).await.unwrap();
    let sql = format!("EXPLAIN (COSTS OFF) {}", raw.sql);
    let lines: Vec<String> = bound(&sql, &raw.params)
        .try_map(|row: PgRow| row.try_get::<String, _>(0))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    lines
        .iter()
        .map(|line| line.trim())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The cases, with the store's statements and their unscoped forms.
pub(crate) fn cases() -> [Case; 3] {
    [
        Case {
            name: "get_record",
            // Records::record: by primary key, the collection checked after
            scoped_sql: format!(
                "SELECT {SCOPED_COLUMNS} FROM records WHERE tenant_id = $1 AND id = $2"
            ),
            unscoped_sql: |table| format!("SELECT {UNSCOPED_COLUMNS} FROM {table} WHERE id = $1"),
        },
        Case {
            name: "list_newest_20",
            // Records::list_records with no filter, owner or cursor
            scoped_sql: format!(
                "SELECT {SCOPED_COLUMNS} FROM records WHERE tenant_id = $1 AND collection = $2 \
                 ORDER BY {NEWEST_FIRST} LIMIT {LIMIT}"
            ),
            unscoped_sql: |table| {
                format!(
                    "SELECT {UNSCOPED_COLUMNS} FROM {table} WHERE collection = $1 \
                     ORDER BY {NEWEST_FIRST} LIMIT {LIMIT}"
                )
            },
        },
        Case {
            name: "list_filtered_20",
            // Records::list_records with record_query::push_filter of `n > 500`
            scoped_sql: format!(
                "SELECT {SCOPED_COLUMNS} FROM records WHERE tenant_id = $1 AND collection = $2 \
                 AND (((data ->> 'n')::bigint) > $3) ORDER BY {NEWEST_FIRST} LIMIT {LIMIT}"
            ),
            unscoped_sql: |table| {
                format!(
                    "SELECT {UNSCOPED_COLUMNS} FROM {table} WHERE collection = $1 \
                     AND (((data ->> 'n')::bigint) > $2) ORDER BY {NEWEST_FIRST} LIMIT {LIMIT}"
                )
            },
        },
    ]
}

/// A raw variant of a case: scoped when `tenant` is given.
pub(crate) fn raw_variant<'a>(
    case: &'a Case,
    sql: &'a str,
    tenant: Option<Uuid>,
    id: RecordId,
    collection: &'a str,
) -> Raw<'a> {
    let mut params: Vec<Param<'a>> = tenant.map(Param::Uuid).into_iter().collect();
    match case.name {
        "get_record" => params.push(Param::Uuid(*id.as_uuid())),
        // LIMIT is a literal in the SQL, as in Records::list_records.
        "list_newest_20" => params.push(Param::Text(collection)),
        _ => params.extend([Param::Text(collection), Param::Int(THRESHOLD)]),
    }
    Raw {
        sql,
        params,
        tenant,
        collection: (case.name == "get_record").then_some(collection),
    }
}
