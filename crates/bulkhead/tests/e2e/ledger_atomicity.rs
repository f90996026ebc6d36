//! RELIABILITY E3 end to end, on both backends: a transfer, a hold's
//! capture and a charge each commit whole or not at all (both legs, the
//! payout counters, the idempotency record, the hold or the charge, and the
//! audit entry).
//!
//! The faults come from the database, not from a hook in the code: the test
//! reaches into the server's database as its owner and installs a trigger
//! that fails one write statement of the request, each of them in turn, so
//! that the request fails once the statements before it have run; on
//! PostgreSQL also a deferred constraint trigger that fails the COMMIT
//! itself. The statements are those the stores run
//! (`crates/store-*/src/tenant/ledger.rs`, the PostgreSQL functions of the
//! ledger migration, the idempotency and audit stores). Before each request
//! the source holds a hold whose time has passed, so the statements that
//! let it go run too.
//!
//! A failed request answers 500 `internal` with not a word of SQL and
//! leaves nothing behind: the ledger, idempotency and audit tables hold the
//! same rows, the accounts and their postings read the same over HTTP, and
//! on SQLite the file passes `PRAGMA integrity_check`. With the trigger
//! gone the same request (same key, same body) does its work exactly once,
//! and sent again replays it (a capture, which has no key, answers 409
//! `hold_settled`).

use std::collections::{BTreeMap, BTreeSet};

use bulkhead_client::types::{
    AccountView, ChargeView, CreateHoldRequest, PostingView, SettledHoldView, TransferView,
};
use bulkhead_client::{Client, RawResponse};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::harness::{Account, Database, TestServer, expect_problem};
use crate::ledger::{books, cents, open, post_with_key, transfer, transfers_path, usd};
use crate::ledger_charges::charges_path;

/// The tables a ledger write touches, compared row for row around a failed
/// request.
const TABLES: &[&str] = &[
    "ledger_accounts",
    "ledger_transfers",
    "ledger_postings",
    "ledger_holds",
    "ledger_charges",
    "idempotency_keys",
    "audit_log",
    "audit_personal",
];

/// The name of the trigger (and, on PostgreSQL, of its function).
const FAULT: &str = "e2e_injected_fault";

/// What the injected error says; the answer must not repeat it.
const FAULT_MESSAGE: &str = "e2e injected fault";

/// What moves in each request, at scale 2: the transfer's amount, the
/// captured part of a hold of [`HELD`], the charge's cost (the markup is 1).
const AMOUNT: &str = "2.00";
const HELD: &str = "3.00";

/// Where a request is made to fail.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The first row that one statement writes: `event` on `table`, of the
    /// rows `when` picks (SQL over `NEW` and `OLD`, the same on both
    /// backends).
    Statement {
        what: &'static str,
        event: &'static str,
        table: &'static str,
        when: Option<&'static str>,
    },
    /// The COMMIT (PostgreSQL only): a deferred constraint trigger on the
    /// transfer raises when the transaction commits.
    Commit,
}

use Fault::Statement;

