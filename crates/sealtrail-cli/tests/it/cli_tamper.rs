//! Attacks by someone who can write the data directory's files, each on its own copy of one
//! real log, and `sealtrail verify` catching every one: copies that filters read edited behind
//! the store's back, entries deleted as if a retention prune had removed them, erased values
//! forged or altered (with and without the erasure ledger) — and a pseudonym that cannot be
//! confirmed by guessing without the key file.

use rusqlite::params;

use crate::common::tamper::*;
use crate::common::{text, Served};
use std::path::{Path, PathBuf};

/// A stopped server's data directory holding the bootstrap entries (seqs 0-2) and 40 events
/// (seqs 3..=42) by five actors, each with a target and a property.
fn served_log(root: &Path) -> PathBuf {
    let dir = root.join("data");
    let mut served = Served::start(&dir);
    let key = served.read_first_key();
    let lines: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"action":"invoice.approved","channel":"billing","description":"Invoice {i} approved","actor":{{"id":"u{a}","email":"u{a}@example.com"}},"targets":[{{"type":"invoice","id":"inv-{i}"}}],"context":{{"ip":"203.0.113.{a}"}},"properties":{{"n":{i}}}}}"#,
                a = i % 5
            )
        })
        .collect();
    ingest(&served.url, &key, root, &lines);
    served.stop_cleanly();
    let ok = local_expect(&["verify"], &dir, 0);
    assert!(ok.contains("default: OK"), "{ok}");
    dir
}

/// Runs `sql` (with the tenant id as `?1` and seq 17's pk as `?2`) on a copy of `dir`.
fn edited(dir: &Path, case: &str, sql: &str) -> PathBuf {
    let copy = copy_data_dir(dir, case);
    let conn = raw(&copy);
    let t = tenant_id(&conn, "default");
    let changed = conn.execute(sql, params![t, pk(t, 17)]).unwrap();
    assert!(changed >= 1, "case {case}: `{sql}` changed nothing");
    copy
}

#[test]
fn verify_catches_every_edited_copy_that_filters_read() {
    let root = tempfile::tempdir().unwrap();
    let dir = served_log(root.path());
    let cases = [
        (
            "actor-email",
            "UPDATE entries SET actor_email = 'someone@else.example' WHERE pk = ?2 AND ?1 > 0",
            "actor_email",
        ),
        (
            "actor-id",
            "UPDATE entries SET actor_id = 'u9' WHERE pk = ?2 AND ?1 > 0",
            "actor_id",
        ),
        (
            "action",
            "UPDATE entries SET action = 'invoice.rejected' WHERE pk = ?2 AND ?1 > 0",
            "action",
        ),
        (
            "result",
            "UPDATE entries SET result = 'failure' WHERE pk = ?2 AND ?1 > 0",
            "result",
        ),
        (
            "ip",
            "UPDATE entries SET ip = NULL WHERE pk = ?2 AND ?1 > 0",
            "ip",
        ),
        (
            "time",
            "UPDATE entries SET recorded_at = recorded_at - 86400000 WHERE pk = ?2 AND ?1 > 0",
            "recorded_at",
        ),
        (
            "tenant",
            "UPDATE entries SET tenant = tenant + 1 WHERE pk = ?2 AND ?1 > 0",
            "tenant",
        ),
        (
            "props",
            r#"UPDATE entries SET props = '{"n":"99"}' WHERE pk = ?2 AND ?1 > 0"#,
            "props",
        ),
        (
            "target-id",
            "UPDATE entry_targets SET id = 'inv-999' WHERE pk = ?2 AND ?1 > 0",
            "targets",
        ),
        (
            "target-gone",
            "DELETE FROM entry_targets WHERE pk = ?2 AND ?1 > 0",
            "targets",
        ),
    ];
    for (case, sql, column) in cases {
        let copy = edited(&dir, case, sql);
        let expected = format!(
            "first bad entry is seq 17: the `{column}` copy that filters read differs from the committed entry"
        );
        assert_verify_fails(case, &copy, &[&expected]);
    }
    let again = local_expect(&["verify"], &dir, 0);
    assert!(again.contains("default: OK"), "{again}");
}

