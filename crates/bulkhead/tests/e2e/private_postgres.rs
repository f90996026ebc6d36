//! A PostgreSQL server of one test's own, for the tests that crash it: the
//! server other tests share must never be stopped. Made with the binaries
//! `pg_config --bindir` names (`initdb` into a temporary directory, then
//! `pg_ctl`), listening on a free loopback port with trust authentication,
//! `fsync` and `synchronous_commit` on, as in production. PostgreSQL refuses
//! to run as root: as root, its commands run as the `postgres` OS user,
//! which owns the directory.
//!
//! Without the binaries (or, as root, without a `postgres` user) a test is
//! skipped with a message, except under `CI=true`, where it fails. The
//! server is stopped when the [`PrivatePostgres`] is dropped, even when the
//! test failed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use sqlx::{Connection, PgConnection};
use tokio::process::Command;

use crate::support::{run, stderr_of, stdout_of};

/// The OS user PostgreSQL runs as when the tests run as root.
const OS_USER: &str = "postgres";

/// The database the tests migrate and serve.
const DATABASE: &str = "bulkhead";

pub struct PrivatePostgres {
    bindir: PathBuf,
    /// Holds the data directory, the socket and the server's log.
    dir: tempfile::TempDir,
    port: u16,
    /// Whether the commands run as [`OS_USER`] (the tests run as root).
    as_os_user: bool,
}

impl PrivatePostgres {
    /// A new cluster, started, with an empty [`DATABASE`]; `None` (with a
    /// message) when PostgreSQL's binaries are not here, outside CI.
    pub async fn start() -> Option<PrivatePostgres> {
        let bindir = match binaries() {
            Ok(bindir) => bindir,
            Err(reason) => return unavailable(&reason),
        };
        let as_os_user = running_as_root();
        if as_os_user && !os_user_exists() {
            return unavailable(&format!(
                "the tests run as root and there is no `{OS_USER}` OS user to run PostgreSQL as"
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        if as_os_user {
            let chowned = std::process::Command::new("chown")
                .arg("-R")
                .arg(format!("{OS_USER}:"))
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(
                chowned.success(),
                "chown {OS_USER} {}",
                dir.path().display()
            );
        }
        let cluster = PrivatePostgres {
            bindir,
            dir,
            port: free_port(),
            as_os_user,
        };
        let mut initdb = cluster.command("initdb");
        initdb
            .arg("--pgdata")
            .arg(cluster.data_dir())
            .args(["--username", "postgres", "--auth", "trust"])
            .args(["--encoding", "UTF8", "--no-locale"])
            // Only initdb's own flush of the new files: the cluster is
            // thrown away after the test, and what the test relies on is
            // the server's flush of its WAL at each commit.
            .arg("--no-sync");
        cluster.succeed(initdb).await;
        cluster.start_server().await;
        let mut admin = PgConnection::connect(&cluster.admin_url()).await.unwrap();
        sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {DATABASE}").as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();
        Some(cluster)
    }

    /// The superuser's URL of [`DATABASE`], for `bulkhead migrate`.
    pub fn owner_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// `role`'s URL of [`DATABASE`].
    pub fn url_as(&self, role: &str) -> String {
        format!("postgres://{role}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again, on the same port after [`Self::crash`]:
    /// it recovers from its WAL first) and waits until it accepts
    /// connections.
    pub async fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on",
            self.port,
            self.dir.path().display()
        );
        let mut start = self.pg_ctl();
        start.arg("--log").arg(self.log_file()).args([
            "--wait",
            "--timeout",
            "60",
            "-o",
            &options,
            "start",
        ]);
        self.succeed(start).await;
    }

    /// Stops the server the way a crash would (`pg_ctl stop -m immediate`:
    /// every process quits at once, nothing is checkpointed) and waits until
    /// it is gone.
    pub async fn crash(&self) {
        let mut stop = self.pg_ctl();
        stop.args(["--mode", "immediate", "--wait", "stop"]);
        self.succeed(stop).await;
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn pg_ctl(&self) -> Command {
        let mut command = self.command("pg_ctl");
        command.arg("--pgdata").arg(self.data_dir());
        command
    }

    /// One of PostgreSQL's programs, as [`OS_USER`] when the tests run as
    /// root.
    fn command(&self, program: &str) -> Command {
        let program = self.bindir.join(program);
        if self.as_os_user {
            let mut command = Command::new("runuser");
            command.args(["-u", OS_USER, "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    /// Runs `command` to its end; on failure, panics with its output and
    /// the server's log.
    async fn succeed(&self, command: Command) -> Output {
        let described = format!("{:?}", command.as_std());
        let output = run(command, None).await;
        assert!(
            output.status.success(),
            "{described}: {:?}\nstdout:\n{}\nstderr:\n{}\nserver log:\n{}",
            output.status,
            stdout_of(&output),
            stderr_of(&output),
            std::fs::read_to_string(self.log_file()).unwrap_or_default()
        );
        output
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Drop cannot await; pg_ctl is quick. Already stopped when the test
        // crashed the server and failed before starting it again.
        let mut stop = std::process::Command::new(if self.as_os_user {
            PathBuf::from("runuser")
        } else {
            self.bindir.join("pg_ctl")
        });
        if self.as_os_user {
            stop.args(["-u", OS_USER, "--"])
                .arg(self.bindir.join("pg_ctl"));
        }
        let _ = stop
            .arg("--pgdata")
            .arg(self.data_dir())
            .args(["--mode", "immediate", "--wait", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The directory of PostgreSQL's programs, from `pg_config --bindir`.
fn binaries() -> Result<PathBuf, String> {
    let output = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .map_err(|error| format!("pg_config could not be run: {error}"))?;
    if !output.status.success() {
        return Err(format!("pg_config --bindir failed: {:?}", output.status));
    }
    let bindir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    for program in ["initdb", "pg_ctl"] {
        if !Path::new(&bindir).join(program).is_file() {
            return Err(format!("{program} is not in {}", bindir.display()));
        }
    }
    Ok(bindir)
}

fn running_as_root() -> bool {
    let output = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

fn os_user_exists() -> bool {
    std::process::Command::new("id")
        .arg(OS_USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A port nothing listens on now. Another process could take it before
/// PostgreSQL does; on this loopback interface, in a test, that is unlikely
/// enough, and the start then fails loudly rather than wrongly.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Skips with a message, or fails under `CI=true`.
#[allow(
    clippy::disallowed_methods,
    reason = "tests read their own environment"
)]
fn unavailable(reason: &str) -> Option<PrivatePostgres> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{reason}; under CI the PostgreSQL crash tests must run");
    }
    eprintln!("SKIPPED: {reason}; the PostgreSQL crash tests need PostgreSQL's server binaries");
    None
}
