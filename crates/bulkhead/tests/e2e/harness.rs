//! The harness of the identity and access scenarios: one [`TestServer`] per
//! test, on SQLite or on PostgreSQL, with a typed client and the helpers the
//! scenarios share (sign up, create a tenant, add a member with a role, make
//! a platform admin), and [`scenario!`], which turns one async scenario into
//! a test per backend.
//!
//! A PostgreSQL server gets a database of its own, migrated by
//! `bulkhead migrate` as the superuser owner and served as the runtime role;
//! the database is dropped when the [`TestServer`] is, even when the test
//! failed. Without a reachable PostgreSQL the PostgreSQL variant of every
//! scenario is skipped with a message (and fails under `CI=true`), as in
//! [`crate::postgres`].

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};

use bulkhead_client::types::{
    AcceptInvitationRequest, CreateInvitationRequest, CreateTenantRequest, LoginRequest, Problem,
    Role, SignupRequest, TenantView, TokenResponse,
};
use bulkhead_client::{Client, ClientError, Method, RawResponse};
use uuid::Uuid;

use crate::contract::checked;
use crate::postgres::{PgDatabase, migrate_command};
use crate::proxy::PgProxy;
use crate::support::{Server, assert_success, bulkhead, run};

/// The password of every account the scenarios make, unless one says
/// otherwise. Long enough for the policy and not a common password.
pub const PASSWORD: &str = "e2e correct horse battery staple";

/// The password of the platform admins made with [`Options::admin`].
pub const ADMIN_PASSWORD: &str = "e2e platform admin passphrase";

/// Which store the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Turns one async scenario into two tests, `<name>::sqlite` and
/// `<name>::postgres`, in a module named after the scenario (run one
/// backend with `cargo test -- ::sqlite`).
///
/// `scenario!(name)` calls `async fn name(server: TestServer)` with a server
/// started with the default options; `scenario!(name, backend)` calls
/// `async fn name(backend: Backend)`, which starts its own servers (with
/// options, or more than one).
macro_rules! scenario {
    ($name:ident) => {
        mod $name {
            async fn start(backend: $crate::harness::Backend) {
                if let Some(server) = $crate::harness::TestServer::start(backend).await {
                    super::$name(server).await;
                }
            }

            #[tokio::test]
            async fn sqlite() {
                start($crate::harness::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                start($crate::harness::Backend::Postgres).await;
            }
        }
    };
    ($name:ident, backend) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::harness::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name($crate::harness::Backend::Postgres).await;
            }
        }
    };
}

/// How to start a [`TestServer`].
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Platform admins to create (with [`ADMIN_PASSWORD`]) before serving.
    admins: Vec<String>,
    /// Extra environment of `bulkhead serve`.
    env: Vec<(String, String)>,
    /// Accounts written through the schema as it was before email keys.
    accounts_before_email_keys: Vec<String>,
}

impl Options {
    /// Creates a platform admin with this email before the server starts.
    pub fn admin(mut self, email: &str) -> Self {
        self.admins.push(email.to_owned());
        self
    }

    /// Starts from a database at the schema before email keys (SQLite
    /// migration 6, PostgreSQL migration 2) holding these accounts, made in
    /// this order with [`PASSWORD`] and their addresses stored verbatim, as
    /// an older Bulkhead could have; the server's own migration then runs
    /// over them.
    pub fn account_before_email_keys(mut self, email: &str) -> Self {
        self.accounts_before_email_keys.push(email.to_owned());
        self
    }

    /// Sets an environment variable of `bulkhead serve`.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Where a server's data lives, for the CLI commands run beside it.
enum Store {
    Sqlite {
        data_dir: PathBuf,
    },
    Postgres {
        database: PgDatabase,
    },
    /// A migrated database on a PostgreSQL server the test runs itself (the
    /// crash tests stop it), reached at this runtime role's URL; the test
    /// owns the server and the database.
    PostgresAt {
        app_url: String,
    },
}

/// A server's database as a test reaches it beside the server, as its
/// owner: to inject a fault, or to read what the API does not show.
pub enum Database {
    /// The SQLite database file.
    SqliteFile(PathBuf),
    /// A superuser's URL of the PostgreSQL database (the role that ran
    /// `bulkhead migrate`).
    PostgresOwner(String),
}

/// A signed-in account: its client (carrying the access token), the tokens
/// it got, and its email.
#[derive(Debug, Clone)]
pub struct Account {
    pub client: Client,
    pub tokens: TokenResponse,
    pub email: String,
}

impl Account {
    pub fn id(&self) -> Uuid {
        self.tokens.user.id
    }

