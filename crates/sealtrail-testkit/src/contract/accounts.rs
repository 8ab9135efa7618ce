//! Cases on users, web sessions and the per-tenant IP allowlist.

use super::fixtures::*;
use sealtrail_core::session::{generate_token, hash_token, Session, SESSION_LIFETIME_MS};
use sealtrail_core::users::{Role, User};
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{NewUser, Retention, Store, StoreError, TenantSettings, UserChange};
use std::sync::Arc;
use std::time::Duration;

/// A syntactically valid Argon2id PHC string; hashing for real is slow and proves nothing here.
const FAKE_HASH: &str = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
/// Another one, for password changes.
const OTHER_HASH: &str = "$argon2id$v=19$m=8,t=1,p=1$b3RoZXJzYWx0$bmV3aGFzaG5ld2hhc2g";

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.into(),
        name: format!("Name of {email}"),
        role,
        password_hash: FAKE_HASH.into(),
    }
}

/// Creates a user and unwraps, naming the failure.
async fn user(store: &Arc<dyn Store>, tenant: TenantId, email: &str, role: Role) -> User {
    match store.create_user(tenant, new_user(email, role)).await {
        Ok(u) => u,
        Err(e) => panic!("create_user({email}): {e}"),
    }
}

/// Records a fresh session of `user` (random token) expiring at `expires_at`.
async fn session_until(store: &Arc<dyn Store>, user: &User, expires_at: Timestamp) -> Session {
    let session = Session {
        token_hash: hash_token(&generate_token()),
        tenant: user.tenant,
        user_id: user.id.clone(),
        created_at: Timestamp(expires_at.millis() - SESSION_LIFETIME_MS),
        expires_at,
    };
    if let Err(e) = store.create_session(session.clone()).await {
        panic!("create_session for {}: {e}", user.email);
    }
    session
}

/// A live session of `user`.
async fn signed_in(store: &Arc<dyn Store>, user: &User) -> Session {
    let now = Timestamp::now();
    session_until(store, user, Timestamp(now.millis() + SESSION_LIFETIME_MS)).await
}

/// True if the session is still stored.
async fn exists(store: &Arc<dyn Store>, session: &Session) -> bool {
    match store.session(session.token_hash).await {
        Ok(found) => found.is_some(),
        Err(e) => panic!("session lookup: {e}"),
    }
}

/// The user as stored now.
async fn stored(store: &Arc<dyn Store>, user: &User) -> Option<User> {
    match store.user_by_id(user.tenant, &user.id).await {
        Ok(u) => u,
        Err(e) => panic!("user_by_id({}): {e}", user.id),
    }
}

/// Applies a change that must succeed and find the user.
async fn change(store: &Arc<dyn Store>, user: &User, change: UserChange) -> User {
    let what = format!("{change:?}");
    match store.update_user(user.tenant, &user.id, change).await {
        Ok(Some(u)) => u,
        Ok(None) => panic!("update_user({}, {what}): user not found", user.email),
        Err(e) => panic!("update_user({}, {what}): {e}", user.email),
    }
}

