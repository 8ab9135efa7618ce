//! No byte of what a prune or an erasure removed stays in the data directory's files once the
//! command has answered, while `serve` keeps running on the same files: the database, its WAL
//! and every index, including an erasure of a subject some of whose entries were pruned first.

use rusqlite::params;
use sealtrail_store::{Directory, EventLog};

use crate::common::tamper::*;
use crate::common::{text, Served};
use sealtrail_core::entry::{Actor, ActorType, NewEntry, Outcome, Target};
use sealtrail_core::Timestamp;
use sealtrail_store::sqlite::{SqliteOptions, SqliteStore};
use sealtrail_store::Clock;
use std::path::Path;

const DAY_MS: i64 = 24 * 3600 * 1000;
/// Old entries: more than one prune chunk, spread over many index pages.
const OLD: usize = 6_000;
/// New entries by the subject, kept by the prune.
const NEW: usize = 400;
/// What identifies the subject, each of which must vanish from the files.
const SUBJECT_ID: &str = "u-zoe-4471";
const SUBJECT_EMAIL: &str = "zoe.martin@legacy.example";
const SUBJECT_NAME: &str = "Zoe Martinelli";
/// In the old entries only: gone once they are pruned.
const OLD_MARKER: &str = "quarterly-ledger-7731";

fn event(actor: &str, email: &str, name: &str, description: String) -> NewEntry {
    NewEntry {
        occurred_at: None,
        channel: "billing".into(),
        action: "invoice.approved".into(),
        event: "updated".into(),
        category: None,
        description,
        result: Outcome::Success,
        actor: Actor {
            kind: ActorType::User,
            id: Some(actor.into()),
            name: Some(name.into()),
            email: Some(email.into()),
            via: None,
        },
        targets: vec![Target {
            kind: "user".into(),
            id: Some(actor.into()),
            name: Some(name.into()),
        }],
        context: Default::default(),
        changes: None,
        properties: Default::default(),
        redacted: Vec::new(),
        idempotency_key: None,
    }
}

/// Tenant `legacy`, whose first [`OLD`] entries (by the subject and another actor) were
/// recorded 400 days ago and whose last [`NEW`] (by the subject) today, written through the store with a
/// replayed clock as a long-running installation would hold them.
async fn legacy_tenant(dir: &Path) {
    let (clock, time) = Clock::replayed(Timestamp(Timestamp::now().millis() - 400 * DAY_MS));
    let store = SqliteStore::open(
        dir,
        SqliteOptions {
            clock,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let t = store.create_tenant("legacy").await.unwrap().id;
    let old: Vec<NewEntry> = (0..OLD)
        .map(|i| {
            let description = format!("Approved {OLD_MARKER} number {i}");
            if i % 2 == 0 {
                event(SUBJECT_ID, SUBJECT_EMAIL, SUBJECT_NAME, description)
            } else {
                event("u-kim", "kim@legacy.example", "Kim Park", description)
            }
        })
        .collect();
    store.append(t, old).await.unwrap();
    time.set(Timestamp::now());
    let new: Vec<NewEntry> = (0..NEW)
        .map(|i| {
            event(
                SUBJECT_ID,
                SUBJECT_EMAIL,
                SUBJECT_NAME,
                format!("Approved invoice {i}"),
            )
        })
        .collect();
    store.append(t, new).await.unwrap();
}

/// A data directory under `root` that `serve` set up once (and stopped), holding the
/// `legacy` tenant of [`legacy_tenant`].
fn legacy_data_dir(root: &Path) -> std::path::PathBuf {
    let dir = root.join("data");
    let mut first = Served::start(&dir);
    first.read_first_key();
    first.stop_cleanly();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(legacy_tenant(&dir));
    dir
}

/// Where each needle still occurs in the data directory's files (database, WAL).
fn traces(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("sealtrail.db") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for needle in needles {
            let n = bytes
                .windows(needle.len())
                .filter(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
                .count();
            if n > 0 {
                found.push(format!("{needle} ×{n} in {name}"));
            }
        }
    }
    found
}

#[test]
fn a_prune_and_a_later_erasure_leave_no_byte_behind_while_serve_runs() {
    let root = tempfile::tempdir().unwrap();
    let dir = legacy_data_dir(root.path());
    let served = Served::start(&dir);
    assert!(
        !traces(&dir, &[OLD_MARKER]).is_empty(),
        "the test finds what it looks for"
    );

    let pruned = local_expect(&["prune", "--tenant", "legacy"], &dir, 0);
    assert!(
        pruned.contains(&format!("legacy: removed {OLD} entries")),
        "{pruned}"
    );
    let left = traces(&dir, &[OLD_MARKER, "kim@legacy.example", "Kim Park"]);
    assert!(left.is_empty(), "after the prune answered: {left:?}");

    let erased = local_expect(&["erase", SUBJECT_ID, "--tenant", "legacy"], &dir, 0);
    assert!(erased.contains("erased-"), "{erased}");
    let left = traces(&dir, &[SUBJECT_ID, SUBJECT_EMAIL, SUBJECT_NAME]);
    assert!(left.is_empty(), "after the erasure answered: {left:?}");

    served.stop_cleanly();
    let verified = local_expect(&["verify", "--tenant", "legacy"], &dir, 0);
    assert!(verified.contains("legacy: OK"), "{verified}");
    let conn = raw(&dir);
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM entries WHERE tenant = (SELECT id FROM tenants WHERE name = ?1)",
            params!["legacy"],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        kept,
        NEW as i64 + 2,
        "the new entries, the prune's and the erasure's own"
    );
}

#[test]
fn a_prune_goes_by_committed_times_not_by_an_edited_column() {
    let root = tempfile::tempdir().unwrap();
    let dir = legacy_data_dir(root.path());
    // Someone with the file makes five recent entries (seqs OLD..OLD+5) look 500 days old, and
    // sets a window below the floor, so that the next prune would take them.
    {
        let conn = raw(&dir);
        let t = tenant_id(&conn, "legacy");
        let old_time = Timestamp::now().millis() - 500 * DAY_MS;
        let n = conn
            .execute(
                "UPDATE entries SET recorded_at = ?3 WHERE pk >= ?1 AND pk < ?2",
                params![pk(t, OLD as i64), pk(t, OLD as i64 + 5), old_time],
            )
            .unwrap();
        assert_eq!(n, 5);
        conn.execute(
            "UPDATE tenants SET retention_days = 1 WHERE id = ?1",
            params![t],
        )
        .unwrap();
    }
    let pruned = local_expect(&["prune", "--tenant", "legacy"], &dir, 0);
    assert!(
        pruned.contains(&format!("legacy: removed {OLD} entries")),
        "only the entries whose committed time is old: {pruned}"
    );
    let conn = raw(&dir);
    let t = tenant_id(&conn, "legacy");
    let recent: i64 = conn
        .query_row(
            "SELECT count(*) FROM entries WHERE pk >= ?1 AND pk < ?2",
            params![pk(t, OLD as i64), pk(t, OLD as i64 + 5)],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recent, 5, "the backdated entries are still there");
    drop(conn);
    let out = local(&["verify", "--tenant", "legacy"], &dir);
    assert!(
        text(&out.stdout).contains(&format!(
            "legacy: FAILED — first bad entry is seq {OLD}: the `recorded_at` copy that filters read differs from the committed entry"
        )),
        "{}",
        describe(&["verify"], &out)
    );
}
