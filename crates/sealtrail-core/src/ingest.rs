//! Turning untrusted request bytes into validated, redacted [`NewEntry`] values.
//!
//! A request body is either one event object or a batch `{"events": [...]}`. Problems with the
//! request as a whole (bytes that are not UTF-8, JSON that does not parse, duplicate keys, too
//! much nesting, a batch of the wrong size or shape) are a [`RequestError`] and nothing is
//! stored. Problems with one event are a [`FieldError`] for that event only, so the valid
//! events of a batch can still be stored.
//!
//! * [`strict_json`] — the parser: UTF-8 in, `serde_json::Value` out, strict, numbers exact.
//! * [`numbers`] — the raw text's number tokens, which every parsed number is checked against.
//! * [`validate`] — the per-field rules that turn a `Value` into a [`NewEntry`].

mod numbers;
mod strict_json;
mod validate;

#[cfg(test)]
mod exact_numbers_tests;
#[cfg(test)]
mod proptests;

use crate::entry::NewEntry;
use crate::timestamp::Timestamp;
use serde_json::Value;

pub(crate) use validate::{join, looks_like_email};
pub use validate::{
    validate_action, validate_event, ACTOR_FIELDS, CHANGES_FIELDS, CONTEXT_FIELDS, EVENT_FIELDS,
    REQUEST_FIELDS, TARGET_FIELDS,
};

/// Size and shape limits, so one client cannot make the server parse or store unbounded data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest event, measured as its compact JSON serialisation.
    pub max_event_bytes: usize,
    /// Deepest nesting of arrays and objects, counted from the event object (depth 1). The
    /// `{"events": [...]}` wrapper of a batch does not count. Values above about 125 are
    /// capped by serde_json's own recursion limit, which is then reported as too deep too.
    pub max_depth: usize,
    /// Most events in one batch request.
    pub max_batch: usize,
}

impl Default for Limits {
    /// 64 KiB events, 32 levels, 1000 events per batch: generous for audit events, small
    /// enough that a full batch is bounded work.
    fn default() -> Self {
        Limits {
            max_event_bytes: 65_536,
            max_depth: 32,
            max_batch: 1000,
        }
    }
}

/// Why one event was refused: the field at fault (a JSON path such as `actor.email` or
/// `targets[0].type`, empty for the event as a whole) and the rule it broke, so clients can
/// fix the exact field and tests can match on stable rule names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("{}", display_field_error(.field, .message))]
pub struct FieldError {
    /// JSON path of the offending field, relative to the event; empty for the whole event.
    pub field: String,
    /// Stable rule name: `required`, `type`, `format`, `length`, `enum`, `range`,
    /// `unknown_field`, `max_items` or `max_size`.
    pub rule: &'static str,
    /// What is wrong and what is allowed, for the developer reading it.
    pub message: String,
}

impl FieldError {
    /// Builds an error for `field`, which breaks `rule`.
    pub fn new(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            rule,
            message: message.into(),
        }
    }
}

/// `field: message`, or just the message when the error is about the whole event.
fn display_field_error(field: &str, message: &str) -> String {
    if field.is_empty() {
        message.to_string()
    } else {
        format!("{field}: {message}")
    }
}

