//! Backup and restore of the embedded backend as docs/operations.md tells an operator to do
//! it: SQLite's online backup of the live database plus the key files, restored into another
//! data directory, verified against a checkpoint kept elsewhere, and served; a backup older
//! than what the node remembers signing is refused at start, as the guide says.

use crate::common::{get_json, log_size, sealtrail, serve_args, text, Served, BIN};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY_FILES: [&str; 3] = [
    "checkpoint-signing.key",
    "pseudonym.key",
    "signed-checkpoints.json",
];

async fn ingest(url: &str, key: &str, n: usize) {
    let events: Vec<Value> = (0..n)
        .map(|i| json!({"action": "invoice.paid", "actor": {"id": format!("u{i}")}}))
        .collect();
    crate::common::post_batch(url, key, events).await;
}

/// Waits until the latest checkpoint covers the whole log; returns its note.
async fn covered_checkpoint(url: &str, key: &str) -> String {
    let size = log_size(url, key).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let cp = get_json(url, key, "/v1/checkpoint").await;
        if cp["size"].as_u64() == Some(size) {
            return cp["note"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no checkpoint at {size}: {cp}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn sqlite_backup(from: &Path, to: &Path) {
    let out = Command::new("sqlite3")
        .arg(from.join("sealtrail.db"))
        .arg(format!(".backup '{}'", to.join("sealtrail.db").display()))
        .output()
        .expect("the sqlite3 shell (Debian's sqlite3 package; .ci/run installs it)");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn copy_keys(from: &Path, to: &Path) {
    for name in KEY_FILES {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

/// `serve` on `dir` when it keeps running (after 10 s of watching it), or what it said when it
/// refused to start.
fn start_or_refuse(dir: &Path) -> Result<Served, String> {
    let log = dir.join("..").join("refused.log");
    let mut child = Command::new(BIN)
        .args(serve_args(dir, &[]))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return Err(std::fs::read_to_string(&log).unwrap());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(Served::start(dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_backup_restores_verifies_and_serves_and_an_older_one_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let live = work.path().join("live");
    let restored = work.path().join("restored");
    let stale = work.path().join("stale");
    for dir in [&restored, &stale] {
        std::fs::create_dir(dir).unwrap();
    }
    let mut server = Served::start(&live);
    let key = server.read_first_key();
    ingest(&server.url, &key, 300).await;
    let note = covered_checkpoint(&server.url, &key).await;
    let size = log_size(&server.url, &key).await;
    let kept = work.path().join("kept-checkpoint.txt");
    std::fs::write(&kept, &note).unwrap();

    // Backed up while the server runs, keys beside it.
    sqlite_backup(&live, &restored);
    copy_keys(&live, &restored);
    // A second backup, then more entries signed: this one will be older than the node's
    // memory of what it signed.
    sqlite_backup(&live, &stale);
    ingest(&server.url, &key, 50).await;
    covered_checkpoint(&server.url, &key).await;
    server.stop_cleanly();

    let verified = sealtrail(
        &[
            "verify",
            "--checkpoint",
            &kept.display().to_string(),
            "--data-dir",
            &restored.display().to_string(),
        ],
        "",
        "",
        &restored,
    );
    assert!(
        verified.status.success(),
        "{}{}",
        text(&verified.stdout),
        text(&verified.stderr)
    );
    assert!(
        text(&verified.stdout).contains("default: OK"),
        "{}",
        text(&verified.stdout)
    );

    let back = start_or_refuse(&restored).expect("the restored copy serves");
    let url = back.url.clone();
    assert_eq!(
        log_size(&url, &key).await,
        size,
        "every entry of the backup"
    );
    back.stop_cleanly();

    // The stale copy with the node's latest memory of signing: refused, and said why.
    copy_keys(&live, &stale);
    let refused = start_or_refuse(&stale)
        .err()
        .expect("an older log than signed is refused");
    assert!(refused.contains("signed-checkpoints.json"), "{refused}");
}
