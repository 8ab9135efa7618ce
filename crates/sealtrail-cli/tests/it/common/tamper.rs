//! Tampering with a real data directory as someone with access to its files would, and the
//! operator commands (`verify`, `erase`, `prune`) run on it: shared by the files that attack
//! the log.

use super::{text, BIN};
use rusqlite::{params, Connection};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const DB_FILE: &str = "sealtrail.db";

/// Everything a failure message needs about a finished command.
pub fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "`sealtrail {}` exited with {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        args.join(" "),
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Runs an operator command on the data directory (`--data-dir DIR` appended).
pub fn local(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("SEALTRAIL_DATA_DIR")
        .output()
        .unwrap()
}

/// Runs an operator command and asserts its exit code; returns its stdout.
pub fn local_expect(args: &[&str], dir: &Path, code: i32) -> String {
    let out = local(args, dir);
    assert_eq!(out.status.code(), Some(code), "{}", describe(args, &out));
    text(&out.stdout)
}

/// Runs an HTTP client command (`ingest`, `query`) against a server.
pub fn client(args: &[&str], url: &str, key: &str) -> Output {
    Command::new(BIN)
        .args(args)
        .env("SEALTRAIL_URL", url)
        .env("SEALTRAIL_KEY", key)
        .env_remove("SEALTRAIL_DATA_DIR")
        .output()
        .unwrap()
}

/// Writes `lines` as an NDJSON file in `dir` and ingests it; every line must be created.
pub fn ingest(url: &str, key: &str, dir: &Path, lines: &[String]) {
    let file = dir.join("events.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let args = ["ingest", file.to_str().unwrap()];
    let out = client(&args, url, key);
    assert!(out.status.success(), "{}", describe(&args, &out));
    let expected = format!("{} created, 0 already present, 0 rejected", lines.len());
    assert!(
        text(&out.stderr).contains(&expected),
        "expected `{expected}`: {}",
        describe(&args, &out)
    );
}

/// `query --format json` with `filters`: the whole answer.
pub fn query(url: &str, key: &str, filters: &[&str]) -> Value {
    let mut args = vec!["query", "--format", "json", "--limit", "1000"];
    args.extend_from_slice(filters);
    let out = client(&args, url, key);
    assert!(out.status.success(), "{}", describe(&args, &out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(&args, &out)))
}

pub fn entries(answer: &Value) -> Vec<Value> {
    answer["entries"].as_array().cloned().unwrap_or_default()
}

/// A raw connection on the data directory's file, as someone with file access has.
pub fn raw(dir: &Path) -> Connection {
    let conn = Connection::open(dir.join(DB_FILE)).expect("raw open");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("busy timeout");
    conn
}

pub fn tenant_id(conn: &Connection, name: &str) -> i64 {
    conn.query_row("SELECT id FROM tenants WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .expect("tenant id")
}

pub fn pk(tenant: i64, seq: i64) -> i64 {
    (tenant << 40) | seq
}

pub fn envelope(conn: &Connection, tenant: i64, seq: i64) -> Vec<u8> {
    conn.query_row(
        "SELECT envelope FROM entries WHERE pk = ?1",
        [pk(tenant, seq)],
        |r| r.get(0),
    )
    .unwrap_or_else(|e| panic!("envelope of seq {seq}: {e}"))
}

pub fn set_envelope(conn: &Connection, tenant: i64, seq: i64, bytes: &[u8]) {
    let n = conn
        .execute(
            "UPDATE entries SET envelope = ?2 WHERE pk = ?1",
            params![pk(tenant, seq), bytes],
        )
        .expect("update envelope");
    assert_eq!(n, 1, "seq {seq} has a row");
}

/// Copies the files of a (stopped) data directory into a new directory `name` beside it.
pub fn copy_data_dir(from: &Path, name: &str) -> PathBuf {
    let to = from.parent().unwrap().join(name);
    std::fs::create_dir(&to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            // fs::copy keeps the permission bits, so the signing key stays 0600.
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    to
}

/// The database file and its WAL, if any, concatenated.
pub fn file_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(dir.join(DB_FILE)).expect("database file");
    if let Ok(wal) = std::fs::read(dir.join(format!("{DB_FILE}-wal"))) {
        bytes.extend(wal);
    }
    bytes
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs `verify` on `dir` and asserts it fails naming `expected` in its stdout.
pub fn assert_verify_fails(case: &str, dir: &Path, expected: &[&str]) {
    let args = ["verify"];
    let out = local(&args, dir);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "case {case}: verify must fail\n{}",
        describe(&args, &out)
    );
    assert!(
        stdout.contains("default: FAILED"),
        "case {case}\n{}",
        describe(&args, &out)
    );
    for needle in expected {
        assert!(
            stdout.contains(needle),
            "case {case}: expected `{needle}` in verify's stdout\n{}",
            describe(&args, &out)
        );
    }
}
