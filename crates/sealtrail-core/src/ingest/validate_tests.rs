//! Unit tests for [`super::validate_event`]: one case per rule, plus defaults and ordering.

use super::*;
use serde_json::json;

const NOW: Timestamp = Timestamp(1_795_000_000_000);

fn validate(value: Value) -> Result<NewEntry, FieldError> {
    validate_event(value, &Limits::default(), NOW)
}

/// A minimal valid event with `extra` merged in at the top level.
fn with(extra: Value) -> Value {
    let mut event = json!({"action": "user.updated", "actor": {"id": "u1"}});
    if let (Some(event), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            event.insert(k.clone(), v.clone());
        }
    }
    event
}

#[track_caller]
fn assert_rejects(value: Value, field: &str, rule: &str) {
    match validate(value.clone()) {
        Ok(entry) => panic!("{value} was accepted: {entry:?}"),
        Err(e) => {
            assert_eq!((e.field.as_str(), e.rule), (field, rule), "{value}: {e}");
            assert!(!e.message.is_empty());
        }
    }
}

#[test]
fn minimal_event_gets_defaults() {
    let e = validate(json!({"action": "user.updated", "actor": {"id": "u1"}})).unwrap();
    assert_eq!(e.channel, "default");
    assert_eq!(e.event, "updated");
    assert_eq!(e.description, "user.updated");
    assert_eq!(e.result, Outcome::Success);
    assert_eq!(e.actor.kind, ActorType::User);
    assert_eq!(e.actor.id.as_deref(), Some("u1"));
    assert!(e.targets.is_empty() && e.context.is_empty() && e.changes.is_none());
    assert!(e.properties.is_empty() && e.redacted.is_empty());
    assert_eq!(
        (e.occurred_at, e.category, e.idempotency_key),
        (None, None, None)
    );
}

#[test]
fn full_event_is_kept() {
    let e = validate(json!({
        "action": "hardware.role_changed", "channel": "it.assets", "event": "custom-kind",
        "category": "Assets", "description": "Alice moved laptop 142", "result": "denied",
        "actor": {"type": "api", "id": "k1", "name": "CI", "email": "ci@example.com", "via": "API (CI)"},
        "targets": [{"type": "hardware", "id": 142, "name": "Laptop 142"}, {"type": "user", "id": "u9"}],
        "context": {"ip": "2001:DB8:0:0::1", "user_agent": "curl/8", "location": "Berlin",
                    "request": {"method": "PUT", "path": "/hw/142", "body": {"a": [1]}, "response": "ok"}},
        "changes": {"before": {"owner": "bob"}, "after": null},
        "properties": {"n": 1, "nested": {"x": [true]}},
        "occurred_at": "2026-11-13T10:30:00+01:00",
        "idempotency_key": "k-1",
    }))
    .unwrap();
    assert_eq!(
        (e.channel.as_str(), e.event.as_str()),
        ("it.assets", "custom-kind")
    );
    assert_eq!(e.category.as_deref(), Some("Assets"));
    assert_eq!(e.result, Outcome::Denied);
    assert_eq!(e.actor.kind, ActorType::Api);
    assert_eq!(e.actor.via.as_deref(), Some("API (CI)"));
    assert_eq!(e.targets[0].id.as_deref(), Some("142"));
    assert_eq!(e.targets[1].name, None);
    assert_eq!(e.context.ip.as_deref(), Some("2001:db8::1"));
    let request = e.context.request.unwrap();
    assert_eq!(request.body, Some(json!({"a": [1]})));
    assert_eq!(request.response, Some(json!("ok")));
    let changes = e.changes.unwrap();
    assert_eq!(
        (changes.before, changes.after),
        (Some(json!({"owner": "bob"})), None)
    );
    assert_eq!(e.properties["nested"], json!({"x": [true]}));
    assert_eq!(
        e.occurred_at.unwrap().to_rfc3339(),
        "2026-11-13T09:30:00.000Z"
    );
    assert_eq!(e.idempotency_key.as_deref(), Some("k-1"));
}

#[test]
fn not_an_object() {
    for v in [json!(1), json!("x"), json!([]), json!(null)] {
        assert_rejects(v, "", "type");
    }
}

