//! Starting the binary and waiting on it without sleeping: a server is ready
//! when it prints its address, and finished when it exits.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::timeout;

const BIN: &str = env!("CARGO_BIN_EXE_bulkhead");

/// An upper bound on any one wait, so a broken binary fails the test
/// instead of hanging it. Never a delay: waits end as soon as the event does.
const PATIENCE: Duration = Duration::from_secs(60);

/// A `bulkhead` command with a clean settings environment.
pub fn bulkhead<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(BIN);
    command.args(args);
    without_settings(command)
}

/// Like [`bulkhead`], but the binary may open at most `limit` files: a
/// shell lowers the limit and replaces itself with the binary (`pre_exec`
/// would need unsafe code), so the process that tests signal is the server.
pub fn bulkhead_with_open_file_limit<I, S>(limit: u32, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args);
    without_settings(command)
}

fn without_settings(mut command: Command) -> Command {
    command.kill_on_drop(true);
    // Settings from the developer's shell (or CI's test variables) must not
    // reach the binary under test; each test sets what it means to.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BULKHEAD_") {
            command.env_remove(name);
        }
    }
    // The scenarios send requests as fast as they can, most from one user
    // and all from one address: limits far above what any sends, so the
    // limits are still counted and their headers sent. A test of the
    // limits sets its own, which replace these.
    for (name, value) in GENEROUS_LIMITS {
        command.env(name, value);
    }
    command
}

/// The rate limits of every server the tests start, unless a test sets
/// its own.
pub const GENEROUS_LIMITS: [(&str, &str); 3] = [
    ("BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS", "1000000"),
    ("BULKHEAD_RATE_LIMIT_PER_PRINCIPAL", "1000000"),
    ("BULKHEAD_RATE_LIMIT_STREAMS_PER_PRINCIPAL", "10000"),
];

/// Runs a command to its end, feeding `stdin` if given.
pub async fn run(mut command: Command, stdin: Option<&str>) -> Output {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
        // Dropping the pipe closes it: the child sees end of input.
    }
    timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("the command did not finish")
        .unwrap()
}

pub fn stdout_of(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr_of(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts a successful run and returns its stdout.
pub fn assert_success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout_of(output),
        stderr_of(output)
    );
    stdout_of(output)
}

/// Asserts exit status 1 with exactly one line on stderr, prefixed
/// `bulkhead: `, and returns that line.
pub fn assert_one_line_failure(output: &Output) -> String {
    let stderr = stderr_of(output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{stderr}",
        stdout_of(output)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr should be one line:\n{stderr}");
    assert!(lines[0].starts_with("bulkhead: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    lines[0].to_owned()
}

/// A running `bulkhead serve`. Dropping it kills the process, so a failing
/// test never leaves a server behind.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// Everything the server has written to stdout (its logs), one line
    /// after another, kept for tests that check what is logged.
    stdout: Arc<Mutex<String>>,
    /// The task reading stdout; it ends when the server closes stdout.
    drain: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts `bulkhead serve --addr 127.0.0.1:0 --data-dir <data_dir>`.
    pub async fn start(data_dir: &Path) -> Server {
        let mut command = bulkhead(["serve", "--addr", "127.0.0.1:0", "--data-dir"]);
        command.arg(data_dir);
        Server::start_with(command).await
    }

    /// Starts a prepared `serve` command and waits for its announcement.
    pub async fn start_with(mut command: Command) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let stdout = Arc::new(Mutex::new(String::new()));
        let keep = |line: &str| {
            let mut text = stdout.lock().unwrap();
            text.push_str(line);
            text.push('\n');
        };
        let announced = timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                keep(&line);
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    return Some(addr.parse::<SocketAddr>().unwrap());
                }
            }
            None
        })
        .await
        .expect("the server did not announce its address");
        let Some(addr) = announced else {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                pipe.read_to_string(&mut stderr).await.unwrap();
            }
            panic!("the server exited before listening: {stderr}");
        };
        // Keep reading the logs, or the server would block once the pipe
        // buffer is full; keep their text too.
        let kept = Arc::clone(&stdout);
        let drain = tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = kept.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        Server {
            child,
            addr,
            client,
            stdout,
            drain: Some(drain),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path`, its status and content type checked against the OpenAPI
    /// document; the body is left to the caller.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        crate::contract::check_unread(
            "GET",
            response.url(),
            response.status().as_u16(),
            response.headers(),
        );
        response
    }

    /// Kills the process with SIGKILL, as a crash would end it (no
    /// shutdown, nothing flushed), and waits until it is gone.
    pub async fn kill(&mut self) -> ExitStatus {
        self.child.start_kill().expect("the server already exited");
        timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server did not die")
            .unwrap()
    }

    /// Stops the process with SIGTERM, as an operator would (a graceful
    /// shutdown: requests finish, what is held in memory is written), and
    /// waits until it is gone.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server did not stop")
            .unwrap()
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the server already exited");
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {pid} failed");
    }

    /// Sends `signal` (a `kill` name such as `TERM`) and waits for the exit.
    pub async fn stop_with(mut self, signal: &str) -> (ExitStatus, String) {
        self.signal(signal);
        let status = timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server did not stop")
            .unwrap();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            pipe.read_to_string(&mut stderr).await.unwrap();
        }
        (status, stderr)
    }

    /// Like [`Server::stop_with`], and also returns everything the server
    /// wrote to stdout, read to its end.
    pub async fn stop_collecting_stdout(mut self, signal: &str) -> (ExitStatus, String, String) {
        let drain = self.drain.take();
        let stdout = Arc::clone(&self.stdout);
        let (status, stderr) = self.stop_with(signal).await;
        if let Some(drain) = drain {
            timeout(PATIENCE, drain)
                .await
                .expect("the server's stdout did not close")
                .unwrap();
        }
        let stdout = stdout.lock().unwrap().clone();
        (status, stdout, stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Already dead after `stop_with`; otherwise this is the cleanup of a
        // failed test.
        let _ = self.child.start_kill();
    }
}
