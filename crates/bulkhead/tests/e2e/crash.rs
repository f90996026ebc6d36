//! Crashes under a hot-tenant load (issue 20, and issue 21 for the ledger):
//! many clients write in one tenant at once over HTTP, and mid-load the
//! server is killed with SIGKILL (on both backends), or PostgreSQL stops the
//! way a crash stops it (`pg_ctl stop -m immediate`, on a server of the
//! test's own: see [`crate::private_postgres`]). Afterwards every write that
//! was answered 201 is there, and `bulkhead audit verify` finds the tenant's
//! chain whole, with as many entries as the log lists.
//!
//! The load and the crashes are the same for every kind of write: a
//! [`Workload`] says what is written and what must hold afterwards. Here,
//! record creates: every record has its `record.create` audit entry (and no
//! entry is without its record). Ledger transfers: [`crate::crash_ledger`].
//!
//! Requests that failed or got no answer during the crash may or may not
//! have been written: only the 201s are promises.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bulkhead_client::types::{AuditQuery, RecordQuery, TenantView};
use bulkhead_client::{Client, Method};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::harness::{Account, Backend, PASSWORD, TestServer};
use crate::identity_audit_admin::all_audit;
use crate::postgres::{APP_ROLE, migrate_command_distributing};
use crate::private_postgres::PrivatePostgres;
use crate::records_common::{all_records, record_path, records_path, tenant_with_tasks};
use crate::support::{assert_success, run, stdout_of};

/// Clients writing in the one tenant at once.
pub const CLIENTS: usize = 16;

/// Writes answered 201 before the crash: enough that the crash lands in a
/// busy chain, few enough to keep the test short.
const ACKNOWLEDGED_BEFORE_CRASH: usize = 300;

/// Writes answered 201 after PostgreSQL is back, before the load stops:
/// the chain goes on across the crash.
const ACKNOWLEDGED_AFTER_RECOVERY: usize = 100;

/// A bound on waiting for a condition (never a measure of speed).
const PATIENCE: Duration = Duration::from_secs(60);

/// One kind of write the crash tests load a tenant with, and what must
/// hold of it after the crash.
pub trait Workload: Send + Sync + Sized + 'static {
    /// What is kept of a write answered 201, beside the id it was given.
    type Sent: Debug + Send + 'static;

    /// What the writes are, for messages: "creates", "transfers".
    const WHAT: &'static str;

    /// A tenant on `server` ready for the load: its owner, the tenant, and
    /// the workload (which knows what it made there).
    async fn prepare(server: &TestServer) -> (Account, TenantView, Self);

    /// Client `worker`'s `n`th write (every one different): the client to
    /// send it with (`client`, with any header the write needs), the path,
    /// the body, and what to keep of it.
    fn write(&self, client: &Client, worker: usize, n: u64) -> (Client, String, Value, Self::Sent);

    /// One write made after the server was started again, which must
    /// succeed: its id and what is kept of it.
    async fn write_after_restart(&self, client: &Client, tenant: &str) -> (Uuid, Self::Sent);

    /// Asserts, once the load is over and the server is back, that every
    /// write in `acknowledged` is there and the tenant is as it must be.
    async fn check(
        &self,
        server: &TestServer,
        owner: &Account,
        tenant: &TenantView,
        acknowledged: &BTreeMap<Uuid, Self::Sent>,
    );
}

/// Acknowledged writes survive a server killed mid-load (SIGKILL), and the
/// server started again on the same data goes on with the chain.
pub async fn survive_a_killed_server<W: Workload>(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let started = Instant::now();
    let (owner, tenant, workload) = W::prepare(&server).await;
    let workload = Arc::new(workload);
    let load = Load::start(&owner.client, workload.clone());
    load.wait_for_acknowledged(ACKNOWLEDGED_BEFORE_CRASH).await;
    let status = server.server.kill().await;
    eprintln!("killed the server ({status}) mid-load");
    let outcome = load.stop().await;
    outcome.print("a killed server", W::WHAT);

    server.restart().await;
    let owner = server.login(&owner.email, PASSWORD).await;
    // Written after the restart: the chain goes on from where it stopped.
    let (id, sent) = workload
        .write_after_restart(&owner.client, &tenant.slug)
        .await;
    let mut acknowledged = outcome.acknowledged;
    acknowledged.insert(id, sent);
    workload
        .check(&server, &owner, &tenant, &acknowledged)
        .await;
    eprintln!("the test took {:?}", started.elapsed());
}

