//! Writer failure handling, which needs the writer connection itself to provoke errors.

// A test suite may unwrap: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{SqliteOptions, SqliteStore, WriteError};
use crate::{Directory, EventLog, Integrity, Lifecycle};
use crate::{Store, StoreError};
use sealtrail_core::filter::Filter;
use sealtrail_testkit::contract::fixtures::event;
use std::time::Duration;

fn open(options: SqliteOptions) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path(), options).expect("open");
    (dir, store)
}

#[tokio::test]
async fn one_bad_request_does_not_fail_the_others_in_its_group() {
    let (_dir, store) = open(SqliteOptions {
        group_commit_wait: Duration::from_millis(300),
        ..SqliteOptions::default()
    });
    let t = store.create_tenant("acme").await.expect("tenant").id;
    store
        .with_writer(|conn| {
            conn.execute_batch(
                "CREATE TEMP TRIGGER poison BEFORE INSERT ON main.entries
                 WHEN NEW.action = 'poison.created'
                 BEGIN SELECT RAISE(ABORT, 'poisoned entry'); END;",
            )
            .map_err(WriteError::from)
        })
        .await
        .expect("trigger");
    let before = store.commit_count();
    let (a, bad, unknown, b) = tokio::join!(
        store.append(t, vec![event("a.created", "u")]),
        store.append(t, vec![event("poison.created", "u")]),
        store.append(sealtrail_core::TenantId(999), vec![event("a.created", "u")]),
        store.append(t, vec![event("b.created", "u")]),
    );
    assert!(matches!(bad, Err(StoreError::Backend(_))), "{bad:?}");
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    let mut seqs = vec![a.expect("a")[0].seq, b.expect("b")[0].seq];
    seqs.sort();
    assert_eq!(seqs, [0, 1], "the failed request consumed no seq");
    assert_eq!(store.log_size(t).await.expect("size"), 2);
    assert!(
        store.commit_count() - before >= 2,
        "the good requests were committed"
    );
    assert!(
        store.health().await.is_ok(),
        "a non-fatal error leaves the writer running"
    );
}

#[tokio::test]
async fn a_full_disk_stops_the_writer_for_good() {
    let (_dir, store) = open(SqliteOptions::default());
    let t = store.create_tenant("acme").await.expect("tenant").id;
    let first = store
        .append(t, vec![event("a.created", "u")])
        .await
        .expect("append");
    // Cap the file at its current size: the next write that needs a page fails as if the
    // disk were full (SQLITE_FULL).
    store
        .with_writer(|conn| {
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            conn.pragma_update(None, "max_page_count", pages)?;
            Ok(())
        })
        .await
        .expect("cap");
    let mut big = event("a.created", "u");
    big.description = "x".repeat(200_000);
    let failed = store.append(t, vec![big]).await;
    assert!(
        matches!(failed, Err(StoreError::WriterFailed(_))),
        "{failed:?}"
    );
    let later = store.append(t, vec![event("a.created", "u")]).await;
    assert!(
        matches!(later, Err(StoreError::WriterFailed(_))),
        "{later:?}"
    );
    let tenant = store.create_tenant("other").await;
    assert!(
        matches!(tenant, Err(StoreError::WriterFailed(_))),
        "{tenant:?}"
    );
    assert!(store.health().await.is_err());
    // Reads keep serving what was durably committed.
    assert!(matches!(
        store.get(t, first[0].id).await.expect("get"),
        crate::Lookup::Found(_)
    ));
    assert_eq!(store.count(t, &Filter::default()).await.expect("count"), 1);
}

#[tokio::test]
async fn dropping_the_store_commits_what_was_queued_and_stops_the_thread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let t = {
        let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
        let t = store.create_tenant("acme").await.expect("tenant").id;
        store
            .append(t, vec![event("a.created", "u")])
            .await
            .expect("append");
        assert_eq!(store.entries_awaiting_indexes(), 1);
        t
    };
    // The derived indexes were written on the way out, not left to the next open.
    assert_eq!(derived_rows(dir.path()), (1, 0));
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("reopen");
    assert_eq!(store.log_size(t).await.expect("size"), 1);
    assert_eq!(derived_counts(&store, t).await, (1, 1, 1));
}

