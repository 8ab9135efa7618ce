//! The server under test: a real `sealtrail serve` child process on a loopback port.
//!
//! A separate process, not an in-process server, so its CPU time and memory are its own and
//! the benchmark client's cost is reported apart from it.

use crate::error::BenchError;
use crate::stats::ProcessSample;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `sealtrail serve`.
pub struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    /// Starts `binary serve` on `data_dir` (and `database` when given), with the nightly prune
    /// off so it cannot run in the middle of a measurement.
    pub fn start(
        binary: &Path,
        data_dir: &Path,
        database: Option<&str>,
    ) -> Result<ServerProcess, BenchError> {
        let mut command = Command::new(binary);
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--no-nightly-prune",
                // K1's receiver is on loopback.
                "--sink-private-networks",
                "--data-dir",
            ])
            .arg(data_dir)
            // Quiet unless the caller asks (`RUST_LOG=…` reaches the server under test).
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = database {
            command.args(["--database", url]);
        }
        let mut child = command
            .spawn()
            .map_err(|e| BenchError::Server(format!("starting {}: {e}", binary.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Server("no stdout from serve".into()))?;
        let mut lines = BufReader::new(stdout);
        let mut first = String::new();
        lines
            .read_line(&mut first)
            .map_err(|e| BenchError::Server(format!("reading serve's output: {e}")))?;
        let Some(url) = first.trim().strip_prefix("Sealtrail listening on ") else {
            let _ = child.kill();
            return Err(BenchError::Server(format!(
                "serve did not start (first line {first:?}); its errors are above"
            )));
        };
        let url = url.to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while lines.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        Ok(ServerProcess { child, url })
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's process id, for sampling it from another thread.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's CPU time and memory now.
    pub fn sample(&self) -> ProcessSample {
        ProcessSample::read(&self.child.id().to_string())
    }

    /// SIGTERM and wait, so the final checkpoint is written and the database closed cleanly.
    pub fn stop(mut self) -> Result<(), BenchError> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child
            .wait()
            .map_err(|e| BenchError::Server(format!("waiting for serve to stop: {e}")))?;
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `sealtrail` binary to run as the server: the running executable, so `sealtrail bench`
/// always measures a server of its own build (and profile).
pub fn sealtrail_binary() -> Result<PathBuf, BenchError> {
    let me = std::env::current_exe()
        .map_err(|e| BenchError::Server(format!("finding the sealtrail binary: {e}")))?;
    Ok(me)
}
