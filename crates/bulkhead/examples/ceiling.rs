//! The ceiling of `benches/compare.sh`: a bare axum + SQLite server that does
//! the least any server answering workload W1 must do, and nothing more.
//!
//! It exists only as the benchmark's ceiling, so that Bulkhead's W1 can be
//! stated as a share of it. It is not a competitor and not an example of how
//! to write a server: it checks that an `Authorization` header is present but
//! verifies nothing (no token, no tenant, no access rule), and it serves one
//! route only.
//!
//! ```text
//! ceiling --addr 127.0.0.1:0 --db PATH --rows N
//! ```
//!
//! At start it creates the SQLite file with Bulkhead's profile (WAL,
//! `synchronous=FULL`, a busy timeout) holding a table `notes` seeded with
//! the ids `0..N` in one transaction (rows already there are kept), prints
//! `listening on http://ADDR` and serves `GET /notes/{id}`: one primary-key
//! `SELECT` through the worker thread's own `query_only` connection (a
//! `thread_local`, opened on first use) with a cached prepared statement,
//! answered as JSON (200), 404 when there is no such row, 401 when the
//! `Authorization` header is missing. The read runs on the tokio worker
//! thread itself: a primary-key lookup in a warm page cache takes
//! microseconds, and the ceiling should pay for nothing it does not need.
//!
//! Build: `cargo build --release -p bulkhead --example ceiling`.

#![allow(
    clippy::print_stdout,
    reason = "the benchmark reads the listening address from stdout"
)]

use std::cell::RefCell;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use axum::Json;
use axum::Router;

/// The allocator Bulkhead's binary uses, so the ceiling is not lowered by a
/// slower one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header::AUTHORIZATION};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// The 200-character body of workload.md's notes.
const BODY: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod \
                    tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam \
                    quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo";
/// A fixed timestamp: the ceiling does not read the clock.
const CREATED: &str = "2026-01-01T00:00:00.000000Z";
const TENANTS: i64 = 100;
const SELECT: &str = "SELECT id, tenant, title, body, n, created, updated FROM notes WHERE id = ?1";

#[derive(Debug, Parser)]
#[command(about = "Bare axum + SQLite ceiling of benches/compare.sh (W1 only)")]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// The SQLite file (created when missing).
    #[arg(long)]
    db: PathBuf,
    /// Rows the table `notes` holds: ids 0..ROWS.
    #[arg(long, default_value_t = 100_000)]
    rows: i64,
}

#[derive(Debug, Serialize)]
struct Note {
    id: i64,
    tenant: i64,
    title: String,
    body: String,
    n: i64,
    created: String,
    updated: String,
}

static DB_PATH: OnceLock<PathBuf> = OnceLock::new();

thread_local! {
    /// Each tokio worker thread's own reader connection.
    static READER: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

/// Opens a connection with Bulkhead's SQLite profile (store-sqlite's own).
fn open(path: &FsPath, reader: bool) -> rusqlite::Result<Connection> {
    let connection = bulkhead_store_sqlite::open_with_profile(path)?;
    if reader {
        connection.execute_batch("PRAGMA query_only = ON;")?;
    }
    Ok(connection)
}

/// Creates the table and inserts the ids `0..rows` that are missing, in one
/// transaction. Returns the number of rows inserted.
fn seed(path: &FsPath, rows: i64) -> rusqlite::Result<usize> {
    let mut connection = open(path, false)?;
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS notes (
             id INTEGER PRIMARY KEY,
             tenant INTEGER NOT NULL,
             title TEXT NOT NULL,
             body TEXT NOT NULL,
             n INTEGER NOT NULL,
             created TEXT NOT NULL,
             updated TEXT NOT NULL
         )",
    )?;
    let present: i64 = connection.query_row(
        "SELECT count(*) FROM notes WHERE id >= 0 AND id < ?1",
        [rows],
        |row| row.get(0),
    )?;
    if present == rows {
        return Ok(0);
    }
    let transaction = connection.transaction()?;
    let mut inserted = 0;
    {
        let mut insert = transaction
            .prepare("INSERT OR IGNORE INTO notes VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?;
        for i in 0..rows {
            // workload.md's layout: note i in tenant i mod T, n = (i div T) mod 1000
            inserted += insert.execute(params![
                i,
                i % TENANTS,
                format!("note {i}"),
                BODY,
                (i / TENANTS) % 1000,
                CREATED,
                CREATED,
            ])?;
        }
    }
    transaction.commit()?;
    Ok(inserted)
}

fn read_note(id: i64) -> rusqlite::Result<Option<Note>> {
    READER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let path = DB_PATH
                .get()
                .ok_or(rusqlite::Error::InvalidPath(PathBuf::new()))?;
            *slot = Some(open(path, true)?);
        }
        let Some(connection) = slot.as_ref() else {
            return Err(rusqlite::Error::InvalidQuery);
        };
        let mut statement = connection.prepare_cached(SELECT)?;
        statement
            .query_row([id], |row| {
                Ok(Note {
                    id: row.get(0)?,
                    tenant: row.get(1)?,
                    title: row.get(2)?,
                    body: row.get(3)?,
                    n: row.get(4)?,
                    created: row.get(5)?,
                    updated: row.get(6)?,
                })
            })
            .optional()
    })
}

async fn get_note(headers: HeaderMap, Path(id): Path<i64>) -> Response {
    // present, never verified: the ceiling is the floor of the work, not a server
    if !headers.contains_key(AUTHORIZATION) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match read_note(id) {
        Ok(Some(note)) => Json(note).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let started = Instant::now();
    let inserted = seed(&args.db, args.rows)?;
    println!(
        "seeded {inserted} of {} rows in {:.2} s",
        args.rows,
        started.elapsed().as_secs_f64()
    );
    DB_PATH
        .set(args.db)
        .map_err(|_| "the database path was set twice")?;

    let app = Router::new().route("/notes/{id}", get(get_note));
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}