/// Users: what `create_user` returns is what every lookup returns, field for field; ids are
/// distinct, the list is oldest first, and unknown e-mails or ids find nothing.
pub async fn users_round_trip_every_field(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    assert_eq!(store.list_users(t).await.ok(), Some(Vec::new()));
    let mut created = Vec::new();
    for (email, role) in [
        ("ada@example.com", Role::Owner),
        ("grace@example.com", Role::ItAdmin),
        ("linus@example.com", Role::Hr),
    ] {
        let wanted = NewUser {
            email: email.into(),
            name: format!("Zoë {email}"),
            role,
            password_hash: format!("{FAKE_HASH}{}", created.len()),
        };
        let u = match store.create_user(t, wanted.clone()).await {
            Ok(u) => u,
            Err(e) => panic!("create_user({email}): {e}"),
        };
        assert_eq!(
            (
                u.tenant,
                &u.email,
                &u.name,
                u.role,
                &u.password_hash,
                u.deactivated_at
            ),
            (
                t,
                &wanted.email,
                &wanted.name,
                wanted.role,
                &wanted.password_hash,
                None
            ),
            "create_user returns what was given"
        );
        assert!(!u.id.is_empty() && u.is_active());
        assert!(u.created_at.millis() > 0);
        created.push(u);
    }
    assert!(created[0].id != created[1].id && created[1].id != created[2].id);
    assert!(
        created
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at),
        "created_at never goes back"
    );
    for u in &created {
        assert_eq!(
            store.user_by_email(t, &u.email).await.ok(),
            Some(Some(u.clone())),
            "by e-mail: {}",
            u.email
        );
        assert_eq!(
            store.user_by_id(t, &u.id).await.ok(),
            Some(Some(u.clone())),
            "by id: {}",
            u.email
        );
    }
    assert_eq!(
        store.list_users(t).await.ok(),
        Some(created.clone()),
        "oldest first"
    );
    assert_eq!(
        store.user_by_email(t, "nobody@example.com").await.ok(),
        Some(None)
    );
    assert_eq!(store.user_by_id(t, "no-such-id").await.ok(), Some(None));
}

/// An e-mail is unique within its tenant only; a taken one is a `Conflict` that leaves the
/// existing account untouched, and a user of an unknown tenant is `NotFound`.
pub async fn user_emails_are_unique_per_tenant(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "globex").await;
    let first = user(&store, a, "ada@example.com", Role::Owner).await;
    let dup = store
        .create_user(
            a,
            NewUser {
                name: "Impostor".into(),
                ..new_user("ada@example.com", Role::Member)
            },
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(
        store.list_users(a).await.ok(),
        Some(vec![first.clone()]),
        "the refusal changed nothing"
    );
    let elsewhere = user(&store, b, "ada@example.com", Role::Member).await;
    assert_ne!(elsewhere.id, first.id);
    assert_eq!(elsewhere.tenant, b);
    assert_eq!(
        store.user_by_email(a, "ada@example.com").await.ok(),
        Some(Some(first))
    );
    assert_eq!(
        store.user_by_email(b, "ada@example.com").await.ok(),
        Some(Some(elsewhere))
    );
    let orphan = store
        .create_user(TenantId(987_654), new_user("x@example.com", Role::Owner))
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");
    assert_eq!(
        store.list_users(TenantId(987_654)).await.ok(),
        Some(Vec::new())
    );
}

/// Another tenant's user is invisible: no lookup finds it, no listing shows it, and
/// `update_user` answers `None` without changing it or ending its sessions.
pub async fn users_are_isolated_by_tenant(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "globex").await;
    let victim = user(&store, a, "ada@example.com", Role::Admin).await;
    let _owner = user(&store, a, "owner@example.com", Role::Owner).await;
    let local = user(&store, b, "mallory@example.com", Role::Owner).await;
    let live = signed_in(&store, &victim).await;

    assert_eq!(store.user_by_id(b, &victim.id).await.ok(), Some(None));
    assert_eq!(
        store.user_by_email(b, "ada@example.com").await.ok(),
        Some(None)
    );
    assert_eq!(store.list_users(b).await.ok(), Some(vec![local.clone()]));
    for attempt in [
        UserChange::Role(Role::Member),
        UserChange::PasswordHash(OTHER_HASH.into()),
        UserChange::Deactivate,
    ] {
        let what = format!("{attempt:?}");
        let r = store.update_user(b, &victim.id, attempt).await;
        assert!(matches!(r, Ok(None)), "{what}: {r:?}");
    }
    assert_eq!(
        stored(&store, &victim).await,
        Some(victim.clone()),
        "untouched"
    );
    assert!(exists(&store, &live).await, "its session survives");
    let r = store
        .update_user(a, "no-such-id", UserChange::Deactivate)
        .await;
    assert!(matches!(r, Ok(None)), "{r:?}");
    assert_eq!(store.user_by_id(a, &local.id).await.ok(), Some(None));
}

