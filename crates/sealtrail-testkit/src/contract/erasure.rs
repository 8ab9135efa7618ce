//! Cases on GDPR erasure: the subject becomes a pseudonym in every read path, no field of any
//! entry still names them, and every proof and checkpoint stays valid.

use super::fixtures::*;
use super::integrity::{head, leaf_hashes};
use sealtrail_core::entry::{NewEntry, Target};
use sealtrail_core::filter::Filter;
use sealtrail_core::merkle;
use sealtrail_core::Entry;
use sealtrail_store::{ErasureMode, Store, StoreError};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The subject's e-mail in the erasure cases.
pub const SUBJECT_EMAIL: &str = "zoe.martin@example.com";
/// The subject's name in the erasure cases.
pub const SUBJECT_NAME: &str = "Zoë Martin";

/// An event by the subject: actor id `u-zoe`, with name, e-mail, IP and user agent.
pub fn by_subject(action: &str) -> NewEntry {
    let mut e = event(action, "u-zoe");
    e.actor.name = Some(SUBJECT_NAME.into());
    e.actor.email = Some(SUBJECT_EMAIL.into());
    e.context.ip = Some("10.9.8.7".into());
    e.context.user_agent = Some("Firefox/140".into());
    e.description = format!("{SUBJECT_NAME} signed in");
    e
}

/// An event by someone else that mentions the subject in its payload.
pub fn mentioning_subject() -> NewEntry {
    let mut e = event("hardware.assigned", "bob");
    e.description = format!("Laptop assigned to {SUBJECT_NAME}");
    e.targets.push(Target {
        kind: "user".into(),
        id: Some("u-zoe".into()),
        name: Some(SUBJECT_NAME.into()),
    });
    e.properties = props(json!({ "assignee": SUBJECT_EMAIL, "note": "for zoë martin", "n": 3 }));
    e.changes = Some(sealtrail_core::Changes {
        before: Some(json!({ "owner": null })),
        after: Some(json!({ "owner": SUBJECT_NAME })),
    });
    e
}

