//! Newest-first pages on PostgreSQL read the month partition holding the log's head before
//! the rest of the log: pages that start in that month, end below it or cross into it must
//! still give every match once, in seq order, whichever way the cursors are followed.

use sealtrail_core::filter::{ActionMatch, Cursor, Direction, Filter};
use sealtrail_core::{NewEntry, TenantId, Timestamp};
use sealtrail_store::pg::{PgOptions, PgStore};
use sealtrail_store::{Clock, Store};
use sealtrail_testkit::contract::fixtures::{append, event, page, seqs, tenant};
use sealtrail_testkit::pg_harness;
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

/// The actor and action of the `i`th entry: `u2` doing `a.rare` is one entry in eleven, and
/// `u1` doing `a.before` occurs only before the newest month (whose first seq is 83).
fn who_and_what(i: usize) -> (&'static str, &'static str) {
    match i % 11 {
        5 if i < 83 => ("u1", "a.before"),
        0 => ("u2", "a.rare"),
        n if n % 2 == 0 => ("u0", "a.common"),
        n if n % 3 == 0 => ("u0", "a.other"),
        _ => ("u1", "a.common"),
    }
}

/// A tenant whose log was received over three months, the last of them the current one (by
/// the system clock the pages use), and the actor and action of every seq.
async fn log_over_three_months() -> (Arc<dyn Store>, TenantId, Vec<(&'static str, &'static str)>) {
    let url = match pg_harness::require_shared().create_database() {
        Ok(url) => url,
        Err(e) => panic!("create a database: {e}"),
    };
    let now = Timestamp::now().millis();
    let (clock, replay) = Clock::replayed(Timestamp(now - 70 * DAY_MS));
    let options = PgOptions {
        clock,
        ..PgOptions::default()
    };
    let store: Arc<dyn Store> = match PgStore::connect(&url, options).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("connect: {e}"),
    };
    let t = tenant(&store, "acme").await;
    let mut kinds = Vec::new();
    for (at, n) in [(now - 70 * DAY_MS, 45), (now - 35 * DAY_MS, 38), (now, 61)] {
        replay.set(Timestamp(at));
        let batch: Vec<NewEntry> = (kinds.len()..kinds.len() + n)
            .map(|i| {
                let (actor, action) = who_and_what(i);
                event(action, actor)
            })
            .collect();
        kinds.extend((kinds.len()..kinds.len() + n).map(who_and_what));
        append(&store, t, batch).await;
    }
    (store, t, kinds)
}

/// Follows `next_cursor` from the top, then `prev_cursor` back from the last page, holding
/// each page's cursors to the pages around it.
async fn both_ways(
    store: &Arc<dyn Store>,
    t: TenantId,
    filter: &Filter,
    limit: usize,
) -> (Vec<u64>, Vec<u64>) {
    let mut older = Vec::new();
    let mut cursor: Option<Cursor> = None;
    let last = loop {
        let p = page(store, t, filter, limit, cursor).await;
        assert_eq!(
            p.prev_cursor.is_some(),
            !older.is_empty(),
            "{filter:?}, pages of {limit}: only the first page has no newer page"
        );
        older.extend(seqs(&p.entries));
        match p.next_cursor {
            Some(c) => {
                assert_eq!(c.direction, Direction::Older);
                cursor = Some(c);
            }
            None => break p,
        }
    };
    let mut newer = seqs(&last.entries);
    let mut cursor = last.prev_cursor;
    while let Some(c) = cursor {
        let p = page(store, t, filter, limit, Some(c)).await;
        assert!(
            p.next_cursor.is_some(),
            "{filter:?}, pages of {limit}: a page above the last has an older page"
        );
        let mut ahead = seqs(&p.entries);
        ahead.extend(newer);
        newer = ahead;
        cursor = p.prev_cursor;
    }
    (older, newer)
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_across_the_newest_month_give_every_match_once_in_order() {
    let (store, t, kinds) = log_over_three_months().await;
    let filters: [(Option<&str>, Option<&str>); 6] = [
        (None, None),
        (Some("u0"), None),
        (Some("u0"), Some("a.common")),
        (Some("u2"), Some("a.rare")),
        (Some("u1"), Some("a.before")),
        (Some("nobody"), None),
    ];
    for (actor, action) in filters {
        let filter = Filter {
            actor: actor.map(str::to_string),
            action: action.map(|a| ActionMatch::Exact(a.to_string())),
            ..Filter::default()
        };
        let expected: Vec<u64> = (0..kinds.len() as u64)
            .rev()
            .filter(|&s| {
                let (a, b) = kinds[s as usize];
                actor.is_none_or(|x| x == a) && action.is_none_or(|x| x == b)
            })
            .collect();
        // Page sizes that end a page inside the newest month, at its edge and beyond it.
        for limit in [1, 3, 7, 60, 61, 200] {
            let (older, newer) = both_ways(&store, t, &filter, limit).await;
            assert_eq!(older, expected, "{filter:?}, pages of {limit}, older");
            assert_eq!(newer, expected, "{filter:?}, pages of {limit}, back again");
        }
    }
}