    /// Any request as this account, answered (the answer is checked
    /// against the OpenAPI document like every other).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> RawResponse {
        request(&self.client, method, path, body).await
    }
}

/// Any request through `client`, answered (the answer is checked against
/// the OpenAPI document like every other).
pub async fn request(
    client: &Client,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> RawResponse {
    client.raw(method, path, body).await.unwrap()
}

/// A running `bulkhead serve` on one backend, with an anonymous client
/// whose answers (and those of every copy made of it) are checked against
/// the OpenAPI document ([`crate::contract`]).
/// Fields drop in order: the server stops before its database goes.
pub struct TestServer {
    pub server: Server,
    /// Sends no credentials; `with_token` makes an authenticated copy.
    pub anon: Client,
    store: Store,
    /// Keeps the temporary directory (SQLite data, unused PostgreSQL data
    /// directory) alive as long as the server.
    dir: tempfile::TempDir,
    /// The extra environment of `bulkhead serve`, kept for a restart.
    env: Vec<(String, String)>,
    counter: AtomicU32,
}

impl TestServer {
    /// A server with the default options, or `None` when the backend is
    /// PostgreSQL and none is reachable (outside CI).
    pub async fn start(backend: Backend) -> Option<TestServer> {
        TestServer::start_with(backend, Options::default()).await
    }

    pub async fn start_with(backend: Backend, options: Options) -> Option<TestServer> {
        let dir = tempfile::tempdir().unwrap();
        let store = match backend {
            Backend::Sqlite => {
                let data_dir = dir.path().join("data");
                if !options.accounts_before_email_keys.is_empty() {
                    legacy::seed_sqlite(&data_dir, &options.accounts_before_email_keys);
                }
                Store::Sqlite { data_dir }
            }
            Backend::Postgres => {
                let database = PgDatabase::create().await?;
                if !options.accounts_before_email_keys.is_empty() {
                    legacy::seed_postgres(
                        &database.owner_url(),
                        &options.accounts_before_email_keys,
                    )
                    .await;
                }
                let mut migrate = migrate_command();
                migrate.arg(database.owner_url());
                assert_success(&run(migrate, None).await);
                Store::Postgres { database }
            }
        };
        for email in &options.admins {
            let mut create = bulkhead(["admin", "create", "--email", email]);
            add_store_args(&mut create, &store);
            let stdin = format!("{ADMIN_PASSWORD}\n");
            assert_success(&run(create, Some(&stdin)).await);
        }
        Some(TestServer::serving(store, dir, options.env).await)
    }

    /// A server on the migrated database at `app_url` (a runtime role's
    /// URL) of a PostgreSQL server the test runs itself.
    pub async fn start_on_postgres_at(app_url: &str) -> TestServer {
        let store = Store::PostgresAt {
            app_url: app_url.to_owned(),
        };
        TestServer::serving(store, tempfile::tempdir().unwrap(), Vec::new()).await
    }

    async fn serving(
        store: Store,
        dir: tempfile::TempDir,
        env: Vec<(String, String)>,
    ) -> TestServer {
        let server = serve(&store, dir.path(), &env).await;
        let anon = anonymous_client(&server);
        TestServer {
            server,
            anon,
            store,
            dir,
            env,
            counter: AtomicU32::new(0),
        }
    }

    /// Starts `bulkhead serve` again on the same data, after the process
    /// was stopped (or killed: see [`Server::kill`]). The new process
    /// listens on another port: clients made before the restart, an
    /// [`Account`]'s included, no longer reach it.
    pub async fn restart(&mut self) {
        self.server = serve(&self.store, self.dir.path(), &self.env).await;
        self.anon = anonymous_client(&self.server);
    }

    /// Another `bulkhead serve` process on this server's PostgreSQL
    /// database, as a second replica of a deployment would be, with an
    /// anonymous client for it; `None` on SQLite, whose file one process
    /// serves.
    pub async fn replica(&self) -> Option<(Server, Client)> {
        if let Store::Sqlite { .. } = &self.store {
            return None;
        }
        let server = serve(&self.store, self.dir.path(), &[]).await;
        let client = anonymous_client(&server);
        Some((server, client))
    }

    /// Another replica, like [`TestServer::replica`], with `env` added to
    /// its environment; `None` on SQLite.
    pub async fn replica_with(&self, env: &[(&str, &str)]) -> Option<(Server, Client)> {
        if let Store::Sqlite { .. } = &self.store {
            return None;
        }
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let server = serve(&self.store, self.dir.path(), &env).await;
        let client = anonymous_client(&server);
        Some((server, client))
    }

    /// Another replica, like [`TestServer::replica`], whose every connection
    /// to PostgreSQL goes through a [`PgProxy`] the test controls, with
    /// `env` added to its environment; `None` on SQLite.
    pub async fn replica_through_proxy(
        &self,
        env: &[(&str, &str)],
    ) -> Option<(Server, Client, PgProxy)> {
        let Store::Postgres { database } = &self.store else {
            return None;
        };
        let mut url = url::Url::parse(&database.app_url()).unwrap();
        let upstream = url.socket_addrs(|| Some(5432)).unwrap()[0];
        let proxy = PgProxy::start(upstream);
        url.set_ip_host(proxy.addr().ip()).unwrap();
        url.set_port(Some(proxy.addr().port())).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        let server = serve_postgres(url.as_str(), self.dir.path(), &env).await;
        let client = Client::new(&format!("http://{}", server.addr)).unwrap();
        Some((server, client, proxy))
    }

    /// Stops the server with SIGTERM and returns its exit status, its whole
    /// stdout (the logs) and its stderr; then its database goes.
    pub async fn stop(self) -> (std::process::ExitStatus, String, String) {
        let TestServer { server, store, .. } = self;
        let stopped = server.stop_collecting_stdout("TERM").await;
        drop(store);
        stopped
    }

    /// Stops the server like [`Self::stop`], then runs a `bulkhead`
    /// command against its database (what the server wrote at shutdown
    /// included) before the database goes.
    pub async fn stop_then_cli(
        self,
        args: &[&str],
    ) -> ((std::process::ExitStatus, String, String), Output) {
        let TestServer { server, store, .. } = self;
        let stopped = server.stop_collecting_stdout("TERM").await;
        let mut command = bulkhead(args);
        add_store_args(&mut command, &store);
        let output = run(command, None).await;
        drop(store);
        (stopped, output)
    }

    /// Where this server's data is, to reach it as its owner; `None` for a
    /// database on a PostgreSQL server the test runs itself.
    pub fn database(&self) -> Option<Database> {
        match &self.store {
            Store::Sqlite { data_dir } => Some(Database::SqliteFile(
                bulkhead::database::sqlite_path(data_dir),
            )),
            Store::Postgres { database } => Some(Database::PostgresOwner(database.owner_url())),
            Store::PostgresAt { .. } => None,
        }
    }

    /// A number unique within this server, for names and emails.
    pub fn unique(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs a `bulkhead` command against this server's database, e.g.
    /// `["audit", "verify"]`; the store flags are appended.
    pub async fn cli(&self, args: &[&str]) -> Output {
        let mut command = bulkhead(args);
        add_store_args(&mut command, &self.store);
        run(command, None).await
    }

    /// Signs up `email` with [`PASSWORD`].
    pub async fn signup(&self, email: &str) -> Account {
        self.signup_with(email, PASSWORD).await
    }

    pub async fn signup_with(&self, email: &str, password: &str) -> Account {
        let tokens = self
            .anon
            .signup(&SignupRequest {
                email: email.to_owned(),
                password: password.to_owned(),
                display_name: None,
            })
            .await
            .unwrap_or_else(|error| panic!("signing up {email}: {error}"));
        self.account(email, tokens)
    }

    /// Signs in again: a new session.
    pub async fn login(&self, email: &str, password: &str) -> Account {
        let tokens = self
            .anon
            .login(&LoginRequest {
                email: email.to_owned(),
                password: password.to_owned(),
            })
            .await
            .unwrap_or_else(|error| panic!("logging in {email}: {error}"));
        self.account(email, tokens)
    }

    /// Signs in as a platform admin made with [`Options::admin`].
    pub async fn login_admin(&self, email: &str) -> Account {
        self.login(email, ADMIN_PASSWORD).await
    }

    /// An account for `tokens`, with a client carrying its access token.
    pub fn account(&self, email: &str, tokens: TokenResponse) -> Account {
        Account {
            client: self.anon.with_token(&tokens.access_token),
            tokens,
            email: email.to_owned(),
        }
    }

    /// `owner` creates a tenant with this slug, named after it.
    pub async fn create_tenant(&self, owner: &Account, slug: &str) -> TenantView {
        owner
            .client
            .create_tenant(&CreateTenantRequest {
                slug: slug.to_owned(),
                name: tenant_name(slug),
            })
            .await
            .unwrap_or_else(|error| panic!("creating tenant {slug}: {error}"))
    }

    /// Signs up `email` and brings it into `tenant` with `role`, invited by
    /// `inviter` (an admin or owner there).
    pub async fn add_member(
        &self,
        inviter: &Account,
        tenant: &str,
        email: &str,
        role: Role,
    ) -> Account {
        let account = self.signup(email).await;
        self.invite_and_accept(inviter, tenant, &account, role)
            .await;
        account
    }

    /// `inviter` invites `account` into `tenant` with `role`; it accepts.
    pub async fn invite_and_accept(
        &self,
        inviter: &Account,
        tenant: &str,
        account: &Account,
        role: Role,
    ) {
        let invitation = inviter
            .client
            .create_invitation(
                tenant,
                &CreateInvitationRequest {
                    email: account.email.clone(),
                    role,
                },
            )
            .await
            .unwrap_or_else(|error| panic!("inviting {} to {tenant}: {error}", account.email));
        let accepted = account
            .client
            .accept_invitation(&AcceptInvitationRequest {
                token: invitation.token,
            })
            .await
            .unwrap_or_else(|error| panic!("{} accepting: {error}", account.email));
        assert_eq!(accepted.role, role);
    }
}

/// A client without credentials for `server`, its answers checked against
/// the OpenAPI document.
pub fn anonymous_client(server: &Server) -> Client {
    checked(Client::new(&format!("http://{}", server.addr)).unwrap())
}

/// The environment every test server starts with, under what a test adds:
/// new tenants on the unlimited plan, so that a test counts only what it
/// means to (the quota tests choose their plans).
const BASE_ENV: [(&str, &str); 1] = [("BULKHEAD_DEFAULT_PLAN", "enterprise")];

/// Starts `bulkhead serve` on `store`, with `env` added to its environment.
async fn serve(store: &Store, dir: &std::path::Path, env: &[(String, String)]) -> Server {
    let env: Vec<(String, String)> = BASE_ENV
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .chain(env.iter().cloned())
        .collect();
    let env = env.as_slice();
    match store {
        Store::Sqlite { .. } => {
            let mut serve = bulkhead(["serve", "--addr", "127.0.0.1:0"]);
            add_store_args(&mut serve, store);
            for (name, value) in env {
                serve.env(name, value);
            }
            Server::start_with(serve).await
        }
        Store::Postgres { database } => serve_postgres(&database.app_url(), dir, env).await,
        Store::PostgresAt { app_url } => serve_postgres(app_url, dir, env).await,
    }
}

/// Starts `bulkhead serve` on the PostgreSQL database at `url`.
async fn serve_postgres(url: &str, dir: &std::path::Path, env: &[(String, String)]) -> Server {
    let mut serve = bulkhead(["serve", "--addr", "127.0.0.1:0"]);
    // The data directory is not used on PostgreSQL; point it at the
    // temporary directory so nothing lands elsewhere.
    serve
        .arg("--data-dir")
        .arg(dir.join("unused"))
        .arg("--database-url")
        .arg(url);
    for (name, value) in env {
        serve.env(name, value);
    }
    Server::start_with(serve).await
}

fn add_store_args(command: &mut tokio::process::Command, store: &Store) {
    match store {
        Store::Sqlite { data_dir } => {
            command.arg("--data-dir").arg(data_dir);
        }
        Store::Postgres { database } => {
            command.arg("--database-url").arg(database.app_url());
        }
        Store::PostgresAt { app_url } => {
            command.arg("--database-url").arg(app_url);
        }
    }
}

/// The name [`TestServer::create_tenant`] gives a tenant.
pub fn tenant_name(slug: &str) -> String {
    format!("{slug} Holdings")
}

/// Whether `response` says that the first request with its
/// `Idempotency-Key` is still in flight (a 409 to retry after a second);
/// any other 409 fails the test.
#[track_caller]
pub fn is_in_flight(response: &RawResponse) -> bool {
    if response.status != 409 {
        return false;
    }
    expect_problem(response, 409, "idempotency_key_in_flight");
    assert_eq!(response.header("retry-after"), Some("1"));
    true
}

/// Asserts that `response` is a problem+json answer with `status` and
/// `code` (the body's `status` agreeing), and returns the problem.
#[track_caller]
pub fn expect_problem(response: &RawResponse, status: u16, code: &str) -> Problem {
    let context = || {
        format!(
            "{status} {code} expected; got {}: {}",
            response.status,
            response.text()
        )
    };
    assert_eq!(response.status, status, "{}", context());
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json"),
        "{}",
        context()
    );
    let problem = response
        .problem()
        .unwrap_or_else(|| panic!("not a problem: {}", context()));
    assert_eq!(problem.code, code, "{}", context());
    assert_eq!(problem.status, status, "{}", context());
    assert!(!problem.title.is_empty(), "{}", context());
    if code == "unauthenticated" {
        let challenge = response.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer"),
            "a 401 needs `WWW-Authenticate: Bearer`, got {challenge:?}: {}",
            context()
        );
    }
    problem
}