/// A file as a version-3 build left it: schema 3, one tenant with non-default settings.
fn version_3_file_with_a_tenant(dir: &std::path::Path) -> sealtrail_core::TenantId {
    let path = dir.join(super::DB_FILE_NAME);
    super::schema::create_at_version(&path, 3).expect("schema 3");
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let has_users: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('users', 'sessions')",
            [],
            |r| r.get(0),
        )
        .expect("schema");
    assert_eq!(has_users, 0, "version 3 has no users or sessions");
    let installation: String = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'installation_id'",
            [],
            |r| r.get(0),
        )
        .expect("installation id");
    conn.execute(
        "INSERT INTO tenants (name, created_at, log_origin, retention_days, legal_hold,
                              export_excluded)
         VALUES ('acme', 1700000000000, ?1, 90, 1, '[\"dialogue\",\"notes\"]')",
        [super::admin::log_origin(&installation, "acme")],
    )
    .expect("tenant");
    let id = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO log_heads (tenant, next_seq, last_recorded_at) VALUES (?1, 0, 0)",
        [id],
    )
    .expect("log head");
    sealtrail_core::TenantId(id)
}

#[tokio::test]
async fn a_version_3_database_migrates_to_users_sessions_and_allowlists() {
    use crate::{NewUser, Retention, TenantSettings, UserChange};
    use sealtrail_core::session::{generate_token, hash_token, Session, SESSION_LIFETIME_MS};
    use sealtrail_core::users::Role;
    use sealtrail_core::Timestamp;

    let dir = tempfile::tempdir().expect("temp dir");
    let t = version_3_file_with_a_tenant(dir.path());
    let kept = TenantSettings {
        retention: Retention::Days(90),
        legal_hold: true,
        export_excluded_properties: vec!["dialogue".into(), "notes".into()],
        ip_allowlist: Vec::new(),
        limits: crate::TenantLimits::DEFAULT,
        tile_access: crate::TileAccess::Off,
        default_period: None,
        cors_origins: Vec::new(),
    };
    let (user, token) = {
        let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open migrates");
        let tenant = store.tenant_by_name("acme").await.expect("lookup");
        assert_eq!(
            tenant.map(|t| (t.id, t.created_at)),
            Some((t, Timestamp(1_700_000_000_000)))
        );
        assert_eq!(
            store.settings(t).await.expect("settings"),
            kept,
            "settings kept, allowlist empty"
        );
        let origin = store.log_origin(t).await.expect("origin");
        assert!(origin.ends_with("/acme"), "{origin}");

        let user = store
            .create_user(
                t,
                NewUser {
                    email: "ada@example.com".into(),
                    name: "Ada".into(),
                    role: Role::Owner,
                    password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                },
            )
            .await
            .expect("create user");
        assert_eq!(store.list_users(t).await.expect("list"), vec![user.clone()]);
        let token = generate_token();
        let now = Timestamp::now();
        let session = Session {
            token_hash: hash_token(&token),
            tenant: t,
            user_id: user.id.clone(),
            created_at: now,
            expires_at: Timestamp(now.millis() + SESSION_LIFETIME_MS),
        };
        store
            .create_session(session.clone())
            .await
            .expect("create session");
        assert_eq!(
            store.session(session.token_hash).await.expect("session"),
            Some(session)
        );
        let refused = store.update_user(t, &user.id, UserChange::Deactivate).await;
        assert!(
            matches!(refused, Err(StoreError::Conflict(_))),
            "{refused:?}"
        );
        let listed = store
            .set_ip_allowlist(t, vec!["203.0.113.9/24".into()])
            .await
            .expect("allowlist");
        assert_eq!(listed.ip_allowlist, ["203.0.113.0/24"]);
        assert_eq!(
            (listed.retention, listed.legal_hold),
            (kept.retention, kept.legal_hold)
        );
        let acks = store
            .append(t, vec![event("a.created", "u")])
            .await
            .expect("append");
        assert_eq!(acks[0].seq, 0, "the log starts where version 3 left it");
        (user, token)
    };

    // Reopening applies nothing twice and finds everything again.
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("reopen");
    assert_eq!(
        store
            .user_by_email(t, "ada@example.com")
            .await
            .expect("user"),
        Some(user)
    );
    assert!(store
        .session(hash_token(&token))
        .await
        .expect("session")
        .is_some());
    assert_eq!(
        store.settings(t).await.expect("settings").ip_allowlist,
        ["203.0.113.0/24"]
    );
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join(super::DB_FILE_NAME)).expect("raw");
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("versions");
    assert_eq!(
        versions,
        (1..=SqliteStore::schema_version()).collect::<Vec<_>>(),
        "each migration applied once"
    );
    assert!(SqliteStore::schema_version() >= 4);
}