#[test]
fn a_prune_that_the_log_does_not_record_fails_verify() {
    let root = tempfile::tempdir().unwrap();
    let dir = served_log(root.path());
    // The oldest twelve entries deleted with everything that refers to them, the prune
    // horizon moved past them, the tree left intact: what a real prune leaves, without the
    // `retention.pruned` entry a real prune writes first.
    let copy = copy_data_dir(&dir, "fake-prune");
    {
        let conn = raw(&copy);
        let t = tenant_id(&conn, "default");
        for table in ["entry_targets", "entries"] {
            conn.execute(
                &format!("DELETE FROM {table} WHERE pk >= ?1 AND pk < ?2"),
                params![pk(t, 0), pk(t, 12)],
            )
            .unwrap();
        }
        let moved = conn
            .execute("UPDATE log_heads SET first_seq = 12 WHERE tenant = ?1", [t])
            .unwrap();
        assert_eq!(moved, 1);
    }
    assert_verify_fails(
        "fake prune",
        &copy,
        &["seqs 0-11 are gone, but no `retention.pruned` entry in the log removed them"],
    );
    let out = local(&["verify"], &copy);
    assert!(
        !text(&out.stdout).contains("OK"),
        "{}",
        describe(&["verify"], &out)
    );
}

/// The served log after `sealtrail erase u1@example.com`: the actor of seqs 4, 9, 14, … is
/// now the pseudonym, and seq 43 is the erasure's own entry.
fn erased_log(root: &Path) -> PathBuf {
    let dir = served_log(root);
    let erased = local_expect(&["erase", "u1@example.com"], &dir, 0);
    assert!(erased.contains("erased-"), "{erased}");
    let ok = local_expect(&["verify"], &dir, 0);
    assert!(ok.contains("default: OK — 44 entries"), "{ok}");
    dir
}

/// An actor value naming someone who never acted, as a forger would write it.
const MALLORY: &str = r#"{"email":null,"id":"mallory","name":"Mallory Forger","via":null}"#;

