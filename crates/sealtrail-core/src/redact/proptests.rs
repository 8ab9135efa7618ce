//! Property tests for redaction: it never panics, is idempotent, removes every generated
//! secret wherever it is embedded, leaves ordinary text alone and reports exactly the paths
//! it changed. The secret generators are shared with `field_proptests`.

use super::*;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Number};

/// A Luhn-valid card number starting with 2-6, plain or grouped in fours with spaces or dashes.
pub(super) fn arb_card() -> impl Strategy<Value = String> {
    (2u8..=6, prop::collection::vec(0u8..10, 11..=17), 0..3usize).prop_map(
        |(first, rest, style)| {
            let mut digits: Vec<u8> = std::iter::once(first).chain(rest).collect();
            let sum: u32 = digits
                .iter()
                .rev()
                .enumerate()
                .map(|(i, &d)| {
                    let d = u32::from(d);
                    if i % 2 == 0 {
                        if d * 2 > 9 {
                            d * 2 - 9
                        } else {
                            d * 2
                        }
                    } else {
                        d
                    }
                })
                .sum();
            digits.push(((10 - sum % 10) % 10) as u8);
            let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            let separator = match style {
                0 => return text,
                1 => " ",
                _ => "-",
            };
            let mut groups: Vec<&str> = Vec::new();
            let mut rest = text.as_str();
            while rest.len() > 5 {
                let (group, tail) = rest.split_at(4);
                groups.push(group);
                rest = tail;
            }
            groups.push(rest);
            groups.join(separator)
        },
    )
}

pub(super) fn arb_jwt() -> impl Strategy<Value = String> {
    "eyJ[A-Za-z0-9_-]{10,40}\\.eyJ[A-Za-z0-9_-]{10,60}\\.[A-Za-z0-9_-]{10,43}"
}

/// Secrets whose whole text is the secret and that contain no blank.
pub(super) fn arb_secret() -> impl Strategy<Value = String> {
    prop_oneof![
        arb_card(),
        arb_jwt(),
        "(AKIA|ASIA)[A-Z0-9]{16}",
        "gh[pousr]_[A-Za-z0-9]{36}",
        "xox[baprs]-[0-9]{10,12}-[A-Za-z0-9]{20,24}",
        "(sk|rk)_(live|test)_[A-Za-z0-9]{24,32}",
        "whsec_[A-Za-z0-9]{32}",
        "AIza[A-Za-z0-9_-]{35}",
    ]
}

/// A secret as a producer writes it into text, and the part that must never be stored (the
/// token of `Bearer <token>`, the password of a URL, the value of `password=<value>`).
#[derive(Debug, Clone)]
pub(super) struct Planted {
    /// What goes into the text.
    pub text: String,
    /// What must not survive redaction.
    pub secret: String,
}

/// One secret of every kind redaction knows, written the way producers write it.
pub(super) fn arb_planted() -> impl Strategy<Value = Planted> {
    let whole = |secret: String| Planted {
        text: secret.clone(),
        secret,
    };
    let schemes: &[&str] = &[
        "postgres",
        "postgresql",
        "mysql",
        "mongodb+srv",
        "redis",
        "amqp",
        "https",
    ];
    let names: &[&str] = &[
        "password",
        "pwd",
        "pass",
        "api_key",
        "apiKey",
        "secret",
        "pin",
        "user_pin",
        "db_pass",
        "client_secret",
        "Authorization",
        "X-Api-Key",
        "otp",
        "passcode",
    ];
    let layouts: &[&str] = &[
        "{n}={v}",
        "{n}: {v}",
        "\"{n}\": \"{v}\"",
        "'{n}': '{v}'",
        "--{n}={v}",
        "{n} => \"{v}\"",
        "\\\"{n}\\\":\\\"{v}\\\"",
    ];
    let query_names: &[&str] = &[
        "token",
        "access_token",
        "sig",
        "signature",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "code",
        "key",
        "password",
        "client_secret",
    ];
    prop_oneof![
        arb_secret().prop_map(whole),
        "[A-Za-z0-9+/]{40,80}".prop_map(|body| Planted {
            text: format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"),
            secret: body,
        }),
        "[A-Za-z]{4,10}[0-9]{2,4}[A-Za-z0-9]{4,10}".prop_map(|token| Planted {
            text: format!("Bearer {token}"),
            secret: token,
        }),
        ("[a-z]{3,8}", "[A-Za-z0-9]{8,16}").prop_map(|(user, password)| {
            use base64::Engine;
            let cred =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Planted {
                text: format!("Basic {cred}"),
                secret: cred,
            }
        }),
        (
            select(schemes),
            "[a-z]{0,8}",
            "[A-Za-z0-9]{12,20}",
            "[a-z0-9.-]{1,12}"
        )
            .prop_map(|(scheme, user, password, host)| Planted {
                text: format!("{scheme}://{user}:{password}@{host}/db"),
                secret: password,
            }),
        (select(names), select(layouts), "[A-Za-z][A-Za-z0-9]{9,15}").prop_map(
            |(name, layout, value)| Planted {
                text: layout.replace("{n}", name).replace("{v}", &value),
                secret: value,
            }
        ),
        (select(query_names), "[A-Za-z0-9%._~-]{10,20}").prop_map(|(name, value)| Planted {
            text: format!("/reset?{name}={value}&user=7"),
            secret: value,
        }),
    ]
}