#[tokio::test]
async fn the_search_index_leaves_deleted_documents_to_the_purge() {
    let (dir, store) = open(SqliteOptions::default());
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join(super::DB_FILE_NAME)).expect("raw");
    let delete_merge: i64 = conn
        .query_row(
            "SELECT v FROM entries_fts_config WHERE k = 'deletemerge'",
            [],
            |r| r.get(0),
        )
        .expect("the setting is stored");
    assert_eq!(delete_merge, 0);
}

#[tokio::test]
async fn session_tokens_never_reach_the_files() {
    use crate::NewUser;
    use sealtrail_core::session::{generate_token, hash_token, Session, SESSION_LIFETIME_MS};
    use sealtrail_core::users::Role;
    use sealtrail_core::Timestamp;

    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
    let t = store.create_tenant("acme").await.expect("tenant").id;
    let user = store
        .create_user(
            t,
            NewUser {
                email: "ada@example.com".into(),
                name: "Ada".into(),
                role: Role::Owner,
                password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
            },
        )
        .await
        .expect("user");
    let tokens: Vec<String> = (0..3).map(|_| generate_token()).collect();
    let now = Timestamp::now();
    for token in &tokens {
        store
            .create_session(Session {
                token_hash: hash_token(token),
                tenant: t,
                user_id: user.id.clone(),
                created_at: now,
                expires_at: Timestamp(now.millis() + SESSION_LIFETIME_MS),
            })
            .await
            .expect("session");
    }
    let files = |dir: &std::path::Path| -> Vec<u8> {
        let db = dir.join(super::DB_FILE_NAME);
        let mut bytes = std::fs::read(&db).expect("db");
        if let Ok(wal) = std::fs::read(dir.join(format!("{}-wal", super::DB_FILE_NAME))) {
            bytes.extend(wal);
        }
        bytes
    };
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let check = |bytes: &[u8], when: &str| {
        for token in &tokens {
            assert!(
                contains(bytes, &hash_token(token)),
                "{when}: the stored hash is in the files (so the scan sees the sessions)"
            );
            assert!(
                !contains(bytes, token.as_bytes()),
                "{when}: a session token was found in the files"
            );
        }
    };
    check(&files(dir.path()), "while open");
    drop(store);
    check(&files(dir.path()), "after close");
}

#[tokio::test]
async fn a_replayed_clock_dates_entries_and_time_never_goes_back() {
    use crate::Clock;
    use sealtrail_core::filter::Query;
    use sealtrail_core::Timestamp;
    let (clock, handle) = Clock::replayed(Timestamp(1_700_000_000_000));
    let (_dir, store) = open(SqliteOptions {
        clock,
        ..SqliteOptions::default()
    });
    let tenant = store.create_tenant("acme").await.expect("tenant").id;
    store
        .append(tenant, vec![event("a.created", "u1")])
        .await
        .expect("first");
    handle.set(Timestamp(1_600_000_000_000));
    store
        .append(tenant, vec![event("a.created", "u2")])
        .await
        .expect("second");
    handle.set(Timestamp(1_710_000_000_000));
    store
        .append(tenant, vec![event("a.created", "u3")])
        .await
        .expect("third");
    let page = store.query(tenant, &Query::default()).await.expect("page");
    let times: Vec<i64> = page
        .entries
        .iter()
        .map(|e| e.recorded_at.millis())
        .collect();
    assert_eq!(
        times,
        [1_710_000_000_000, 1_700_000_000_000, 1_700_000_000_000]
    );
}

#[tokio::test]
async fn the_writer_never_checkpoints_and_the_checkpoint_thread_drains_the_wal() {
    let (dir, store) = open(SqliteOptions::default());
    let autocheckpoint: i64 = store
        .with_writer(|conn| {
            conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
                .map_err(WriteError::from)
        })
        .await
        .expect("pragma");
    assert_eq!(autocheckpoint, 0, "commits never wait for a checkpoint");

    let t = store.create_tenant("acme").await.expect("tenant").id;
    let main_file = dir.path().join(super::DB_FILE_NAME);
    let before = std::fs::metadata(&main_file).expect("db file").len();
    let rounds_before = store.wal_checkpoints();
    for _ in 0..20 {
        let events = (0..100).map(|_| event("bulk.loaded", "u")).collect();
        store.append(t, events).await.expect("append");
    }
    // Only a checkpoint copies pages into the main file, so its growth shows the thread ran.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.wal_checkpoints() == rounds_before
        || std::fs::metadata(&main_file).expect("db file").len() <= before
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint drained the WAL within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        store.count(t, &Filter::default()).await.expect("count"),
        2_000
    );
}

