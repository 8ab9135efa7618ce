//! `serve`'s log as an operator's journal or log shipper reads it: plain text without colour
//! codes when stderr is not a terminal, and one JSON object per line with `--log-format json`.

use crate::common::{serve_args, BIN};
use std::process::Command;

/// Starts `serve` with `extra` flags and stderr to a file, waits until it listens, sends one
/// request carrying `X-Request-Id: cli-logs-7f3a`, stops it, and returns what it logged.
fn logged(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let out = dir.path().join("stdout.log");
    let mut child = Command::new(BIN)
        .args(serve_args(&dir.path().join("data"), extra))
        .env("RUST_LOG", "info,tower_http=debug")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&out)
        .unwrap_or_default()
        .contains("Sealtrail listening on ")
    {
        assert!(std::time::Instant::now() < deadline, "serve did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let listening = std::fs::read_to_string(&out).unwrap();
    let address = listening
        .lines()
        .find_map(|l| l.strip_prefix("Sealtrail listening on http://"))
        .unwrap()
        .trim()
        .to_string();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: cli-logs-7f3a\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("x-request-id: cli-logs-7f3a"),
        "{answer}"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn logs_carry_no_colour_codes_when_not_at_a_terminal() {
    let text = logged(&[]);
    assert!(!text.trim().is_empty(), "nothing logged");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log file:\n{text}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let text = logged(&["--log-format", "json"]);
    let mut lines = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            value["level"].is_string() && value["timestamp"].is_string(),
            "{line}"
        );
        lines += 1;
    }
    assert!(lines > 0, "nothing logged");
    assert!(
        text.lines().any(|l| l.contains("cli-logs-7f3a")),
        "the request's log lines name its id:\n{text}"
    );
}
