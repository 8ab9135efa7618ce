//! The real `sealtrail` binary, as a user runs it: `serve` on a loopback port over a real data
//! directory, then `ingest`, `query`, `keys` and `tenants` against it.

use crate::common::{sealtrail, text, Served, BIN};
use std::path::Path;
use std::process::{Command, Stdio};

fn query_total(url: &str, key: &str, dir: &Path, filters: &[&str]) -> u64 {
    let mut args = vec!["query", "--format", "json"];
    args.extend_from_slice(filters);
    let out = sealtrail(&args, url, key, dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["total"].as_u64().unwrap()
}

#[test]
fn serve_prints_the_url_and_a_first_key_once_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path());
    let key = served.read_first_key();
    assert!(key.starts_with("st_"));
    assert_eq!(
        query_total(&served.url, &key, dir.path(), &[]),
        3,
        "bootstrap audits itself (tenant, admin key, first owner)"
    );
    let (clean, rest) = served.stop();
    assert!(clean, "SIGTERM exits 0");
    assert!(rest.is_empty(), "{rest}");

    let again = Served::start(dir.path());
    let (clean, rest) = again.stop();
    assert!(clean);
    assert!(
        !rest.contains("SEALTRAIL_KEY"),
        "no second key on restart: {rest}"
    );
}

#[test]
fn ingest_reports_bad_lines_and_re_running_stores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path());
    let key = served.read_first_key();
    let file = dir.path().join("events.ndjson");
    let mut lines = Vec::new();
    for i in 0..7 {
        lines.push(format!(
            r#"{{"action":"doc.updated","channel":"docs","actor":{{"id":"u{i}","email":"u{i}@example.com"}},"properties":{{"n":{i}}}}}"#
        ));
    }
    lines.insert(2, "{\"action\": ".to_string());
    lines.insert(4, String::new());
    lines.insert(5, r#"{"action":"doc.updated"}"#.to_string());
    std::fs::write(&file, lines.join("\n")).unwrap();
    let path = file.to_str().unwrap();

    let first = sealtrail(
        &["ingest", path, "--batch-size", "3"],
        &served.url,
        &key,
        dir.path(),
    );
    let err = text(&first.stderr);
    assert_eq!(first.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 3: rejected") && err.contains("malformed JSON"),
        "{err}"
    );
    assert!(
        err.contains("line 6: rejected") && err.contains("actor"),
        "{err}"
    );
    assert!(
        err.contains("7 created, 0 already present, 2 rejected"),
        "{err}"
    );

    let second = sealtrail(
        &["ingest", path, "--batch-size", "5"],
        &served.url,
        &key,
        dir.path(),
    );
    assert!(
        text(&second.stderr).contains("0 created, 7 already present"),
        "{}",
        text(&second.stderr)
    );
    assert_eq!(
        query_total(&served.url, &key, dir.path(), &["--channel", "docs"]),
        7
    );

    let stdin_run = Command::new(BIN)
        .args(["ingest", "-", "--idempotency-scope", "stdin-test"])
        .env("SEALTRAIL_URL", &served.url)
        .env("SEALTRAIL_KEY", &key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            writeln!(
                stdin,
                r#"{{"action":"doc.deleted","channel":"docs","actor":{{"id":"u1"}}}}"#
            )?;
            drop(stdin);
            child.wait_with_output()
        })
        .unwrap();
    assert!(stdin_run.status.success(), "{}", text(&stdin_run.stderr));
    assert_eq!(
        query_total(&served.url, &key, dir.path(), &["--event", "deleted"]),
        1
    );
}

