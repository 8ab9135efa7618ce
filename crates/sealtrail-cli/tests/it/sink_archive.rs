//! An archive sink against a real S3-compatible server (`s3s-fs` from crates.io, installed by
//! `.ci/run`, started by the test on a loopback port with an access key, keeping objects as
//! files): the server writes the log in chunks, `sealtrail verify --archive` reads them back
//! over S3 and from a folder copy and checks them against the log's public key; then a
//! changed object and a missing chunk are found and named.

use crate::common::{
    free_port, get_json, log_size, sealtrail, text, wait_for_port, KillOnDrop, Served,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "sealtrail-test";
const SECRET_KEY: &str = "s3cret-for-the-test-only";
const BUCKET: &str = "audit-archive";
const CHUNK: u64 = 50;

/// s3s-fs listening on `port`.
struct S3Server {
    _process: KillOnDrop,
    port: u16,
}

fn s3s_fs() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("s3s-fs"));
    let in_cargo = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin/s3s-fs"));
    on_path
        .chain(in_cargo)
        .find(|p| p.exists())
        .expect("s3s-fs is not installed: cargo install s3s-fs --version 0.14.1 --features binary (.ci/run does)")
}

fn start_s3(root: &Path) -> S3Server {
    std::fs::create_dir_all(root.join(BUCKET)).unwrap();
    let port = free_port();
    let child = Command::new(s3s_fs())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, "s3s-fs");
    S3Server {
        _process: KillOnDrop(child),
        port,
    }
}

async fn ingest(url: &str, key: &str, n: u64) {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({"action": "invoice.approved", "actor": {"id": format!("u{i}"), "email": format!("u{i}@example.com")},
                   "targets": [{"type": "invoice", "id": format!("inv-{i}")}],
                   "context": {"ip": "203.0.113.9"}})
        })
        .collect();
    crate::common::post_batch(url, key, events).await;
}

fn verify(location: &str, public_key: &str, dir: &Path) -> Output {
    Command::new(crate::common::BIN)
        .args(["verify", "--archive", location, "--public-key", public_key])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("SEALTRAIL_DATA_DIR", dir)
        .output()
        .unwrap()
}

/// The chunk files of the tenant's folder in the server's root, sorted.
fn chunk_files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".gz"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_in_an_s3_server_verifies_offline_and_tampering_is_named() {
    let root = tempfile::tempdir().unwrap();
    let s3 = start_s3(root.path());
    let dir = tempfile::tempdir().unwrap();
    let mut server = Served::start_with(dir.path(), &["--sink-private-networks"]);
    let key = server.read_first_key();
    let location = format!(
        "s3://{BUCKET}/prod?endpoint=http://127.0.0.1:{}&entries={CHUNK}",
        s3.port
    );

    // An access key that is not two parts is refused by name.
    let r = reqwest::Client::new()
        .post(format!("{}/v1/sinks", server.url))
        .bearer_auth(&key)
        .json(&json!({"name": "archive", "kind": "archive", "url": location, "token": "only-one-part"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("ACCESS_KEY_ID:SECRET_ACCESS_KEY"));

    let r = reqwest::Client::new()
        .post(format!("{}/v1/sinks", server.url))
        .bearer_auth(&key)
        .json(
            &json!({"name": "archive", "kind": "archive", "url": location,
                      "token": format!("{ACCESS_KEY}:{SECRET_KEY}")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["sink"]["kind"], "archive");
    let id = created["sink"]["id"].as_str().unwrap().to_string();
    // A second archive in the same place would overwrite the first one's objects.
    let r = reqwest::Client::new()
        .post(format!("{}/v1/sinks", server.url))
        .bearer_auth(&key)
        .json(
            &json!({"name": "archive 2", "kind": "archive", "url": location, "format": "ocsf",
                      "token": format!("{ACCESS_KEY}:{SECRET_KEY}")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("its own prefix"));

    // `sinks test` writes and removes an object with the sealed access key.
    let tested = sealtrail(
        &["sinks", "test", &id, "--private-network"],
        &server.url,
        "",
        dir.path(),
    );
    assert!(tested.status.success(), "{}", text(&tested.stderr));

    // Whole chunks only (the last, partial one would wait its minutes): a multiple of CHUNK.
    let before = log_size(&server.url, &key).await;
    let total = (before / CHUNK + 3) * CHUNK;
    ingest(&server.url, &key, total - before).await;
    assert_eq!(log_size(&server.url, &key).await, total);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sink = get_json(&server.url, &key, &format!("/v1/sinks/{id}")).await;
        if sink["cursor"].as_u64() == Some(total) {
            assert!(sink["last_error"].is_null(), "{sink}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the archive did not catch up: {sink}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let public_key = text(&sealtrail(&["public-key"], &server.url, &key, dir.path()).stdout)
        .trim()
        .to_string();
    server.stop_cleanly();

    let folder = root.path().join(BUCKET).join("prod").join("default");
    let files = chunk_files(&folder);
    assert_eq!(files.len() as u64, 2 * total / CHUNK, "{files:?}");
    assert!(files[0].ends_with("00000000000000000000-00000000000000000049.evidence.ndjson.gz"));

    // Over S3, and from a folder holding a copy: every entry, one log.
    for place in [
        location.clone(),
        root.path().join(BUCKET).join("prod").display().to_string(),
    ] {
        let out = verify(&place, &public_key, dir.path());
        let said = text(&out.stdout);
        assert!(out.status.success(), "{place}: {said}{}", text(&out.stderr));
        assert!(said.contains("default: OK"), "{said}");
        assert!(
            said.contains(&format!("seq 0..={} ({total} entries)", total - 1)),
            "{said}"
        );
    }

    // Another key: nothing verifies.
    let other = tempfile::tempdir().unwrap();
    let elsewhere = Served::start(other.path());
    let other_key = text(&sealtrail(&["public-key"], "", "", other.path()).stdout)
        .trim()
        .to_string();
    drop(elsewhere);
    let out = verify(&location, &other_key, dir.path());
    assert!(!out.status.success());
    assert!(
        text(&out.stdout).contains("not signed by this key"),
        "{}",
        text(&out.stdout)
    );

    // A data object changed on the server: found, and the chunk named.
    let data = files
        .iter()
        .find(|f| {
            f.to_string_lossy().contains("00000000000000000050-")
                && !f.to_string_lossy().contains("evidence")
        })
        .unwrap()
        .clone();
    let original = std::fs::read(&data).unwrap();
    let mut changed = original.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x20;
    std::fs::write(&data, &changed).unwrap();
    let out = verify(&location, &public_key, dir.path());
    let said = text(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("FAILED") && said.contains("seq 50..=99"),
        "{said}"
    );
    std::fs::write(&data, &original).unwrap();

    // A chunk removed: the gap is named.
    for file in files
        .iter()
        .filter(|f| f.to_string_lossy().contains("00000000000000000050-"))
    {
        std::fs::remove_file(file).unwrap();
    }
    let out = verify(&location, &public_key, dir.path());
    let said = text(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("seq 50..=99 is in no chunk"), "{said}");
    drop(s3);
}