// The write statements, in the order a transfer runs them.
const CLAIM_KEY: Fault = Statement {
    what: "claiming the Idempotency-Key",
    event: "INSERT",
    table: "idempotency_keys",
    when: None,
};
const EXPIRE_HOLD: Fault = Statement {
    what: "marking the source's hold expired",
    event: "UPDATE",
    table: "ledger_holds",
    when: Some("NEW.status = 'expired'"),
};
const FREE_HELD: Fault = Statement {
    what: "giving back what the expired hold reserved",
    event: "UPDATE",
    table: "ledger_accounts",
    when: Some("NEW.balance = OLD.balance AND NEW.held < OLD.held"),
};
// The payout counters of the caps (`spent_today`, `spent_this_month`) are
// written by this statement too, on both backends.
const DEBIT: Fault = Statement {
    what: "debiting the source and counting its payout",
    event: "UPDATE",
    table: "ledger_accounts",
    when: Some("NEW.balance < OLD.balance"),
};
const CREDIT: Fault = Statement {
    what: "crediting the destination",
    event: "UPDATE",
    table: "ledger_accounts",
    when: Some("NEW.balance > OLD.balance"),
};
const TRANSFER_ROW: Fault = Statement {
    what: "writing the transfer",
    event: "INSERT",
    table: "ledger_transfers",
    when: None,
};
const POSTINGS: Fault = Statement {
    what: "writing the postings",
    event: "INSERT",
    table: "ledger_postings",
    when: None,
};
const COMPLETE_KEY: Fault = Statement {
    what: "keeping the answer under the key",
    event: "UPDATE",
    table: "idempotency_keys",
    when: None,
};
const AUDIT_ENTRY: Fault = Statement {
    what: "appending the audit entry",
    event: "INSERT",
    table: "audit_log",
    when: None,
};
const AUDIT_PERSONAL: Fault = Statement {
    what: "writing the audit entry's personal fields",
    event: "INSERT",
    table: "audit_personal",
    when: None,
};
// Only captures and charges.
const OPEN_HOUSE: Fault = Statement {
    what: "opening the tenant's house account",
    event: "INSERT",
    table: "ledger_accounts",
    when: Some("NEW.house"),
};
const CAPTURE_HOLD: Fault = Statement {
    what: "marking the hold captured",
    event: "UPDATE",
    table: "ledger_holds",
    when: Some("NEW.status = 'captured'"),
};
const CHARGE_ROW: Fault = Statement {
    what: "writing the charge",
    event: "INSERT",
    table: "ledger_charges",
    when: None,
};

/// A transfer: claim the key, let the source's expired hold go, move the
/// amount, write the transfer and its postings, keep the answer, audit.
const TRANSFER_FAULTS: &[Fault] = &[
    CLAIM_KEY,
    EXPIRE_HOLD,
    FREE_HELD,
    DEBIT,
    CREDIT,
    TRANSFER_ROW,
    POSTINGS,
    COMPLETE_KEY,
    AUDIT_ENTRY,
    AUDIT_PERSONAL,
    Fault::Commit,
];

/// A capture: open the house account (the first capture only, so first
/// here), then as a transfer to it, then mark the hold; no key.
const CAPTURE_FAULTS: &[Fault] = &[
    OPEN_HOUSE,
    EXPIRE_HOLD,
    FREE_HELD,
    DEBIT,
    CREDIT,
    TRANSFER_ROW,
    POSTINGS,
    CAPTURE_HOLD,
    AUDIT_ENTRY,
    AUDIT_PERSONAL,
    Fault::Commit,
];

/// A charge: claim the key, open the house account (the first charge only,
/// so first here), debit as a transfer to it, write the charge, keep the
/// answer, audit.
const CHARGE_FAULTS: &[Fault] = &[
    OPEN_HOUSE,
    CLAIM_KEY,
    EXPIRE_HOLD,
    FREE_HELD,
    DEBIT,
    CREDIT,
    TRANSFER_ROW,
    POSTINGS,
    CHARGE_ROW,
    COMPLETE_KEY,
    AUDIT_ENTRY,
    AUDIT_PERSONAL,
    Fault::Commit,
];

impl Fault {
    fn what(self) -> &'static str {
        match self {
            Statement { what, .. } => what,
            Fault::Commit => "the COMMIT",
        }
    }
}

/// A transfer that fails at any of its write statements, or at its commit,
/// leaves nothing behind; sent again, it is made once.
async fn a_transfer_that_fails_leaves_nothing(server: TestServer) {
    run(server, Use::Transfer, TRANSFER_FAULTS).await;
}
scenario!(a_transfer_that_fails_leaves_nothing);

/// The same of a hold's capture.
async fn a_capture_that_fails_leaves_nothing(server: TestServer) {
    run(server, Use::Capture, CAPTURE_FAULTS).await;
}
scenario!(a_capture_that_fails_leaves_nothing);

/// The same of a charge.
async fn a_charge_that_fails_leaves_nothing(server: TestServer) {
    run(server, Use::Charge, CHARGE_FAULTS).await;
}
scenario!(a_charge_that_fails_leaves_nothing);

