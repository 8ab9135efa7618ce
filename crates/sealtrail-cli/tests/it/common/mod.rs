//! The real `sealtrail` binary as a user runs it: a `serve` child process on a loopback port
//! and a real data directory, shared by the CLI test files.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};

pub mod receiver;
pub mod tamper;

pub const BIN: &str = env!("CARGO_BIN_EXE_sealtrail");

/// A `sealtrail serve` child process and what it printed.
pub struct Served {
    pub child: Child,
    pub stdout: BufReader<ChildStdout>,
    pub url: String,
    pub key: Option<String>,
    /// The first owner's web password, once `read_first_key` has read it.
    pub owner_password: Option<String>,
}

impl Served {
    pub fn start(dir: &Path) -> Served {
        Served::start_with(dir, &[])
    }

    /// `serve` with extra options (e.g. `--database <url>` for a PostgreSQL node).
    pub fn start_with(dir: &Path, extra: &[&str]) -> Served {
        let mut command = Command::new(BIN);
        command.args(serve_args(dir, extra));
        Served::spawn(command)
    }

    /// Runs `command` (which must end up exec'ing `serve`, e.g. under `sh -c 'ulimit …'`) and
    /// reads the lines it prints first.
    pub fn spawn(mut command: Command) -> Served {
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("Sealtrail listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert!(
            line.starts_with("Data directory: ") || line.starts_with("Database: "),
            "{line:?}"
        );
        Served {
            child,
            stdout,
            url,
            key: None,
            owner_password: None,
        }
    }

    /// Reads the first-start lines (URL, data dir, tenant, key, web sign-in) and returns the
    /// admin key they print; the owner's password is kept in `owner_password`.
    pub fn read_first_key(&mut self) -> String {
        let mut text = String::new();
        for _ in 0..3 {
            self.stdout.read_line(&mut text).unwrap();
        }
        let mut web = String::new();
        self.stdout.read_line(&mut web).unwrap();
        assert!(
            web.contains("sign in as admin@localhost with password "),
            "{web}"
        );
        self.owner_password = web
            .split("with password ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string);
        text.push_str(&web);
        assert!(text.contains("created tenant \"default\""), "{text}");
        assert!(
            text.contains(&format!("export SEALTRAIL_URL={}", self.url)),
            "{text}"
        );
        let key = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("export SEALTRAIL_KEY="))
            .unwrap()
            .to_string();
        self.key = Some(key.clone());
        key
    }