#[test]
fn query_filters_formats_and_pages_like_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path());
    let key = served.read_first_key();
    let file = dir.path().join("e.ndjson");
    let lines: Vec<String> = (0..12)
        .map(|i| {
            format!(
                r#"{{"action":"{}","channel":"{}","description":"Laptop {i} for Zoë","actor":{{"id":"u{}","name":"User {i}"}},"targets":[{{"type":"hardware","id":"{i}"}}],"properties":{{"site":"{}"}}}}"#,
                if i % 2 == 0 { "hardware.assigned" } else { "hardware.deleted" },
                if i % 3 == 0 { "hardware" } else { "inventory" },
                i % 4,
                if i < 5 { "berlin" } else { "paris" }
            )
        })
        .chain([
            // Last year's history, imported today.
            r#"{"action":"invoice.paid","actor":{"id":"importer"},"occurred_at":"2025-03-10T12:00:00Z"}"#.to_string(),
        ])
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let ingest = sealtrail(
        &["ingest", file.to_str().unwrap()],
        &served.url,
        &key,
        dir.path(),
    );
    assert!(ingest.status.success(), "{}", text(&ingest.stderr));

    let (u, k, d) = (served.url.as_str(), key.as_str(), dir.path());
    assert_eq!(query_total(u, k, d, &["--action", "hardware.*"]), 12);
    assert_eq!(query_total(u, k, d, &["--event", "deleted"]), 6);
    assert_eq!(
        query_total(u, k, d, &["--channel", "hardware", "--actor", "u0"]),
        1
    );
    assert_eq!(query_total(u, k, d, &["--property", "site=berlin"]), 5);
    assert_eq!(query_total(u, k, d, &["-q", "zoë", "--target-id", "7"]), 1);
    assert_eq!(query_total(u, k, d, &["--system"]), 3);
    assert_eq!(query_total(u, k, d, &["--range", "24h"]), 15, "event time");
    assert_eq!(
        query_total(u, k, d, &["--range", "24h", "--time", "recorded"]),
        16,
        "receipt time"
    );
    assert_eq!(
        query_total(u, k, d, &["--from", "2025-03-10", "--to", "2025-03-10"]),
        1
    );

    let ndjson = sealtrail(
        &[
            "query",
            "--format",
            "ndjson",
            "--all",
            "--limit",
            "5",
            "--action",
            "hardware.*",
        ],
        u,
        k,
        d,
    );
    assert!(ndjson.status.success());
    let seqs: Vec<u64> = text(&ndjson.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs.len(), 12, "--all follows every cursor");
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats: {seqs:?}"
    );

    let table = sealtrail(&["query", "--limit", "3", "--channel", "hardware"], u, k, d);
    let out = text(&table.stdout);
    assert!(out.starts_with("WHEN (UTC)"), "{out}");
    assert!(
        out.contains("3 entries shown of 4.") && out.contains("--cursor"),
        "{out}"
    );

    let bad = sealtrail(&["query", "--result", "maybe"], u, k, d);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("result"),
        "{}",
        text(&bad.stderr)
    );
    let bad_prop = sealtrail(&["query", "--property", "site"], u, k, d);
    assert!(text(&bad_prop.stderr).contains("KEY=VALUE"));
}

#[test]
fn keys_and_tenants_work_on_the_data_dir_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path());
    let admin_key = served.read_first_key();
    let (u, d) = (served.url.clone(), dir.path());

    let created = sealtrail(
        &["keys", "create", "--name", "reporting", "--scopes", "read"],
        &u,
        "",
        d,
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let read_key = text(&created.stdout).trim().to_string();
    assert!(text(&created.stderr).contains("shown only now"));
    assert_eq!(
        query_total(&u, &read_key, d, &[]),
        4,
        "3 bootstrap entries + the key creation"
    );

    let list = text(&sealtrail(&["keys", "list"], &u, "", d).stdout);
    let id = read_key.split('_').nth(1).unwrap();
    assert!(
        list.contains(id) && list.contains("reporting") && list.contains("active"),
        "{list}"
    );
    assert!(!list.contains(&read_key), "secrets are never listed");

    let revoked = sealtrail(&["keys", "revoke", id], &u, "", d);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let refused = sealtrail(&["query"], &u, &read_key, d);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("401"),
        "{}",
        text(&refused.stderr)
    );
    let audit = sealtrail(
        &["query", "--format", "json", "--action", "api_key.revoked"],
        &u,
        &admin_key,
        d,
    );
    let v: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(v["total"], 1);
    assert_eq!(
        v["entries"][0]["actor"]["via"]
            .as_str()
            .map(|s| s.starts_with("CLI")),
        Some(true)
    );

    let acme = sealtrail(
        &["tenants", "create", "acme", "--with-admin-key"],
        &u,
        "",
        d,
    );
    assert!(acme.status.success(), "{}", text(&acme.stderr));
    let acme_key = text(&acme.stdout).trim().to_string();
    assert_eq!(
        query_total(&u, &acme_key, d, &[]),
        2,
        "acme sees only its own log"
    );
    let dup = sealtrail(&["tenants", "create", "acme"], &u, "", d);
    assert_eq!(dup.status.code(), Some(1));
    let tenants = text(&sealtrail(&["tenants", "list"], &u, "", d).stdout);
    assert!(
        tenants.contains("default") && tenants.contains("acme"),
        "{tenants}"
    );

    // Aliases: another name of a tenant for the compatible APIs, unique across tenants.
    let org = "org_01EHZNVPK3SFK441A1RGBFSHRT";
    let added = sealtrail(&["tenants", "alias", "add", "acme", org], &u, "", d);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let twice = sealtrail(&["tenants", "alias", "add", "acme", org], &u, "", d);
    assert_eq!(twice.status.code(), Some(1));
    assert!(
        text(&twice.stderr).contains("already has"),
        "{}",
        text(&twice.stderr)
    );
    let bad = sealtrail(&["tenants", "alias", "add", "acme", "has space"], &u, "", d);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("visible ASCII"),
        "{}",
        text(&bad.stderr)
    );
    let listed = sealtrail(&["tenants", "alias", "list", "acme"], &u, "", d);
    assert_eq!(text(&listed.stdout).trim(), org);
    let removed = sealtrail(&["tenants", "alias", "remove", "acme", org], &u, "", d);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    let listed = sealtrail(&["tenants", "alias", "list", "acme"], &u, "", d);
    assert_eq!(text(&listed.stdout).trim(), "");

    let missing = tempfile::tempdir().unwrap();
    let none = sealtrail(&["keys", "list"], &u, "", missing.path());
    assert_eq!(none.status.code(), Some(1));
    assert!(text(&none.stderr).contains("no Sealtrail database"));
    let no_tenant = sealtrail(&["keys", "list", "--tenant", "nope"], &u, "", d);
    assert!(text(&no_tenant.stderr).contains("no tenant named `nope`"));
}