/// A role change is stored and changes nothing else; it leaves sessions alone.
pub async fn user_role_changes_are_stored(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let _owner = user(&store, t, "owner@example.com", Role::Owner).await;
    let u = user(&store, t, "grace@example.com", Role::Admin).await;
    let live = signed_in(&store, &u).await;
    let changed = change(&store, &u, UserChange::Role(Role::ItAdmin)).await;
    assert_eq!(
        changed,
        User {
            role: Role::ItAdmin,
            ..u.clone()
        }
    );
    assert_eq!(stored(&store, &u).await, Some(changed.clone()));
    assert_eq!(
        store.user_by_email(t, &u.email).await.ok().flatten(),
        Some(changed)
    );
    assert!(exists(&store, &live).await, "a role change keeps sessions");
    let promoted = change(&store, &u, UserChange::Role(Role::Owner)).await;
    assert_eq!(promoted.role, Role::Owner);
}

/// A new password hash is stored and ends every session of that user, and only of that user.
pub async fn password_change_ends_the_users_sessions(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let owner = user(&store, t, "owner@example.com", Role::Owner).await;
    let u = user(&store, t, "grace@example.com", Role::Admin).await;
    let laptop = signed_in(&store, &u).await;
    let phone = signed_in(&store, &u).await;
    let others = signed_in(&store, &owner).await;
    let changed = change(&store, &u, UserChange::PasswordHash(OTHER_HASH.into())).await;
    assert_eq!(
        changed,
        User {
            password_hash: OTHER_HASH.into(),
            ..u.clone()
        }
    );
    assert_eq!(stored(&store, &u).await, Some(changed));
    assert!(!exists(&store, &laptop).await && !exists(&store, &phone).await);
    assert!(exists(&store, &others).await, "other users stay signed in");
    let again = signed_in(&store, &u).await;
    assert!(exists(&store, &again).await, "signing in again works");
    // The last owner may change their password: it does not affect ownership.
    let owner_now = change(&store, &owner, UserChange::PasswordHash(OTHER_HASH.into())).await;
    assert_eq!(owner_now.role, Role::Owner);
    assert!(!exists(&store, &others).await);
}

/// Deactivation sets `deactivated_at` once (a second deactivation keeps the first time), ends
/// the user's sessions, and keeps the account findable and listed.
pub async fn deactivation_is_kept_once_and_ends_sessions(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let owner = user(&store, t, "owner@example.com", Role::Owner).await;
    let u = user(&store, t, "grace@example.com", Role::Member).await;
    let s1 = signed_in(&store, &u).await;
    let s2 = signed_in(&store, &u).await;
    let others = signed_in(&store, &owner).await;
    let off = change(&store, &u, UserChange::Deactivate).await;
    let when = off.deactivated_at;
    assert!(when.is_some() && !off.is_active(), "{off:?}");
    assert_eq!(
        off,
        User {
            deactivated_at: when,
            ..u.clone()
        }
    );
    assert!(!exists(&store, &s1).await && !exists(&store, &s2).await);
    assert!(exists(&store, &others).await, "other users stay signed in");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let again = change(&store, &u, UserChange::Deactivate).await;
    assert_eq!(again.deactivated_at, when, "the first time is kept");
    assert_eq!(
        stored(&store, &u).await.and_then(|u| u.deactivated_at),
        when
    );
    assert_eq!(
        store
            .user_by_email(t, &u.email)
            .await
            .ok()
            .flatten()
            .map(|u| u.deactivated_at),
        Some(when),
        "found by e-mail, active or not"
    );
    assert_eq!(
        store.list_users(t).await.ok().map(|l| l.len()),
        Some(2),
        "listed, deactivated ones included"
    );
}

