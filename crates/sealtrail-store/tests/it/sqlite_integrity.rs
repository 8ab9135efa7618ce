//! What only the SQLite file shows: tampering behind the store's back is reported at the exact
//! seq, the checkpoint guard survives a restart, erasure leaves no byte of the subject in the
//! database or its WAL, and a version-1 database is sealed on upgrade.

use rusqlite::{params, Connection};
use sealtrail_core::filter::Filter;
use sealtrail_core::merkle::MemoryTree;
use sealtrail_core::{Entry, TenantId, Timestamp};
use sealtrail_store::sqlite::{SqliteOptions, SqliteStore, DB_FILE_NAME};
use sealtrail_store::PruneOrder;
use sealtrail_store::{Directory, EventLog, Integrity, Jobs, Lifecycle};
use sealtrail_store::{ErasureMode, Lookup, Slot, Store, StoreError};
use sealtrail_testkit::contract::erasure::{
    by_subject, mentioning_subject, SUBJECT_EMAIL, SUBJECT_NAME,
};
use sealtrail_testkit::contract::fixtures::{all_pages, dataset_entry, event, keyed};
use std::path::Path;
use tempfile::TempDir;

fn open(dir: &Path) -> SqliteStore {
    SqliteStore::open(dir, SqliteOptions::default()).expect("open store")
}

/// A raw connection on the store's file, as an attacker with file access would have.
fn raw(dir: &Path) -> Connection {
    let conn = Connection::open(dir.join(DB_FILE_NAME)).expect("raw open");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("busy timeout");
    conn
}

/// The one integer a schema or bookkeeping query answers.
fn scalar(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

fn pk(t: TenantId, seq: u64) -> i64 {
    (t.0 << 40) | seq as i64
}

/// A store with a 40-entry log in `acme` (and a small `globex` log beside it).
async fn seeded() -> (TempDir, SqliteStore, TenantId) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let other = store.create_tenant("globex").await.expect("tenant").id;
    store
        .append(other, (0..3).map(dataset_entry).collect())
        .await
        .expect("append");
    let t = store.create_tenant("acme").await.expect("tenant").id;
    for chunk in 0..4 {
        let batch = (chunk * 10..chunk * 10 + 10).map(dataset_entry).collect();
        store.append(t, batch).await.expect("append");
    }
    (dir, store, t)
}

async fn problem(store: &SqliteStore, t: TenantId) -> Option<(u64, String)> {
    store
        .verify_log(t, &|_| {})
        .await
        .expect("verify")
        .first_problem
}

fn envelope(conn: &Connection, t: TenantId, seq: u64) -> Vec<u8> {
    conn.query_row(
        "SELECT envelope FROM entries WHERE pk = ?1",
        [pk(t, seq)],
        |r| r.get(0),
    )
    .expect("envelope")
}

fn set_envelope(conn: &Connection, t: TenantId, seq: u64, bytes: &[u8]) {
    conn.execute(
        "UPDATE entries SET envelope = ?2 WHERE pk = ?1",
        params![pk(t, seq), bytes],
    )
    .expect("update envelope");
}

