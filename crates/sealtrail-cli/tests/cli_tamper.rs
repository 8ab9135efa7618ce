//! Attacks by someone who can write the data directory's files, each on its own copy of one
//! real log, and `sealtrail verify` catching every one: copies that filters read edited behind
//! the store's back, and entries deleted as if a retention prune had removed them.

use rusqlite::params;
mod common;

use common::tamper::*;
use common::{text, Served};
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