/// The tenant's last active owner can be neither demoted nor deactivated (`Conflict`, with
/// nothing changed: role, activity and sessions intact); with two active owners either may
/// go; a deactivated owner does not count as an active one.
pub async fn the_last_active_owner_is_kept(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let ada = user(&store, t, "ada@example.com", Role::Owner).await;
    let ada_session = signed_in(&store, &ada).await;
    let refuse = |u: User, attempt: UserChange| {
        let store = store.clone();
        async move {
            let what = format!("{} {attempt:?}", u.email);
            let r = store.update_user(u.tenant, &u.id, attempt).await;
            assert!(matches!(r, Err(StoreError::Conflict(_))), "{what}: {r:?}");
        }
    };
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Owner) {
        refuse(ada.clone(), UserChange::Role(role)).await;
    }
    refuse(ada.clone(), UserChange::Deactivate).await;
    assert_eq!(stored(&store, &ada).await, Some(ada.clone()), "unchanged");
    assert!(exists(&store, &ada_session).await, "sessions intact");
    assert_eq!(
        change(&store, &ada, UserChange::Role(Role::Owner)).await,
        ada,
        "keeping the owner role is no change"
    );

    // Two active owners: one may be demoted, then the other is the last.
    let bob = user(&store, t, "bob@example.com", Role::Owner).await;
    let ada_admin = change(&store, &ada, UserChange::Role(Role::Admin)).await;
    assert_eq!(ada_admin.role, Role::Admin);
    assert!(exists(&store, &ada_session).await);
    refuse(bob.clone(), UserChange::Role(Role::Admin)).await;
    refuse(bob.clone(), UserChange::Deactivate).await;

    // Two active owners: one may be deactivated; it then no longer counts.
    let cy = user(&store, t, "cy@example.com", Role::Owner).await;
    let cy_off = change(&store, &cy, UserChange::Deactivate).await;
    assert!(cy_off.deactivated_at.is_some() && cy_off.role == Role::Owner);
    let bob_session = signed_in(&store, &bob).await;
    refuse(bob.clone(), UserChange::Role(Role::Member)).await;
    refuse(bob.clone(), UserChange::Deactivate).await;
    assert_eq!(stored(&store, &bob).await, Some(bob.clone()));
    assert!(exists(&store, &bob_session).await);
    // The deactivated owner is no active owner, so changing it never empties the tenant.
    let cy_member = change(&store, &cy_off, UserChange::Role(Role::Member)).await;
    assert_eq!(
        (cy_member.role, cy_member.deactivated_at),
        (Role::Member, cy_off.deactivated_at)
    );

    // Ownership in one tenant says nothing about another.
    let other = tenant(&store, "globex").await;
    let solo = user(&store, other, "solo@example.com", Role::Owner).await;
    refuse(solo, UserChange::Deactivate).await;
}

/// Two active owners removed at the same time (one demoted, one deactivated): exactly one
/// change succeeds and the other is a `Conflict`, so the tenant never ends up without an
/// active owner.
pub async fn concurrent_owner_removals_keep_an_owner(store: Arc<dyn Store>) {
    for round in 0..8 {
        let t = tenant(&store, &format!("tenant-{round}")).await;
        let a = user(&store, t, "a@example.com", Role::Owner).await;
        let b = user(&store, t, "b@example.com", Role::Owner).await;
        let (ra, rb) = tokio::join!(
            store.update_user(t, &a.id, UserChange::Role(Role::Admin)),
            store.update_user(t, &b.id, UserChange::Deactivate),
        );
        let ok = [&ra, &rb]
            .into_iter()
            .filter(|r| matches!(r, Ok(Some(_))))
            .count();
        let refused = [&ra, &rb]
            .into_iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
            .count();
        assert_eq!((ok, refused), (1, 1), "round {round}: {ra:?} / {rb:?}");
        let users = store.list_users(t).await.ok().unwrap_or_default();
        let active_owners: Vec<_> = users
            .iter()
            .filter(|u| u.role == Role::Owner && u.is_active())
            .collect();
        assert_eq!(active_owners.len(), 1, "round {round}: {users:?}");
        let kept = if ra.is_ok() { &b } else { &a };
        assert_eq!(active_owners[0], kept, "the refused one is unchanged");
    }
}