/// Acknowledged writes survive PostgreSQL crashing mid-load; the server,
/// left running, serves again once PostgreSQL is back, and the chain goes
/// on across the crash.
pub async fn survive_a_postgres_crash<W: Workload>() {
    let started = Instant::now();
    let Some(cluster) = PrivatePostgres::start().await else {
        return;
    };
    // A single node: the cluster is this test's own, never Citus.
    let mut migrate = migrate_command_distributing(false);
    migrate.arg(cluster.owner_url());
    assert_success(&run(migrate, None).await);
    let server = TestServer::start_on_postgres_at(&cluster.url_as(APP_ROLE)).await;
    let (owner, tenant, workload) = W::prepare(&server).await;
    let workload = Arc::new(workload);

    let load = Load::start(&owner.client, workload.clone());
    load.wait_for_acknowledged(ACKNOWLEDGED_BEFORE_CRASH).await;
    cluster.crash().await;
    let at_crash = load.n_acknowledged();
    eprintln!(
        "crashed PostgreSQL mid-load after {at_crash} acknowledged {}",
        W::WHAT
    );
    cluster.start_server().await;
    let at_restart = load.n_acknowledged();
    eprintln!(
        "PostgreSQL is back; {at_restart} {} acknowledged so far",
        W::WHAT
    );
    load.wait_for_acknowledged(at_restart + ACKNOWLEDGED_AFTER_RECOVERY)
        .await;
    let outcome = load.stop().await;
    outcome.print("a PostgreSQL crash", W::WHAT);

    workload
        .check(&server, &owner, &tenant, &outcome.acknowledged)
        .await;
    eprintln!("the test took {:?}", started.elapsed());
    drop(server);
    drop(cluster);
}

/// Acknowledged record creates survive a killed server.
async fn acknowledged_creates_survive_a_killed_server(backend: Backend) {
    survive_a_killed_server::<Creates>(backend).await;
}
scenario!(acknowledged_creates_survive_a_killed_server, backend);

/// Acknowledged record creates survive a PostgreSQL crash.
#[tokio::test]
async fn acknowledged_creates_survive_a_postgres_crash() {
    survive_a_postgres_crash::<Creates>().await;
}

/// [`CLIENTS`] tasks making a [`Workload`]'s writes, each until told to
/// stop, keeping what every answer said.
struct Load<W: Workload> {
    workers: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    n_acknowledged: watch::Receiver<usize>,
    outcome: Arc<Mutex<Outcome<W::Sent>>>,
}

/// What the writes of a [`Load`] were answered.
struct Outcome<S> {
    /// Id → what was sent, for every write answered 201.
    acknowledged: BTreeMap<Uuid, S>,
    /// Status → how many writes were answered with it, for the others.
    refused: BTreeMap<u16, usize>,
    /// Writes that got no answer (the connection failed or closed).
    unanswered: usize,
    /// The first few reasons a write got no answer, for the record.
    unanswered_examples: Vec<String>,
}

impl<S> Default for Outcome<S> {
    fn default() -> Self {
        Outcome {
            acknowledged: BTreeMap::new(),
            refused: BTreeMap::new(),
            unanswered: 0,
            unanswered_examples: Vec::new(),
        }
    }
}