#[test]
fn verify_catches_forged_and_altered_erasures() {
    let root = tempfile::tempdir().unwrap();
    let dir = erased_log(root.path());
    let forge = |case: &str, seq: i64| -> PathBuf {
        let copy = copy_data_dir(&dir, case);
        let conn = raw(&copy);
        let t = tenant_id(&conn, "default");
        // The filter column follows, so only the erasure itself is in question.
        let changed = conn
            .execute(
                "UPDATE entries SET actor_salt = NULL, actor_value = ?2, actor_id = 'mallory',
                     actor_email = NULL
                 WHERE pk = ?1",
                params![pk(t, seq), MALLORY.as_bytes()],
            )
            .unwrap();
        assert_eq!(changed, 1);
        copy
    };

    // (a) An entry never erased, marked erased with an invented actor.
    let a = forge("forged-erasure", 5);
    assert_verify_fails(
        "forged erasure",
        &a,
        &["first bad entry is seq 5: vault value `actor` is marked erased, but no erasure recorded in the log replaced it"],
    );
    // (b) A value the real erasure wrote, replaced by another.
    let b = forge("altered-erasure", 9);
    assert_verify_fails(
        "altered erasure",
        &b,
        &["first bad entry is seq 9: erased vault value `actor` differs from what its erasure wrote"],
    );
    // (c) The same, with the ledger row rewritten to match: the erasure's entry in the tree
    // still commits to the list as it was.
    let c = forge("altered-erasure-and-ledger", 9);
    {
        let conn = raw(&c);
        let hash: Vec<u8> = sha256(MALLORY.as_bytes());
        let t = tenant_id(&conn, "default");
        let n = conn
            .execute(
                "UPDATE erased_slots SET hash = ?3 WHERE tenant = ?1 AND seq = ?2 AND part = 0",
                params![t, 9, hash],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    assert_verify_fails(
        "altered erasure and ledger",
        &c,
        &["first bad entry is seq 43: the erasure ledger no longer matches this `subject.erased` entry"],
    );
    // (d) The ledger emptied: nothing accounts for the erased values any more.
    let d = copy_data_dir(&dir, "ledger-gone");
    raw(&d).execute("DELETE FROM erased_slots", []).unwrap();
    assert_verify_fails(
        "ledger deleted",
        &d,
        &["first bad entry is seq 4: vault value `actor` is marked erased, but no erasure recorded in the log replaced it"],
    );
    let again = local_expect(&["verify"], &dir, 0);
    assert!(again.contains("default: OK"), "{again}");
}

/// SHA-256, as the erasure ledger lists a replacement (written out here, not borrowed from
/// the store).
fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

/// HMAC-SHA256 (RFC 2104), written out so the test does not borrow the store's.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = sha256(&[pad(0x36), message.to_vec()].concat());
    sha256(&[pad(0x5c), inner].concat())
}

#[test]
fn pseudonyms_are_keyed_with_a_secret_kept_beside_the_signing_key() {
    let root = tempfile::tempdir().unwrap();
    let dir = served_log(root.path());
    let key_file = dir.join("pseudonym.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "created owner-only by the first start");
    }
    let key = hex::decode(std::fs::read_to_string(&key_file).unwrap().trim()).unwrap();
    assert_eq!(key.len(), 32);
    let origin: String = raw(&dir)
        .query_row(
            "SELECT log_origin FROM tenants WHERE name = 'default'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let erased = local_expect(&["erase", "U1@Example.com"], &dir, 0);
    let mac = hmac_sha256(&key, format!("{origin}\0u1@example.com").as_bytes());
    let expected = format!("erased-{}", &hex::encode(mac)[..12]);
    assert!(erased.contains(&expected), "{expected} in {erased}");
    // The unkeyed hash a guesser could compute is not it.
    let unkeyed = sha256(format!("{origin}\0u1@example.com").as_bytes());
    assert!(!erased.contains(&hex::encode(unkeyed)[..12]), "{erased}");

    // Without the key file, `erase` refuses rather than invent another key.
    let moved = dir.join("pseudonym.key.moved");
    std::fs::rename(&key_file, &moved).unwrap();
    let out = local(&["erase", "u2@example.com"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&["erase"], &out));
    assert!(
        text(&out.stderr).contains("no pseudonym key at"),
        "{}",
        describe(&["erase"], &out)
    );
    assert!(!key_file.exists());
}

/// Runs `serve` on `dir` expecting it to refuse to start; returns what it printed.
fn serve_refuses(dir: &Path) -> String {
    let mut child = std::process::Command::new(crate::common::BIN)
        .args(crate::common::serve_args(dir, &[]))
        .env_remove("SEALTRAIL_DATA_DIR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert!(!status.success(), "serve must refuse to start: {printed}");
            return printed;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve started on a database that went back behind what it signed");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Ingests `n` events through a fresh `serve` on `dir`, then stops it cleanly (which signs).
fn ingest_served(dir: &Path, key: &str, n: usize, what: &str) {
    let served = Served::start(dir);
    let lines: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"action":"doc.{what}","actor":{{"id":"u{i}"}}}}"#))
        .collect();
    ingest(&served.url, key, dir.parent().unwrap(), &lines);
    served.stop_cleanly();
}

/// Replaces the database files of `dir` with those saved in `from`.
fn restore_database(from: &Path, dir: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{DB_FILE}{suffix}")));
        let saved = from.join(format!("{DB_FILE}{suffix}"));
        if saved.exists() {
            std::fs::copy(saved, dir.join(format!("{DB_FILE}{suffix}"))).unwrap();
        }
    }
}

#[test]
fn a_database_restored_from_an_older_copy_is_refused_and_verify_says_so() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let mut first = Served::start(&dir);
    let key = first.read_first_key();
    let lines: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"action":"doc.created","actor":{{"id":"u{i}"}}}}"#))
        .collect();
    ingest(&first.url, &key, root.path(), &lines);
    first.stop_cleanly();
    let backup = copy_data_dir(&dir, "backup");
    ingest_served(&dir, &key, 10, "updated");
    let memory = dir.join("signed-checkpoints.json");
    assert!(
        memory.exists(),
        "serve remembers what it signed outside the database"
    );

    // The database goes back to the older copy; the node's memory does not.
    restore_database(&backup, &dir);
    let refused = serve_refuses(&dir);
    assert!(
        refused.contains("refusing to start")
            && refused.contains("the log has 13 entries but a checkpoint was signed for 23")
            && refused.contains("Restore the newest copy of the database"),
        "{refused}"
    );
    assert_verify_fails(
        "rolled back",
        &dir,
        &["against the checkpoint this server remembers signing: the log has 13 entries but a checkpoint was signed for 23"],
    );
    let blind = local_expect(&["verify", "--no-signed-memory"], &dir, 0);
    assert!(
        blind.contains("default: OK"),
        "the older copy is a valid log by itself: {blind}"
    );

    // A fork: the older copy grows past the remembered size with other entries (served
    // without the memory), then the memory comes back.
    let saved = root.path().join("signed-checkpoints.saved");
    std::fs::rename(&memory, &saved).unwrap();
    ingest_served(&dir, &key, 15, "forked");
    std::fs::rename(&saved, &memory).unwrap();
    let refused = serve_refuses(&dir);
    assert!(
        refused.contains("does not extend the signed checkpoint of size 23"),
        "{refused}"
    );
    assert_verify_fails(
        "forked",
        &dir,
        &["against the checkpoint this server remembers signing: the tree does not extend the signed checkpoint of size 23"],
    );
}