/// How many entries of `t` search, a target filter and the facet counts each find.
async fn derived_counts(store: &SqliteStore, t: sealtrail_core::TenantId) -> (u64, u64, u64) {
    let text = Filter {
        text: Some("did".into()),
        ..Filter::default()
    };
    let target = Filter {
        target_id: Some("142".into()),
        ..Filter::default()
    };
    let facets = store.facets(t).await.expect("facets");
    (
        store.count(t, &text).await.expect("search count"),
        store.count(t, &target).await.expect("target count"),
        facets.actions.iter().map(|v| v.count).sum(),
    )
}

/// `n` events of one action, each from its own actor (so facets count `n` actors).
fn from_distinct_actors(n: usize) -> Vec<sealtrail_core::entry::NewEntry> {
    (0..n)
        .map(|i| event("a.created", &format!("u{i}")))
        .collect()
}

/// Raw row counts of the derived indexes and the queue, read behind the store's back.
fn derived_rows(dir: &std::path::Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(dir.join(super::DB_FILE_NAME)).expect("raw open");
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql);
    (
        count("SELECT count(*) FROM entry_targets"),
        count("SELECT count(*) FROM index_queue"),
    )
}

#[tokio::test]
async fn derived_indexes_follow_the_commit_within_the_lag_bound_without_any_read() {
    let (dir, store) = open(SqliteOptions::default());
    let t = store.create_tenant("acme").await.expect("tenant").id;
    let appended = store
        .append(t, from_distinct_actors(20))
        .await
        .expect("append");
    assert_eq!(appended.len(), 20);
    assert_eq!(
        store.entries_awaiting_indexes(),
        20,
        "indexed after the ack"
    );
    assert_eq!(derived_rows(dir.path()), (0, 20));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while derived_rows(dir.path()) != (20, 0) {
        assert!(std::time::Instant::now() < deadline, "never indexed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.entries_awaiting_indexes(), 0);
    assert_eq!(derived_counts(&store, t).await, (20, 20, 20));
}

#[tokio::test]
async fn a_read_that_needs_derived_indexes_sees_every_acknowledged_entry() {
    let (_dir, store) = open(SqliteOptions::default());
    let t = store.create_tenant("acme").await.expect("tenant").id;
    for round in 1..=5u64 {
        store
            .append(t, vec![event("a.created", "u"), event("b.created", "v")])
            .await
            .expect("append");
        assert_eq!(
            derived_counts(&store, t).await,
            (2 * round, 2 * round, 2 * round)
        );
    }
}

#[tokio::test]
async fn entries_queued_by_another_process_are_indexed_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
    let t = first.create_tenant("acme").await.expect("tenant").id;
    first
        .append(t, from_distinct_actors(30))
        .await
        .expect("append");
    assert_eq!(first.entries_awaiting_indexes(), 30);
    // A second process on the same file indexes what it finds queued before its first job...
    let second = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("second open");
    second.create_tenant("other").await.expect("a job");
    assert_eq!(derived_rows(dir.path()), (30, 0));
    // ...and the first, finding its entries' queue rows gone, does not index them again.
    assert_eq!(derived_counts(&first, t).await, (30, 30, 30));
    assert_eq!(first.entries_awaiting_indexes(), 0);
    assert_eq!(derived_counts(&second, t).await, (30, 30, 30));
    assert_eq!(derived_rows(dir.path()), (30, 0));
}

/// A file holding `n` entries whose derived indexes were wiped and queued again, and the
/// entries as the writer holds them right after their commit.
async fn requeued(
    n: usize,
) -> (
    tempfile::TempDir,
    rusqlite::Connection,
    super::derive::Pending,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
    let t = store.create_tenant("acme").await.expect("tenant").id;
    store
        .append(t, from_distinct_actors(n))
        .await
        .expect("append");
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join(super::DB_FILE_NAME)).expect("raw");
    conn.execute_batch(
        "DELETE FROM entry_targets; DELETE FROM entries_fts; DELETE FROM facet_values;
         DELETE FROM facet_actors; INSERT INTO index_queue (pk) SELECT pk FROM entries;",
    )
    .expect("requeue");
    let stored = super::vault::load(&conn, "1 = 1", Vec::new(), false).expect("load");
    let mut pending = super::derive::Pending::default();
    pending.extend(
        stored
            .into_iter()
            .map(|row| (row.pk, t, row.open().expect("opens")))
            .collect(),
    );
    (dir, conn, pending)
}