#[test]
fn unknown_fields_at_every_level() {
    assert_rejects(with(json!({"acter": 1})), "acter", "unknown_field");
    assert_rejects(
        with(json!({"actor": {"id": "a", "mail": "x"}})),
        "actor.mail",
        "unknown_field",
    );
    assert_rejects(
        with(json!({"targets": [{"type": "t"}, {"type": "t", "kind": 1}]})),
        "targets[1].kind",
        "unknown_field",
    );
    assert_rejects(
        with(json!({"context": {"ip_address": "1.2.3.4"}})),
        "context.ip_address",
        "unknown_field",
    );
    assert_rejects(
        with(json!({"context": {"request": {"headers": {}}}})),
        "context.request.headers",
        "unknown_field",
    );
    assert_rejects(
        with(json!({"changes": {"diff": {}}})),
        "changes.diff",
        "unknown_field",
    );
    // Free JSON is not checked.
    assert!(validate(with(
        json!({"properties": {"anything": {"goes": 1}}, "changes": {"before": {"any": 1}}})
    ))
    .is_ok());
}

#[test]
fn unknown_fields_are_reported_before_other_problems() {
    assert_rejects(json!({"zzz": 1}), "zzz", "unknown_field");
    assert_rejects(
        json!({"action": 5, "actor": {}, "oops": 1}),
        "oops",
        "unknown_field",
    );
}

#[test]
fn first_problem_in_fixed_order() {
    let bad = json!({"action": 5, "channel": "UPPER", "result": "maybe", "actor": 1});
    assert_rejects(bad, "action", "type");
    let bad = json!({"action": "a.b", "channel": "UPPER", "result": "maybe", "actor": 1});
    assert_rejects(bad, "channel", "format");
    let bad =
        json!({"action": "a.b", "idempotency_key": "", "occurred_at": "x", "actor": {"id": "a"}});
    assert_rejects(bad, "occurred_at", "format");
}

#[test]
fn action_rules() {
    assert_rejects(json!({"actor": {"id": "a"}}), "action", "required");
    assert_rejects(with(json!({"action": ""})), "action", "required");
    assert_rejects(with(json!({"action": null})), "action", "required");
    assert_rejects(with(json!({"action": 5})), "action", "type");
    assert_rejects(with(json!({"action": "a".repeat(129)})), "action", "length");
    for bad in ["a..b", ".a", "a.", "a b", "a/b", "é.b"] {
        assert_rejects(with(json!({"action": bad})), "action", "format");
    }
    for good in ["a", "User.Created", "a-b.c_d.9", &"a".repeat(128)] {
        assert!(validate(with(json!({"action": good}))).is_ok(), "{good}");
    }
}

#[test]
fn channel_rules() {
    assert_eq!(
        validate(with(json!({"channel": ""}))).unwrap().channel,
        "default"
    );
    assert_eq!(
        validate(with(json!({"channel": "a.b-c_1"})))
            .unwrap()
            .channel,
        "a.b-c_1"
    );
    assert_rejects(with(json!({"channel": "Hardware"})), "channel", "format");
    assert_rejects(
        with(json!({"channel": "a".repeat(65)})),
        "channel",
        "format",
    );
    assert_rejects(with(json!({"channel": 1})), "channel", "type");
}

#[test]
fn event_is_derived_from_the_last_action_word() {
    let cases = [
        ("user.created", "created"),
        ("user.invited", "created"),
        ("team.member.add", "created"),
        ("doc.edited", "updated"),
        ("user.role_changed", "updated"),
        ("x.Modified", "updated"),
        ("key.revoked", "deleted"),
        ("file.remove", "deleted"),
        ("report.exported", "read"),
        ("file.downloaded", "read"),
        ("read", "read"),
        ("user.login", "other"),
        ("created.x", "other"),
        // Compound verbs (seed 004): the last word of the last segment decides.
        ("control.effectiveness_updated", "updated"),
        ("agent.promoted", "updated"),
        ("member.role-changed", "updated"),
        ("policy.exception_granted", "created"),
        ("evidence.file_purged", "deleted"),
        ("audit_log.entries_viewed", "read"),
        ("user.password_reset", "updated"),
        ("agent.heartbeat", "other"),
    ];
    for (action, event) in cases {
        assert_eq!(
            validate(with(json!({"action": action}))).unwrap().event,
            event,
            "{action}"
        );
    }
}

#[test]
fn explicit_event_rules() {
    assert_eq!(
        validate(with(json!({"event": "login"}))).unwrap().event,
        "login"
    );
    assert_rejects(with(json!({"event": "Login"})), "event", "format");
    assert_rejects(with(json!({"event": "a.b"})), "event", "format");
    assert_rejects(with(json!({"event": "a".repeat(33)})), "event", "format");
}

#[test]
fn category_and_description_lengths() {
    assert_rejects(
        with(json!({"category": "c".repeat(129)})),
        "category",
        "length",
    );
    assert_rejects(with(json!({"category": ["x"]})), "category", "type");
    assert_rejects(
        with(json!({"description": "d".repeat(4097)})),
        "description",
        "length",
    );
    assert!(
        validate(with(json!({"description": "é".repeat(4096)}))).is_ok(),
        "counts characters"
    );
}

