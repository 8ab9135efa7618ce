//! An erasure cut short before its entry was written: verify names the run, and the run is
//! recorded, as interrupted, once it is stale (what `serve` does at start and nightly).

// A test suite may unwrap: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{erase, ledger, SqliteOptions, SqliteStore};
use crate::erasure::ledger::{new_run_id, run_seal, value_hash, STALE_AFTER_MS};
use crate::StoreError;
use crate::{Directory, EventLog, Integrity, Lifecycle};
use sealtrail_core::filter::Filter;
use sealtrail_core::Timestamp;
use sealtrail_testkit::contract::erasure::{by_subject, mentioning_subject, SUBJECT_EMAIL};
use sealtrail_testkit::contract::fixtures::event;

/// The deployment's pseudonym key in these tests.
fn key() -> crate::PseudonymKey {
    crate::PseudonymKey::from_bytes([7; 32])
}

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
        .read(move |conn| erase::find_subject(conn, t, SUBJECT_EMAIL, &origin, &key()))
        .await
        .expect("plan");
    // The run's first chunk commits; the process then dies before the run finishes.
    let run = new_run_id();
    let pseudonym = plan.pseudonym.clone();
    let by = sealtrail_core::entry::Actor::system("Erasure");
    let seal = run_seal(&key(), t, &run, &pseudonym);
    store
        .with_writer(move |conn| {
            ledger::begin(conn, t, run, &pseudonym, &by, &seal)?;
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
        store.finish_erasures(t, &key()).await.ok(),
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
    assert_eq!(store.finish_erasures(t, &key()).await.ok(), Some(1));
    assert_eq!(store.finish_erasures(t, &key()).await.ok(), Some(0), "once");

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
    let missing = store
        .finish_erasures(sealtrail_core::TenantId(999), &key())
        .await;
    assert!(
        matches!(missing, Ok(0) | Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

/// Someone with write access to the database edits an entry's actor and writes a finished
/// erasure run listing the edit, so the edited value would pass as erased once the run is
/// recorded. Without this deployment's seal the run is never recorded (unsealed, as an
/// upgrade's run after the tenant had runs, or sealed with another key), and `verify`
/// reports the edited value.
#[tokio::test]
async fn a_run_written_into_the_database_is_not_recorded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
    let t = store.create_tenant("acme").await.expect("tenant").id;
    let news = vec![
        event("a.created", "u-bob"),
        event("b.created", "u-bob"),
        by_subject("session.created"),
    ];
    store.append(t, news).await.expect("append");
    // A genuine erasure first, so the tenant has a recorded run.
    let by = sealtrail_core::entry::Actor::system("Erasure");
    store
        .erase_subject(t, SUBJECT_EMAIL, crate::ErasureMode::Erase, &by, &key())
        .await
        .expect("erase");
    assert_eq!(
        store
            .verify_log(t, &|_| {})
            .await
            .expect("verify")
            .first_problem,
        None
    );
    let forged = br#"{"email":null,"id":"u-bob","name":"Mallory Forger","via":null}"#.to_vec();
    let other_key = crate::PseudonymKey::from_bytes([8; 32]);
    let attempts = [
        ("erased-000000000000", None),
        ("", None),
        (
            "erased-111111111111",
            Some(run_seal(&other_key, t, &[9; 16], "erased-111111111111").to_vec()),
        ),
    ];
    for (pseudonym, seal) in attempts {
        let forged = forged.clone();
        store
            .with_writer(move |conn| {
                let pk: i64 = conn.query_row(
                    "SELECT pk FROM entries WHERE seq = 1 AND (pk >> 40) = ?1",
                    [t.0],
                    |r| r.get(0),
                )?;
                conn.execute(
                    "UPDATE entries SET actor_value = ?2, actor_salt = NULL, actor_email = NULL
                     WHERE pk = ?1",
                    rusqlite::params![pk, forged],
                )?;
                let run = [9u8; 16];
                conn.execute("DELETE FROM erased_slots WHERE run = ?1", [run.as_slice()])?;
                conn.execute("DELETE FROM erasure_runs WHERE run = ?1", [run.as_slice()])?;
                conn.execute(
                    "INSERT INTO erasure_runs
                         (tenant, run, pseudonym, actor, finished, updated_at, seal)
                     VALUES (?1, ?2, ?3, '{\"type\":\"system\",\"id\":\"system\"}', 1, 0, ?4)",
                    rusqlite::params![t.0, run.as_slice(), pseudonym, seal],
                )?;
                conn.execute(
                    "INSERT INTO erased_slots (tenant, run, seq, part, hash)
                     VALUES (?1, ?2, 1, 0, ?3)",
                    rusqlite::params![t.0, run.as_slice(), value_hash(&forged).as_slice()],
                )?;
                Ok(())
            })
            .await
            .expect("forge a run");
        assert_eq!(
            store.finish_erasures(t, &key()).await.ok(),
            Some(0),
            "the forged run ({pseudonym:?}) is not recorded"
        );
        let v = store.verify_log(t, &|_| {}).await.expect("verify");
        assert!(
            matches!(&v.first_problem, Some((1, _))),
            "verify reports the forged value: {:?}",
            v.first_problem
        );
    }
}