/// A session reads back with every field, by its token hash, in any tenant, expired or not;
/// an unknown hash finds nothing; ending one session leaves the others, and ending it twice
/// (or ending an unknown one) is not an error.
pub async fn sessions_round_trip_and_end(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "globex").await;
    let ada = user(&store, a, "ada@example.com", Role::Owner).await;
    let bob = user(&store, b, "bob@example.com", Role::Owner).await;
    let token = generate_token();
    let mine = Session {
        token_hash: hash_token(&token),
        tenant: a,
        user_id: ada.id.clone(),
        created_at: Timestamp(1_700_000_000_123),
        expires_at: Timestamp(1_700_000_000_123 + SESSION_LIFETIME_MS),
    };
    if let Err(e) = store.create_session(mine.clone()).await {
        panic!("create_session: {e}");
    }
    assert_eq!(
        store.session(hash_token(&token)).await.ok(),
        Some(Some(mine.clone())),
        "every field round-trips, long expired or not"
    );
    let second = signed_in(&store, &ada).await;
    let theirs = signed_in(&store, &bob).await;
    assert_eq!(
        store.session(theirs.token_hash).await.ok(),
        Some(Some(theirs.clone())),
        "found in any tenant"
    );
    assert_eq!(
        store.session(hash_token(&generate_token())).await.ok(),
        Some(None)
    );
    assert_eq!(store.session([0; 32]).await.ok(), Some(None));

    assert!(store.delete_session(mine.token_hash).await.is_ok());
    assert_eq!(store.session(mine.token_hash).await.ok(), Some(None));
    assert!(exists(&store, &second).await && exists(&store, &theirs).await);
    assert!(
        store.delete_session(mine.token_hash).await.is_ok(),
        "ending twice is fine"
    );
    assert!(store.delete_session([7; 32]).await.is_ok());
    assert_eq!(
        store.session(second.token_hash).await.ok(),
        Some(Some(second))
    );
}

/// `delete_expired_sessions(now)` removes exactly the sessions with `expires_at <= now` (the
/// instant a session stops being live), in every tenant, and says how many.
pub async fn expired_sessions_are_deleted_by_time(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "globex").await;
    let ada = user(&store, a, "ada@example.com", Role::Owner).await;
    let bob = user(&store, b, "bob@example.com", Role::Owner).await;
    let now = Timestamp(1_800_000_000_000);
    let at = |delta: i64| Timestamp(now.millis() + delta);
    let long_gone = session_until(&store, &ada, at(-86_400_000)).await;
    let just_gone = session_until(&store, &bob, at(-1)).await;
    let ends_now = session_until(&store, &ada, at(0)).await;
    let one_more_ms = session_until(&store, &bob, at(1)).await;
    let later = session_until(&store, &ada, at(3_600_000)).await;
    assert!(!ends_now.is_live(now) && one_more_ms.is_live(now));
    assert!(
        exists(&store, &long_gone).await,
        "expired sessions are kept until deleted"
    );

    assert_eq!(store.delete_expired_sessions(now).await.ok(), Some(3));
    for gone in [&long_gone, &just_gone, &ends_now] {
        assert!(!exists(&store, gone).await, "{:?}", gone.expires_at);
    }
    for kept in [&one_more_ms, &later] {
        assert_eq!(
            store.session(kept.token_hash).await.ok(),
            Some(Some(kept.clone()))
        );
    }
    assert_eq!(
        store.delete_expired_sessions(now).await.ok(),
        Some(0),
        "nothing left to delete"
    );
    assert_eq!(store.delete_expired_sessions(at(1)).await.ok(), Some(1));
    assert!(exists(&store, &later).await);
}

