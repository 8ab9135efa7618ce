//! Cases on cursor pagination.

use super::fixtures::*;
use sealtrail_core::filter::{Cursor, Direction, Filter};
use sealtrail_store::Store;
use std::sync::Arc;

/// Following `next_cursor` and then `prev_cursor` visits every match exactly once while new
/// entries keep arriving between pages.
pub async fn cursor_pages_cover_every_match_once_while_appending(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let mut batch = Vec::new();
    for i in 0..40 {
        let mut e = event("a.created", "u");
        e.channel = if i % 2 == 0 { "auth" } else { "hardware" }.into();
        batch.push(e);
    }
    append(&store, t, batch).await;
    let auth = Filter {
        channel: Some("auth".into()),
        ..Filter::default()
    };
    let arrive = |store: Arc<dyn Store>| async move {
        let mut a = event("a.created", "late");
        a.channel = "auth".into();
        append(&store, t, vec![a, event("a.created", "late")]).await;
    };

    // Older, page by page.
    let mut forward = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    let last = loop {
        let p = page(&store, t, &auth, 6, cursor).await;
        assert_eq!(
            p.prev_cursor.is_none(),
            pages == 0,
            "only the first page has no previous page"
        );
        pages += 1;
        forward.extend(seqs(&p.entries));
        arrive(store.clone()).await;
        match p.next_cursor {
            Some(c) => {
                assert_eq!(c.direction, Direction::Older);
                cursor = Some(c);
            }
            None => break p,
        }
    };
    let original_auth: Vec<u64> = (0..40).rev().filter(|s| s % 2 == 0).collect();
    assert_eq!(
        forward, original_auth,
        "older pages: every original match once, newest first"
    );
    assert_eq!(pages, 4);

    // Newer, from the last page back to the top, picking up what arrived meanwhile.
    let mut backward = seqs(&last.entries);
    let mut cursor = last.prev_cursor;
    while let Some(c) = cursor {
        assert_eq!(c.direction, Direction::Newer);
        let p = page(&store, t, &auth, 6, Some(c)).await;
        assert!(
            p.entries.windows(2).all(|w| w[0].seq > w[1].seq),
            "newer pages are newest first too"
        );
        assert!(
            p.next_cursor.is_some(),
            "a newer page always has older matches"
        );
        let mut s = seqs(&p.entries);
        s.extend(backward);
        backward = s;
        cursor = p.prev_cursor;
        if cursor.is_some() {
            arrive(store.clone()).await;
        }
    }
    let everything = seqs(&all_pages(&store, t, &auth, 1000).await);
    assert_eq!(
        backward, everything,
        "newer pages: every match once, including late arrivals"
    );
    assert!(everything.len() > 20);
}

/// The previous-page cursor of page 2 returns exactly page 1; beyond-the-end cursors are
/// empty pages that still point back.
pub async fn previous_page_cursor_returns_the_page_before(store: Arc<dyn Store>) {
    let (t, _, _) = seed_dataset(&store, "acme").await;
    let f = Filter {
        channel: Some("auth".into()),
        ..Filter::default()
    };
    let p1 = page(&store, t, &f, 5, None).await;
    let p2 = page(&store, t, &f, 5, p1.next_cursor).await;
    let p3 = page(&store, t, &f, 5, p2.next_cursor).await;
    assert_eq!(
        (p1.entries.len(), p2.entries.len(), p3.entries.len()),
        (5, 5, 2)
    );
    assert!(p3.next_cursor.is_none());
    let back = page(&store, t, &f, 5, p2.prev_cursor).await;
    assert_eq!(seqs(&back.entries), seqs(&p1.entries));
    assert!(back.prev_cursor.is_none(), "page 1 has nothing newer");
    assert_eq!(back.next_cursor, p1.next_cursor);
    let back2 = page(&store, t, &f, 5, p3.prev_cursor).await;
    assert_eq!(seqs(&back2.entries), seqs(&p2.entries));

    let past_end = page(
        &store,
        t,
        &f,
        5,
        Some(Cursor {
            seq: 0,
            direction: Direction::Older,
        }),
    )
    .await;
    assert!(past_end.entries.is_empty() && past_end.next_cursor.is_none());
    let beyond = page(
        &store,
        t,
        &f,
        5,
        Some(Cursor {
            seq: 1_000,
            direction: Direction::Newer,
        }),
    )
    .await;
    assert!(beyond.entries.is_empty() && beyond.prev_cursor.is_none());
    let from_beyond = page(&store, t, &f, 5, beyond.next_cursor).await;
    assert_eq!(
        seqs(&from_beyond.entries),
        seqs(&p1.entries),
        "an empty newer page points back to the newest"
    );
}

/// Text pages hold exactly the matches, older and newer, however dense the word is: a
/// backend may read a common word in seq order and a rare one from its index (PostgreSQL
/// chooses by how many of the newest rows match), and the answer must not depend on it.
pub async fn text_pages_are_exact_however_dense_the_matches(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let total = 1_800u64;
    // The rare word's matches are 60–70 and 125–131 rows apart: wherever a backend ends the
    // stretch of newest rows it walks before turning to an index, some match sits right at
    // that edge (on either side of a cursor), where an off-by-one would lose or repeat it.
    let rare: Vec<u64> = (60..=70)
        .chain(125..=131)
        .scan(3, |at, gap| {
            *at += gap;
            Some(*at)
        })
        .chain([3, total - 1])
        .collect();
    let mut batch = Vec::new();
    for seq in 0..total {
        let mut e = event("a.created", "u");
        let mut words = vec!["entry"];
        if seq % 40 == 7 {
            words.push("periodic");
        }
        if seq % 3 == 0 {
            words.push("tertian");
        }
        if rare.contains(&seq) {
            words.push("zanzibar");
        }
        e.description = words.join(" ");
        batch.push(e);
        if batch.len() == 300 {
            append(&store, t, std::mem::take(&mut batch)).await;
        }
    }
    let expected = |word: &str| -> Vec<u64> {
        (0..total)
            .rev()
            .filter(|seq| match word {
                "entry" | "ntry" => true,
                "periodic" | "eriodic" => seq % 40 == 7,
                "tertian" => seq % 3 == 0,
                "zanzibar" | "anzibar" => rare.contains(seq),
                _ => false,
            })
            .collect()
    };
    for word in [
        "entry", "ntry", "tertian", "periodic", "eriodic", "zanzibar", "anzibar",
    ] {
        let filter = Filter {
            text: Some(word.into()),
            ..Filter::default()
        };
        let want = expected(word);
        assert_eq!(count(&store, t, &filter).await, want.len() as u64, "{word}");
        // Pages of one row for the sparse words only: the dense ones would take thousands.
        let limits: &[usize] = if want.len() > 100 {
            &[13, 50]
        } else {
            &[1, 7, 50]
        };
        for &limit in limits {
            // Older, to the end.
            let mut older = Vec::new();
            let mut cursor = None;
            let last = loop {
                let p = page(&store, t, &filter, limit, cursor).await;
                older.extend(seqs(&p.entries));
                match p.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break p,
                }
            };
            assert_eq!(older, want, "{word}, pages of {limit}, older");
            // Newer, from the last page back to the first.
            let mut newer = seqs(&last.entries);
            let mut cursor = last.prev_cursor;
            while let Some(c) = cursor {
                let p = page(&store, t, &filter, limit, Some(c)).await;
                let mut s = seqs(&p.entries);
                s.extend(newer);
                newer = s;
                cursor = p.prev_cursor;
            }
            assert_eq!(newer, want, "{word}, pages of {limit}, newer");
        }
    }
}