/// After erasing a subject, `get` shows the pseudonym, no entry names the subject, filters by
/// the old identifiers find nothing, and verification and proofs still pass.
pub async fn erasure_replaces_the_subject_everywhere(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    let theirs = append(&store, other, vec![by_subject("session.created")]).await;
    let mut shouting = by_subject("profile.updated");
    shouting.actor.email = Some("Zoe.Martin@EXAMPLE.com".into());
    let unrelated = event("report.created", "alice");
    let news = vec![
        by_subject("session.created"),
        mentioning_subject(),
        shouting,
        unrelated.clone(),
        event("a.created", "system"),
    ];
    let acks = append(&store, t, news).await;
    let before = head(&store, t).await;
    let checkpoint = store
        .record_checkpoint(t, before.size, before.root, "cp\n")
        .await;
    assert!(checkpoint.is_ok(), "{checkpoint:?}");

    let outcome =
        crate::contract::fixtures::erase(&store, t, "Zoe.Martin@Example.com", ErasureMode::Erase)
            .await;
    let p = outcome.pseudonym.clone();
    assert_eq!(outcome.entries_scrubbed, 3);
    assert!(p.starts_with("erased-") && p.len() == 19, "{p}");

    let first = found(&store, t, acks[0].id)
        .await
        .unwrap_or_else(|| panic!("entry 0"));
    assert_eq!(first.actor.id.as_deref(), Some(p.as_str()));
    assert_eq!(first.actor.name.as_deref(), Some("Erased subject"));
    assert_eq!(
        (first.actor.email.as_deref(), first.actor.via.as_deref()),
        (None, None)
    );
    assert!(first.context.is_empty(), "{:?}", first.context);
    assert_eq!(first.description, format!("{p} signed in"));
    assert_eq!((first.seq, first.action.as_str()), (0, "session.created"));
    let mention = found(&store, t, acks[1].id)
        .await
        .unwrap_or_else(|| panic!("entry 1"));
    assert_eq!(mention.description, format!("Laptop assigned to {p}"));
    assert_eq!(
        mention.actor.id.as_deref(),
        Some("bob"),
        "other actors stay"
    );
    // The target `u-zoe` is the subject (her actor's id): replaced as a whole, type kept.
    let target = &mention.targets[1];
    assert_eq!(
        (target.kind.as_str(), target.id.as_deref()),
        ("user", Some(p.as_str()))
    );
    assert_eq!(target.name.as_deref(), Some("Erased subject"));
    assert_eq!(
        mention.targets[0].id.as_deref(),
        Some("142"),
        "other targets stay"
    );
    assert_eq!(mention.properties.get("assignee"), Some(&json!(p)));
    assert_eq!(
        mention.properties.get("note"),
        Some(&json!(format!("for {p}")))
    );
    assert_eq!(mention.properties.get("n"), Some(&json!(3)));
    let untouched = found(&store, t, acks[3].id).await;
    let a = &acks[3];
    assert_eq!(
        untouched,
        Some(Entry::from_new(unrelated, a.id, a.seq, a.recorded_at))
    );

    let everything = all_pages(&store, t, &Filter::default(), 100).await;
    assert_eq!(
        everything.len(),
        6,
        "the five entries and the erasure's own"
    );
    let record = &everything[0];
    assert_eq!(record.action, "subject.erased");
    assert_eq!(record.properties.get("entries_scrubbed"), Some(&json!(3)));
    assert_eq!(record.targets[0].id.as_deref(), Some(p.as_str()));
    for entry in &everything {
        let text = serde_json::to_string(entry)
            .unwrap_or_default()
            .to_lowercase();
        for needle in [SUBJECT_EMAIL, "zoë martin", "u-zoe", "10.9.8.7", "firefox"] {
            assert!(
                !text.contains(needle),
                "seq {} still has {needle}: {text}",
                entry.seq
            );
        }
    }
    let f = Filter::default;
    let filters: BTreeMap<&str, (Filter, u64)> = BTreeMap::from([
        (
            "actor e-mail",
            (
                Filter {
                    actor: Some(SUBJECT_EMAIL.into()),
                    ..f()
                },
                0,
            ),
        ),
        (
            "actor id",
            (
                Filter {
                    actor: Some("u-zoe".into()),
                    ..f()
                },
                0,
            ),
        ),
        (
            "pseudonym",
            (
                Filter {
                    actor: Some(p.clone()),
                    ..f()
                },
                2,
            ),
        ),
        (
            "name words",
            (
                Filter {
                    text: Some("zoë".into()),
                    ..f()
                },
                0,
            ),
        ),
        (
            "surname",
            (
                Filter {
                    text: Some("martin".into()),
                    ..f()
                },
                0,
            ),
        ),
        (
            "e-mail words",
            (
                Filter {
                    text: Some(SUBJECT_EMAIL.into()),
                    ..f()
                },
                0,
            ),
        ),
        (
            "pseudonym words",
            (
                Filter {
                    text: Some(p.clone()),
                    ..f()
                },
                // The three scrubbed entries and the erasure's own, which names the pseudonym.
                4,
            ),
        ),
        (
            "target name",
            (
                Filter {
                    target_name: Some(SUBJECT_NAME.into()),
                    ..f()
                },
                0,
            ),
        ),
        (
            "target id",
            (
                Filter {
                    target_id: Some("u-zoe".into()),
                    ..f()
                },
                0,
            ),
        ),
        (
            "ip",
            (
                Filter {
                    ip: Some("10.9.8.7".into()),
                    ..f()
                },
                0,
            ),
        ),
        (
            "property",
            (
                Filter {
                    properties: vec![("assignee".into(), SUBJECT_EMAIL.into())],
                    ..f()
                },
                0,
            ),
        ),
    ]);
    for (name, (filter, expected)) in filters {
        assert_eq!(count(&store, t, &filter).await, expected, "count: {name}");
        let n = all_pages(&store, t, &filter, 100).await.len() as u64;
        assert_eq!(n, expected, "query: {name}");
    }
    let facets = store.facets(t).await.unwrap_or_default();
    for actor in &facets.actors {
        let text = format!("{actor:?}").to_lowercase();
        assert!(
            !text.contains("zoe") && !text.contains("zoë"),
            "facet {text}"
        );
    }
    assert!(facets
        .actors
        .iter()
        .any(|a| a.id.as_deref() == Some(p.as_str()) && a.count == 2));
    assert_eq!(
        facets.actors.iter().map(|a| a.count).sum::<u64>(),
        6,
        "the five entries and the erasure's own"
    );

    // Envelopes and tree untouched: the tree only grew by the erasure's own entry.
    let after = head(&store, t).await;
    assert_eq!(after.size, before.size + 1);
    let grown = store
        .consistency_proof(t, before.size, after.size)
        .await
        .unwrap_or_default();
    assert!(
        merkle::verify_consistency(before.size, after.size, &before.root, &after.root, &grown)
            .is_ok()
    );
    let verified = store.verify_log(t, &|_| {}).await.ok();
    assert_eq!(
        verified.map(|v| (v.first_problem, v.root)),
        Some((None, after.root))
    );
    let again = store
        .record_checkpoint(t, before.size, before.root, "cp\n")
        .await;
    assert_eq!(
        again.ok(),
        checkpoint.ok(),
        "the signed checkpoint still stands"
    );
    for (seq, leaf) in leaf_hashes(&store, t).await {
        if seq >= before.size {
            continue;
        }
        let proof = store
            .inclusion_proof(t, seq, before.size)
            .await
            .unwrap_or_default();
        let ok = merkle::verify_inclusion(seq, before.size, &leaf, &proof, &before.root);
        assert!(ok.is_ok(), "seq {seq}: {ok:?}");
    }

    let kept = found(&store, other, theirs[0].id).await;
    assert_eq!(
        kept.and_then(|e| e.actor.email),
        Some(SUBJECT_EMAIL.into()),
        "tenant-scoped"
    );
    // Nothing in the log identifies her any more, so a second erasure finds no subject.
    let repeat = store
        .erase_subject(
            t,
            SUBJECT_EMAIL,
            ErasureMode::Erase,
            &sealtrail_core::entry::Actor::system("Erasure"),
            &crate::contract::fixtures::pseudonym_key(),
        )
        .await;
    assert!(matches!(repeat, Err(StoreError::NotFound(_))), "{repeat:?}");
    let empty = store
        .erase_subject(
            t,
            "  ",
            ErasureMode::DryRun,
            &sealtrail_core::entry::Actor::system("Erasure"),
            &crate::contract::fixtures::pseudonym_key(),
        )
        .await;
    assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
    let appended = append(&store, t, vec![event("a.created", "u")]).await;
    assert_eq!(appended[0].seq, 6, "the log carries on");
}