impl<W: Workload> Load<W> {
    fn start(client: &Client, workload: Arc<W>) -> Load<W> {
        let stop = Arc::new(AtomicBool::new(false));
        let (acknowledged, n_acknowledged) = watch::channel(0_usize);
        let acknowledged = Arc::new(acknowledged);
        let outcome = Arc::new(Mutex::new(Outcome::default()));
        let workers = (0..CLIENTS)
            .map(|worker| {
                let (client, workload) = (client.clone(), workload.clone());
                let (stop, acknowledged, outcome) =
                    (stop.clone(), acknowledged.clone(), outcome.clone());
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(Ordering::Acquire) {
                        n += 1;
                        let (sender, path, body, sent) = workload.write(&client, worker, n);
                        let answer = sender.raw(Method::POST, &path, Some(body)).await;
                        let mut outcome = outcome.lock().unwrap();
                        match answer {
                            Ok(response) if response.status == 201 => {
                                let written: Value = response.json().unwrap();
                                let id = written["id"].as_str().unwrap().parse().unwrap();
                                outcome.acknowledged.insert(id, sent);
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

    /// Waits until `n` writes in all have been answered 201.
    async fn wait_for_acknowledged(&self, n: usize) {
        let mut receiver = self.n_acknowledged.clone();
        tokio::time::timeout(PATIENCE, receiver.wait_for(|count| *count >= n))
            .await
            .unwrap_or_else(|_| {
                let outcome = self.outcome.lock().unwrap();
                panic!(
                    "{} of {n} {} acknowledged after {PATIENCE:?}; refused: {:?}; \
                     {} unanswered: {:?}",
                    outcome.acknowledged.len(),
                    W::WHAT,
                    outcome.refused,
                    outcome.unanswered,
                    outcome.unanswered_examples
                )
            })
            .unwrap();
    }

    /// Stops the clients once their requests in flight are answered (or
    /// fail), and returns what every write was answered.
    async fn stop(self) -> Outcome<W::Sent> {
        self.stop.store(true, Ordering::Release);
        for worker in self.workers {
            worker.await.unwrap();
        }
        std::mem::take(&mut *self.outcome.lock().unwrap())
    }
}

impl<S> Outcome<S> {
    fn print(&self, crash: &str, what: &str) {
        let n_refused: usize = self.refused.values().sum();
        eprintln!(
            "under {crash}: {} {what} acknowledged (201), {n_refused} refused {:?}, \
             {} unanswered {:?}",
            self.acknowledged.len(),
            self.refused,
            self.unanswered,
            self.unanswered_examples
        );
    }
}

/// Record creates in one tenant's `tasks` collection, each titled after
/// its client and its number.
struct Creates {
    /// The tenant's slug.
    tenant: String,
}

impl Workload for Creates {
    /// The title.
    type Sent = String;

    const WHAT: &'static str = "creates";

    async fn prepare(server: &TestServer) -> (Account, TenantView, Creates) {
        let (owner, tenant) = tenant_with_tasks(server, "hot", "tenant").await;
        let creates = Creates {
            tenant: tenant.slug.clone(),
        };
        (owner, tenant, creates)
    }

    fn write(&self, client: &Client, worker: usize, n: u64) -> (Client, String, Value, String) {
        let title = format!("client {worker} create {n}");
        let body = json!({ "title": title });
        (
            client.clone(),
            records_path(&self.tenant, "tasks"),
            body,
            title,
        )
    }

    async fn write_after_restart(&self, client: &Client, tenant: &str) -> (Uuid, String) {
        create_one(client, tenant, "after the restart").await
    }

    async fn check(
        &self,
        server: &TestServer,
        owner: &Account,
        tenant: &TenantView,
        acknowledged: &BTreeMap<Uuid, String>,
    ) {
        check_durable(server, owner, tenant, acknowledged).await;
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

    let stored_ids: BTreeSet<Uuid> = stored.keys().copied().collect();
    assert_audit_matches(server, owner, tenant, "record.create", &stored_ids).await;
}

/// The successful `action` entries of the tenant's audit log name exactly
/// the resources in `stored`; `bulkhead audit verify` finds the tenant's
/// chain whole, with every entry the log lists, and every other chain
/// whole.
pub async fn assert_audit_matches(
    server: &TestServer,
    owner: &Account,
    tenant: &TenantView,
    action: &str,
    stored: &BTreeSet<Uuid>,
) {
    let whole = AuditQuery {
        limit: Some(100),
        ..AuditQuery::default()
    };
    let log = all_audit(&owner.client, &tenant.slug, &whole).await;
    let audited: BTreeSet<Uuid> = log
        .iter()
        .filter(|entry| entry.action == action && entry.outcome == "success")
        .map(|entry| entry.resource_id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        audited.difference(stored).collect::<Vec<_>>(),
        Vec::<&Uuid>::new(),
        "{action} entries of what is not there"
    );
    assert_eq!(
        stored.difference(&audited).collect::<Vec<_>>(),
        Vec::<&Uuid>::new(),
        "stored without its {action} entry"
    );
    assert_chains_whole(server, tenant, log.len()).await;
}

/// `bulkhead audit verify` finds the tenant's chain whole with `n_entries`
/// entries (as many as its log lists), and every other chain whole.
async fn assert_chains_whole(server: &TestServer, tenant: &TenantView, n_entries: usize) {
    // Its log lines may come first on stdout (a warning about the database).
    let verify = ["audit", "verify", "--tenant", tenant.slug.as_str()];
    let verified = assert_success(&server.cli(&verify).await);
    let expected = format!("ok tenant {}: {n_entries} entries", tenant.id);
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
