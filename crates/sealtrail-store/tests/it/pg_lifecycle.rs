//! What the contract suite cannot see of PostgreSQL's lifecycle code: tampering found by
//! verification, old partitions dropped after a prune (and skipped, not failed, when busy),
//! idempotency keys leaving with their entries, and no erased value left in any column.

use postgres::NoTls;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::pg::{PgOptions, PgStore};
use sealtrail_store::PruneOrder;
use sealtrail_store::Store;
use sealtrail_testkit::contract::erasure::{by_subject, mentioning_subject};
use sealtrail_testkit::contract::fixtures::{append, erase, event, keyed, tenant};
use sealtrail_testkit::pg_harness;
use std::sync::{mpsc, Arc, Mutex};

/// 2020-01-01, 2020-02-01 and 2020-03-01 (UTC), in milliseconds.
const JAN_2020: i64 = 1_577_836_800_000;
const FEB_2020: i64 = 1_580_515_200_000;
const MAR_2020: i64 = 1_583_020_800_000;

/// A fresh database on the shared test server and a store on it.
async fn open() -> (String, Arc<dyn Store>) {
    let url = match pg_harness::require_shared().create_database() {
        Ok(url) => url,
        Err(e) => panic!("create a database: {e}"),
    };
    let store = PgStore::connect(&url, PgOptions::default()).await;
    match store {
        Ok(store) => (url, Arc::new(store)),
        Err(e) => panic!("connect: {e}"),
    }
}

/// Runs SQL on a connection of its own, as an operator (or an attacker) would.
async fn sql(url: &str, statements: String) {
    let url = url.to_string();
    let done = tokio::task::spawn_blocking(move || -> Result<(), postgres::Error> {
        postgres::Client::connect(&url, NoTls)?.batch_execute(&statements)
    })
    .await;
    assert!(matches!(done, Ok(Ok(()))), "{done:?}");
}

/// The single bigint a query returns.
async fn scalar(url: &str, query: String) -> i64 {
    let (url, sent) = (url.to_string(), query.clone());
    let found = tokio::task::spawn_blocking(move || -> Result<i64, postgres::Error> {
        postgres::Client::connect(&url, NoTls)?
            .query_one(&sent, &[])?
            .try_get(0)
    })
    .await;
    match found {
        Ok(Ok(n)) => n,
        other => panic!("{query}: {other:?}"),
    }
}

/// The lowest problem verification reports.
async fn problem(store: &Arc<dyn Store>, t: TenantId) -> Option<(u64, String)> {
    match store.verify_log(t, &|_| {}).await {
        Ok(v) => v.first_problem,
        Err(e) => panic!("verify_log: {e}"),
    }
}

