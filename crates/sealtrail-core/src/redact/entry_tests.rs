//! Unit tests for [`super::redact_entry`]: every field is scanned and recorded, ordinary data
//! is left alone.

use super::*;
use crate::entry::{Actor, Changes, Context, Outcome, RequestInfo, Target};
use serde_json::{json, Map};

fn entry(properties: Value) -> NewEntry {
    let properties: Map<String, Value> = serde_json::from_value(properties).unwrap();
    NewEntry {
        occurred_at: None,
        channel: "default".into(),
        action: "a.b".into(),
        event: "other".into(),
        category: None,
        description: "a.b".into(),
        result: Outcome::Success,
        actor: Actor::system("test"),
        targets: Vec::new(),
        context: Context::default(),
        changes: None,
        properties,
        redacted: Vec::new(),
        idempotency_key: None,
    }
}

#[test]
fn entry_parts_are_redacted_and_paths_merged_sorted_deduplicated() {
    let mut e = entry(json!({"password": "hunter2", "note": "card 4111 1111 1111 1111"}));
    e.description = "used key AKIAIOSFODNN7EXAMPLE".into();
    e.changes = Some(Changes {
        before: Some(json!({"password": "old"})),
        after: Some(json!("ghp_1234567890abcdefghijABCDEFGHIJ123456")),
    });
    e.context.request = Some(RequestInfo {
        method: Some("POST".into()),
        path: Some("/login".into()),
        body: Some(json!({"token": "t"})),
        response: Some(json!({"ok": true, "session_id": "s"})),
    });
    e.redacted = vec!["zzz.earlier".into(), "properties.password".into()];
    redact_entry(&mut e);
    assert_eq!(e.description, "used key [REDACTED]");
    assert_eq!(e.properties["note"], "card [REDACTED]");
    assert_eq!(
        e.redacted,
        [
            "changes.after",
            "changes.before.password",
            "context.request.body.token",
            "context.request.response.session_id",
            "description",
            "properties.note",
            "properties.password",
            "zzz.earlier",
        ]
    );
    let text = serde_json::to_string(&e).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("AKIAIOSFODNN7EXAMPLE"),
        "{text}"
    );
    let once = e.clone();
    redact_entry(&mut e);
    assert_eq!(e, once, "idempotent");
}

#[test]
fn clean_entry_is_untouched() {
    let mut e = entry(json!({"n": 1, "s": "hello", "nested": {"list": [1, "x"]}}));
    let before = e.clone();
    redact_entry(&mut e);
    assert_eq!(e, before);
}

const GITHUB: &str = "ghp_1234567890abcdefghijABCDEFGHIJ123456";