#[tokio::test]
async fn a_backlog_behind_waiting_appends_is_indexed_in_slices_exactly_once() {
    use super::derive::{index_queued, SLICE};
    let n = SLICE * 2 + 40;
    let (_dir, mut conn, mut pending) = requeued(n).await;
    let rows = |conn: &rusqlite::Connection, sql: &str| -> usize {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql) as usize
    };

    // Appends waiting: the oldest slice only, and exactly its queue rows.
    assert_eq!(
        index_queued(&mut conn, &mut pending, false).expect("slice"),
        SLICE as u64
    );
    assert_eq!(pending.len(), n - SLICE);
    assert_eq!(rows(&conn, "SELECT count(*) FROM index_queue"), n - SLICE);
    assert_eq!(rows(&conn, "SELECT count(*) FROM entry_targets"), SLICE);

    // Another process indexed ten of the next slice first: their rows are gone, they are skipped.
    conn.execute(
        "DELETE FROM index_queue WHERE pk IN (SELECT pk FROM index_queue ORDER BY pk LIMIT 10)",
        [],
    )
    .expect("taken by another process");
    assert_eq!(
        index_queued(&mut conn, &mut pending, false).expect("slice"),
        SLICE as u64 - 10
    );

    // Nothing waiting (or a reader catching up): the rest in one batch, and the log is whole.
    assert_eq!(
        index_queued(&mut conn, &mut pending, false).expect("rest"),
        40
    );
    assert_eq!(pending.len(), 0);
    assert_eq!(rows(&conn, "SELECT count(*) FROM index_queue"), 0);
    assert_eq!(rows(&conn, "SELECT count(*) FROM entry_targets"), n - 10);
    assert_eq!(
        rows(
            &conn,
            "SELECT sum(count) FROM facet_values WHERE kind = 'action'"
        ),
        n - 10
    );
}

#[tokio::test]
async fn a_backlog_past_a_full_batch_is_indexed_at_once_even_while_appends_wait() {
    use super::derive::{index_queued, BATCH};
    let (_dir, mut conn, mut pending) = requeued(BATCH + 10).await;
    assert_eq!(
        index_queued(&mut conn, &mut pending, false).expect("batch"),
        BATCH as u64 + 10
    );
    assert_eq!(pending.len(), 0);
}

/// An actor's page in a period, its count and its timeline read only the actor index (event
/// time, outcome and action ride in it after `pk`), never each non-matching entry's row.
#[tokio::test]
async fn actor_pages_counts_and_timelines_are_answered_from_the_actor_index() {
    let (_dir, store) = open(SqliteOptions::default());
    let plans = store
        .with_writer(|conn| {
            let mut plans = Vec::new();
            for (column, what, tail) in [
                (
                    "actor_id",
                    "e.pk",
                    "AND e.occurred_at >= 0 ORDER BY e.pk DESC LIMIT 51",
                ),
                ("actor_email", "count(*)", "AND e.action = 'a.b'"),
                (
                    "actor_id",
                    "e.occurred_at / 86400000, e.result, count(*)",
                    "AND e.action = 'a.b' GROUP BY 1, 2",
                ),
            ] {
                let sql = format!(
                    "EXPLAIN QUERY PLAN SELECT {what} FROM entries AS e
                     WHERE e.pk >= 0 AND e.pk < 100 AND e.tenant = 1 AND e.{column} = 'u' {tail}"
                );
                let mut stmt = conn.prepare(&sql)?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(3))?;
                plans.push(rows.collect::<Result<Vec<_>, _>>()?.join("; "));
            }
            Ok(plans)
        })
        .await
        .expect("plans");
    for plan in plans {
        assert!(plan.contains("COVERING INDEX entries_actor_"), "{plan}");
    }
}
