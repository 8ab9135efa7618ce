//! Property tests for parsing and validation: no input makes them panic, the strict parser
//! agrees with serde_json on well-formed input, its limits hold at every size, and every valid
//! event comes back with its fields intact.

use super::validate::{derive_event, EVENT_FIELDS};
use super::*;
use crate::entry::{Actor, ActorType, Changes, Context, Outcome, Target};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Number};
use std::net::IpAddr;

const NOW: Timestamp = Timestamp(1_795_000_000_000);

/// Keys that steer generated objects into the validated structure as well as random ones:
/// every field name the validator knows, plus the batch wrapper's `events`.
fn known_keys() -> Vec<&'static str> {
    use super::validate::{
        ACTOR_FIELDS, CHANGES_FIELDS, CONTEXT_FIELDS, EVENT_FIELDS, REQUEST_FIELDS, TARGET_FIELDS,
    };
    let mut keys: Vec<&str> = [
        EVENT_FIELDS,
        ACTOR_FIELDS,
        TARGET_FIELDS,
        CONTEXT_FIELDS,
        REQUEST_FIELDS,
        CHANGES_FIELDS,
        &["events"],
    ]
    .concat();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn arb_key() -> impl Strategy<Value = String> {
    // Any text but NUL, which the parser refuses (see `nul_anywhere_is_refused`).
    prop_oneof![select(known_keys()).prop_map(String::from), "[^\\x00]{0,8}"]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        "[^\\x00]{0,20}".prop_map(Value::String),
        select(
            &[
                "a.b",
                "user.created",
                "system",
                "1.2.3.4",
                "x@y.z",
                "2026-01-01T00:00:00Z"
            ][..]
        )
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((arb_key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn parse(bytes: &[u8]) -> Result<ParsedBody, RequestError> {
    parse_body(bytes, &Limits::default(), NOW)
}

proptest! {
    #[test]
    fn parse_body_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn parse_body_never_panics_on_json_like_text(text in r#"[\[\]{}",:0-9a-z \\.eE+-]{0,200}"#) {
        let _ = parse(text.as_bytes());
    }

    #[test]
    fn parse_body_never_panics_on_json_values(value in arb_json()) {
        let single = serde_json::to_vec(&value).unwrap();
        let _ = parse(&single);
        let batch = serde_json::to_vec(&json!({"events": [value.clone(), value]})).unwrap();
        let _ = parse(&batch);
    }

    #[test]
    fn strict_parser_agrees_with_serde_json(value in arb_json()) {
        // Generated objects have unique keys and depth <= 7, so strictness never applies.
        let text = serde_json::to_string(&value).unwrap();
        let expected: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(strict_json::parse(&text, &Limits::default()), Ok(expected));
    }

    #[test]
    fn nul_anywhere_is_refused(value in arb_json(), before in "[^\\x00]{0,5}", after in "[^\\x00]{0,5}") {
        let hostile = json!({ "action": "a.b", "p": [value, format!("{before}\u{0}{after}")] });
        let text = serde_json::to_string(&hostile).unwrap();
        let refused = matches!(strict_json::parse(&text, &Limits::default()), Err(RequestError::NulCharacter { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn depth_limit_is_exact(depth in 1usize..80, max_depth in 1usize..40, objects in any::<bool>()) {
        let text = if objects {
            format!("{}1{}", r#"{"k":"#.repeat(depth), "}".repeat(depth))
        } else {
            format!("{}{}", "[".repeat(depth), "]".repeat(depth))
        };
        let limits = Limits { max_depth, ..Limits::default() };
        let result = strict_json::parse(&text, &limits);
        if depth > max_depth {
            let is_too_deep = matches!(result, Err(RequestError::TooDeep { .. }));
            prop_assert!(is_too_deep, "{:?}", result);
        } else {
            prop_assert!(result.is_ok());
        }
    }

    #[test]
    fn duplicate_keys_are_always_found(key in "[a-z]{1,6}", first in arb_json(), second in arb_json(), nested in any::<bool>()) {
        let a = serde_json::to_string(&first).unwrap();
        let b = serde_json::to_string(&second).unwrap();
        let k = serde_json::to_string(&key).unwrap();
        let (text, path) = if nested {
            (format!(r#"{{"outer": [{{{k}: {a}, {k}: {b}}}]}}"#), format!("outer[0].{key}"))
        } else {
            (format!("{{{k}: {a}, {k}: {b}}}"), key.clone())
        };
        prop_assert_eq!(parse(text.as_bytes()), Err(RequestError::DuplicateKey { path }));
    }

    #[test]
    fn a_field_set_to_any_value_is_blamed_on_that_field(field in select(EVENT_FIELDS), value in arb_json()) {
        let mut event = json!({"action": "user.updated", "actor": {"id": "u1"}});
        event[field] = value;
        if let Err(e) = validate_event(event, &Limits::default(), NOW) {
            let blamed = e.field == field
                || e.field.starts_with(&format!("{field}."))
                || e.field.starts_with(&format!("{field}["));
            prop_assert!(blamed, "{} blamed for a change to {}: {}", e.field, field, e);
        }
    }
}

/// A valid event as sent, and the entry it must produce.
#[derive(Debug, Clone)]
struct Generated {
    json: Value,
    expected: NewEntry,
}

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::of(s)
}

fn arb_safe_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "[a-z ]{0,20}".prop_map(Value::from),
        prop::collection::vec("[a-z]{0,5}", 0..3).prop_map(Value::from),
    ]
}

fn arb_target() -> impl Strategy<Value = (Value, Target)> {
    (
        "[a-z_]{1,12}",
        opt(prop_oneof![
            "[A-Za-z0-9-]{1,12}".prop_map(Value::from),
            any::<u32>().prop_map(Value::from)
        ]),
        opt("\\PC{1,20}"),
    )
        .prop_map(|(kind, id, name)| {
            let mut json = json!({"type": kind});
            if let Some(id) = &id {
                json["id"] = id.clone();
            }
            if let Some(name) = &name {
                json["name"] = json!(name);
            }
            let id = id.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
            (json, Target { kind, id, name })
        })
}

prop_compose! {
    fn arb_event()(
        action in "[A-Za-z0-9_-]{1,10}(\\.[A-Za-z0-9_-]{1,10}){0,3}",
        channel in opt("[a-z0-9_.-]{1,20}"),
        event in opt("[a-z0-9_-]{1,32}"),
        category in opt("\\PC{1,30}"),
        description in opt("[A-Za-z ,.]{1,60}"),
        result in opt(select(&Outcome::ALL[..])),
        actor_kind in opt(select(&ActorType::ALL[..])),
        actor_id in opt("[A-Za-z0-9_-]{1,20}"),
        actor_name in opt("\\PC{1,30}"),
        email in opt("[a-z0-9.+]{1,10}@[a-z]{1,10}\\.[a-z]{2,5}"),
        via in opt("\\PC{1,20}"),
        targets in prop::collection::vec(arb_target(), 0..4),
        ip in opt(any::<IpAddr>()),
        user_agent in opt("\\PC{1,50}"),
        properties in prop::collection::btree_map("[a-z]{1,8}", arb_safe_json(), 0..5),
        before in opt(arb_safe_json()),
        after in opt(arb_safe_json()),
        occurred_at in opt(0i64..=NOW.millis()),
        idempotency_key in opt("[A-Za-z0-9-]{1,40}"),
    ) -> Generated {
        let kind = actor_kind.unwrap_or_default();
        // Only a system actor may omit its id.
        let actor_id = actor_id.or_else(|| (kind != ActorType::System).then(|| "u1".to_string()));
        let mut j = Map::new();
        j.insert("action".into(), json!(action));
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                j.insert(key.into(), value);
            }
        };
        put("channel", channel.clone().map(Value::from));
        put("event", event.clone().map(Value::from));
        put("category", category.clone().map(Value::from));
        put("description", description.clone().map(Value::from));
        put("result", result.map(|r| json!(r.as_str())));
        let mut actor = Map::new();
        if let Some(kind) = actor_kind {
            actor.insert("type".into(), json!(kind.as_str()));
        }
        for (key, value) in [("id", &actor_id), ("name", &actor_name), ("email", &email), ("via", &via)] {
            if let Some(value) = value {
                actor.insert(key.into(), json!(value));
            }
        }
        put("actor", Some(Value::Object(actor)));
        if !targets.is_empty() {
            put("targets", Some(Value::Array(targets.iter().map(|(j, _)| j.clone()).collect())));
        }
        let mut context = Map::new();
        if let Some(ip) = ip {
            // Upper-case hex must come back canonical.
            context.insert("ip".into(), json!(ip.to_string().to_uppercase()));
        }
        if let Some(ua) = &user_agent {
            context.insert("user_agent".into(), json!(ua));
        }
        if !context.is_empty() {
            put("context", Some(Value::Object(context)));
        }
        let mut changes = Map::new();
        if let Some(b) = &before {
            changes.insert("before".into(), b.clone());
        }
        if let Some(a) = &after {
            changes.insert("after".into(), a.clone());
        }
        if !changes.is_empty() {
            put("changes", Some(Value::Object(changes)));
        }
        let properties: Map<String, Value> = properties.into_iter().collect();
        if !properties.is_empty() {
            put("properties", Some(Value::Object(properties.clone())));
        }
        let occurred_at = occurred_at.map(Timestamp);
        put("occurred_at", occurred_at.map(|t| json!(t.to_rfc3339())));
        put("idempotency_key", idempotency_key.clone().map(Value::from));

        let expected = NewEntry {
            occurred_at,
            channel: channel.unwrap_or_else(|| "default".into()),
            event: event.unwrap_or_else(|| derive_event(&action).to_string()),
            category,
            description: description.unwrap_or_else(|| action.clone()),
            action,
            result: result.unwrap_or_default(),
            actor: Actor {
                kind,
                id: Some(actor_id.unwrap_or_else(|| Actor::system_id(actor_name.as_deref()))),
                name: actor_name,
                email,
                via,
            },
            targets: targets.into_iter().map(|(_, t)| t).collect(),
            context: Context { ip: ip.map(|ip| ip.to_string()), user_agent, location: None, request: None },
            changes: (before.is_some() || after.is_some()).then_some(Changes { before, after }),
            properties,
            redacted: Vec::new(),
            idempotency_key,
        };
        Generated { json: Value::Object(j), expected }
    }
}

/// Generated text may by chance look like a secret; such cases test redaction, not this.
fn nothing_to_redact(expected: &NewEntry) -> bool {
    let mut copy = expected.clone();
    crate::redact::redact_entry(&mut copy);
    copy == *expected
}

proptest! {
    #[test]
    fn valid_events_round_trip(event in arb_event()) {
        prop_assume!(nothing_to_redact(&event.expected));
        let bytes = serde_json::to_vec(&event.json).unwrap();
        let parsed = parse(&bytes).unwrap();
        prop_assert!(!parsed.is_batch);
        prop_assert_eq!(parsed.items, vec![Ok(event.expected)]);
    }

    #[test]
    fn valid_batches_round_trip(events in prop::collection::vec(arb_event(), 1..6)) {
        prop_assume!(events.iter().all(|e| nothing_to_redact(&e.expected)));
        let body = json!({"events": events.iter().map(|e| e.json.clone()).collect::<Vec<_>>()});
        let parsed = parse(&serde_json::to_vec(&body).unwrap()).unwrap();
        prop_assert!(parsed.is_batch);
        let expected: Vec<_> = events.into_iter().map(|e| Ok(e.expected)).collect();
        prop_assert_eq!(parsed.items, expected);
    }
}
