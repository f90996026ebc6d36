//! Crashes under a hot-tenant load (issue 20): many clients create records
//! in one tenant at once over HTTP, and mid-load the server is killed with
//! SIGKILL (on both backends), or PostgreSQL stops the way a crash stops it
//! (`pg_ctl stop -m immediate`, on a server of the test's own: see
//! [`crate::private_postgres`]). Afterwards every create that was answered
//! 201 is there and readable, every record has its `record.create` audit
//! entry (and no entry is without its record), and `bulkhead audit verify`
//! finds the tenant's chain whole, with as many entries as the log lists.
//!
//! Requests that failed or got no answer during the crash may or may not
//! have been written: only the 201s are promises.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bulkhead_client::types::{AuditQuery, RecordQuery, RecordView, TenantView};
use bulkhead_client::{Client, Method};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::harness::{Account, Backend, PASSWORD, TestServer};
use crate::identity_audit_admin::all_audit;
use crate::postgres::{APP_ROLE, migrate_command_distributing};
use crate::private_postgres::PrivatePostgres;
use crate::records_common::{all_records, record_path, records_path, tenant_with_tasks};
use crate::support::{assert_success, run, stdout_of};

/// Clients creating records in the one tenant at once.
const CLIENTS: usize = 16;

/// Creates answered 201 before the crash: enough that the crash lands in
/// a busy chain, few enough to keep the test short.
const ACKNOWLEDGED_BEFORE_CRASH: usize = 300;

/// Creates answered 201 after PostgreSQL is back, before the load stops:
/// the chain goes on across the crash.
const ACKNOWLEDGED_AFTER_RECOVERY: usize = 100;

/// A bound on waiting for a condition (never a measure of speed).
const PATIENCE: Duration = Duration::from_secs(60);

/// Acknowledged creates survive a server killed mid-load (SIGKILL), and
/// the server started again on the same data goes on with the chain.
async fn acknowledged_creates_survive_a_killed_server(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let started = Instant::now();
    let (owner, tenant) = tenant_with_tasks(&server, "hot", "tenant").await;
    let load = Load::start(&owner.client, &tenant.slug);
    load.wait_for_acknowledged(ACKNOWLEDGED_BEFORE_CRASH).await;
    let status = server.server.kill().await;
    eprintln!("killed the server ({status}) mid-load");
    let outcome = load.stop().await;
    outcome.print("a killed server");

    server.restart().await;
    let owner = server.login(&owner.email, PASSWORD).await;
    // Written after the restart: the chain goes on from where it stopped.
    let after = create_one(&owner.client, &tenant.slug, "after the restart").await;
    let mut acknowledged = outcome.acknowledged;
    acknowledged.insert(after.0, after.1);
    check_durable(&server, &owner, &tenant, &acknowledged).await;
    eprintln!("the test took {:?}", started.elapsed());
}
scenario!(acknowledged_creates_survive_a_killed_server, backend);

/// Acknowledged creates survive PostgreSQL crashing mid-load; the server,
/// left running, serves again once PostgreSQL is back, and the chain goes
/// on across the crash.
#[tokio::test]
async fn acknowledged_creates_survive_a_postgres_crash() {
    let started = Instant::now();
    let Some(cluster) = PrivatePostgres::start().await else {
        return;
    };
    // A single node: the cluster is this test's own, never Citus.
    let mut migrate = migrate_command_distributing(false);
    migrate.arg(cluster.owner_url());
    assert_success(&run(migrate, None).await);
    let server = TestServer::start_on_postgres_at(&cluster.url_as(APP_ROLE)).await;
    let (owner, tenant) = tenant_with_tasks(&server, "hot", "tenant").await;

    let load = Load::start(&owner.client, &tenant.slug);
    load.wait_for_acknowledged(ACKNOWLEDGED_BEFORE_CRASH).await;
    cluster.crash().await;
    let at_crash = load.n_acknowledged();
    eprintln!("crashed PostgreSQL mid-load after {at_crash} acknowledged creates");
    cluster.start_server().await;
    let at_restart = load.n_acknowledged();
    eprintln!("PostgreSQL is back; {at_restart} creates acknowledged so far");
    load.wait_for_acknowledged(at_restart + ACKNOWLEDGED_AFTER_RECOVERY)
        .await;
    let outcome = load.stop().await;
    outcome.print("a PostgreSQL crash");

    check_durable(&server, &owner, &tenant, &outcome.acknowledged).await;
    eprintln!("the test took {:?}", started.elapsed());
    drop(server);
    drop(cluster);
}