#[test]
fn every_text_field_is_scanned_and_recorded() {
    let mut e = entry(json!({}));
    e.action = format!("token.{GITHUB}.created");
    e.channel = "xoxb-123456789012-abcdefghijkl".into();
    e.event = "sk_live_abcdefghijklmnop".into();
    e.category = Some(format!("ci {GITHUB}"));
    e.description = "login with password=hunter2".into();
    e.actor = Actor {
        kind: crate::entry::ActorType::Api,
        id: Some(format!("key-{GITHUB}")),
        name: Some("Bearer abc123def456".into()),
        email: Some(format!("{GITHUB}@example.com")),
        via: Some("postgres://app:s3cret@db/x".into()),
    };
    e.targets = vec![Target {
        kind: format!("kind {GITHUB}"),
        id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        name: Some("AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe".into()),
    }];
    e.context = Context {
        ip: Some("203.0.113.7".into()),
        user_agent: Some(format!("curl/8 token={GITHUB}")),
        location: Some("Berlin 4111 1111 1111 1111".into()),
        request: Some(RequestInfo {
            method: Some(format!("POST {GITHUB}")),
            path: Some("/reset?token=abc&user=7".into()),
            body: None,
            response: None,
        }),
    };
    redact_entry(&mut e);
    assert_eq!(
        e.redacted,
        [
            "action",
            "actor.email",
            "actor.id",
            "actor.name",
            "actor.via",
            "category",
            "channel",
            "context.location",
            "context.request.method",
            "context.request.path",
            "context.user_agent",
            "description",
            "event",
            "targets[0].id",
            "targets[0].name",
            "targets[0].type",
        ]
    );
    assert_eq!(e.action, "token.[REDACTED].created");
    assert_eq!(
        e.actor.via.as_deref(),
        Some("postgres://app:[REDACTED]@db/x")
    );
    assert_eq!(e.actor.email.as_deref(), Some("[REDACTED]@example.com"));
    let request = e.context.request.as_ref().unwrap();
    assert_eq!(
        request.path.as_deref(),
        Some("/reset?token=[REDACTED]&user=7")
    );
    assert_eq!(e.context.ip.as_deref(), Some("203.0.113.7"));
    let text = serde_json::to_string(&e).unwrap();
    for secret in [
        GITHUB,
        "hunter2",
        "s3cret",
        "AKIAIOSFODNN7EXAMPLE",
        "abc123def456",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[test]
fn numeric_ids_are_ids_not_cards() {
    let mut e = entry(json!({"order_id": "4111111111111111"}));
    e.actor.id = Some("4111111111111111".into());
    e.actor.via = Some("-4111111111111111".into());
    e.targets = vec![Target {
        kind: "card".into(),
        id: Some("5555555555554444".into()),
        name: Some("5555555555554444".into()),
    }];
    redact_entry(&mut e);
    assert_eq!(e.actor.id.as_deref(), Some("4111111111111111"));
    assert_eq!(e.targets[0].id.as_deref(), Some("5555555555554444"));
    assert_eq!(
        e.targets[0].name.as_deref(),
        Some(REDACTED),
        "names are text"
    );
    assert_eq!(
        e.redacted,
        ["actor.via", "properties.order_id", "targets[0].name"]
    );
    for id in [
        "-4111111111111111",
        "4111111111111111.5",
        "4111111111111111e+3",
    ] {
        e.actor.id = Some(id.into());
        redact_entry(&mut e);
        assert_eq!(e.actor.id.as_deref(), Some(id), "number-shaped ids are ids");
    }
    e.actor.id = Some("4111-1111-1111-1111".into());
    redact_entry(&mut e);
    assert_eq!(
        e.actor.id.as_deref(),
        Some(REDACTED),
        "a grouped card is no number"
    );
}

#[test]
fn ordinary_data_is_not_redacted() {
    let mut e = entry(json!({
        "password_changed": true, "pin_enabled": false, "shipping": "DHL Express",
        "note": "Password changed", "max_tokens": 4096,
        "url": "https://example.com/v1/users/42/pin-history?page=2&sort_key=name",
    }));
    e.category = Some("Security".into());
    e.description = "Password changed by Alice (password reset via e-mail)".into();
    e.actor.name = Some("Zoë O'Brien".into());
    e.actor.email = Some("zoe@example.com".into());
    e.actor.via = Some("API (Billing App)".into());
    e.targets = vec![Target {
        kind: "user_pin".into(),
        id: Some("67c04127-811e-2116-9534-308414a00000".into()),
        name: Some("Compass passenger list".into()),
    }];
    e.context = Context {
        ip: Some("2001:db8::1".into()),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/120.0.0.0 Safari/537.36"
                .into(),
        ),
        location: Some("Berlin, DE".into()),
        request: Some(RequestInfo {
            method: Some("PUT".into()),
            path: Some("/v1/users/42/pin-history".into()),
            body: Some(json!({"passport_country": "DE", "mapping": {"a": "b"}})),
            response: Some(json!({"ok": true, "tokens_used": 17})),
        }),
    };
    let before = e.clone();
    redact_entry(&mut e);
    assert_eq!(e, before);
}
