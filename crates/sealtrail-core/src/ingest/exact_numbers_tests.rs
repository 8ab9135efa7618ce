//! Numbers keep their digits from the request body through validation, sealing and opening
//! (issue #15 item 6: `123456789012345678901234567890` used to be stored and signed as
//! `1.2345678901234568e+29`), and serde_json's private number marker cannot be smuggled in.

use super::*;
use crate::entry::Entry;
use crate::envelope::{self, canonical_json, Slot};
use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

const NOW: Timestamp = Timestamp(1_795_000_000_000);
const SALTS: [[u8; 16]; 3] = [[1; 16], [2; 16], [3; 16]];

/// An event carrying the JSON number `number` as a property, in a list, as `changes.after`
/// and as a target id.
fn event_with(number: &str) -> String {
    format!(
        r#"{{"action":"invoice.paid","actor":{{"id":"u1"}},"targets":[{{"type":"invoice","id":{number}}}],"changes":{{"after":{number}}},"properties":{{"amount":{number},"list":[{number},"x"]}}}}"#
    )
}

fn parse(body: &str) -> Result<ParsedBody, RequestError> {
    parse_body(body.as_bytes(), &Limits::default(), NOW)
}

/// Asserts that `sent` is stored, sealed, opened and sealed again spelled `stored`, byte for
/// byte, in every place an event can carry a number.
#[track_caller]
fn assert_kept(sent: &str, stored: &str) {
    let parsed = parse(&event_with(sent)).unwrap();
    let new = parsed.items.into_iter().next().unwrap().unwrap();
    let entry = Entry::from_new(new.clone(), Uuid::nil(), 0, NOW);
    let sealed = envelope::seal(&entry, "test/log", SALTS);
    let slots: Vec<Slot> = sealed.vault.iter().cloned().map(Slot::Committed).collect();
    let opened = envelope::open(&sealed.envelope, &slots).unwrap();

    for (properties, changes, targets) in [
        (&new.properties, &new.changes, &new.targets),
        (&opened.properties, &opened.changes, &opened.targets),
    ] {
        assert_eq!(properties["amount"].to_string(), stored, "{sent}");
        assert_eq!(properties["list"][0].to_string(), stored, "{sent}");
        let after = changes.as_ref().and_then(|c| c.after.as_ref());
        assert_eq!(after.map(Value::to_string).as_deref(), Some(stored));
        assert_eq!(targets[0].id.as_deref(), Some(stored), "{sent}");
    }
    assert_eq!(canonical_json(&new.properties["amount"]), stored.as_bytes());
    let payload = String::from_utf8(sealed.vault[2].value.clone()).unwrap();
    for needle in [
        format!(r#""amount":{stored},"#),
        format!(r#""list":[{stored},"x"]"#),
        format!(r#""after":{stored}}}"#),
        format!(r#""id":"{stored}""#),
    ] {
        assert!(payload.contains(&needle), "{needle} not in {payload}");
    }
    let resealed = envelope::seal(&opened, "test/log", SALTS);
    assert_eq!(resealed.vault[2].value, sealed.vault[2].value, "{sent}");
    assert_eq!(resealed.envelope, sealed.envelope, "{sent}");
}

#[test]
fn numbers_keep_every_digit_through_seal_and_open() {
    for number in [
        "123456789012345678901234567890",
        "-0",
        "1.0",
        "0.1000000000000000000001",
        "18446744073709551616",
        "-9223372036854775809",
        "1.50",
        "-0.0",
        "0",
        "42",
        "-7",
        "3.14159265358979323846264338327950288",
        "1e-7",
        "1e+400",
        "2.5e-3",
    ] {
        assert_kept(number, number);
    }
}

#[test]
fn exponents_are_spelled_with_a_lowercase_e_and_a_sign() {
    for (sent, stored) in [
        ("1e400", "1e+400"),
        ("1E400", "1e+400"),
        ("2.5E-3", "2.5e-3"),
        ("-1E+2", "-1e+2"),
        ("1e05", "1e+05"),
    ] {
        assert_kept(sent, stored);
    }
}

#[test]
fn the_issue_example_is_no_longer_rounded() {
    let parsed = parse(&event_with("123456789012345678901234567890")).unwrap();
    let new = parsed.items.into_iter().next().unwrap().unwrap();
    let text = serde_json::to_string(&new).unwrap();
    assert!(!text.contains("e+29"), "{text}");
    assert!(text.contains(r#""amount":123456789012345678901234567890"#));
}

#[test]
fn exact_numbers_need_serde_json_arbitrary_precision() {
    let number: Value = serde_json::from_str("0.1000000000000000000001").unwrap();
    assert_eq!(number.to_string(), "0.1000000000000000000001");
}

#[test]
fn smuggled_numbers_are_refused() {
    // What the refusal prevents: serde_json itself reads the marker object as the number 5.
    let smuggled: Value = serde_json::from_str(r#"{"$serde_json::private::Number":"5"}"#).unwrap();
    assert_eq!(smuggled, json!(5));

    let event = |properties: &str| {
        format!(r#"{{"action":"a.b","actor":{{"id":"u"}},"properties":{properties}}}"#)
    };
    let marker = "$serde_json::private::Number";
    for (body, path) in [
        (
            event(r#"{"amount": {"$serde_json::private::Number": "5"}}"#),
            format!("properties.amount.{marker}"),
        ),
        (
            event(r#"{"amount": {"$serde_json::private::Num\u0062er": "5"}}"#),
            format!("properties.amount.{marker}"),
        ),
        (
            event(r#"{"amount": {"a": 1, "$serde_json::private::Number": "5"}}"#),
            format!("properties.amount.{marker}"),
        ),
        (
            event(r#"{"a": {"$serde_json::private::Number": "5"}, "b": 5}"#),
            format!("properties.a.{marker}"),
        ),
        (
            event(r#"{"a": {"$serde_json::private::Number": 5}}"#),
            format!("properties.a.{marker}"),
        ),
        (
            r#"{"$serde_json::private::Number": "5"}"#.to_string(),
            marker.to_string(),
        ),
        (
            format!(
                r#"{{"events": [{}]}}"#,
                event(r#"{"x": {"$serde_json::private::Number": "1"}}"#)
            ),
            format!("events[0].properties.x.{marker}"),
        ),
    ] {
        let refused = parse(&body);
        assert_eq!(refused, Err(RequestError::ReservedKey { path }), "{body}");
        let message = refused.unwrap_err().to_string();
        assert!(message.contains("reserved"), "{message}");
    }
    let as_text = parse(&event(r#"{"note": "$serde_json::private::Number"}"#)).unwrap();
    assert!(as_text.items[0].is_ok());
}

prop_compose! {
    /// A JSON number as sent, and as it is stored (the exponent marker as `e` with a sign).
    fn arb_number()(
        negative in any::<bool>(),
        int in "0|[1-9][0-9]{0,60}",
        frac in prop::option::of("[0-9]{1,40}"),
        exp in prop::option::of(("[eE]", "[+-]?", "[0-9]{1,4}")),
    ) -> (String, String) {
        let sign = if negative { "-" } else { "" };
        let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
        let (sent_exp, stored_exp) = match exp {
            None => (String::new(), String::new()),
            Some((e, s, digits)) => {
                let stored_sign = if s.is_empty() { "+" } else { s.as_str() };
                (format!("{e}{s}{digits}"), format!("e{stored_sign}{digits}"))
            }
        };
        (format!("{sign}{int}{frac}{sent_exp}"), format!("{sign}{int}{frac}{stored_exp}"))
    }
}

proptest! {
    #[test]
    fn random_numbers_keep_their_digits((sent, stored) in arb_number()) {
        assert_kept(&sent, &stored);
    }
}