/// The use case under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Transfer,
    Capture,
    Charge,
}

async fn run(server: TestServer, case: Use, faults: &[Fault]) {
    let Some(mut db) = Db::connect(&server).await else {
        return;
    };
    let owner = server.signup("owner@ledger-atomicity.example").await;
    let tenant = server.create_tenant(&owner, "ledger-atomicity").await;
    let t = tenant.slug;
    let client = &owner.client;
    let funding = open(client, &t, &usd("Funding", None, true)).await.id;
    let source = open(client, &t, &usd("Source", None, false)).await.id;
    let target = open(client, &t, &usd("Target", None, false)).await.id;
    transfer(client, &t, "fund", funding, source, "1000.00", None).await;
    let bench = Bench {
        owner: &owner,
        unchecked: unchecked_client(&server, &owner),
        t: &t,
        source,
        target,
    };
    for (i, fault) in faults.iter().enumerate() {
        bench.fail_then_succeed(&mut db, case, i, *fault).await;
    }
}

/// The owner's token on a client whose answers are not checked against the
/// OpenAPI document: the document lists no 500 for any operation (none
/// promises one), and the requests that meet a fault answer 500.
fn unchecked_client(server: &TestServer, owner: &Account) -> Client {
    Client::new(&format!("http://{}", server.server.addr))
        .unwrap()
        .with_token(&owner.tokens.access_token)
}

/// A funded source account and a destination in one tenant, as its owner.
struct Bench<'a> {
    owner: &'a Account,
    unchecked: Client,
    t: &'a str,
    source: Uuid,
    target: Uuid,
}

/// A request as sent.
#[derive(Debug)]
struct Sent {
    path: String,
    key: Option<String>,
    body: Value,
}

/// Everything a failed request must leave as it was: the rows of
/// [`TABLES`], and every account with its postings as the API shows them.
#[derive(Debug, PartialEq)]
struct State {
    rows: BTreeMap<&'static str, Vec<String>>,
    books: Vec<(AccountView, Vec<PostingView>)>,
}