/// Why a whole request was refused before any event in it was considered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is not UTF-8; `offset` is the index of the first invalid byte.
    #[error("request body is not valid UTF-8: first invalid byte at offset {offset}")]
    InvalidUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// The body is not JSON.
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    MalformedJson {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem (0 for an empty body).
        column: usize,
        /// The parser's description, without the position.
        message: String,
    },
    /// An object repeats a key; readers disagree on which value wins, so neither is accepted.
    #[error("duplicate key `{path}`: a key may appear only once in an object")]
    DuplicateKey {
        /// JSON path of the repeated key.
        path: String,
    },
    /// A string or key holds U+0000: never meaningful in audit text, and PostgreSQL cannot
    /// store it, so both backends refuse it alike instead of one failing at commit.
    #[error("text at `{path}` contains the NUL character (U+0000), which is not allowed")]
    NulCharacter {
        /// JSON path of the string or key.
        path: String,
    },
    /// An object key spells `$serde_json::private::Number`, the marker serde_json uses for
    /// numbers kept digit for digit: every JSON reader in Sealtrail would later take the object
    /// for a number, so the stored and signed value would not be the one received.
    #[error("key `{path}` is reserved (`$serde_json::private::Number` marks numbers); rename it")]
    ReservedKey {
        /// JSON path of the key.
        path: String,
    },
    /// Arrays and objects are nested deeper than [`Limits::max_depth`].
    #[error("JSON nested deeper than {max} levels at `{path}`")]
    TooDeep {
        /// JSON path of the first array or object past the limit.
        path: String,
        /// The limit.
        max: usize,
    },
    /// A batch has more than [`Limits::max_batch`] events.
    #[error("batch has {count} events; at most {max} are allowed per request")]
    BatchTooLarge {
        /// Events in the batch.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// `{"events": []}`: almost certainly a client bug, so it is not silently accepted.
    #[error("`events` is empty: a batch must contain at least one event")]
    EmptyBatch,
    /// The body is valid JSON but neither an event object nor `{"events": [...]}`.
    #[error("{message}")]
    WrongShape {
        /// What was expected and what was found.
        message: String,
    },
}

impl RequestError {
    /// Stable machine-readable code for the HTTP error body.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::InvalidUtf8 { .. } => "invalid_utf8",
            RequestError::MalformedJson { .. } => "malformed_json",
            RequestError::DuplicateKey { .. } => "duplicate_key",
            RequestError::NulCharacter { .. } => "nul_character",
            RequestError::ReservedKey { .. } => "reserved_key",
            RequestError::TooDeep { .. } => "too_deep",
            RequestError::BatchTooLarge { .. } => "batch_too_large",
            RequestError::EmptyBatch => "empty_batch",
            RequestError::WrongShape { .. } => "wrong_shape",
        }
    }
}

/// Parses request bytes as strict JSON (see [`strict_json`]): the one parser every body that
/// becomes entries goes through, whichever API's shape it has, so duplicate keys, NULs and
/// deep nesting are refused alike. A leading byte-order mark is ignored.
pub fn parse_json(bytes: &[u8], limits: &Limits) -> Result<Value, RequestError> {
    let text = std::str::from_utf8(bytes).map_err(|e| RequestError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    // Some Windows tools prefix a byte-order mark; it carries no meaning in JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    strict_json::parse(text, limits)
}

/// A parsed request: one result per event, in request order, so the caller can store the valid
/// ones and report the rest by index.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBody {
    /// True for `{"events": [...]}`, which is answered per item even when it holds one event.
    pub is_batch: bool,
    /// The validated, redacted entry or the first problem, for each event.
    pub items: Vec<Result<NewEntry, FieldError>>,
}