#[test]
fn result_rules() {
    assert_eq!(
        validate(with(json!({"result": "warning"}))).unwrap().result,
        Outcome::Warning
    );
    let e = validate(with(json!({"result": "maybe"}))).unwrap_err();
    assert_eq!((e.field.as_str(), e.rule), ("result", "enum"));
    assert!(
        e.message.contains("success") && e.message.contains("allowed"),
        "{e}"
    );
    assert_rejects(with(json!({"result": true})), "result", "type");
}

#[test]
fn actor_rules() {
    assert_rejects(json!({"action": "a.b"}), "actor", "required");
    assert_rejects(with(json!({"actor": null})), "actor", "required");
    assert_rejects(with(json!({"actor": "alice"})), "actor", "type");
    assert_rejects(with(json!({"actor": {}})), "actor.id", "required");
    assert_rejects(with(json!({"actor": {"id": ""}})), "actor.id", "required");
    assert_rejects(with(json!({"actor": {"id": 7}})), "actor.id", "type");
    assert_rejects(
        with(json!({"actor": {"id": "a", "type": "robot"}})),
        "actor.type",
        "enum",
    );
    assert_rejects(
        with(json!({"actor": {"id": "a".repeat(257)}})),
        "actor.id",
        "length",
    );
    assert_rejects(
        with(json!({"actor": {"id": "a", "name": "n".repeat(257)}})),
        "actor.name",
        "length",
    );
    assert_rejects(
        with(json!({"actor": {"id": "a", "via": "v".repeat(257)}})),
        "actor.via",
        "length",
    );
    let system = validate(with(json!({"actor": {"type": "system", "name": "cron"}}))).unwrap();
    assert_eq!(
        (system.actor.kind, system.actor.id.as_deref()),
        (ActorType::System, Some("system:cron"))
    );
    // Two system actors sent without ids stay two actors; a nameless one is plain `system`.
    let import = validate(with(
        json!({"actor": {"type": "system", "name": "CSV Import"}}),
    ));
    let invite = validate(with(
        json!({"actor": {"type": "system", "name": "Bulk Invite"}}),
    ));
    assert_eq!(
        (import.unwrap().actor.id, invite.unwrap().actor.id),
        (
            Some("system:CSV Import".into()),
            Some("system:Bulk Invite".into())
        )
    );
    let nameless = validate(with(json!({"actor": {"type": "system"}}))).unwrap();
    assert_eq!(nameless.actor.id.as_deref(), Some("system"));
    let empty_optional =
        validate(with(json!({"actor": {"id": "a", "name": "", "email": ""}}))).unwrap();
    assert_eq!(
        (empty_optional.actor.name, empty_optional.actor.email),
        (None, None)
    );
}

#[test]
fn actor_email_rules() {
    for good in ["a@b.co", "first.last+tag@sub.example.org", "ü@exämple.de"] {
        assert!(
            validate(with(json!({"actor": {"id": "a", "email": good}}))).is_ok(),
            "{good}"
        );
    }
    let long = format!("{}@example.com", "a".repeat(243));
    for bad in [
        "not-an-email",
        "@b.co",
        "a@b",
        "a@@b.co",
        "a@b@c.co",
        "a b@c.co",
        "a@.co",
        "a@b.",
        long.as_str(),
    ] {
        assert_rejects(
            with(json!({"actor": {"id": "a", "email": bad}})),
            "actor.email",
            "format",
        );
    }
}

#[test]
fn target_rules() {
    assert_rejects(with(json!({"targets": {"type": "t"}})), "targets", "type");
    assert_rejects(with(json!({"targets": ["t"]})), "targets[0]", "type");
    assert_rejects(
        with(json!({"targets": [{"id": "1"}]})),
        "targets[0].type",
        "required",
    );
    assert_rejects(
        with(json!({"targets": [{"type": "t"}, {"type": 3}]})),
        "targets[1].type",
        "type",
    );
    assert_rejects(
        with(json!({"targets": [{"type": "t", "id": true}]})),
        "targets[0].id",
        "type",
    );
    assert_rejects(
        with(json!({"targets": [{"type": "t", "name": "n".repeat(257)}]})),
        "targets[0].name",
        "length",
    );
    let many: Vec<Value> = (0..33).map(|i| json!({"type": "t", "id": i})).collect();
    assert_rejects(with(json!({"targets": many})), "targets", "max_items");
    let e = validate(with(
        json!({"targets": [{"type": "t", "id": 1.5, "name": 42}]}),
    ))
    .unwrap();
    assert_eq!(e.targets[0].id.as_deref(), Some("1.5"));
    assert_eq!(e.targets[0].name.as_deref(), Some("42"));
}