impl Bench<'_> {
    async fn state(&self, db: &mut Db) -> State {
        let mut rows = BTreeMap::new();
        for table in TABLES {
            rows.insert(*table, db.rows(table).await);
        }
        State {
            rows,
            books: books(&self.owner.client, self.t).await,
        }
    }

    /// One round: `case` meets `fault` and fails; then, the fault gone, it
    /// succeeds once and replays.
    async fn fail_then_succeed(&self, db: &mut Db, case: Use, round: usize, fault: Fault) {
        if matches!(fault, Fault::Commit) && !db.is_postgres() {
            // SQLite has no deferred trigger to fail a COMMIT with.
            return;
        }
        let context = format!("{case:?}, failing at {}", fault.what());
        let sent = self.prepare(db, case, round).await;
        let before = self.state(db).await;

        db.inject(fault).await;
        let failed =
            post_with_key(&self.unchecked, &sent.path, sent.key.as_deref(), &sent.body).await;
        db.remove(fault).await;
        expect_internal_error(&failed, &context);
        let after = self.state(db).await;
        assert_unchanged(&before, &after, &context);
        if let Some(key) = &sent.key {
            assert_eq!(db.key_rows(key).await, 0, "{context}: the key was kept");
        }
        db.check_integrity(&context).await;

        // The same request once more, the fault gone: made once.
        let client = &self.owner.client;
        let done = post_with_key(client, &sent.path, sent.key.as_deref(), &sent.body).await;
        let made = self.made(case, &done, &context);
        let after_done = self.state(db).await;
        assert_one_transfer(&after, &after_done, made, self.source, &context);
        for table in ["audit_log", "audit_personal"] {
            let (was, is) = (after.rows[table].len(), after_done.rows[table].len());
            assert_eq!(is, was + 1, "{context}: not one {table} row more");
        }
        if let Some(key) = &sent.key {
            assert_eq!(db.key_rows(key).await, 1, "{context}: the key is not kept");
        }

        // And again: replayed (a capture is refused), nothing moves.
        let again = post_with_key(client, &sent.path, sent.key.as_deref(), &sent.body).await;
        match case {
            Use::Transfer | Use::Charge => {
                assert_eq!(again.status, 201, "{context}: replay: {}", again.text());
                assert_eq!(
                    again.json::<Value>().unwrap(),
                    done.json::<Value>().unwrap(),
                    "{context}: the replay answered another {case:?}"
                );
            }
            Use::Capture => {
                expect_problem(&again, 409, "hold_settled");
            }
        }
        assert_unchanged(&after_done, &self.state(db).await, &context);
    }

    /// Makes ready a round of `case`: for a capture the hold to capture,
    /// then a hold on the source whose time has passed (the owner moves its
    /// expiry into the past, after the last hold is placed, since placing
    /// one lets the account's expired holds go), and the request.
    async fn prepare(&self, db: &mut Db, case: Use, round: usize) -> Sent {
        let sent = match case {
            Use::Transfer => Sent {
                path: transfers_path(self.t),
                key: Some(format!("transfer-{round}")),
                body: json!({"from": self.source, "to": self.target, "amount": AMOUNT}),
            },
            Use::Capture => {
                let hold = self.hold(&format!("to-capture-{round}"), HELD).await;
                Sent {
                    path: format!("/v1/tenants/{}/ledger/holds/{hold}/capture", self.t),
                    key: None,
                    body: json!({"amount": AMOUNT}),
                }
            }
            Use::Charge => Sent {
                path: charges_path(self.t),
                key: Some(format!("charge-{round}")),
                body: json!({"account": self.source, "cost": AMOUNT, "memo": "a run"}),
            },
        };
        let expiring = self.hold(&format!("expiring-{round}"), "1.00").await;
        db.expire(expiring).await;
        sent
    }

    /// A hold on the source that must be placed; its id.
    async fn hold(&self, key: &str, amount: &str) -> Uuid {
        let body = CreateHoldRequest {
            account: self.source,
            amount: amount.to_owned(),
            expires_in_seconds: None,
            memo: None,
        };
        let hold = self.owner.client.place_hold(self.t, key, &body).await;
        hold.unwrap_or_else(|error| panic!("hold {key}: {error}"))
            .id
    }

    /// The transfer a successful `case` made, read from its answer.
    #[track_caller]
    fn made(&self, case: Use, done: &RawResponse, context: &str) -> Uuid {
        let status = if case == Use::Capture { 200 } else { 201 };
        assert_eq!(
            done.status,
            status,
            "{context}: sent again: {}",
            done.text()
        );
        match case {
            Use::Transfer => {
                let made: TransferView = done.json().unwrap();
                assert_eq!((made.from, made.to), (self.source, self.target));
                made.id
            }
            Use::Capture => {
                let settled: SettledHoldView = done.json().unwrap();
                assert_eq!(settled.hold.status, "captured", "{context}");
                settled.transfer.expect("a capture's transfer").id
            }
            Use::Charge => {
                let charge: ChargeView = done.json().unwrap();
                assert!(charge.debited, "{context}: {charge:?}");
                charge.transfer_id.expect("a charge's transfer")
            }
        }
    }
}

/// A 500 `internal` problem that says nothing of the SQL behind it.
#[track_caller]
fn expect_internal_error(answer: &RawResponse, context: &str) {
    assert_eq!(
        answer.status,
        500,
        "{context}: the request did not fail: {}",
        answer.text()
    );
    expect_problem(answer, 500, "internal");
    let body = answer.text().to_lowercase();
    for word in [
        FAULT_MESSAGE,
        FAULT,
        "sql",
        "postgres",
        "trigger",
        "p0001",
        "constraint",
        "insert",
        "update",
        "ledger_",
        "idempotency_keys",
        "audit_",
    ] {
        assert!(
            !body.contains(word),
            "{context}: the answer tells {word:?}: {body}"
        );
    }
}