/// Whether a table (partition) of this name exists.
async fn table_exists(url: &str, name: &str) -> bool {
    scalar(
        url,
        format!("SELECT count(*) FROM pg_class WHERE relname = '{name}'"),
    )
    .await
        == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verification_reports_the_lowest_tampered_seq() {
    let (url, store) = open().await;
    let t = tenant(&store, "acme").await;
    let events = (0..40)
        .map(|i| event("a.created", &format!("u{i}")))
        .collect();
    append(&store, t, events).await;
    let reports = Mutex::new(Vec::new());
    let clean = store
        .verify_log(t, &|n| {
            reports.lock().unwrap_or_else(|e| e.into_inner()).push(n)
        })
        .await;
    let clean = clean
        .map(|v| (v.first_problem, v.checked, v.pruned, v.size))
        .ok();
    assert_eq!(clean, Some((None, 40, 0, 40)));
    assert_eq!(
        reports.into_inner().ok().and_then(|r| r.last().copied()),
        Some(40)
    );

    let at = |seq: u64| format!("WHERE tenant = {} AND seq = {seq}", t.0);
    sql(
        &url,
        format!("UPDATE entries SET payload_value = '\\x7b7d' {}", at(30)),
    )
    .await;
    let found = problem(&store, t).await;
    assert!(
        matches!(&found, Some((30, m)) if m.contains("vault value `payload` changed")),
        "{found:?}"
    );
    let flip = "set_byte(envelope, 40, get_byte(envelope, 40) # 1)";
    sql(
        &url,
        format!("UPDATE entries SET envelope = {flip} {}", at(20)),
    )
    .await;
    assert_eq!(problem(&store, t).await.map(|p| p.0), Some(20));
    sql(&url, format!("DELETE FROM entries {}", at(9))).await;
    assert_eq!(problem(&store, t).await, Some((9, "missing entry".into())));
    let node = format!("WHERE tenant = {} AND level = 2 AND idx = 1", t.0);
    sql(
        &url,
        format!("UPDATE tree_nodes SET hash = sha256(hash) {node}"),
    )
    .await;
    let found = problem(&store, t).await;
    assert!(
        matches!(&found, Some((4, m)) if m.contains("(level 2, index 1) does not match")),
        "{found:?}"
    );
}

/// Every copy a read path trusts instead of the vault (the filter columns, the property and
/// target `jsonb`, the search words) is held to the committed entry: entries with properties,
/// escapes and non-ASCII text verify clean as PostgreSQL writes them out, and each copy
/// edited behind the store's back is named at its seq.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verification_names_every_edited_copy_that_filters_read() {
    let (url, store) = open().await;
    let t = tenant(&store, "acme").await;
    let events = (0..12)
        .map(|i| {
            let mut e = event("invoice.approved", &format!("u{i}"));
            e.description = format!("Zoë \"approved\" invoice {i} for Ångström\\Co");
            e.properties
                .insert("amount".into(), serde_json::json!(120.5));
            e.properties
                .insert("a long key".into(), serde_json::json!("tab\there"));
            e.properties.insert("ok".into(), serde_json::json!(true));
            e.properties
                .insert("list".into(), serde_json::json!([1, 2]));
            e
        })
        .collect();
    append(&store, t, events).await;
    assert_eq!(problem(&store, t).await, None, "as the store wrote them");

    let at = |seq: u64| format!("WHERE tenant = {} AND seq = {seq}", t.0);
    let cases = [
        (
            11,
            format!(
                "words = words || array_to_tsvector(ARRAY['{}xmallory'])",
                t.0
            ),
            "words",
        ),
        (
            10,
            "words = ts_delete(words, (tsvector_to_array(words))[1])".to_string(),
            "words",
        ),
        (
            8,
            r#"props = props || '{"amount": "121"}'::jsonb"#.to_string(),
            "props",
        ),
        (7, "props = NULL".to_string(), "props"),
        (
            6,
            r#"targets = '[{"type": "hardware", "id": "143", "name": "Laptop 142"}]'::jsonb"#
                .to_string(),
            "targets",
        ),
        (5, "actor_id = 'u9'".to_string(), "actor_id"),
        (4, "actor_email = NULL".to_string(), "actor_email"),
        (
            3,
            "occurred_at = occurred_at + 1".to_string(),
            "occurred_at",
        ),
    ];
    for (seq, edit, column) in cases {
        sql(&url, format!("UPDATE entries SET {edit} {}", at(seq))).await;
        let found = problem(&store, t).await;
        assert!(
            matches!(&found, Some((s, m)) if *s == seq && m.contains(&format!("`{column}` copy"))),
            "{edit}: {found:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prune_drops_empty_old_partitions_and_frees_idempotency_keys() {
    let (url, store) = open().await;
    let t = tenant(&store, "acme").await;
    // An empty month, and one still holding another tenant's (hand-made) row.
    sql(
        &url,
        format!(
            "CREATE TABLE entries_2020_01 PARTITION OF entries FOR VALUES FROM ({JAN_2020}) TO ({FEB_2020});
             CREATE TABLE entries_2020_02 PARTITION OF entries FOR VALUES FROM ({FEB_2020}) TO ({MAR_2020});
             INSERT INTO entries (tenant, seq, recorded_at, id, occurred_at, channel, action, event,
                                  result, actor_type, envelope)
             VALUES (999, 0, {FEB_2020}, gen_random_uuid(), 0, 'c', 'a', 'e', 'success', 'user', '\\x00')"
        ),
    )
    .await;
    let first = append(
        &store,
        t,
        vec![keyed("a.created", "u", "k1"), event("b", "u")],
    )
    .await;
    let outcome = store
        .prune(t, &PruneOrder::at(Timestamp(i64::MAX)))
        .await
        .ok();
    assert_eq!(outcome.map(|o| (o.removed, o.first_kept_seq)), Some((2, 2)));
    assert!(
        !table_exists(&url, "entries_2020_01").await,
        "empty old month dropped"
    );
    assert!(
        table_exists(&url, "entries_2020_02").await,
        "a month with rows stays"
    );
    let keys = format!(
        "SELECT count(*) FROM idempotency_keys WHERE tenant = {}",
        t.0
    );
    assert_eq!(scalar(&url, keys).await, 0);
    // Seq 2 is the prune's own entry, written before it removed anything.
    let again = append(&store, t, vec![keyed("a.created", "u", "k1")]).await;
    assert_eq!((again[0].seq, again[0].duplicate), (3, false), "{first:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_table_skips_the_partition_drop_but_not_the_prune() {
    let (url, store) = open().await;
    let t = tenant(&store, "acme").await;
    let old = format!("PARTITION OF entries FOR VALUES FROM ({JAN_2020}) TO ({FEB_2020})");
    sql(&url, format!("CREATE TABLE entries_2020_01 {old}")).await;
    // Another session reads `entries` in a long transaction: the drop cannot get its lock.
    let (locked, release) = (mpsc::channel(), mpsc::channel::<()>());
    let holder_url = url.clone();
    let holder = std::thread::spawn(move || -> Result<(), postgres::Error> {
        let mut client = postgres::Client::connect(&holder_url, NoTls)?;
        let mut tx = client.transaction()?;
        tx.batch_execute("LOCK TABLE entries IN ACCESS SHARE MODE")?;
        let _ = locked.0.send(());
        let _ = release.1.recv();
        tx.commit()
    });
    assert!(locked.1.recv().is_ok(), "the lock holder started");
    append(&store, t, vec![event("a.created", "u")]).await;
    let outcome = store.prune(t, &PruneOrder::at(Timestamp(i64::MAX))).await;
    assert_eq!(
        outcome.map(|o| o.removed).ok(),
        Some(1),
        "the prune succeeds"
    );
    assert!(
        table_exists(&url, "entries_2020_01").await,
        "the drop was skipped"
    );
    let _ = release.0.send(());
    assert!(matches!(holder.join(), Ok(Ok(()))));
    append(&store, t, vec![event("a.created", "u")]).await;
    assert_eq!(
        store
            .prune(t, &PruneOrder::at(Timestamp(i64::MAX)))
            .await
            .map(|o| o.removed)
            .ok(),
        Some(2),
        "the new entry and the first prune's own entry"
    );
    assert!(
        !table_exists(&url, "entries_2020_01").await,
        "the next prune drops it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_leaves_no_value_of_the_subject_in_any_column() {
    let (url, store) = open().await;
    let t = tenant(&store, "acme").await;
    let news = vec![by_subject("session.created"), mentioning_subject()];
    append(&store, t, news).await;
    let text = "lower(concat_ws(' ', actor_id, actor_email, ip, props::text, targets::text,
                  words::text, convert_from(actor_value, 'UTF8'),
                  convert_from(context_value, 'UTF8'), convert_from(payload_value, 'UTF8')))";
    let needles = ["zoe", "zoë", "martin", "10.9.8.7", "firefox"];
    let matching = needles
        .iter()
        .map(|n| format!("{text} LIKE '%{n}%'"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let count = format!(
        "SELECT count(*) FROM entries WHERE tenant = {} AND ({matching})",
        t.0
    );
    assert_eq!(
        scalar(&url, count.clone()).await,
        2,
        "the subject is there before"
    );
    let erased = erase(&store, t, "u-zoe", sealtrail_store::ErasureMode::Erase).await;
    assert_eq!(erased.entries_scrubbed, 2);
    assert_eq!(
        scalar(&url, count).await,
        0,
        "no column still names the subject"
    );
    assert_eq!(problem(&store, t).await, None);
}

/// An erasure whose rewrite cannot take the rewrite lock (another node holds it) says which
/// relations may still hold the old values, instead of answering as if the files were clean;
/// once the lock is free, the background pass rewrites them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_erasure_names_the_rewrites_it_leaves_pending() {
    let (url, store) = open().await;
    let t = tenant(&store, "acme").await;
    append(&store, t, vec![by_subject("session.created")]).await;
    // The rewrite lock (0x5EA1_E4A5), held shared as an erasure chunk holds it: the chunks go
    // on, the rewrite cannot start.
    let (held, release) = (mpsc::channel::<()>(), mpsc::channel::<()>());
    let holder = {
        let url = url.clone();
        std::thread::spawn(move || -> Result<(), postgres::Error> {
            let mut client = postgres::Client::connect(&url, NoTls)?;
            client.execute("SELECT pg_advisory_lock_shared(1587668133)", &[])?;
            let _ = held.0.send(());
            let _ = release.1.recv();
            client.execute("SELECT pg_advisory_unlock_shared(1587668133)", &[])?;
            Ok(())
        })
    };
    held.1.recv().expect("the lock is held");
    let outcome = erase(&store, t, "u-zoe", sealtrail_store::ErasureMode::Erase).await;
    assert_eq!(outcome.entries_scrubbed, 1);
    let pending = &outcome.rewrites_pending;
    assert!(
        pending.iter().any(|r| r == "facet_actors")
            && pending.iter().any(|r| r.starts_with("entries_")),
        "{pending:?}"
    );
    release.0.send(()).expect("release");
    assert!(matches!(holder.join(), Ok(Ok(()))));
    store
        .finish_erasures(t, &sealtrail_testkit::contract::fixtures::pseudonym_key())
        .await
        .expect("finish");
    let mut left = 1;
    for _ in 0..300 {
        left = scalar(&url, "SELECT count(*) FROM pending_rewrites".into()).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the background pass rewrote them");
    let again = store
        .erase_subject(
            t,
            "u-zoe",
            sealtrail_store::ErasureMode::DryRun,
            &sealtrail_core::entry::Actor::system("Erasure"),
            &sealtrail_testkit::contract::fixtures::pseudonym_key(),
        )
        .await;
    assert!(again.is_err(), "the subject is gone: {again:?}");
}

/// A legal hold acknowledged while a prune waits for the log head (an append group of another
/// node holds it) is never followed by that prune deleting anything: either the prune's chunk
/// commits before the hold is answered, or it sees the hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_answered_during_a_waiting_prune_stops_it() {
    let (url, store) = open().await;
    let t = tenant(&store, "acme").await;
    append(
        &store,
        t,
        (0..20)
            .map(|i| event("doc.read", &format!("u{i}")))
            .collect(),
    )
    .await;
    // The entries the prune could remove: its own entry, written between its plan and its
    // first chunk, may land after the hold is answered, and removes nothing.
    let count = format!(
        "SELECT count(*) FROM entries WHERE tenant = {} AND action = 'doc.read'",
        t.0
    );

    // Another session holds the tenant's log head, as an append group would.
    let (locked_tx, locked) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let (holder_url, tenant_id) = (url.clone(), t.0);
    let holder = std::thread::spawn(move || -> Result<(), postgres::Error> {
        let mut client = postgres::Client::connect(&holder_url, NoTls)?;
        let mut tx = client.transaction()?;
        tx.query(
            "SELECT 1 FROM log_heads WHERE tenant = $1 FOR UPDATE",
            &[&tenant_id],
        )?;
        let _ = locked_tx.send(());
        let _ = released.recv();
        tx.commit()
    });
    assert!(locked.recv().is_ok(), "the holder took the lock");

    let cutoff = Timestamp(Timestamp::now().millis() + 60_000);
    let pruning = tokio::spawn({
        let store = store.clone();
        async move { store.prune(t, &PruneOrder::at(cutoff)).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The count is read the moment the hold is answered.
    let holding = tokio::spawn({
        let (store, url, count) = (store.clone(), url.clone(), count.clone());
        async move {
            let held = store.set_legal_hold(t, true).await;
            (held, scalar(&url, count).await)
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let _ = release.send(());
    assert!(matches!(holder.join(), Ok(Ok(()))));

    let (held, when_held) = match holding.await {
        Ok(answer) => answer,
        Err(e) => panic!("{e}"),
    };
    assert!(matches!(held, Ok(s) if s.legal_hold));
    let _ = pruning.await;
    assert_eq!(
        scalar(&url, count).await,
        when_held,
        "nothing may be pruned once the hold was answered"
    );
}

/// Version 8 derives the inner suffixes of entries stored before it in SQL, character for
/// character as the append path derives them in Rust: verification (whose word check compares
/// the stored lexemes with the ones the append path makes) passes, and text inside words is
/// found in those entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_8_gives_older_entries_the_inner_suffixes_the_append_path_makes() {
    let (url, store) = open().await;
    let t = tenant(&store, "acme").await;
    let mut reassigned = event("ticket.reassigned", "u-1");
    reassigned.description = "Reassigned the guardrail review to Zoë Ångström".into();
    reassigned.actor.email = Some("zoë.ångström@example.org".into());
    let mut long = event("token.created", "u-2");
    long.description = format!("Token {} issued", "a1".repeat(30));
    append(
        &store,
        t,
        vec![reassigned, long, event("user.created", "u-3")],
    )
    .await;
    drop(store);
    // As version 7 left the lexemes: whole words only.
    sql(
        &url,
        "UPDATE entries SET words = array_to_tsvector(ARRAY(
             SELECT l FROM unnest(tsvector_to_array(words)) AS l WHERE l ~ '^[0-9]+x'));
         DELETE FROM schema_migrations WHERE version = 8;"
            .into(),
    )
    .await;
    let store: Arc<dyn Store> = match PgStore::connect(&url, PgOptions::default()).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("reconnect: {e}"),
    };
    let count = |text: &'static str| {
        let store = store.clone();
        async move {
            let filter = sealtrail_core::Filter {
                text: Some(text.into()),
                ..sealtrail_core::Filter::default()
            };
            store.count(t, &filter).await.expect("count")
        }
    };
    assert_eq!(count("ssigned").await, 1);
    assert_eq!(count("rail").await, 1);
    assert_eq!(count("NGSTRÖM").await, 1, "inside a non-ASCII word");
    assert_eq!(count("reated").await, 2, "inside the action");
    assert_eq!(
        count("1a1a").await,
        0,
        "words over 40 characters match at their start only"
    );
    assert_eq!(count("a1a1a1").await, 1, "their start still matches");
    assert_eq!(
        problem(&store, t).await,
        None,
        "the SQL suffixes are the append path's"
    );
}

/// Partition search indexes whose GIN pending list is not bounded.
async fn unbounded_word_indexes(url: &str) -> i64 {
    scalar(
        url,
        "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'entries_words'::regclass
           AND NOT coalesce(c.reloptions, '{}') @> ARRAY['gin_pending_list_limit=512']"
            .into(),
    )
    .await
}

/// Every partition's search index keeps a short pending list (searches read it whole), on a
/// new database and, after a restart, on one whose indexes were made without it.
#[tokio::test]
async fn search_indexes_keep_short_pending_lists() {
    let (url, store) = open().await;
    let partitions = scalar(
        &url,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'entries_words'::regclass".into(),
    )
    .await;
    assert!(partitions > 1, "{partitions} partitions");
    assert_eq!(unbounded_word_indexes(&url).await, 0);
    drop(store);

    sql(
        &url,
        "DO $$ DECLARE r record; BEGIN
           FOR r IN SELECT inhrelid::regclass AS ix FROM pg_inherits
                    WHERE inhparent = 'entries_words'::regclass LOOP
             EXECUTE format('ALTER INDEX %s RESET (gin_pending_list_limit)', r.ix);
           END LOOP; END $$"
            .into(),
    )
    .await;
    assert_eq!(unbounded_word_indexes(&url).await, partitions);
    let reopened = PgStore::connect(&url, PgOptions::default()).await;
    assert!(reopened.is_ok(), "reconnect");
    assert_eq!(unbounded_word_indexes(&url).await, 0);
}
