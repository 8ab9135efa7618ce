//! Cases on facets, tenant isolation, tenants and API keys.

use super::fixtures::*;
use sealtrail_core::filter::{Cursor, Direction, Facets, Filter};
use sealtrail_core::keys::Scope;
use sealtrail_core::TenantId;
use sealtrail_store::{Lookup, Retention, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Facets list the values present, with entry counts, most frequent first then by value.
pub async fn facets_count_values_present(store: Arc<dyn Store>) {
    let (t, _, _) = seed_dataset(&store, "acme").await;
    let f = match store.facets(t).await {
        Ok(f) => f,
        Err(e) => panic!("facets: {e}"),
    };
    let vals = |v: &[sealtrail_core::filter::FacetValue]| {
        v.iter()
            .map(|v| (v.value.clone(), v.count))
            .collect::<Vec<_>>()
    };
    let o = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(v, n)| (v.to_string(), *n))
            .collect::<Vec<_>>()
    };
    assert_eq!(vals(&f.channels), o(&[("auth", 12), ("hardware", 12)]));
    assert_eq!(
        vals(&f.actions),
        o(&[
            ("hardware.updated", 8),
            ("user.created", 8),
            ("user.deleted", 8)
        ])
    );
    assert_eq!(
        vals(&f.events),
        o(&[("created", 8), ("deleted", 8), ("updated", 8)])
    );
    assert_eq!(vals(&f.categories), o(&[("Security Events", 6)]));
    assert_eq!(vals(&f.results), o(&[("success", 20), ("failure", 4)]));
    assert_eq!(vals(&f.target_types), o(&[("hardware", 24), ("user", 6)]));
    let actors: Vec<_> = f
        .actors
        .iter()
        .map(|a| {
            (
                a.kind.as_str(),
                a.id.as_deref(),
                a.email.as_deref(),
                a.count,
            )
        })
        .collect();
    assert_eq!(
        actors,
        [
            ("user", Some("u0"), Some("u0@example.com"), 6),
            ("user", Some("u1"), Some("u1@example.com"), 6),
            ("user", Some("u2"), Some("u2@example.com"), 6),
            ("user", Some("u3"), Some("u3@example.com"), 5),
            ("system", Some("system:Nightly job"), None, 1),
        ]
    );
    assert_eq!(f.actors[0].name.as_deref(), Some("User 0"));
    assert_eq!(f.actors_total, 5);
    assert!(f.lists_every_actor());
    let empty = tenant(&store, "empty").await;
    assert_eq!(store.facets(empty).await.ok(), Some(Default::default()));
}

/// A tenant with more actors than a list holds: facets list the most frequent ones and say
/// how many there are; the others are found by any part of their id, name or e-mail, in any
/// case, most frequent first — and never another tenant's.
pub async fn actors_beyond_the_list_are_found_by_search(store: Arc<dyn Store>) {
    let t = tenant(&store, "crowd").await;
    let other = tenant(&store, "elsewhere").await;
    let listed = Facets::ACTORS_LISTED;
    let mut entries: Vec<_> = (0..listed + 40)
        .map(|i| event("doc.viewed", &format!("member{i:04}")))
        .collect();
    // The most frequent actor, and a name outside ASCII that only Unicode case finds.
    let mut zoe = event("doc.viewed", "zoe");
    zoe.actor.name = Some("ZOË Martin".into());
    zoe.actor.email = Some("Zoe.Martin@Example.org".into());
    entries.extend((0..4).map(|_| zoe.clone()));
    entries.extend((0..2).map(|_| event("doc.viewed", "member0117")));
    append(&store, t, entries).await;
    let mut stranger = event("doc.viewed", "zoe-elsewhere");
    stranger.actor.name = Some("Zoë Other".into());
    append(&store, other, vec![stranger]).await;

    let f = store.facets(t).await.unwrap_or_default();
    assert_eq!(f.actors.len(), listed);
    assert_eq!(f.actors_total, listed as u64 + 41);
    assert!(!f.lists_every_actor());
    assert_eq!(f.actors[0].id.as_deref(), Some("zoe"));
    assert_eq!(f.actors[1].id.as_deref(), Some("member0117"));

    let found = |text: &'static str, limit: usize| {
        let store = store.clone();
        async move {
            match store.find_actors(t, text, limit).await {
                Ok(actors) => actors
                    .into_iter()
                    .map(|a| (a.id.unwrap_or_default(), a.count))
                    .collect::<Vec<_>>(),
                Err(e) => panic!("find_actors({text}): {e}"),
            }
        }
    };
    let ids = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(id, n)| (id.to_string(), *n))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        found("zoë", 10).await,
        ids(&[("zoe", 4)]),
        "by name, Unicode case"
    );
    assert_eq!(
        found(" MARTIN@example", 10).await,
        ids(&[("zoe", 4)]),
        "by e-mail"
    );
    assert_eq!(
        found("ber0137", 10).await,
        ids(&[("member0137", 1)]),
        "inside an id"
    );
    assert_eq!(
        found("member01", 3).await,
        ids(&[("member0117", 3), ("member0100", 1), ("member0101", 1)]),
        "most frequent first, then by id, up to the limit"
    );
    assert_eq!(found("member", 1000).await.len(), listed + 40);
    assert!(
        found("other", 10).await.is_empty(),
        "another tenant's actor"
    );
    assert!(found("  ", 10).await.is_empty());
    assert!(found("member", 0).await.is_empty());
}