/// Asserts that a failed request changed nothing, naming the rows it left
/// behind or took away.
#[track_caller]
fn assert_unchanged(before: &State, after: &State, context: &str) {
    for table in TABLES {
        let (was, is) = (&before.rows[table], &after.rows[table]);
        let gone: Vec<_> = was.iter().filter(|row| !is.contains(row)).collect();
        let new: Vec<_> = is.iter().filter(|row| !was.contains(row)).collect();
        assert!(
            gone.is_empty() && new.is_empty(),
            "{context}: {table} changed\n  rows gone: {gone:#?}\n  rows new: {new:#?}"
        );
    }
    assert_eq!(
        before.books, after.books,
        "{context}: the accounts or their postings changed"
    );
}

/// Asserts that from `before` to `after` exactly one transfer, `id`, was
/// posted: one row more in `ledger_transfers`, two new postings, both of
/// `id`, taking an amount out of `from` and putting it in another account,
/// whose balances moved by that and nothing else.
#[track_caller]
fn assert_one_transfer(before: &State, after: &State, id: Uuid, from: Uuid, context: &str) {
    assert_eq!(
        after.rows["ledger_transfers"].len(),
        before.rows["ledger_transfers"].len() + 1,
        "{context}: not one transfer more"
    );
    let old: BTreeSet<(Uuid, i64)> = before
        .books
        .iter()
        .flat_map(|(account, entries)| entries.iter().map(|p| (account.id, p.seq)))
        .collect();
    let balance = |state: &State, id: Uuid| {
        state
            .books
            .iter()
            .find(|(account, _)| account.id == id)
            .map_or(0, |(account, _)| cents(&account.balance))
    };
    let mut moved = Vec::new();
    for (account, entries) in &after.books {
        let new: Vec<&PostingView> = entries
            .iter()
            .filter(|p| !old.contains(&(account.id, p.seq)))
            .collect();
        let sum: i64 = new.iter().map(|p| cents(&p.amount)).sum();
        assert_eq!(
            cents(&account.balance) - balance(before, account.id),
            sum,
            "{context}: {} moved by other than its new postings",
            account.name
        );
        moved.extend(
            new.iter()
                .map(|p| (account.id, p.transfer_id, cents(&p.amount))),
        );
    }
    let amount = cents(AMOUNT);
    assert_eq!(moved.len(), 2, "{context}: new postings {moved:?}");
    assert!(moved.contains(&(from, id, -amount)), "{context}: {moved:?}");
    assert!(
        moved
            .iter()
            .any(|&(to, of, cents)| to != from && of == id && cents == amount),
        "{context}: {moved:?}"
    );
}

/// The server's database, reached beside it as its owner.
enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(PgConnection),
}

impl Db {
    /// `None` on a PostgreSQL cluster under Citus, where triggers on
    /// distributed tables are refused by default.
    async fn connect(server: &TestServer) -> Option<Db> {
        match server.database().expect("a database the test can reach") {
            Database::SqliteFile(path) => {
                let connection = rusqlite::Connection::open(path).unwrap();
                // The server's writer holds the file's lock while a group of
                // transactions commits; wait for it rather than fail.
                connection
                    .busy_timeout(std::time::Duration::from_secs(30))
                    .unwrap();
                Some(Db::Sqlite(connection))
            }
            Database::PostgresOwner(_) if crate::server::citus() => {
                eprintln!("skipped on Citus: the faults are triggers on distributed tables");
                None
            }
            Database::PostgresOwner(url) => {
                let mut connection = PgConnection::connect(&url).await.unwrap();
                let function = format!(
                    "CREATE FUNCTION {FAULT}() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN RAISE EXCEPTION '{FAULT_MESSAGE} on % of %', TG_OP, TG_TABLE_NAME; END
                     $$"
                );
                sqlx::raw_sql(&function)
                    .execute(&mut connection)
                    .await
                    .unwrap();
                Some(Db::Postgres(connection))
            }
        }
    }

    fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    async fn execute(&mut self, sql: &str) {
        match self {
            Db::Sqlite(connection) => connection
                .execute_batch(sql)
                .unwrap_or_else(|error| panic!("{sql}: {error}")),
            Db::Postgres(connection) => {
                sqlx::raw_sql(sql)
                    .execute(connection)
                    .await
                    .unwrap_or_else(|error| panic!("{sql}: {error}"));
            }
        }
    }

    /// Installs the trigger that makes `fault` happen.
    async fn inject(&mut self, fault: Fault) {
        let sql = match (fault, self.is_postgres()) {
            (Fault::Commit, _) => format!(
                "CREATE CONSTRAINT TRIGGER {FAULT} AFTER INSERT ON ledger_transfers
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {FAULT}()"
            ),
            (
                Statement {
                    event, table, when, ..
                },
                postgres,
            ) => {
                let when = when.map_or(String::new(), |when| format!("WHEN ({when})"));
                if postgres {
                    format!(
                        "CREATE TRIGGER {FAULT} AFTER {event} ON {table} FOR EACH ROW {when}
                         EXECUTE FUNCTION {FAULT}()"
                    )
                } else {
                    format!(
                        "CREATE TRIGGER {FAULT} AFTER {event} ON {table} FOR EACH ROW {when}
                         BEGIN SELECT RAISE(ABORT, '{FAULT_MESSAGE}'); END"
                    )
                }
            }
        };
        self.execute(&sql).await;
    }

    async fn remove(&mut self, fault: Fault) {
        let sql = match (fault, &*self) {
            (_, Db::Sqlite(_)) => format!("DROP TRIGGER {FAULT}"),
            (Fault::Commit, Db::Postgres(_)) => format!("DROP TRIGGER {FAULT} ON ledger_transfers"),
            (Statement { table, .. }, Db::Postgres(_)) => {
                format!("DROP TRIGGER {FAULT} ON {table}")
            }
        };
        self.execute(&sql).await;
    }

    /// Moves a hold's expiry back to when it was placed: its time has
    /// passed, and whoever touches its account next lets it go.
    async fn expire(&mut self, hold: Uuid) {
        let id = match self {
            Db::Sqlite(_) => format!("X'{}'", hold.simple()),
            Db::Postgres(_) => format!("'{hold}'"),
        };
        self.execute(&format!(
            "UPDATE ledger_holds SET expires_at = created_at WHERE id = {id}"
        ))
        .await;
    }

    /// Every row of `table`, as text, sorted.
    async fn rows(&mut self, table: &str) -> Vec<String> {
        let mut rows = match self {
            Db::Sqlite(connection) => {
                let mut statement = connection
                    .prepare(&format!("SELECT * FROM {table}"))
                    .unwrap();
                let width = statement.column_count();
                statement
                    .query_map([], |row| {
                        (0..width)
                            .map(|i| row.get_ref(i).map(sqlite_text))
                            .collect::<rusqlite::Result<Vec<_>>>()
                            .map(|values| values.join(", "))
                    })
                    .unwrap()
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .unwrap()
            }
            Db::Postgres(connection) => {
                sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                    .fetch_all(connection)
                    .await
                    .unwrap()
            }
        };
        rows.sort();
        rows
    }

    /// How many rows `idempotency_keys` holds for `key`.
    async fn key_rows(&mut self, key: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM idempotency_keys WHERE key = '{key}'");
        match self {
            Db::Sqlite(connection) => connection.query_row(&sql, [], |row| row.get(0)).unwrap(),
            Db::Postgres(connection) => sqlx::query_scalar(&sql)
                .fetch_one(connection)
                .await
                .unwrap(),
        }
    }

    /// On SQLite, the file is sound after the failed request.
    async fn check_integrity(&mut self, context: &str) {
        if let Db::Sqlite(connection) = self {
            let mut statement = connection.prepare("PRAGMA integrity_check").unwrap();
            let report: Vec<String> = statement
                .query_map([], |row| row.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(report, ["ok"], "{context}: integrity_check");
        }
    }
}

/// A SQLite value as text: blobs in hex, text quoted.
fn sqlite_text(value: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(text) => format!("{:?}", String::from_utf8_lossy(text)),
        ValueRef::Blob(bytes) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}
