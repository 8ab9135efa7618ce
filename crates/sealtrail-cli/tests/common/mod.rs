//! The real `sealtrail` binary as a user runs it: a `serve` child process on a loopback port
//! and a real data directory, shared by the CLI test files.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

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
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(extra)
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
    /// SIGTERM, asserting a clean exit (the final checkpoint is signed on the way out).
    pub fn stop_cleanly(self) {
        let (clean, rest) = self.stop();
        assert!(clean, "serve did not exit cleanly after SIGTERM: {rest}");
    }
}

/// Command output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