/// Text built from the pieces secrets are made of, to stress overlaps and near-misses.
fn arb_tricky_text() -> impl Strategy<Value = String> {
    let fragments = select(
        &[
            "eyJ",
            "eyJhbGciOiJIUzI1NiJ9",
            ".",
            "AKIA",
            "ASIA",
            "Bearer ",
            "Basic ",
            "dXNlcjpwYXNz",
            "xoxb-",
            "ghp_",
            "github_pat_",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----END RSA PRIVATE KEY-----",
            "[REDACTED]",
            "4111",
            "1111",
            "=",
            "-",
            " ",
            "\n",
            "ABCDEFGHIJKLMNOP",
            "0123456789",
            "password=",
            "pin: ",
            "\"token\": \"",
            "'",
            "\"",
            "\\",
            ":",
            "?sig=",
            "&code=",
            "#",
            "postgres://u:",
            "@",
            "sk_live_",
            "AIza",
            "Authorization: Bearer ",
        ][..],
    );
    prop::collection::vec(
        prop_oneof![
            fragments.prop_map(String::from),
            "[0-9]{1,5}",
            ".{1,3}",
            arb_secret()
        ],
        0..16,
    )
    .prop_map(|parts| parts.concat())
}

/// Ordinary text: words, ids, amounts, dates, e-mails and UUIDs, with numbers never adjacent.
fn arb_ordinary_text() -> impl Strategy<Value = String> {
    let words = select(
        &[
            "Alice",
            "changed",
            "the",
            "role",
            "of",
            "bob",
            "to",
            "admin",
            "order",
            "invoice",
            "paid",
            "via",
            "card",
            "ending",
            "in",
            "password",
            "reset",
            "token",
            "refreshed",
            "API",
            "key",
            "rotated",
            "(id",
            "#",
            "x-ray",
            "user.created",
            "e.g.",
            "10:30",
            "v1.2.3",
            "$1,234.56",
            "http://example.com/a?b=c",
            "ünïcödé",
            "日本語",
            "→",
            "",
            "Password changed",
            "password_changed: true",
            "max_tokens=4096",
            "PIN",
            "code",
            "shipping",
            "mapping",
            "spinner",
            "passenger",
            "compass",
            "passport_country=DE",
            "Berlin, DE",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
            "/v1/users/42/pin-history",
            "/v1/items?page=2&sort_key=name",
            "pk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "ssh://git@github.com/acme/repo.git",
        ][..],
    );
    let extra = prop_oneof![
        Just(String::new()),
        "[0-9]{1,12}",
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]",
        "[a-z]{1,8}@[a-z]{1,8}\\.com",
        any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
    ];
    prop::collection::vec((words, extra), 0..20).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(word, extra)| format!("{word} {extra}"))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        ".{0,12}".prop_map(Value::String),
        arb_tricky_text().prop_map(Value::String),
    ];
    let key = prop_oneof![
        select(
            &[
                "password",
                "api_key",
                "max_tokens",
                "note",
                "list",
                "Authorization",
                "name"
            ][..]
        )
        .prop_map(String::from),
        "[a-z]{1,6}",
        arb_secret(),
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn redact_once(text: &str) -> String {
    redact_text(text).unwrap_or_else(|| text.to_string())
}

/// Paths where `after` differs from `before`, not descending into replaced values. Members
/// keep their place, so a renamed key is found by position and named by its new name.
fn changed_paths(before: &Value, after: &Value, path: &str, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for ((before_key, bv), (after_key, av)) in b.iter().zip(a) {
                let child = join(path, after_key);
                if before_key != after_key {
                    out.push(child.clone());
                }
                changed_paths(bv, av, &child, out);
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                changed_paths(bv, av, &format!("{path}[{i}]"), out);
            }
        }
        (b, a) if b != a => out.push(path.to_string()),
        _ => {}
    }
}

