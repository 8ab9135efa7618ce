//! Writer failure handling, which needs the writer connection itself to provoke errors.

use super::{SqliteOptions, SqliteStore, WriteError};
use crate::contract::fixtures::event;
use crate::{Store, StoreError};
use sealtrail_core::filter::Filter;
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
        t
    };
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("reopen");
    assert_eq!(store.log_size(t).await.expect("size"), 1);
}