/// No read ever sees another tenant's data; each tenant has its own seq and idempotency keys.
pub async fn tenants_are_isolated(store: Arc<dyn Store>) {
    let (a, _, _) = seed_dataset(&store, "acme").await;
    let b = tenant(&store, "globex").await;
    let theirs = append(
        &store,
        b,
        vec![
            keyed("secret.viewed", "mallory", "k1"),
            event("user.created", "u1"),
        ],
    )
    .await;
    let mine = append(&store, a, vec![keyed("a.created", "u1", "k1")]).await;
    assert_eq!(
        (theirs[0].seq, theirs[0].duplicate),
        (0, false),
        "each tenant's log starts at 0"
    );
    assert_eq!(
        (mine[0].seq, mine[0].duplicate),
        (24, false),
        "the same key in two tenants is two entries"
    );

    assert_eq!(store.log_size(a).await.ok(), Some(25));
    assert_eq!(store.log_size(b).await.ok(), Some(2));
    assert_eq!(store.get(a, theirs[0].id).await.ok(), Some(Lookup::Missing));
    assert_eq!(store.get(b, mine[0].id).await.ok(), Some(Lookup::Missing));
    assert!(found(&store, b, theirs[0].id).await.is_some());

    let f = Filter::default;
    assert_eq!(count(&store, b, &f()).await, 2);
    assert_eq!(seqs(&all_pages(&store, b, &f(), 1).await), [1, 0]);
    let q = |t: &str| Filter {
        text: Some(t.into()),
        ..f()
    };
    assert_eq!(count(&store, b, &q("assigned")).await, 0);
    assert_eq!(count(&store, a, &q("mallory")).await, 0);
    assert_eq!(count(&store, b, &q("mallory")).await, 1);
    assert_eq!(
        count(
            &store,
            b,
            &Filter {
                actor: Some("u1".into()),
                ..f()
            }
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &store,
            b,
            &Filter {
                target_id: Some("142".into()),
                ..f()
            }
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &store,
            b,
            &Filter {
                channel: Some("auth".into()),
                ..f()
            }
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &store,
            b,
            &Filter {
                properties: vec![("repo".into(), "web".into())],
                ..f()
            }
        )
        .await,
        0
    );
    let p = page(
        &store,
        b,
        &f(),
        10,
        Some(Cursor {
            seq: 20,
            direction: Direction::Older,
        }),
    )
    .await;
    assert_eq!(
        seqs(&p.entries),
        [1, 0],
        "a cursor from another tenant's range reveals nothing else"
    );

    let facets = store.facets(b).await.ok().unwrap_or_default();
    let text = format!("{facets:?}");
    assert!(
        !text.contains("hardware.updated") && !text.contains("u0"),
        "{text}"
    );
    assert_eq!(store.log_size(TenantId(9_999)).await.ok(), Some(0));
    assert_eq!(count(&store, TenantId(9_999), &f()).await, 0);
}