proptest! {
    #[test]
    fn redact_text_never_panics(text in ".*") {
        let _ = redact_text(&text);
    }

    #[test]
    fn redact_text_is_idempotent(text in prop_oneof![".{0,64}", arb_tricky_text()]) {
        let once = redact_once(&text);
        prop_assert_eq!(redact_text(&once), None, "second pass changed {:?}", once);
        if let Some(changed) = redact_text(&text) {
            prop_assert_ne!(changed, text);
        }
    }

    #[test]
    fn embedded_secrets_never_survive(prefix in ".{0,30}", planted in arb_planted(), suffix in ".{0,30}") {
        let text = format!("{prefix} {} {suffix}", planted.text);
        let out = redact_once(&text);
        prop_assert!(!out.contains(&planted.secret), "{:?} survived in {:?}", planted.secret, out);
        prop_assert!(out.contains(REDACTED));
    }

    #[test]
    fn secrets_glued_to_text_never_survive(prefix in "[a-z ]{0,10}", secret in prop_oneof![arb_jwt(), "AKIA[A-Z0-9]{16}"], suffix in "[ ,;.)]{1,3}[a-z ]{0,10}") {
        let text = format!("{prefix}{secret}{suffix}");
        let out = redact_once(&text);
        prop_assert!(!out.contains(&secret), "{:?} survived in {:?}", secret, out);
    }

    #[test]
    fn the_screen_never_changes_the_answer(
        text in prop_oneof![".{0,64}", arb_tricky_text(), arb_ordinary_text()],
        planted in arb_planted(),
        glued in any::<bool>(),
    ) {
        super::text::tests::screened_equals_unscreened(&text);
        let sep = if glued { "" } else { " " };
        super::text::tests::screened_equals_unscreened(&format!("{text}{sep}{}", planted.text));
    }

    #[test]
    fn ordinary_text_is_unchanged(text in arb_ordinary_text()) {
        prop_assert_eq!(redact_text(&text), None);
    }

    #[test]
    fn redact_value_records_exactly_what_it_changed(value in arb_json()) {
        let mut redacted = value.clone();
        let mut paths = Vec::new();
        redact_value(&mut redacted, "properties", &mut paths);
        let mut changed = Vec::new();
        changed_paths(&value, &redacted, "properties", &mut changed);
        // A renamed member whose value is replaced too is recorded twice; compare as sets.
        let mut sorted = paths.clone();
        sorted.sort();
        sorted.dedup();
        changed.sort();
        changed.dedup();
        prop_assert_eq!(sorted, changed);

        let mut again = redacted.clone();
        let mut more = Vec::new();
        redact_value(&mut again, "properties", &mut more);
        prop_assert_eq!(again, redacted);
        prop_assert!(more.is_empty(), "second pass recorded {:?}", more);
    }

    #[test]
    fn redact_entry_is_idempotent(properties in arb_json(), description in arb_tricky_text(), before in arb_json()) {
        let mut entry: NewEntry = serde_json::from_value(json!({
            "occurred_at": null, "channel": "c", "action": "a.b", "event": "other", "category": null,
            "description": description, "result": "success", "actor": {"type": "user", "id": "u"},
            "targets": [], "context": {}, "changes": {"before": before}, "properties": {},
            "redacted": [], "idempotency_key": null,
        })).unwrap();
        if let Value::Object(map) = properties {
            entry.properties = map;
        }
        redact_entry(&mut entry);
        let once = entry.clone();
        redact_entry(&mut entry);
        prop_assert_eq!(&entry, &once);
        let mut sorted = once.redacted.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(sorted, once.redacted);
    }
}