/// Asserts that a typed call failed with `status` and `code`.
#[track_caller]
pub fn expect_error<T: std::fmt::Debug>(
    result: Result<T, ClientError>,
    status: u16,
    code: &str,
) -> Problem {
    match result {
        Ok(value) => panic!("{status} {code} expected; the call succeeded with {value:?}"),
        Err(error) => {
            assert_eq!(error.status(), Some(status), "{code} expected: {error}");
            assert_eq!(error.code(), Some(code), "{status} expected: {error}");
            error.problem().cloned().unwrap()
        }
    }
}

/// The fields a 422 `validation_failed` problem names.
pub fn invalid_fields(problem: &Problem) -> BTreeSet<String> {
    problem.errors.iter().map(|e| e.field.clone()).collect()
}

/// Asserts an answer is not a server error, whatever else it is.
#[track_caller]
pub fn expect_not_5xx(response: &RawResponse, what: &str) {
    assert!(
        response.status < 500,
        "{what}: {} {}",
        response.status,
        response.text()
    );
}

/// Databases as Bulkhead left them before email keys (issue 17), for the
/// migration tests.
mod legacy {
    use std::path::Path;

    use bulkhead_domain::Password;
    use sqlx::{Connection, PgConnection};
    use uuid::Uuid;

    use super::PASSWORD;