/// Tenants: create, refuse a taken name, list oldest first, look up by name and id.
pub async fn tenants_create_conflict_and_lookup(store: Arc<dyn Store>) {
    assert_eq!(store.list_tenants().await.ok().map(|l| l.len()), Some(0));
    let acme = match store.create_tenant("acme").await {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let globex = match store.create_tenant("globex").await {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    assert_ne!(acme.id, globex.id);
    assert_eq!(acme.name, "acme");
    assert!(acme.created_at <= globex.created_at);
    let again = store.create_tenant("acme").await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(
        store.list_tenants().await.ok(),
        Some(vec![acme.clone(), globex.clone()])
    );
    assert_eq!(
        store.tenant_by_name("acme").await.ok(),
        Some(Some(acme.clone()))
    );
    assert_eq!(store.tenant_by_name("nope").await.ok(), Some(None));
    let by_id = store.tenant_by_id(globex.id).await.ok().flatten();
    assert_eq!(
        by_id.map(|t| (t.id, t.name)),
        Some((globex.id, "globex".to_string()))
    );
    assert_eq!(store.tenant_by_id(TenantId(424_242)).await.ok(), Some(None));
    assert_eq!(store.log_size(acme.id).await.ok(), Some(0));
}

/// The key every request authenticates with comes with its own tenant's settings (the IP
/// allowlist and limits a request is checked against), never another tenant's, revoked keys
/// included so the caller can refuse them; unknown prefixes find nothing.
pub async fn api_keys_come_with_their_tenants_settings(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "globex").await;
    let ka = store
        .insert_api_key(a, "aaaaaaaaaaa1", [1; 32], "a", &[Scope::Read])
        .await;
    let kb = store
        .insert_api_key(b, "bbbbbbbbbbb1", [2; 32], "b", &[Scope::Read])
        .await;
    let (Ok(ka), Ok(kb)) = (ka, kb) else {
        panic!("inserting the keys failed");
    };
    let allowlisted = store.set_ip_allowlist(a, vec!["10.0.0.0/8".into()]).await;
    assert!(allowlisted.is_ok(), "{allowlisted:?}");
    let retained = store.set_retention(b, Retention::Days(90)).await;
    assert!(retained.is_ok(), "{retained:?}");
    let _ = store.revoke_api_key(b, &kb.id).await;
    let kb = store.api_key_by_prefix(&kb.id).await.ok().flatten();

    for (key, t) in [(Some(ka), a), (kb, b)] {
        let Some(key) = key else {
            panic!("key of tenant {} not found", t.0);
        };
        let found = store.api_key_with_settings(&key.id).await;
        let settings = store.settings(t).await.ok();
        assert_eq!(
            found.ok().flatten(),
            settings.map(|s| (key.clone(), s)),
            "tenant {}",
            t.0
        );
    }
    let read_back = store.api_key_with_settings("aaaaaaaaaaa1").await;
    assert!(
        matches!(&read_back, Ok(Some((_, s))) if s.ip_allowlist == ["10.0.0.0/8"]),
        "{read_back:?}"
    );
    assert!(matches!(
        store.api_key_with_settings("nope").await,
        Ok(None)
    ));
    assert!(matches!(
        store.api_key_with_settings("st_\0").await,
        Ok(None)
    ));
}

/// API keys: insert, find by prefix across tenants, list newest first with revoked ones,
/// revoke once (the first time is kept), never across tenants.
pub async fn api_keys_insert_list_and_revoke(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "globex").await;
    let insert = |t: TenantId, prefix: &'static str, hash: u8, scopes: Vec<Scope>| {
        let store = store.clone();
        async move {
            match store
                .insert_api_key(t, prefix, [hash; 32], &format!("{prefix} key"), &scopes)
                .await
            {
                Ok(k) => k,
                Err(e) => panic!("insert {prefix}: {e}"),
            }
        }
    };
    let k1 = insert(a, "aaaaaaaaaaa1", 1, vec![Scope::Read, Scope::Ingest]).await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    let k2 = insert(a, "aaaaaaaaaaa2", 2, vec![Scope::Admin]).await;
    let kb = insert(b, "bbbbbbbbbbb1", 3, vec![Scope::Export]).await;
    assert_eq!(
        (
            k1.tenant,
            k1.name.as_str(),
            k1.scopes.clone(),
            k1.hash,
            k1.revoked_at
        ),
        (
            a,
            "aaaaaaaaaaa1 key",
            vec![Scope::Ingest, Scope::Read],
            [1; 32],
            None
        )
    );
    assert_eq!(
        store.api_key_by_prefix("aaaaaaaaaaa1").await.ok(),
        Some(Some(k1.clone()))
    );
    assert_eq!(
        store.api_key_by_prefix("bbbbbbbbbbb1").await.ok(),
        Some(Some(kb.clone()))
    );
    assert_eq!(store.api_key_by_prefix("nope").await.ok(), Some(None));

    let dup = store
        .insert_api_key(b, "aaaaaaaaaaa1", [9; 32], "dup", &[Scope::Read])
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let orphan = store
        .insert_api_key(
            TenantId(777_777),
            "ccccccccccc1",
            [9; 32],
            "x",
            &[Scope::Read],
        )
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");

    assert_eq!(
        store.list_api_keys(a).await.ok(),
        Some(vec![k2.clone(), k1.clone()])
    );
    assert_eq!(
        store.revoke_api_key(b, &k1.id).await.ok(),
        Some(None),
        "another tenant's key"
    );
    assert_eq!(store.revoke_api_key(a, "nope").await.ok(), Some(None));
    let revoked = store.revoke_api_key(a, &k1.id).await.ok().flatten();
    let when = revoked.as_ref().and_then(|k| k.revoked_at);
    assert!(when.is_some());
    tokio::time::sleep(Duration::from_millis(3)).await;
    let again = store.revoke_api_key(a, &k1.id).await.ok().flatten();
    assert_eq!(
        again.and_then(|k| k.revoked_at),
        when,
        "the first revocation time is kept"
    );
    let listed = store.list_api_keys(a).await.ok().unwrap_or_default();
    assert_eq!(
        listed
            .iter()
            .map(|k| (k.id.as_str(), k.revoked_at.is_some()))
            .collect::<Vec<_>>(),
        [("aaaaaaaaaaa2", false), ("aaaaaaaaaaa1", true)]
    );
    assert_eq!(store.list_api_keys(b).await.ok(), Some(vec![kb]));
    assert_eq!(
        store
            .api_key_by_prefix(&k1.id)
            .await
            .ok()
            .flatten()
            .and_then(|k| k.revoked_at),
        when
    );
}