#[test]
fn context_rules() {
    assert_rejects(with(json!({"context": []})), "context", "type");
    assert_rejects(
        with(json!({"context": {"ip": "999.1.1.1"}})),
        "context.ip",
        "format",
    );
    assert_rejects(
        with(json!({"context": {"ip": "1.2.3.4:80"}})),
        "context.ip",
        "format",
    );
    assert_rejects(
        with(json!({"context": {"user_agent": "u".repeat(1025)}})),
        "context.user_agent",
        "length",
    );
    assert_rejects(
        with(json!({"context": {"location": "l".repeat(257)}})),
        "context.location",
        "length",
    );
    assert_rejects(
        with(json!({"context": {"request": "GET /"}})),
        "context.request",
        "type",
    );
    assert_rejects(
        with(json!({"context": {"request": {"method": 1}}})),
        "context.request.method",
        "type",
    );
    let ip = validate(with(json!({"context": {"ip": "::FFFF:10.0.0.1"}})))
        .unwrap()
        .context
        .ip;
    assert_eq!(ip.as_deref(), Some("::ffff:10.0.0.1"));
    let empty = validate(with(json!({"context": {"request": {}}}))).unwrap();
    assert!(empty.context.is_empty());
}

#[test]
fn changes_and_properties_rules() {
    assert_rejects(with(json!({"changes": "x"})), "changes", "type");
    assert_rejects(with(json!({"properties": [1]})), "properties", "type");
    assert_rejects(with(json!({"properties": "x"})), "properties", "type");
    assert!(validate(with(json!({"changes": {}})))
        .unwrap()
        .changes
        .is_none());
    let before = validate(with(json!({"changes": {"before": 3}})))
        .unwrap()
        .changes
        .unwrap()
        .before;
    assert_eq!(before, Some(json!(3)));
}

#[test]
fn occurred_at_rules() {
    assert_rejects(
        with(json!({"occurred_at": "yesterday"})),
        "occurred_at",
        "format",
    );
    assert_rejects(
        with(json!({"occurred_at": 1_795_000_000})),
        "occurred_at",
        "type",
    );
    let just_ok = Timestamp(NOW.millis() + MAX_FUTURE_MILLIS).to_rfc3339();
    assert!(validate(with(json!({"occurred_at": just_ok}))).is_ok());
    let too_late = Timestamp(NOW.millis() + MAX_FUTURE_MILLIS + 1).to_rfc3339();
    assert_rejects(
        with(json!({"occurred_at": too_late})),
        "occurred_at",
        "range",
    );
    assert!(validate(with(json!({"occurred_at": "1999-01-01T00:00:00Z"}))).is_ok());
}

#[test]
fn idempotency_key_rules() {
    assert_rejects(
        with(json!({"idempotency_key": ""})),
        "idempotency_key",
        "length",
    );
    assert_rejects(
        with(json!({"idempotency_key": "k".repeat(201)})),
        "idempotency_key",
        "length",
    );
    assert_rejects(
        with(json!({"idempotency_key": 5})),
        "idempotency_key",
        "type",
    );
    assert!(validate(with(json!({"idempotency_key": "k".repeat(200)}))).is_ok());
}

#[test]
fn max_size_counts_the_compact_serialisation() {
    let limits = Limits {
        max_event_bytes: 100,
        ..Limits::default()
    };
    let base = with(json!({"properties": {"p": ""}}));
    let base_len = serde_json::to_vec(&base).unwrap().len();
    let fits = with(json!({"properties": {"p": "x".repeat(100 - base_len)}}));
    assert_eq!(serde_json::to_vec(&fits).unwrap().len(), 100);
    assert!(validate_event(fits, &limits, NOW).is_ok());
    let over = with(json!({"properties": {"p": "x".repeat(101 - base_len)}}));
    let e = validate_event(over, &limits, NOW).unwrap_err();
    assert_eq!((e.field.as_str(), e.rule), ("", "max_size"));
    assert!(
        e.message.contains("101") && e.message.contains("100"),
        "{e}"
    );
}

#[test]
fn secrets_are_redacted() {
    let e = validate(with(json!({"properties": {"password": "hunter2"}}))).unwrap();
    assert_eq!(e.properties["password"], json!(crate::redact::REDACTED));
    assert_eq!(e.redacted, ["properties.password"]);
}