#[test]
fn export_writes_exactly_the_filtered_rows_and_bundles_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path());
    let key = served.read_first_key();
    let file = dir.path().join("e.ndjson");
    let lines: Vec<String> = (0..30)
        .map(|i| {
            format!(
                r#"{{"action":"doc.{}","channel":"docs","description":"Doc {i} by Zoë","actor":{{"id":"u{}"}}}}"#,
                if i % 3 == 0 { "deleted" } else { "updated" },
                i % 2
            )
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (u, k, d) = (served.url.clone(), key.clone(), dir.path().to_path_buf());
    assert!(sealtrail(&["ingest", file.to_str().unwrap()], &u, &k, &d)
        .status
        .success());

    let csv_path = d.join("deleted.csv");
    let out = sealtrail(
        &[
            "export",
            "--format",
            "csv",
            "--event",
            "deleted",
            "-o",
            csv_path.to_str().unwrap(),
        ],
        &u,
        &k,
        &d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&csv_path).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let rows = String::from_utf8_lossy(&bytes[3..]).lines().count();
    assert_eq!(
        rows as u64,
        1 + query_total(&u, &k, &d, &["--event", "deleted"])
    );

    let bundle = d.join("evidence.tar");
    let out = sealtrail(
        &[
            "export",
            "--format",
            "bundle",
            "--actor",
            "u1",
            "-o",
            bundle.to_str().unwrap(),
        ],
        &u,
        &k,
        &d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let public_key = text(&sealtrail(&["public-key"], &u, &k, &d).stdout)
        .trim()
        .to_string();
    let verified = sealtrail(
        &[
            "verify",
            "--bundle",
            bundle.to_str().unwrap(),
            "--public-key",
            &public_key,
        ],
        &u,
        &k,
        &d,
    );
    assert!(
        verified.status.success(),
        "{}{}",
        text(&verified.stdout),
        text(&verified.stderr)
    );
    assert!(
        text(&verified.stdout).contains("OK — 15 entries"),
        "{}",
        text(&verified.stdout)
    );

    let bad = d.join("bad.out");
    let refused = sealtrail(
        &["export", "--format", "docx", "-o", bad.to_str().unwrap()],
        &u,
        &k,
        &d,
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("format"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!bad.exists(), "no file for a refused export");
    assert_eq!(
        query_total(&u, &k, &d, &["--action", "audit_log.exported"]),
        2
    );
}

/// The README's first-start sample is what a new user sees: each of its lines matches what
/// `serve` prints, with only the port, the data directory, the key and the password differing.
#[test]
fn the_readmes_first_start_sample_is_what_serve_prints() {
    use std::io::BufRead;
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let sample: Vec<&str> = readme
        .split("On first start it creates")
        .nth(1)
        .and_then(|rest| rest.split("```\n").nth(1))
        .unwrap()
        .lines()
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(crate::common::serve_args(dir.path(), &[]))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let printed: Vec<String> = (0..sample.len())
        .map(|_| {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            line.trim_end().to_string()
        })
        .collect();
    child.kill().unwrap();
    child.wait().unwrap();
    let placeholders = [
        (
            "http://127\\.0\\.0\\.1:8080",
            "http://127\\.0\\.0\\.1:[0-9]+",
        ),
        ("sealtrail\\-data", ".+"),
        ("st_\\.\\.\\.", "st_[A-Za-z0-9_]+"),
        (
            "xxxxx\\-xxxxx\\-xxxxx\\-xxxxx",
            "[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){3}",
        ),
    ];
    for (want, got) in sample.iter().zip(&printed) {
        let mut pattern = regex::escape(want);
        for (placeholder, shape) in placeholders {
            pattern = pattern.replace(placeholder, shape);
        }
        let re = regex::Regex::new(&format!("^{pattern}$")).unwrap();
        assert!(
            re.is_match(got),
            "README line {want:?}\nserve printed {got:?}"
        );
    }
}