/// Lookups by text a client supplies (sign-in e-mail, workspace, key prefix) find nothing for
/// text no stored value can hold, such as U+0000, rather than failing.
pub async fn text_lookups_with_nul_find_nothing(store: Arc<dyn Store>) {
    let t = match store.create_tenant("acme").await {
        Ok(t) => t.id,
        Err(e) => panic!("{e}"),
    };
    assert!(matches!(store.tenant_by_name("ac\0me").await, Ok(None)));
    assert!(matches!(store.api_key_by_prefix("st_\0").await, Ok(None)));
    assert!(matches!(store.revoke_api_key(t, "\0").await, Ok(None)));
    assert!(matches!(
        store.user_by_email(t, "a\0@example.com").await,
        Ok(None)
    ));
    assert!(matches!(store.user_by_id(t, "\0").await, Ok(None)));
}

/// Aliases are each tenant's own, matched exactly; they are listed sorted and removed one at
/// a time; a tenant cannot hold one twice, and an unknown tenant is refused.
pub async fn tenant_aliases_name_one_tenant_each(store: Arc<dyn Store>) {
    let acme = store.create_tenant("acme").await.unwrap().id;
    let globex = store.create_tenant("globex").await.unwrap().id;
    let org = "org_01EHZNVPK3SFK441A1RGBFSHRT";
    store.add_tenant_alias(acme, org).await.unwrap();
    store.add_tenant_alias(acme, "acme-project").await.unwrap();
    let twice = store.add_tenant_alias(acme, "acme-project").await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    // Another tenant may hold the same alias: it names only that tenant for that tenant's
    // keys, and no tenant can claim (or learn of) another's.
    store
        .add_tenant_alias(globex, "acme-project")
        .await
        .unwrap();
    let unknown = store.add_tenant_alias(TenantId(987_654), "x").await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );

    assert_eq!(
        store.tenant_aliases(acme).await.unwrap(),
        ["acme-project", org]
    );
    assert_eq!(
        store.tenant_aliases(globex).await.unwrap(),
        ["acme-project"]
    );
    assert!(store.has_tenant_alias(acme, org).await.unwrap());
    assert!(!store.has_tenant_alias(globex, org).await.unwrap());
    assert!(
        !store
            .has_tenant_alias(acme, "org_01ehznvpk3sfk441a1rgbfshrt")
            .await
            .unwrap(),
        "aliases are exact"
    );
    assert!(!store.remove_tenant_alias(acme, "nope").await.unwrap());
    assert!(store
        .remove_tenant_alias(acme, "acme-project")
        .await
        .unwrap());
    assert!(!store.has_tenant_alias(acme, "acme-project").await.unwrap());
    assert!(store
        .has_tenant_alias(globex, "acme-project")
        .await
        .unwrap());
}