/// [`CLIENTS`] tasks creating records in one tenant's `tasks`, each until
/// told to stop, keeping what every answer said.
struct Load {
    workers: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    n_acknowledged: watch::Receiver<usize>,
    outcome: Arc<Mutex<Outcome>>,
}

/// What the creates of a [`Load`] were answered.
#[derive(Default)]
struct Outcome {
    /// Record id → title, for every create answered 201.
    acknowledged: BTreeMap<Uuid, String>,
    /// Status → how many creates were answered with it, for the others.
    refused: BTreeMap<u16, usize>,
    /// Creates that got no answer (the connection failed or closed).
    unanswered: usize,
    /// The first few reasons a create got no answer, for the record.
    unanswered_examples: Vec<String>,
}

impl Load {
    fn start(client: &Client, tenant: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let (acknowledged, n_acknowledged) = watch::channel(0_usize);
        let acknowledged = Arc::new(acknowledged);
        let outcome = Arc::new(Mutex::new(Outcome::default()));
        let workers = (0..CLIENTS)
            .map(|worker| {
                let (client, path) = (client.clone(), records_path(tenant, "tasks"));
                let (stop, acknowledged, outcome) =
                    (stop.clone(), acknowledged.clone(), outcome.clone());
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(Ordering::Acquire) {
                        n += 1;
                        let title = format!("client {worker} create {n}");
                        let body = json!({ "title": title });
                        let answer = client.raw(Method::POST, &path, Some(body)).await;
                        let mut outcome = outcome.lock().unwrap();
                        match answer {
                            Ok(response) if response.status == 201 => {
                                let record: RecordView = response.json().unwrap();
                                outcome.acknowledged.insert(record.id, title);
                                acknowledged.send_modify(|n| *n += 1);
                            }
                            Ok(response) => {
                                *outcome.refused.entry(response.status).or_default() += 1;
                            }
                            Err(error) => {
                                outcome.unanswered += 1;
                                if outcome.unanswered_examples.len() < 3 {
                                    outcome.unanswered_examples.push(error.to_string());
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        Load {
            workers,
            stop,
            n_acknowledged,
            outcome,
        }
    }

    fn n_acknowledged(&self) -> usize {
        *self.n_acknowledged.borrow()
    }

    /// Waits until `n` creates in all have been answered 201.
    async fn wait_for_acknowledged(&self, n: usize) {
        let mut receiver = self.n_acknowledged.clone();
        tokio::time::timeout(PATIENCE, receiver.wait_for(|count| *count >= n))
            .await
            .unwrap_or_else(|_| {
                let outcome = self.outcome.lock().unwrap();
                panic!(
                    "{} of {n} creates acknowledged after {PATIENCE:?}; refused: {:?}; \
                     {} unanswered: {:?}",
                    outcome.acknowledged.len(),
                    outcome.refused,
                    outcome.unanswered,
                    outcome.unanswered_examples
                )
            })
            .unwrap();
    }

    /// Stops the clients once their requests in flight are answered (or
    /// fail), and returns what every create was answered.
    async fn stop(self) -> Outcome {
        self.stop.store(true, Ordering::Release);
        for worker in self.workers {
            worker.await.unwrap();
        }
        std::mem::take(&mut *self.outcome.lock().unwrap())
    }
}

impl Outcome {
    fn print(&self, crash: &str) {
        let n_refused: usize = self.refused.values().sum();
        eprintln!(
            "under {crash}: {} creates acknowledged (201), {n_refused} refused {:?}, \
             {} unanswered {:?}",
            self.acknowledged.len(),
            self.refused,
            self.unanswered,
            self.unanswered_examples
        );
    }
}

/// Creates one record titled `title`; its id and title.
async fn create_one(client: &Client, tenant: &str, title: &str) -> (Uuid, String) {
    let record = client
        .create_record(tenant, "tasks", &json!({ "title": title }))
        .await
        .unwrap_or_else(|error| panic!("creating {title:?}: {error}"));
    (record.id, title.to_owned())
}

/// Every acknowledged create is stored with what was sent and readable on
/// its own; the records and the `record.create` entries of the audit log
/// are the same set; the tenant's chain verifies, with every entry the log
/// lists, and so do all the others.
async fn check_durable(
    server: &TestServer,
    owner: &Account,
    tenant: &TenantView,
    acknowledged: &BTreeMap<Uuid, String>,
) {
    let t = tenant.slug.as_str();
    let query = RecordQuery {
        limit: Some(100),
        ..RecordQuery::default()
    };
    let stored: BTreeMap<Uuid, String> = all_records(&owner.client, t, "tasks", &query)
        .await
        .into_iter()
        .map(|record| (record.id, record.data["title"].as_str().unwrap().to_owned()))
        .collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|(id, title)| stored.get(id) != Some(title))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creates are missing or changed: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    eprintln!(
        "{} records stored: the {} acknowledged and {} whose answer was lost",
        stored.len(),
        acknowledged.len(),
        stored.len() - acknowledged.len()
    );
    let unreadable = unreadable(&owner.client, t, acknowledged.keys().copied()).await;
    assert!(
        unreadable.is_empty(),
        "acknowledged records that cannot be read: {unreadable:?}"
    );

    let whole = AuditQuery {
        limit: Some(100),
        ..AuditQuery::default()
    };
    let log = all_audit(&owner.client, t, &whole).await;
    let audited: BTreeSet<Uuid> = log
        .iter()
        .filter(|entry| entry.action == "record.create")
        .map(|entry| entry.resource_id.as_deref().unwrap().parse().unwrap())
        .collect();
    let stored_ids: BTreeSet<Uuid> = stored.keys().copied().collect();
    assert_eq!(
        audited.difference(&stored_ids).collect::<Vec<_>>(),
        Vec::<&Uuid>::new(),
        "record.create entries of records that are not there"
    );
    assert_eq!(
        stored_ids.difference(&audited).collect::<Vec<_>>(),
        Vec::<&Uuid>::new(),
        "records without their record.create entry"
    );

    // Its log lines may come first on stdout (a warning about the database).
    let verified = assert_success(&server.cli(&["audit", "verify", "--tenant", t]).await);
    let expected = format!("ok tenant {}: {} entries", tenant.id, log.len());
    assert!(
        verified.lines().any(|line| line == expected),
        "`{expected}` expected from audit verify:\n{verified}"
    );
    let all = server.cli(&["audit", "verify"]).await;
    assert!(
        all.status.success(),
        "audit verify of every chain:\n{}",
        stdout_of(&all)
    );
    eprintln!("{expected}");
}

/// The ids among `ids` whose record cannot be read on its own, read by
/// [`CLIENTS`] clients at once.
async fn unreadable(client: &Client, t: &str, ids: impl Iterator<Item = Uuid>) -> Vec<Uuid> {
    let ids = Arc::new(Mutex::new(ids.collect::<Vec<_>>()));
    let readers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, t, ids) = (client.clone(), t.to_owned(), ids.clone());
            tokio::spawn(async move {
                let mut unreadable = Vec::new();
                loop {
                    let Some(id) = ids.lock().unwrap().pop() else {
                        return unreadable;
                    };
                    let path = record_path(&t, "tasks", id);
                    let response = client.raw(Method::GET, &path, None).await.unwrap();
                    if response.status != 200 {
                        unreadable.push(id);
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for reader in readers {
        all.extend(reader.await.unwrap());
    }
    all
}
