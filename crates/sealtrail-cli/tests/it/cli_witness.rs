//! Outsiders checking a log with tools Sealtrail did not write: a monitor following the tree
//! tiles with Go's `sumdb/tlog`, and a second `sealtrail serve` acting as a C2SP witness whose
//! cosignatures Go's `sumdb/note` verifies — and which refuses a log restored from an older
//! copy.

use crate::common::tamper::*;
use crate::common::{go_tool, text, Served};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn events(n: usize, what: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"action":"doc.{what}","actor":{{"id":"u{}"}},"targets":[{{"type":"doc","id":"d{i}"}}]}}"#,
                i % 7
            )
        })
        .collect()
}

async fn call(
    method: reqwest::Method,
    url: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn json_of(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Signs now and returns the checkpoint JSON.
async fn sign(url: &str, key: &str) -> Value {
    json_of(
        call(
            reqwest::Method::POST,
            &format!("{url}/v1/checkpoint"),
            Some(key),
            None,
        )
        .await,
    )
    .await
}

async fn create_key(url: &str, admin: &str, scopes: &[&str]) -> String {
    let created = json_of(
        call(
            reqwest::Method::POST,
            &format!("{url}/v1/keys"),
            Some(admin),
            Some(json!({"name": format!("{scopes:?}"), "scopes": scopes})),
        )
        .await,
    )
    .await;
    created["secret"].as_str().unwrap().to_string()
}

fn run_go(args: &[&str], env: &[(&str, &str)]) -> String {
    let tool = go_tool("tlogcheck");
    let mut command = Command::new(&tool);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn go_tlog_follows_the_tiles_as_the_tenant_allows() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let mut served = Served::start(&dir);
    let admin = served.read_first_key();
    let url = served.url.clone();
    let prefix = format!("{url}/tlog/default");
    ingest(&url, &admin, root.path(), &events(300, "created"));
    let old = sign(&url, &admin).await;
    let public_key = old["public_key"].as_str().unwrap().to_string();

    // Off by default: no such log, with or without a key.
    for key in [None, Some(admin.as_str())] {
        let r = call(
            reqwest::Method::GET,
            &format!("{prefix}/checkpoint"),
            key,
            None,
        )
        .await;
        assert_eq!(r.status(), 404);
    }
    let monitor = create_key(&url, &admin, &["monitor"]).await;
    let reader = create_key(&url, &admin, &["read"]).await;
    let set = |access: &'static str| {
        let url = url.clone();
        let admin = admin.clone();
        async move {
            json_of(
                call(
                    reqwest::Method::PUT,
                    &format!("{url}/v1/settings/tiles"),
                    Some(&admin),
                    Some(json!({ "access": access })),
                )
                .await,
            )
            .await
        }
    };
    assert_eq!(set("monitor").await["tile_access"], "monitor");
    let bad = call(
        reqwest::Method::PUT,
        &format!("{url}/v1/settings/tiles"),
        Some(&admin),
        Some(json!({"access": "everyone"})),
    )
    .await;
    assert_eq!(bad.status(), 422);

    // Monitor scope only: 404 without a key (as if there were no log), 403 with a read key.
    let checkpoint_url = format!("{prefix}/checkpoint");
    assert_eq!(
        call(reqwest::Method::GET, &checkpoint_url, None, None)
            .await
            .status(),
        404
    );
    assert_eq!(
        call(reqwest::Method::GET, &checkpoint_url, Some(&reader), None)
            .await
            .status(),
        403
    );
    let response = call(reqwest::Method::GET, &checkpoint_url, Some(&monitor), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let old_note = response.text().await.unwrap();
    assert!(old_note.starts_with(old["note"].as_str().unwrap().lines().next().unwrap()));
    let old_file = write(root.path(), "old.note", &old_note);

    ingest(&url, &admin, root.path(), &events(500, "updated"));
    let new = sign(&url, &admin).await;
    let new_file = write(root.path(), "new.note", new["note"].as_str().unwrap());
    let size = new["size"].as_u64().unwrap();
    assert!(size > 800, "{new}");

    // Leaves the API proves, checked against the tiles by Go's tlog.
    let mut leaves = Vec::new();
    for seq in [0, 5, 255, 256, 700] {
        let proof = json_of(
            call(
                reqwest::Method::GET,
                &format!("{url}/v1/proof/inclusion?seq={seq}"),
                Some(&admin),
                None,
            )
            .await,
        )
        .await;
        leaves.push(format!("{seq}:{}", proof["leaf_hash"].as_str().unwrap()));
    }
    let auth = format!("Bearer {monitor}");
    let mut args = vec!["tiles", &prefix, &public_key, &old_file, &new_file];
    args.extend(leaves.iter().map(String::as_str));
    let checked = run_go(&args, &[("TLOG_AUTHORIZATION", &auth)]);
    assert_eq!(checked.trim(), "ok", "{checked}");
    // Without the key the tiles are closed to Go too.
    let refused = run_go(&args, &[]);
    assert!(refused.contains("404 Not Found"), "{refused}");

    // Public: anyone, cacheable; a tile the checkpoint does not cover yet is not served.
    assert_eq!(set("public").await["tile_access"], "public");
    let checked = run_go(&args, &[]);
    assert_eq!(checked.trim(), "ok", "{checked}");
    let changes = query(&url, &admin, &["--action", "tile_access.changed"]);
    let changes = entries(&changes);
    assert_eq!(
        changes.len(),
        2,
        "each change of access is audited: {changes:?}"
    );
    let tile = call(
        reqwest::Method::GET,
        &format!("{prefix}/tile/0/000"),
        None,
        None,
    )
    .await;
    assert_eq!(tile.status(), 200);
    assert_eq!(
        tile.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(tile.bytes().await.unwrap().len(), 256 * 32);
    // Tiles are served up to the latest checkpoint (which may have grown since `new`).
    let served_note = call(
        reqwest::Method::GET,
        &format!("{prefix}/checkpoint"),
        None,
        None,
    )
    .await
    .text()
    .await
    .unwrap();
    let size: u64 = served_note.lines().nth(1).unwrap().parse().unwrap();
    let beyond = size / 256 + 1;
    for path in [
        format!("0/{:03}", size / 256),
        format!("0/{beyond:03}"),
        format!("0/{:03}.p/{}", size / 256, size % 256 + 1),
        "0/1".to_string(),
        "entries/000".to_string(),
    ] {
        let r = call(
            reqwest::Method::GET,
            &format!("{prefix}/tile/{path}"),
            None,
            None,
        )
        .await;
        assert_eq!(r.status(), 404, "tile/{path}");
    }
    // A forked copy of the tree is caught: Go's tlog refuses tiles that do not hash to the
    // checkpoint (edit one stored leaf hash behind the server's back).
    served.stop_cleanly();
    let conn = raw(&dir);
    let tenant = tenant_id(&conn, "default");
    conn.execute(
        "UPDATE tree_nodes SET hash = zeroblob(32) WHERE tenant = ?1 AND level = 0 AND idx = 5",
        [tenant],
    )
    .unwrap();
    drop(conn);
    let served = Served::start(&dir);
    let prefix = format!("{}/tlog/default", served.url);
    let mut args = vec!["tiles", &prefix, &public_key, &old_file, &new_file];
    args.extend(leaves.iter().map(String::as_str));
    let caught = run_go(&args, &[]);
    assert!(
        caught.contains("FAILED")
            && (caught.contains("inconsistent tile")
                || caught.contains("invalid transparency proof")),
        "{caught}"
    );
    served.stop_cleanly();
    let log = local_expect(&["verify"], &dir, 1);
    assert!(
        log.contains("FAILED"),
        "the edited node is caught by verify too: {log}"
    );
}

/// A witness process for the log with `log_key` and `origin` (its own first start creates a
/// tenant too): the process, its witness key and its own admin key.
fn start_witness(root: &Path, log_key: &str, origin: &str) -> (Served, String, String) {
    let prefix = format!("{}/", origin.rsplit_once('/').unwrap().0);
    let witness_for = format!("{prefix} {log_key}");
    let mut witness = Served::start_with(
        &root.join("witness"),
        &[
            "--witness-for",
            &witness_for,
            "--witness-name",
            "witness.test/w1",
        ],
    );
    let key = witness.read_witness_key();
    let admin = witness.read_first_key();
    (witness, key, admin)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_witness_cosigns_and_refuses_a_log_restored_from_an_older_copy() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("log");
    // First start: the log's key and origin, which the witness is configured with.
    let mut first = Served::start(&dir);
    let admin = first.read_first_key();
    let cp = sign(&first.url, &admin).await;
    let log_key = cp["public_key"].as_str().unwrap().to_string();
    let origin = cp["note"]
        .as_str()
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    first.stop_cleanly();
    let (witness, witness_key, witness_admin) = start_witness(root.path(), &log_key, &origin);
    let with_witness = format!("{witness_key} {}/witness", witness.url);
    let start_log = || Served::start_with(&dir, &["--witness", &with_witness]);

    let log = start_log();
    let not_a_witness = reqwest::Client::new()
        .post(format!("{}/witness/add-checkpoint", log.url))
        .body("old 0\n\nx")
        .send()
        .await
        .unwrap();
    assert_eq!(
        not_a_witness.status(),
        404,
        "only --witness-for turns the role on"
    );
    ingest(&log.url, &admin, root.path(), &events(20, "created"));
    let cosigned = sign(&log.url, &admin).await;
    assert_eq!(cosigned["witnessed"], true, "{cosigned}");
    assert_eq!(
        cosigned["cosigned_by"],
        json!(["witness.test/w1"]),
        "{cosigned}"
    );
    let note = cosigned["note"].as_str().unwrap().to_string();
    let note_file = write(root.path(), "cosigned.note", &note);
    let checked = run_go(&["cosigned", &log_key, &witness_key, &note_file], &[]);
    assert_eq!(checked.trim(), "ok", "Go's note package: {checked}");
    // A witness key of the same name but another key is not this witness: its "cosignature"
    // is not there.
    let stranger = sealtrail_core::cosignature::Cosigner::from_seed("witness.test/w1", [8; 32])
        .unwrap()
        .verifier()
        .to_string();
    let refused = run_go(&["cosigned", &log_key, &stranger, &note_file], &[]);
    assert!(refused.contains("lack the log or the witness"), "{refused}");

    // The protocol's refusals, over HTTP.
    let add = format!("{}/witness/add-checkpoint", witness.url);
    let post = |body: String| {
        let add = add.clone();
        async move {
            let r = reqwest::Client::new()
                .post(add)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let content_type = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, content_type, r.text().await.unwrap())
        }
    };
    let size = cosigned["size"].as_u64().unwrap();
    assert_eq!(post("garbage".into()).await.0, 400);
    let (status, content_type, body) = post(format!("old 0\n\n{note}")).await;
    assert_eq!(
        (status, content_type.as_deref(), body.as_str()),
        (409, Some("text/x.tlog.size"), format!("{size}\n").as_str())
    );
    let (line_start, line) = note
        .match_indices("\u{2014} sealtrail ")
        .next()
        .map(|(i, _)| (i, &note[i..]))
        .unwrap();
    let end = line_start + line.find('\n').unwrap();
    let mut forged = note.clone();
    let flipped = if &note[end - 3..end - 2] == "A" {
        "B"
    } else {
        "A"
    };
    forged.replace_range(end - 3..end - 2, flipped);
    assert_eq!(post(format!("old {size}\n\n{forged}")).await.0, 403);
    let own = sign(&witness.url, &witness_admin).await;
    let (status, _, body) = post(format!("old 0\n\n{}", own["note"].as_str().unwrap())).await;
    assert_eq!(status, 404, "{body}");
    let (status, _, _) = post(format!("old {}\n\n{note}", size + 1)).await;
    assert_eq!(status, 400, "old size beyond the checkpoint");

    // The evidence bundle carries the cosignature, and verify checks it offline.
    let bundle = root.path().join("evidence.tar");
    let args = [
        "export",
        "--format",
        "bundle",
        "--out",
        bundle.to_str().unwrap(),
    ];
    let out = client(&args, &log.url, &admin);
    assert!(out.status.success(), "{}", describe(&args, &out));
    let args = [
        "verify",
        "--bundle",
        bundle.to_str().unwrap(),
        "--public-key",
        &log_key,
        "--witness",
        &witness_key,
    ];
    let out = client(&args, &log.url, &admin);
    assert!(out.status.success(), "{}", describe(&args, &out));
    assert!(
        text(&out.stdout).contains("cosigned by 1 of 1 witnesses"),
        "{}",
        describe(&args, &out)
    );
    // The bundle's own Python verifier checks the cosignature too.
    let unpacked = root.path().join("evidence");
    std::fs::create_dir(&unpacked).unwrap();
    let untar = Command::new("tar")
        .arg("-xf")
        .arg(&bundle)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(untar.success());
    let script = |extra: &[&str]| {
        let out = Command::new("python3")
            .arg(unpacked.join("verify_bundle.py"))
            .arg(&unpacked)
            .args(["--public-key", &log_key])
            .args(extra)
            .output()
            .unwrap();
        (out.status.success(), text(&out.stdout))
    };
    let (ok, said) = script(&["--witness", &witness_key]);
    assert!(
        ok && said.contains("Cosigned by 1 of the 1 witnesses you trust."),
        "{said}"
    );
    let other = sealtrail_core::cosignature::Cosigner::from_seed("witness.test/w1", [7; 32])
        .unwrap()
        .verifier()
        .to_string();
    let (ok, said) = script(&["--witness", &other]);
    assert!(
        !ok && said.contains("0 of the 1 required witness cosignatures"),
        "{said}"
    );
    let (ok, said) = script(&[
        "--witness",
        &other,
        "--witness",
        &witness_key,
        "--witness-quorum",
        "1",
    ]);
    assert!(ok, "{said}");
    // A quorum of none, or one key counted twice, proves nothing.
    let (ok, said) = script(&["--witness", &other, "--witness-quorum", "0"]);
    assert!(
        !ok && said.contains("--witness-quorum must be between 1"),
        "{said}"
    );
    let (ok, said) = script(&["--witness", &other, "--witness", &other]);
    assert!(!ok && said.contains("0 of the 1 required"), "{said}");
    log.stop_cleanly();
    let zero = local(
        &["verify", "--witness", &other, "--witness-quorum", "0"],
        &dir,
    );
    assert!(!zero.status.success(), "{}", text(&zero.stderr));
    let twice = local_expect(
        &[
            "verify",
            "--witness",
            &witness_key,
            "--witness",
            &witness_key,
        ],
        &dir,
        0,
    );
    assert!(twice.contains("cosigned by 1 of 1 witnesses"), "{twice}");
    let verified = local_expect(&["verify", "--witness", &witness_key], &dir, 0);
    assert!(
        verified.contains("cosigned by 1 of 1 witnesses"),
        "{verified}"
    );
    let backup = copy_data_dir(&dir, "backup");

    let log = start_log();
    ingest(&log.url, &admin, root.path(), &events(30, "updated"));
    let later = sign(&log.url, &admin).await;
    assert_eq!(later["witnessed"], true, "{later}");
    let witnessed_size = later["size"].as_u64().unwrap();
    log.stop_cleanly();

    // Whoever runs the log restores the older copy, together with the node's record of what
    // it signed, so the log itself cannot tell. The witness can.
    for name in [
        "sealtrail.db",
        "sealtrail.db-wal",
        "sealtrail.db-shm",
        "signed-checkpoints.json",
    ] {
        let _ = std::fs::remove_file(dir.join(name));
        if backup.join(name).exists() {
            std::fs::copy(backup.join(name), dir.join(name)).unwrap();
        }
    }
    let log = start_log();
    ingest(&log.url, &admin, root.path(), &events(5, "rewritten"));
    let rolled_back = sign(&log.url, &admin).await;
    assert_eq!(rolled_back["witnessed"], false, "{rolled_back}");
    let why = rolled_back["witnesses"][0]["last_error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.contains(&format!("cosigned a tree of {witnessed_size} entries"))
            && why.contains("the log was rolled back"),
        "{rolled_back}"
    );
    // Grown past what the witness saw, the rewritten log is a fork: refused again.
    ingest(&log.url, &admin, root.path(), &events(40, "rewritten-more"));
    let forked = sign(&log.url, &admin).await;
    assert_eq!(forked["witnessed"], false, "{forked}");
    let why = forked["witnesses"][0]["last_error"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("does not extend what it cosigned"), "{forked}");
    log.stop_cleanly();
    let failed = local_expect(&["verify", "--witness", &witness_key], &dir, 1);
    assert!(
        failed.contains("0 of the 1 required witness cosignatures"),
        "{failed}"
    );
    witness.stop_cleanly();
}