/// A small deterministic generator for positions (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_anywhere_in_an_envelope_is_found_at_its_seq() {
    let (dir, store, t) = seeded().await;
    let conn = raw(dir.path());
    assert_eq!(problem(&store, t).await, None);
    let mut rng = Rng(0x5eed_1e55_ca5c_ade5);
    for round in 0..24 {
        let seq = rng.below(40);
        let original = envelope(&conn, t, seq);
        let mut flipped = original.clone();
        let at = rng.below(original.len() as u64) as usize;
        flipped[at] ^= 1 << rng.below(8);
        set_envelope(&conn, t, seq, &flipped);
        let found = problem(&store, t).await;
        assert_eq!(
            found.as_ref().map(|p| p.0),
            Some(seq),
            "round {round}: seq {seq}, byte {at}: {found:?}"
        );
        set_envelope(&conn, t, seq, &original);
    }
    assert_eq!(
        problem(&store, t).await,
        None,
        "restored bytes verify again"
    );
    let other = store
        .tenant_by_name("globex")
        .await
        .expect("t")
        .expect("t")
        .id;
    assert_eq!(problem(&store, other).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_row_is_reported_as_missing() {
    let (dir, store, t) = seeded().await;
    let conn = raw(dir.path());
    conn.execute("DELETE FROM entries WHERE pk = ?1", [pk(t, 39)])
        .expect("delete");
    assert_eq!(problem(&store, t).await, Some((39, "missing entry".into())));
    conn.execute("DELETE FROM entries WHERE pk = ?1", [pk(t, 17)])
        .expect("delete");
    assert_eq!(problem(&store, t).await, Some((17, "missing entry".into())));
    conn.execute("DELETE FROM entries WHERE pk = ?1", [pk(t, 0)])
        .expect("delete");
    assert_eq!(problem(&store, t).await, Some((0, "missing entry".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_envelopes_are_reported_at_the_lower_seq() {
    let (dir, store, t) = seeded().await;
    let conn = raw(dir.path());
    let (a, b) = (envelope(&conn, t, 11), envelope(&conn, t, 23));
    set_envelope(&conn, t, 11, &b);
    set_envelope(&conn, t, 23, &a);
    let found = problem(&store, t).await;
    assert_eq!(found, Some((11, "envelope claims seq 23".into())));

    // Rewritten as TEXT (another storage class) with one character changed: still reported
    // at its seq, not a failed read.
    let text = String::from_utf8(envelope(&conn, t, 5))
        .expect("utf-8")
        .replacen("hardware", "Hardware", 1);
    conn.execute(
        "UPDATE entries SET envelope = ?2 WHERE pk = ?1",
        params![pk(t, 5), text],
    )
    .expect("rewrite as text");
    let found = problem(&store, t).await;
    assert_eq!(found.map(|p| p.0), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_row_beyond_the_log_is_reported() {
    let (dir, store, t) = seeded().await;
    let conn = raw(dir.path());
    conn.execute(
        "INSERT INTO entries (pk, tenant, seq, id, recorded_at, occurred_at, channel, action,
             event, category, result, actor_type, actor_id, actor_email, ip, idempotency_key,
             props, envelope)
         SELECT pk + 1, tenant, seq + 1, randomblob(16), recorded_at, occurred_at, channel,
             action, event, category, result, actor_type, actor_id, actor_email, ip, NULL,
             props, envelope
         FROM entries WHERE pk = ?1",
        [pk(t, 39)],
    )
    .expect("forge");
    let found = problem(&store, t).await;
    assert_eq!(found, Some((40, "entry beyond the log".into())));
    assert_eq!(store.log_size(t).await.expect("size"), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_or_missing_vault_value_is_reported() {
    let (dir, store, t) = seeded().await;
    let conn = raw(dir.path());
    let value: Vec<u8> = conn
        .query_row(
            "SELECT payload_value FROM entries WHERE pk = ?1",
            [pk(t, 30)],
            |r| r.get(0),
        )
        .expect("value");
    let altered = String::from_utf8(value)
        .expect("utf-8")
        .replace("recorded", "deleted");
    conn.execute(
        "UPDATE entries SET payload_value = ?2 WHERE pk = ?1",
        params![pk(t, 30), altered.as_bytes()],
    )
    .expect("alter");
    let found = problem(&store, t).await;
    assert_eq!(found, Some((30, "vault value `payload` changed".into())));
    conn.execute(
        "UPDATE entries SET actor_salt = NULL, actor_value = NULL WHERE pk = ?1",
        [pk(t, 12)],
    )
    .expect("delete");
    let found = problem(&store, t).await;
    assert_eq!(found, Some((12, "vault value `actor` missing".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_tree_hashes_are_reported_and_change_the_root() {
    let (dir, store, t) = seeded().await;
    let signed = store.tree_head(t).await.expect("head");
    let conn = raw(dir.path());
    conn.execute(
        "UPDATE tree_nodes SET hash = zeroblob(32) WHERE tenant = ?1 AND level = 2 AND idx = 5",
        [t.0],
    )
    .expect("alter inner node");
    let found = problem(&store, t).await.expect("problem");
    assert_eq!(found.0, 20, "{found:?}");
    conn.execute(
        "UPDATE tree_nodes SET hash = zeroblob(32) WHERE tenant = ?1 AND level = 0 AND idx = 7",
        [t.0],
    )
    .expect("alter leaf");
    let verification = store.verify_log(t, &|_| {}).await.expect("verify");
    assert_eq!(
        verification.first_problem.as_ref().map(|p| p.0),
        Some(7),
        "{verification:?}"
    );
    assert_ne!(
        verification.root, signed.root,
        "a rewritten leaf hash no longer reaches the signed root"
    );
    conn.execute(
        "DELETE FROM tree_nodes WHERE tenant = ?1 AND level = 1 AND idx = 2",
        [t.0],
    )
    .expect("delete node");
    assert_eq!(problem(&store, t).await.map(|p| p.0), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_reports_progress_and_counts() {
    let (_dir, store, t) = seeded().await;
    let seen = std::sync::Mutex::new(Vec::new());
    let v = store
        .verify_log(t, &|n| seen.lock().expect("lock").push(n))
        .await
        .expect("verify");
    assert_eq!(
        (v.size, v.checked, v.pruned, v.first_problem),
        (40, 40, 0, None)
    );
    assert_eq!(v.root, store.tree_head(t).await.expect("head").root);
    assert_eq!(seen.lock().expect("lock").last(), Some(&40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_guard_survives_a_restart() {
    let (dir, store, t) = seeded().await;
    let mut tree = MemoryTree::new();
    for leaf in store.leaves(t, 0, 100).await.expect("leaves") {
        tree.push(leaf.leaf_hash);
    }
    let mut root = |n| tree.root_at(n).expect("root");
    let (r20, r30, r31, r40) = (root(20), root(30), root(31), root(40));
    store
        .record_checkpoint(t, 30, r30, "note 30\n")
        .await
        .expect("record");
    drop(store);

    let store = open(dir.path());
    let latest = store.latest_checkpoint(t).await.expect("latest");
    assert_eq!(
        latest.map(|c| (c.size, c.root, c.note)),
        Some((30, r30, "note 30\n".to_string()))
    );
    for (size, root) in [(20, r20), (30, r31)] {
        let r = store.record_checkpoint(t, size, root, "x\n").await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{size}: {r:?}");
    }
    assert!(store.record_checkpoint(t, 30, r30, "x\n").await.is_ok());
    assert!(store
        .record_checkpoint(t, 40, r40, "note 40\n")
        .await
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_leaves_no_bytes_of_the_subject_in_the_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let t = store.create_tenant("acme").await.expect("tenant").id;
    for chunk in 0..10 {
        let batch = (0..30)
            .map(|i| match (chunk * 30 + i) % 3 {
                0 => by_subject("session.created"),
                1 => mentioning_subject(),
                _ => dataset_entry(i),
            })
            .collect();
        store.append(t, batch).await.expect("append");
    }
    // An export job whose record names the subject as requester, in its label and filters.
    let spec = serde_json::json!({
        "name": format!("Access review {SUBJECT_NAME}"),
        "filters": {"actor": SUBJECT_EMAIL},
        "actor": {"type": "user", "id": "u-zoe", "email": SUBJECT_EMAIL, "name": SUBJECT_NAME},
    });
    let job = sealtrail_store::StoredJob::queued(
        t,
        uuid::Uuid::now_v7(),
        spec.to_string(),
        Timestamp::now(),
    );
    assert!(store.add_job(job, 10).await.expect("job"));
    let needles: [&[u8]; 4] = [
        SUBJECT_EMAIL.as_bytes(),
        SUBJECT_NAME.as_bytes(),
        "zoë martin".as_bytes(),
        b"10.9.8.7",
    ];
    let files = |dir: &Path| -> Vec<u8> {
        let mut bytes = std::fs::read(dir.join(DB_FILE_NAME)).expect("db");
        if let Ok(wal) = std::fs::read(dir.join(format!("{DB_FILE_NAME}-wal"))) {
            bytes.extend(wal);
        }
        bytes
    };
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let before = files(dir.path());
    assert!(
        contains(&before, SUBJECT_EMAIL.as_bytes()) && contains(&before, SUBJECT_NAME.as_bytes()),
        "the subject is on disk before erasure"
    );
    let outcome = store
        .erase_subject(
            t,
            SUBJECT_EMAIL,
            ErasureMode::Erase,
            &sealtrail_core::entry::Actor::system("Erasure"),
            &sealtrail_testkit::contract::fixtures::pseudonym_key(),
        )
        .await
        .expect("erase");
    assert_eq!(outcome.entries_scrubbed, 200);
    let open_files = files(dir.path());
    for needle in needles {
        assert!(
            !contains(&open_files, needle),
            "{} found in the files while open",
            String::from_utf8_lossy(needle)
        );
    }
    drop(store);
    let closed = files(dir.path());
    for needle in needles {
        assert!(
            !contains(&closed, needle),
            "{} found in the files after close",
            String::from_utf8_lossy(needle)
        );
    }
    let store = open(dir.path());
    let v = store.verify_log(t, &|_| {}).await.expect("verify");
    assert_eq!(
        (v.first_problem, v.checked),
        (None, 301),
        "the entries and the erasure's own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_keep_flowing_during_a_large_prune() {
    const OLD: usize = 12_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = std::sync::Arc::new(open(dir.path()));
    let t = store.create_tenant("acme").await.expect("tenant").id;
    for start in (0..OLD).step_by(2_000) {
        let batch = (start..start + 2_000).map(dataset_entry).collect();
        store.append(t, batch).await.expect("append");
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cutoff = Timestamp::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let appender = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let mut acks = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) || acks.len() < 5 {
                let a = store.append(t, vec![event("live.created", "u")]).await;
                let a = a.expect("append during prune");
                acks.push((a[0].seq, done.load(std::sync::atomic::Ordering::SeqCst)));
            }
            acks
        })
    };
    let outcome = store
        .prune(t, &PruneOrder::at(cutoff))
        .await
        .expect("prune");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let acks = appender.await.expect("appender");
    assert_eq!(outcome.removed, OLD as u64);
    // Three 5,000-entry chunks leave two gaps for appends; one unchunked prune would leave
    // at most a single append racing its end.
    let during = acks.iter().filter(|(_, after)| !after).count();
    assert!(
        during >= 2,
        "appends were acknowledged between prune chunks ({during})"
    );
    // The kept log is the live appends and the prune's own entry, written before it removed
    // anything: gapless from the first kept seq.
    let everything: std::sync::Arc<dyn Store> = store.clone();
    let kept = all_pages(&everything, t, &Filter::default(), 100).await;
    let mut seqs: Vec<u64> = kept.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    let expected: Vec<u64> = (OLD as u64..OLD as u64 + acks.len() as u64 + 1).collect();
    assert_eq!(
        seqs, expected,
        "appends stay gapless, after the pruned seqs"
    );
    let records: Vec<u64> = kept
        .iter()
        .filter(|e| e.action == "retention.pruned")
        .map(|e| e.seq)
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(acks.iter().all(|(s, _)| *s != records[0]));
    let v = store.verify_log(t, &|_| {}).await.expect("verify");
    assert_eq!((v.first_problem, v.pruned), (None, OLD as u64));
}

/// Writes a version-1 entry row as the previous build did: filter columns, plaintext body,
/// targets and search words.
fn insert_v1_entry(conn: &Connection, t: TenantId, entry: &Entry) {
    let pk = pk(t, entry.seq);
    conn.execute(
        "INSERT INTO entries (pk, tenant, seq, id, recorded_at, occurred_at, channel, action,
             event, category, result, actor_type, actor_id, actor_email, ip, idempotency_key,
             props, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            pk,
            t.0,
            entry.seq as i64,
            entry.id.as_bytes().as_slice(),
            entry.recorded_at.millis(),
            entry.occurred_at.millis(),
            entry.channel,
            entry.action,
            entry.event,
            entry.category,
            entry.result.as_str(),
            entry.actor.kind.as_str(),
            entry.actor.id,
            entry.actor.email,
            entry.context.ip,
            entry.idempotency_key,
            v1_props(entry),
            serde_json::to_string(entry).expect("body"),
        ],
    )
    .expect("insert v1 entry");
    for (ord, target) in entry.targets.iter().enumerate() {
        conn.execute(
            "INSERT INTO entry_targets (pk, ord, type, id, name) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![pk, ord as i64, target.kind, target.id, target.name],
        )
        .expect("insert target");
    }
    let words: Vec<String> = entry
        .description
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("{}x{}", t.0, w.to_lowercase()))
        .collect();
    conn.execute(
        "INSERT INTO entries_fts (rowid, words) VALUES (?1, ?2)",
        params![pk, words.join(" ")],
    )
    .expect("insert words");
}

/// The `props` column as version 1 wrote it: each scalar property as text.
fn v1_props(entry: &Entry) -> Option<String> {
    let scalars: serde_json::Map<String, serde_json::Value> = entry
        .properties
        .iter()
        .filter_map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), serde_json::Value::String(text)))
        })
        .collect();
    (!scalars.is_empty()).then(|| serde_json::Value::Object(scalars).to_string())
}

/// Fills a version-1 file in `dir` with two tenants' logs (37 and 5 entries; seq 3 of the
/// first carries idempotency key `k-3`), as a build before tamper evidence stored them.
fn version_1_logs(dir: &Path) -> Vec<(TenantId, Vec<Entry>)> {
    SqliteStore::create_at_version(dir, 1).expect("v1");
    let conn = raw(dir);
    let mut logs: Vec<(TenantId, Vec<Entry>)> = Vec::new();
    for (id, name, n) in [(1i64, "acme", 37u64), (2, "globex", 5)] {
        let t = TenantId(id);
        conn.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, 0)",
            params![id, name],
        )
        .expect("tenant");
        let mut entries = Vec::new();
        for seq in 0..n {
            let mut new = dataset_entry(seq as usize);
            if seq == 3 {
                new.idempotency_key = Some("k-3".into());
            }
            let at = Timestamp(1_790_000_000_000 + seq as i64 * 1000);
            let entry = Entry::from_new(new, uuid::Uuid::now_v7(), seq, at);
            insert_v1_entry(&conn, t, &entry);
            entries.push(entry);
        }
        let last = entries.last().map_or(0, |e| e.recorded_at.millis());
        conn.execute(
            "INSERT INTO log_heads (tenant, next_seq, last_recorded_at) VALUES (?1, ?2, ?3)",
            params![id, n as i64, last],
        )
        .expect("head");
        logs.push((t, entries));
    }
    logs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_sealed_on_upgrade() {
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = version_1_logs(dir.path());
    let store = open(dir.path());
    for (t, entries) in &logs {
        let v = store.verify_log(*t, &|_| {}).await.expect("verify");
        assert_eq!(
            (v.first_problem.clone(), v.checked),
            (None, entries.len() as u64)
        );
        let mut tree = MemoryTree::new();
        for leaf in store.leaves(*t, 0, 1000).await.expect("leaves") {
            tree.push(leaf.leaf_hash);
        }
        let head = store.tree_head(*t).await.expect("head");
        assert_eq!(head.size, entries.len() as u64);
        assert_eq!(Some(head.root), tree.root_at(head.size).ok());
        assert_eq!(v.root, head.root);
        for e in entries {
            assert_eq!(
                store.get(*t, e.id).await.expect("get"),
                Lookup::Found(Box::new(e.clone()))
            );
        }
        let origin = store.log_origin(*t).await.expect("origin");
        assert!(origin.starts_with("sealtrail/") && origin.len() > "sealtrail/12345678/".len());
        let text = Filter {
            text: Some("recorded".into()),
            ..Filter::default()
        };
        assert!(
            store.count(*t, &text).await.expect("count") > 0,
            "search index kept"
        );
    }
    let acme = logs[0].0;
    let more = store
        .append(
            acme,
            vec![event("a.created", "u"), keyed("b.created", "u", "k-3")],
        )
        .await
        .expect("append");
    assert_eq!((more[0].seq, more[1].seq, more[1].duplicate), (37, 3, true));
    let v = store.verify_log(acme, &|_| {}).await.expect("verify");
    assert_eq!((v.first_problem, v.size), (None, 38));
    drop(store);
    let conn = raw(dir.path());
    let body_columns = scalar(
        &conn,
        "SELECT count(*) FROM pragma_table_info('entries') WHERE name = 'body'",
    );
    assert_eq!(body_columns, 0, "the plaintext bodies are gone");
    let version = scalar(&conn, "SELECT max(version) FROM schema_migrations");
    assert_eq!(version, SqliteStore::schema_version());
    let too_short = SqliteStore::open(dir.path(), SqliteOptions::default())
        .expect("reopen")
        .set_retention(acme, sealtrail_store::Retention::Days(7))
        .await;
    assert!(
        matches!(too_short, Err(StoreError::Invalid(_))),
        "{too_short:?}"
    );
}

/// `(pk, part, salt, value)` of one stored vault value.
type VaultRow = (i64, i64, Option<Vec<u8>>, Vec<u8>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_6_folds_the_vault_table_into_the_entry_rows_and_keeps_erased_parts_erased() {
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = version_1_logs(dir.path());
    SqliteStore::create_at_version(dir.path(), 5).expect("v5");
    let (acme, _) = &logs[0];
    // As an erasure on version 5 left it: no salt, a stand-in value, `erased` set, and the
    // filter columns rebuilt from the stand-in.
    let stand_in = br#"{"type":"user","id":"erased-1f2e"}"#;
    let conn = raw(dir.path());
    let before: Vec<VaultRow> = {
        conn.execute(
            "UPDATE vault SET salt = NULL, value = ?2, erased = 1 WHERE pk = ?1 AND part = 0",
            params![pk(*acme, 4), stand_in.as_slice()],
        )
        .expect("erase on v5");
        conn.execute(
            "UPDATE entries SET actor_id = 'erased-1f2e', actor_email = NULL WHERE pk = ?1",
            [pk(*acme, 4)],
        )
        .expect("the filter columns follow the erased actor");
        let mut stmt = conn
            .prepare("SELECT pk, part, salt, value FROM vault ORDER BY pk, part")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("vault rows")
            .collect::<Result<_, _>>()
            .expect("vault rows");
        rows
    };
    drop(conn);
    assert_eq!(before.len(), 3 * (37 + 5));

    let store = open(dir.path());
    // Version 8 listed the value erased on version 5 in a run of its own, which has no entry
    // until the next start records it (as `serve` does).
    let unrecorded = store.verify_log(*acme, &|_| {}).await.expect("verify");
    assert!(
        matches!(&unrecorded.first_problem, Some((4, m)) if m.contains("no `subject.erased` entry records")),
        "{:?}",
        unrecorded.first_problem
    );
    let key = sealtrail_testkit::contract::fixtures::pseudonym_key();
    assert_eq!(store.finish_erasures(*acme, &key).await.ok(), Some(1));
    assert_eq!(
        store.finish_erasures(*acme, &key).await.ok(),
        Some(0),
        "once"
    );
    let mut after = Vec::new();
    for (t, entries) in &logs {
        let v = store.verify_log(*t, &|_| {}).await.expect("verify");
        let recorded = u64::from(t == acme);
        assert_eq!(
            (v.first_problem, v.checked),
            (None, entries.len() as u64 + recorded)
        );
        for leaf in store.leaves(*t, 0, 1000).await.expect("leaves") {
            if leaf.seq >= entries.len() as u64 {
                continue;
            }
            for (part, slot) in leaf.slots.iter().enumerate() {
                let (salt, value) = match slot {
                    Slot::Committed(v) => (Some(v.salt.to_vec()), v.value.clone()),
                    Slot::Erased { replacement, .. } => (None, replacement.clone()),
                };
                after.push((pk(*t, leaf.seq), part as i64, salt, value));
            }
        }
    }
    assert_eq!(
        after, before,
        "every salt and value moved, the erased one without a salt"
    );
    let conn = raw(dir.path());
    let vault_tables = scalar(
        &conn,
        "SELECT count(*) FROM sqlite_master WHERE name = 'vault'",
    );
    assert_eq!(vault_tables, 0, "the vault table is gone");
}

/// Version 14 indexes every stored entry's search document again, with the inner suffixes
/// that find text inside words; entries stored before it are found like new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_14_indexes_text_inside_the_words_of_entries_stored_before_it() {
    let (dir, store, t) = seeded().await;
    let text = |s: &str| Filter {
        text: Some(s.into()),
        ..Filter::default()
    };
    assert_eq!(store.count(t, &text("recorded")).await.expect("count"), 39);
    drop(store);
    let conn = raw(dir.path());
    conn.execute_batch(
        "INSERT INTO entries_fts (entries_fts) VALUES ('delete-all');
         DELETE FROM schema_migrations WHERE version = 14;",
    )
    .expect("back to version 13, its index gone");
    drop(conn);
    let store = open(dir.path());
    for (query, expected) in [
        ("ssigned", 1),
        ("ecorded", 39),
        ("recorded", 39),
        ("xample", 39),
    ] {
        assert_eq!(
            store.count(t, &text(query)).await.expect("count"),
            expected,
            "{query}"
        );
    }
    assert_eq!(problem(&store, t).await, None);
}