    /// SIGTERM, then the exit status and whatever else it printed.
    pub fn stop(mut self) -> (bool, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        (exit.success(), rest)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// SIGKILL, as a crash or an operator's `kill -9` would end it: no shutdown path runs, so
    /// only what was durably committed survives. Waits until the process is gone.
    pub fn sigkill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, asserting a clean exit (the final checkpoint is signed on the way out).
    pub fn stop_cleanly(self) {
        let (clean, rest) = self.stop();
        assert!(clean, "serve did not exit cleanly after SIGTERM: {rest}");
    }
}

/// The arguments of `serve` on a free loopback port over `dir`, then `extra`.
pub fn serve_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["serve", "--listen", "127.0.0.1:0", "--data-dir"]
        .map(String::from)
        .to_vec();
    args.push(dir.display().to_string());
    // No nightly prune unless a test asks for one: a test running across 03:00 UTC would see
    // its `retention.pruned` entry among the entries it counts.
    if !extra
        .iter()
        .any(|a| a.starts_with("--prune-at") || *a == "--no-nightly-prune")
    {
        args.push("--no-nightly-prune".to_string());
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// Runs the binary with a server's URL and key and a data directory in its environment, as an
/// operator's shell would have them.
pub fn sealtrail(args: &[&str], url: &str, key: &str, dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .env("SEALTRAIL_URL", url)
        .env("SEALTRAIL_KEY", key)
        .env("SEALTRAIL_DATA_DIR", dir)
        .output()
        .unwrap()
}

/// A loopback port nothing listens on (for a receiver the test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A receiver's process (rsyslogd, s3s-fs), killed when the test is done with it.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something listens on the loopback `port`.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not listen"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `GET {url}{path}` with the key, as JSON (any status).
pub async fn get_json(url: &str, key: &str, path: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{url}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// POSTs `events` as one batch with the key and expects every one stored (200).
pub async fn post_batch(url: &str, key: &str, events: Vec<serde_json::Value>) {
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/events"))
        .bearer_auth(key)
        .json(&serde_json::json!({ "events": events }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

/// The key's tenant's log size.
pub async fn log_size(url: &str, key: &str) -> u64 {
    get_json(url, key, "/v1/tenant").await["log_size"]
        .as_u64()
        .unwrap()
}

/// Command output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Acknowledged events: idempotency key → (id, seq).
pub type Acks = std::collections::HashMap<String, (String, u64)>;

/// Stored entries by idempotency key: every (id, seq) found for the key.
pub type Stored = std::collections::HashMap<String, Vec<(String, u64)>>;

/// Every entry of the key's tenant, read page by page over HTTP: entries by idempotency key,
/// and every seq seen.
pub async fn read_log(url: &str, key: &str) -> (Stored, Vec<u64>) {
    let http = reqwest::Client::new();
    let (mut by_key, mut seqs): (Stored, Vec<u64>) = (Stored::new(), Vec::new());
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{url}/v1/events?limit=1000&count=false");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let response = http.get(&path).bearer_auth(key).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let page: serde_json::Value = response.json().await.unwrap();
        for e in page["entries"].as_array().unwrap() {
            let seq = e["seq"].as_u64().unwrap();
            seqs.push(seq);
            if let Some(k) = e["idempotency_key"].as_str() {
                by_key
                    .entry(k.to_string())
                    .or_default()
                    .push((e["id"].as_str().unwrap().to_string(), seq));
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    (by_key, seqs)
}

/// The durability checks: every acknowledged event stored exactly once at its acknowledged
/// seq, no idempotency key stored twice, seq gapless from 0, and `sealtrail verify <args>`
/// passing. `when` names the moment in failure messages.
pub async fn assert_log_holds(
    url: &str,
    key: &str,
    acked: &Acks,
    verify_args: &[&str],
    when: &str,
) {
    let (stored, seqs) = read_log(url, key).await;
    for (k, ack) in acked {
        assert_eq!(
            stored.get(k).map(Vec::as_slice),
            Some(std::slice::from_ref(ack)),
            "{when}: acknowledged event {k} missing, duplicated or moved"
        );
    }
    for (k, found) in &stored {
        assert_eq!(found.len(), 1, "{when}: {k} stored {} times", found.len());
    }
    let unique: std::collections::BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), seqs.len(), "{when}: a seq appears twice");
    assert_eq!(
        unique,
        (0..seqs.len() as u64).collect(),
        "{when}: seq is not gapless from 0"
    );
    let verify = Command::new(BIN)
        .arg("verify")
        .args(verify_args)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{when}: verify failed:\n{}\n{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );
}

impl Served {
    /// Reads the line a witness prints at start and returns its key.
    pub fn read_witness_key(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim()
            .strip_prefix("Witness key (give it to the logs you witness): ")
            .unwrap_or_else(|| panic!("expected the witness key line, got {line:?}"))
            .to_string()
    }
}

/// Builds the Go program `tests/go/<name>` (once per test process) with Debian's Go and
/// `golang.org/x/mod` (`apt-get install golang-go golang-golang-x-mod-dev`, as `.ci/run`
/// does) and returns its path: independent checks written against the ecosystem's own code.
pub fn go_tool(name: &str) -> std::path::PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-tools");
    let binary = out_dir.join(name);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if built.iter().any(|b| b == name) {
        return binary;
    }
    std::fs::create_dir_all(&out_dir).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/go")
        .join(name)
        .join("main.go");
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(&source)
        .env("GOPATH", "/usr/share/gocode")
        .env("GO111MODULE", "off")
        .env("GOCACHE", out_dir.join("cache"))
        .env("GOFLAGS", "")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `go` ({e}): apt-get install golang-go golang-golang-x-mod-dev")
        });
    assert!(
        output.status.success(),
        "go build {}: {}",
        source.display(),
        text(&output.stderr)
    );
    built.push(name.to_string());
    binary
}