/// A session must belong to an existing user: one naming an unknown user id (or tenant) is
/// refused and not stored.
pub async fn sessions_need_an_existing_user(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let ada = user(&store, t, "ada@example.com", Role::Owner).await;
    let now = Timestamp::now();
    let ghost = Session {
        token_hash: hash_token(&generate_token()),
        tenant: t,
        user_id: "no-such-user".into(),
        created_at: now,
        expires_at: Timestamp(now.millis() + SESSION_LIFETIME_MS),
    };
    let r = store.create_session(ghost.clone()).await;
    assert!(r.is_err(), "unknown user: {r:?}");
    assert!(!exists(&store, &ghost).await, "nothing stored");
    let nowhere = Session {
        token_hash: hash_token(&generate_token()),
        tenant: TenantId(987_654),
        user_id: ada.id.clone(),
        ..ghost
    };
    let r = store.create_session(nowhere.clone()).await;
    assert!(r.is_err(), "unknown tenant: {r:?}");
    assert!(!exists(&store, &nowhere).await, "nothing stored");
}

/// The IP allowlist starts empty; setting it normalises entries (host bits cleared, `/32`
/// shown as an address, duplicates dropped, order kept); a bad entry is `Invalid`, named,
/// and changes nothing; lists are per tenant; an empty list clears it.
pub async fn ip_allowlist_is_normalised_and_per_tenant(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    let allowlist = |t: TenantId| {
        let store = store.clone();
        async move {
            match store.settings(t).await {
                Ok(s) => s.ip_allowlist,
                Err(e) => panic!("settings: {e}"),
            }
        }
    };
    assert_eq!(allowlist(t).await, Vec::<String>::new(), "empty by default");
    let wanted = vec![
        "10.0.0.0/8".to_string(),
        "198.51.100.7".to_string(),
        "2001:db8::/32".to_string(),
        "203.0.113.9".to_string(),
    ];
    let set = store
        .set_ip_allowlist(
            t,
            vec![
                "10.1.2.3/8".into(),
                "198.51.100.7/32".into(),
                "2001:db8::1/32".into(),
                "10.0.0.0/8".into(),
                " 203.0.113.9 ".into(),
                "198.51.100.7".into(),
            ],
        )
        .await
        .map(|s| s.ip_allowlist);
    assert_eq!(set.ok(), Some(wanted.clone()));
    assert_eq!(allowlist(t).await, wanted, "stored as returned");
    assert_eq!(allowlist(other).await, Vec::<String>::new(), "per tenant");

    for bad in ["office", "10.0.0.0/33", "300.1.2.3", "10.0.0.0/8/8"] {
        let r = store
            .set_ip_allowlist(t, vec!["192.0.2.0/24".into(), bad.into()])
            .await;
        assert!(
            matches!(&r, Err(StoreError::Invalid(m)) if m.contains(bad)),
            "{bad}: {r:?}"
        );
    }
    assert_eq!(allowlist(t).await, wanted, "refusals change nothing");

    let theirs = store
        .set_ip_allowlist(other, vec!["192.0.2.1".into()])
        .await
        .map(|s| s.ip_allowlist);
    assert_eq!(theirs.ok(), Some(vec!["192.0.2.1".to_string()]));
    assert_eq!(
        allowlist(t).await,
        wanted,
        "another tenant's list is its own"
    );

    let cleared = store.set_ip_allowlist(t, Vec::new()).await;
    assert_eq!(cleared.ok().map(|s| s.ip_allowlist), Some(Vec::new()));
    assert_eq!(allowlist(t).await, Vec::<String>::new());
    assert_eq!(allowlist(other).await, vec!["192.0.2.1".to_string()]);

    let unknown = store
        .set_ip_allowlist(TenantId(987_654), vec!["192.0.2.1".into()])
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

/// Setting the IP allowlist leaves retention, legal hold and export exclusions as they were,
/// and changing those leaves the allowlist.
pub async fn ip_allowlist_leaves_other_settings_alone(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    assert!(store.set_retention(t, Retention::Days(90)).await.is_ok());
    assert!(store.set_legal_hold(t, true).await.is_ok());
    assert!(store
        .set_export_exclusions(t, vec!["dialogue".into()])
        .await
        .is_ok());
    let expected = TenantSettings {
        retention: Retention::Days(90),
        legal_hold: true,
        export_excluded_properties: vec!["dialogue".into()],
        ip_allowlist: vec!["203.0.113.0/24".into()],
        limits: sealtrail_store::TenantLimits::DEFAULT,
        tile_access: sealtrail_store::TileAccess::Off,
        default_period: None,
        cors_origins: Vec::new(),
    };
    let set = store
        .set_ip_allowlist(t, vec!["203.0.113.7/24".into()])
        .await
        .ok();
    assert_eq!(set.as_ref(), Some(&expected));
    assert_eq!(store.settings(t).await.ok(), Some(expected.clone()));

    let r = store.set_retention(t, Retention::Forever).await.ok();
    assert_eq!(
        r.map(|s| s.ip_allowlist),
        Some(expected.ip_allowlist.clone())
    );
    let r = store.set_legal_hold(t, false).await.ok();
    assert_eq!(
        r.map(|s| s.ip_allowlist),
        Some(expected.ip_allowlist.clone())
    );
    let r = store.set_export_exclusions(t, Vec::new()).await.ok();
    assert_eq!(
        r.map(|s| s.ip_allowlist),
        Some(expected.ip_allowlist.clone())
    );
    let r = store.set_ip_allowlist(t, Vec::new()).await.ok();
    assert_eq!(
        r,
        Some(TenantSettings {
            retention: Retention::Forever,
            legal_hold: false,
            export_excluded_properties: Vec::new(),
            ip_allowlist: Vec::new(),
            limits: sealtrail_store::TenantLimits::DEFAULT,
            tile_access: sealtrail_store::TileAccess::Off,
            default_period: None,
            cors_origins: Vec::new(),
        })
    );
}

/// CORS origins: none by default; normalised when set (lower case, default port dropped,
/// duplicates removed); a bad one is `Invalid`, named, and changes nothing; per tenant; every
/// tenant's origins together are what a preflight is answered for.
pub async fn cors_origins_are_normalised_and_per_tenant(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    let origins = |t: TenantId| {
        let store = store.clone();
        async move {
            match store.settings(t).await {
                Ok(s) => s.cors_origins,
                Err(e) => panic!("settings: {e}"),
            }
        }
    };
    assert_eq!(origins(t).await, Vec::<String>::new(), "none by default");
    assert_eq!(
        store.cors_origins_of_all_tenants().await.ok(),
        Some(Vec::new())
    );
    let set = store
        .set_cors_origins(
            t,
            vec![
                "https://App.Example.com:443".into(),
                "http://localhost:3000".into(),
                "https://app.example.com".into(),
            ],
        )
        .await
        .map(|s| s.cors_origins);
    let wanted = vec![
        "https://app.example.com".to_string(),
        "http://localhost:3000".to_string(),
    ];
    assert_eq!(set.ok(), Some(wanted.clone()));
    assert_eq!(origins(t).await, wanted, "stored as returned");
    assert_eq!(origins(other).await, Vec::<String>::new(), "per tenant");
    let r = store
        .set_cors_origins(
            t,
            vec!["https://ok.example".into(), "https://*.example".into()],
        )
        .await;
    assert!(
        matches!(&r, Err(StoreError::Invalid(m)) if m.contains("*.example")),
        "{r:?}"
    );
    assert_eq!(origins(t).await, wanted, "a refusal changes nothing");
    store
        .set_cors_origins(
            other,
            vec![
                "https://globex.example".into(),
                "http://localhost:3000".into(),
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store.cors_origins_of_all_tenants().await.ok(),
        Some(vec![
            "http://localhost:3000".to_string(),
            "https://app.example.com".to_string(),
            "https://globex.example".to_string(),
        ])
    );
    let cleared = store
        .set_cors_origins(t, Vec::new())
        .await
        .map(|s| s.cors_origins);
    assert_eq!(cleared.ok(), Some(Vec::new()));
}
