//! An erasure cut short before its entry was written: verify names the run, and the run is
//! recorded, as interrupted, once it is stale (what `serve` does at start and nightly).

// A test suite may unwrap: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{erase, ledger, SqliteOptions, SqliteStore};
use crate::erasure::ledger::{new_run_id, STALE_AFTER_MS};
use crate::StoreError;
use crate::{Directory, EventLog, Integrity, Lifecycle};
use sealtrail_core::filter::Filter;
use sealtrail_core::Timestamp;
use sealtrail_testkit::contract::erasure::{by_subject, mentioning_subject, SUBJECT_EMAIL};
use sealtrail_testkit::contract::fixtures::event;

#[tokio::test]
async fn an_interrupted_erasure_is_recorded_once_it_is_stale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
    let t = store.create_tenant("acme").await.expect("tenant").id;
    let news = vec![
        by_subject("session.created"),
        mentioning_subject(),
        event("a.created", "u"),
    ];
    store.append(t, news).await.expect("append");
    store.settle(true).await;
    let origin = store.log_origin(t).await.expect("origin");
    let plan = store
        .reads
        .read(move |conn| {
            erase::find_subject(
                conn,
                t,
                SUBJECT_EMAIL,
                &origin,
                &crate::PseudonymKey::from_bytes([7; 32]),
            )
        })
        .await
        .expect("plan");
    // The run's first chunk commits; the process then dies before the run finishes.
    let run = new_run_id();
    let pseudonym = plan.pseudonym.clone();
    let by = sealtrail_core::entry::Actor::system("Erasure");
    store
        .with_writer(move |conn| {
            ledger::begin(conn, t, run, &pseudonym, &by)?;
            erase::scrub_chunk(conn, t, 0, &plan, run)
        })
        .await
        .expect("one chunk");

    let v = store.verify_log(t, &|_| {}).await.expect("verify");
    assert!(
        matches!(&v.first_problem, Some((0, m)) if m.contains(&hex::encode(run))),
        "{:?}",
        v.first_problem
    );
    assert_eq!(
        store.finish_erasures(t).await.ok(),
        Some(0),
        "a run still moving is not recorded"
    );
    let stale = Timestamp::now().millis() - STALE_AFTER_MS - 1;
    store
        .with_writer(move |conn| {
            conn.execute("UPDATE erasure_runs SET updated_at = ?1", [stale])?;
            Ok(())
        })
        .await
        .expect("age the run");
    assert_eq!(store.finish_erasures(t).await.ok(), Some(1));
    assert_eq!(store.finish_erasures(t).await.ok(), Some(0), "once");

    let v = store.verify_log(t, &|_| {}).await.expect("verify");
    assert_eq!((v.first_problem, v.checked), (None, 4));
    let query = sealtrail_core::filter::Query {
        filter: Filter::default(),
        limit: 10,
        cursor: None,
    };
    let newest = store.query(t, &query).await.expect("newest").entries;
    let record = &newest[0];
    assert_eq!(record.action, "subject.erased");
    assert_eq!(record.result.as_str(), "warning");
    assert_eq!(
        record.properties.get("interrupted"),
        Some(&serde_json::json!(true))
    );
    assert_eq!(
        record.properties.get("entries_scrubbed"),
        Some(&serde_json::json!(2))
    );
    let missing = store.finish_erasures(sealtrail_core::TenantId(999)).await;
    assert!(
        matches!(missing, Ok(0) | Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}
