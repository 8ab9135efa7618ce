//! No byte of an erased subject stays in any table or index file of the PostgreSQL cluster
//! once the erasure has answered — the month partition, its indexes (including the GIN search
//! index, which never drops a word's key), the facet tables, an export's stored file and record,
//! `pg_statistic` — while appends
//! go on throughout and every one of them is kept. Scanned after `CHECKPOINT`, over every file
//! of the cluster but the WAL (which docs/scale-out.md covers).

use postgres::NoTls;
use sealtrail_core::entry::Actor;
use sealtrail_core::Timestamp;
use sealtrail_store::pg::{PgOptions, PgStore};
use sealtrail_store::{ErasureMode, JobEnd, Store, StoredJob};
use sealtrail_testkit::contract::fixtures::{event, pseudonym_key, tenant};
use sealtrail_testkit::pg_harness::PgServer;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The subject, made unique to this run so no other file of the cluster could hold it.
fn subject() -> (String, String, String) {
    let n = std::process::id();
    (
        format!("u-erin-{n}"),
        format!("erin.erasable.{n}@example.org"),
        format!("Erin Erasable{n}"),
    )
}

/// Every file of the cluster but the WAL in which `needle` occurs (ignoring ASCII case).
fn files_holding(dir: &Path, needle: &str, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "pg_wal") {
            continue;
        }
        if path.is_dir() {
            files_holding(&path, needle, found);
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
            {
                found.push(path.display().to_string());
            }
        }
    }
}

/// Runs SQL as the cluster's superuser would (CHECKPOINT, ANALYZE).
async fn sql(url: &str, statements: &str) {
    let (url, statements) = (url.to_string(), statements.to_string());
    let done = tokio::task::spawn_blocking(move || {
        postgres::Client::connect(&url, NoTls)?.batch_execute(&statements)
    })
    .await;
    assert!(matches!(done, Ok(Ok(()))), "{done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_erasure_leaves_no_copy_in_any_table_or_index_file() {
    let server = PgServer::start().unwrap();
    let url = server.create_database().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(PgStore::connect(&url, PgOptions::default()).await.unwrap());
    let t = tenant(&store, "acme").await;
    let (id, email, name) = subject();
    let entries = (0..3000)
        .map(|i| {
            if i % 3 == 0 {
                let mut e = event("document.shared", &id);
                e.actor.email = Some(email.clone());
                e.actor.name = Some(name.clone());
                e.description = format!("{name} shared document {i}");
                e
            } else {
                event("document.viewed", &format!("u-{}", i % 17))
            }
        })
        .collect::<Vec<_>>();
    for chunk in entries.chunks(500) {
        store.append(t, chunk.to_vec()).await.unwrap();
    }
    // A ready export of the log, stored in the database (large enough to be TOASTed), whose
    // record names the subject as requester, in its label and as a filter.
    let spec = serde_json::json!({
        "name": format!("Access review {name}"),
        "filters": {"actor": email},
        "actor": {"type": "user", "id": id, "email": email, "name": name},
    });
    let job = StoredJob::queued(t, uuid::Uuid::now_v7(), spec.to_string(), Timestamp::now());
    assert!(store.add_job(job, 10).await.unwrap());
    let claimed = store
        .claim_job("node-a", Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    // Rows of the subject between incompressible noise, so the file is stored as written
    // (PostgreSQL compresses what it can, which would hide the subject from the scan).
    let mut noise = 0x9E37_79B9_7F4A_7C15_u64;
    let csv: Vec<u8> = (0..200)
        .flat_map(|_| {
            let random: String = (0..64)
                .map(|_| {
                    noise ^= noise << 13;
                    noise ^= noise >> 7;
                    noise ^= noise << 17;
                    format!("{noise:016x}")
                })
                .collect();
            format!("{email},{name},{id},{random}\n").into_bytes()
        })
        .collect();
    let size = csv.len() as u64;
    assert!(store
        .write_job_file(claimed.current_attempt(), 0, csv)
        .await
        .unwrap());
    let end = JobEnd::Ready {
        expires_at: Timestamp(Timestamp::now().0 + 3_600_000),
    };
    assert!(store
        .end_job(claimed.current_attempt(), 1000, size, end, Timestamp::now())
        .await
        .unwrap());
    // Statistics an ANALYZE gathered must not keep the subject either.
    sql(&url, "ANALYZE; CHECKPOINT").await;
    let needles = [id.as_str(), email.as_str(), name.as_str()];
    let mut before = Vec::new();
    for needle in needles {
        files_holding(server.data_dir(), needle, &mut before);
    }
    assert!(!before.is_empty(), "the scan finds the subject before");

    // Appends go on while the erasure and its rewrite run, and every one is kept.
    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut acked = 0u64;
            while !stop.load(Ordering::SeqCst) {
                store
                    .append(t, vec![event("page.viewed", "u-kim")])
                    .await
                    .unwrap();
                acked += 1;
            }
            acked
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let outcome = store
        .erase_subject(
            t,
            &id,
            ErasureMode::Erase,
            &Actor::system("Erasure"),
            &pseudonym_key(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.entries_scrubbed, 1000);
    stop.store(true, Ordering::SeqCst);
    let acked = appender.await.unwrap();
    assert!(acked > 0, "appends ran during the erasure");

    sql(&url, "CHECKPOINT").await;
    let mut left = Vec::new();
    for needle in needles {
        files_holding(server.data_dir(), needle, &mut left);
    }
    assert!(left.is_empty(), "files still holding the subject: {left:?}");

    let size = store.log_size(t).await.unwrap();
    assert_eq!(
        size,
        3000 + acked + 1,
        "every append kept, and the erasure's own entry"
    );
    let total = store
        .count(t, &sealtrail_core::Filter::default())
        .await
        .unwrap();
    assert_eq!(total, size, "no row lost or doubled by the rewrite");
    let verified = store.verify_log(t, &|_| {}).await.unwrap();
    assert_eq!(verified.first_problem, None);
    assert_eq!(verified.size, size);
}