    /// The last migration before email keys, per backend.
    const SQLITE_VERSION: i64 = 6;
    const POSTGRES_MIGRATIONS: &[&str] = &["0001_foundation.sql", "0002_records.sql"];

    fn password_hash() -> String {
        bulkhead_service::passwords::hash_password(&Password::parse(PASSWORD).unwrap()).unwrap()
    }

    pub fn seed_sqlite(data_dir: &Path, emails: &[String]) {
        std::fs::create_dir_all(data_dir).unwrap();
        let connection =
            rusqlite::Connection::open(bulkhead::database::sqlite_path(data_dir)).unwrap();
        bulkhead_store_sqlite::migrate::run_through(&connection, SQLITE_VERSION, 0).unwrap();
        let hash = password_hash();
        for (i, email) in emails.iter().enumerate() {
            let at = 1_700_000_000_000_000_i64 + i64::try_from(i).unwrap();
            connection
                .execute(
                    "INSERT INTO users (id, email, password_hash, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                    rusqlite::params![Uuid::now_v7().as_bytes().to_vec(), email, hash, at],
                )
                .unwrap();
        }
    }

    /// Applies the migrations before email keys the way `bulkhead migrate`
    /// would (sqlx records the same checksums), then writes the accounts.
    pub async fn seed_postgres(owner_url: &str, emails: &[String]) {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../store-postgres/migrations");
        let old = tempfile::tempdir().unwrap();
        for name in POSTGRES_MIGRATIONS {
            std::fs::copy(source.join(name), old.path().join(name)).unwrap();
        }
        let mut connection = PgConnection::connect(owner_url).await.unwrap();
        sqlx::migrate::Migrator::new(old.path())
            .await
            .unwrap()
            .run(&mut connection)
            .await
            .unwrap();
        let hash = password_hash();
        for (i, email) in emails.iter().enumerate() {
            sqlx::query(
                "INSERT INTO users (id, email, password_hash, created_at, updated_at)
                 VALUES ($1, $2, $3, now() + $4 * interval '1 second', now())",
            )
            .bind(Uuid::now_v7())
            .bind(email)
            .bind(&hash)
            .bind(i32::try_from(i).unwrap())
            .execute(&mut connection)
            .await
            .unwrap();
        }
        connection.close().await.unwrap();
    }
}