/// Parses a request body into validated, redacted entries.
///
/// Numbers keep every digit as sent (see [`strict_json`]). The whole request is refused
/// ([`RequestError`]) for invalid UTF-8, malformed JSON, duplicate keys, NUL characters, the
/// reserved key `$serde_json::private::Number`, nesting deeper than [`Limits::max_depth`], a
/// shape other than an event object or `{"events": [...]}` (an object whose only key is
/// `events`), and empty or oversized batches. Otherwise each event is checked with
/// [`validate_event`].
pub fn parse_body(
    bytes: &[u8],
    limits: &Limits,
    now: Timestamp,
) -> Result<ParsedBody, RequestError> {
    let value = parse_json(bytes, limits)?;
    let mut object = match value {
        Value::Object(object) => object,
        other => {
            return Err(RequestError::WrongShape {
                message: format!(
                    "the body must be one event object or {{\"events\": [...]}}, not {}",
                    validate::kind_of(&other)
                ),
            })
        }
    };
    if object.len() != 1 || !object.contains_key("events") {
        let item = validate_event(Value::Object(object), limits, now);
        return Ok(ParsedBody {
            is_batch: false,
            items: vec![item],
        });
    }
    let events = match object.remove("events") {
        Some(Value::Array(events)) => events,
        other => {
            return Err(RequestError::WrongShape {
                message: format!(
                    "`events` must be an array of event objects, not {}",
                    other.as_ref().map_or("nothing", validate::kind_of)
                ),
            })
        }
    };
    if events.is_empty() {
        return Err(RequestError::EmptyBatch);
    }
    if events.len() > limits.max_batch {
        return Err(RequestError::BatchTooLarge {
            count: events.len(),
            max: limits.max_batch,
        });
    }
    let items = events
        .into_iter()
        .map(|event| validate_event(event, limits, now))
        .collect();
    Ok(ParsedBody {
        is_batch: true,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: Timestamp = Timestamp(1_795_000_000_000);

    fn parse(bytes: &[u8]) -> Result<ParsedBody, RequestError> {
        parse_body(bytes, &Limits::default(), NOW)
    }

    fn parse_json(value: &Value) -> Result<ParsedBody, RequestError> {
        parse(&serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn default_limits() {
        let l = Limits::default();
        assert_eq!(
            (l.max_event_bytes, l.max_depth, l.max_batch),
            (65_536, 32, 1000)
        );
    }

    #[test]
    fn every_request_error_has_its_code() {
        let cases = [
            (RequestError::InvalidUtf8 { offset: 0 }, "invalid_utf8"),
            (
                RequestError::MalformedJson {
                    line: 1,
                    column: 1,
                    message: "x".into(),
                },
                "malformed_json",
            ),
            (
                RequestError::DuplicateKey { path: "a".into() },
                "duplicate_key",
            ),
            (
                RequestError::NulCharacter { path: "a".into() },
                "nul_character",
            ),
            (
                RequestError::ReservedKey { path: "a".into() },
                "reserved_key",
            ),
            (
                RequestError::TooDeep {
                    path: "a".into(),
                    max: 1,
                },
                "too_deep",
            ),
            (
                RequestError::BatchTooLarge { count: 2, max: 1 },
                "batch_too_large",
            ),
            (RequestError::EmptyBatch, "empty_batch"),
            (
                RequestError::WrongShape {
                    message: "x".into(),
                },
                "wrong_shape",
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code);
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn field_error_display_names_the_field() {
        let e = FieldError::new("actor.email", "format", "must be an e-mail address");
        assert_eq!(e.to_string(), "actor.email: must be an e-mail address");
        let whole = FieldError::new("", "type", "an event must be a JSON object");
        assert_eq!(whole.to_string(), "an event must be a JSON object");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            json!({"field": "actor.email", "rule": "format", "message": "must be an e-mail address"})
        );
    }

    #[test]
    fn single_event_is_not_a_batch() {
        let parsed = parse_json(&json!({"action": "user.created", "actor": {"id": "u1"}})).unwrap();
        assert!(!parsed.is_batch);
        assert_eq!(parsed.items.len(), 1);
        let entry = parsed.items[0].as_ref().unwrap();
        assert_eq!(entry.action, "user.created");
        assert_eq!(entry.event, "created");
    }

    #[test]
    fn batch_gives_one_result_per_item_in_order() {
        let body = json!({"events": [
            {"action": "a.created", "actor": {"id": "u1"}},
            {"action": "x.y", "actor": {"id": "a", "email": "not-an-email"}},
            7,
            {"action": "a.deleted", "actor": {"id": "u2"}},
        ]});
        let parsed = parse_json(&body).unwrap();
        assert!(parsed.is_batch);
        assert_eq!(parsed.items.len(), 4);
        assert_eq!(parsed.items[0].as_ref().unwrap().event, "created");
        let e = parsed.items[1].as_ref().unwrap_err();
        assert_eq!((e.field.as_str(), e.rule), ("actor.email", "format"));
        let e = parsed.items[2].as_ref().unwrap_err();
        assert_eq!((e.field.as_str(), e.rule), ("", "type"));
        assert_eq!(parsed.items[3].as_ref().unwrap().event, "deleted");
    }

    #[test]
    fn the_actions_verify_trusts_are_refused_from_clients() {
        for action in crate::entry::RESERVED_ACTIONS {
            let parsed = parse_json(&json!({"action": action, "actor": {"id": "u1"}})).unwrap();
            let e = parsed.items[0].as_ref().unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.rule),
                ("action", "reserved"),
                "{action}"
            );
        }
        let parsed = parse_json(&json!({"action": "retention.planned", "actor": {"id": "u1"}}));
        assert!(parsed.unwrap().items[0].is_ok());
    }

    #[test]
    fn a_batch_of_one_is_still_a_batch() {
        let parsed =
            parse_json(&json!({"events": [{"action": "a.b", "actor": {"id": "u"}}]})).unwrap();
        assert!(parsed.is_batch);
        assert_eq!(parsed.items.len(), 1);
    }

    #[test]
    fn events_next_to_other_keys_is_an_event_with_an_unknown_field() {
        let parsed =
            parse_json(&json!({"action": "a.b", "actor": {"id": "u"}, "events": []})).unwrap();
        assert!(!parsed.is_batch);
        let e = parsed.items[0].as_ref().unwrap_err();
        assert_eq!((e.field.as_str(), e.rule), ("events", "unknown_field"));
    }

    #[test]
    fn invalid_utf8_reports_the_offset() {
        assert_eq!(
            parse(b"{\"action\": \"a\xff\"}"),
            Err(RequestError::InvalidUtf8 { offset: 13 })
        );
        assert_eq!(parse(b"\xc3"), Err(RequestError::InvalidUtf8 { offset: 0 }));
    }

    #[test]
    fn malformed_json_mentions_the_line() {
        let err = parse(b"{\"action\": ").unwrap_err();
        assert_eq!(err.code(), "malformed_json");
        assert_eq!(
            err.to_string(),
            "malformed JSON at line 1, column 11: EOF while parsing a value"
        );
        let err = parse(b"").unwrap_err();
        assert_eq!(err.code(), "malformed_json");
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        let mut body = "\u{feff}".as_bytes().to_vec();
        body.extend_from_slice(br#"{"action":"a.b","actor":{"id":"u"}}"#);
        assert!(parse(&body).unwrap().items[0].is_ok());
    }

    #[test]
    fn duplicate_keys_refuse_the_request() {
        let err = parse(br#"{"action":"a.b","actor":{"id":"x","id":"y"}}"#).unwrap_err();
        assert_eq!(
            err,
            RequestError::DuplicateKey {
                path: "actor.id".into()
            }
        );
    }

    #[test]
    fn deep_nesting_refuses_the_request() {
        let err = parse("[".repeat(200_000).as_bytes()).unwrap_err();
        assert_eq!(err.code(), "too_deep");
        let deep = format!(
            r#"{{"action":"a.b","actor":{{"id":"x"}},"properties":{}1{}}}"#,
            "{\"k\":".repeat(40),
            "}".repeat(40)
        );
        assert_eq!(parse(deep.as_bytes()).unwrap_err().code(), "too_deep");
    }

    #[test]
    fn wrong_shapes() {
        for body in [
            json!([1, 2]),
            json!("event"),
            json!(3),
            json!(null),
            json!(true),
        ] {
            let err = parse_json(&body).unwrap_err();
            assert_eq!(err.code(), "wrong_shape", "{body}");
        }
        for body in [
            json!({"events": {}}),
            json!({"events": "x"}),
            json!({"events": null}),
        ] {
            let err = parse_json(&body).unwrap_err();
            assert_eq!(err.code(), "wrong_shape", "{body}");
            assert!(err.to_string().contains("`events`"));
        }
    }

    #[test]
    fn empty_batch() {
        assert_eq!(
            parse_json(&json!({"events": []})),
            Err(RequestError::EmptyBatch)
        );
    }

    #[test]
    fn batch_size_limit() {
        let event = json!({"action": "a.b", "actor": {"id": "u"}});
        let full = json!({"events": vec![event.clone(); 1000]});
        assert_eq!(parse_json(&full).unwrap().items.len(), 1000);
        let over = json!({"events": vec![event; 1001]});
        assert_eq!(
            parse_json(&over),
            Err(RequestError::BatchTooLarge {
                count: 1001,
                max: 1000
            })
        );
    }

    #[test]
    fn oversized_event_is_a_field_error() {
        let body = json!({"action": "a.b", "actor": {"id": "u"}, "properties": {"blob": "y".repeat(70 * 1024)}});
        let parsed = parse_json(&body).unwrap();
        let e = parsed.items[0].as_ref().unwrap_err();
        assert_eq!((e.field.as_str(), e.rule), ("", "max_size"));
    }
}
