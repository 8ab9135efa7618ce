//! A JSON parser stricter than `serde_json::from_slice::<Value>`: it refuses duplicate object
//! keys (which different readers resolve differently, so an auditor could see another value
//! than the one validated) and nesting deeper than a limit (checked before descending, so a
//! hostile body cannot exhaust the stack), and it names the JSON path at fault.
//!
//! Depth is counted from the event object, which is at depth 1: `{"a": [1]}` has depth 2.
//! In a batch body `{"events": [...]}` the wrapper object and the `events` array are not
//! counted, so an event is allowed the same nesting whether it is sent alone or in a batch.
//!
//! Numbers keep every digit they were sent with (serde_json's `arbitrary_precision`, which
//! [`Number::as_str`] below requires at compile time): `123456789012345678901234567890`,
//! `-0`, `1.0` and `0.1000000000000000000001` are stored, signed and shown as sent. The one
//! spelling serde_json changes is the exponent marker, written `e` with an explicit sign
//! (`1E400` → `1e+400`): the same value, and every reader of the stored JSON spells it so.
//! Each number is checked against the raw text's own number tokens (see [`super::numbers`]),
//! and an object key spelling serde_json's private number marker is refused.

use super::numbers::{self, Token, Tokens, NUMBER_KEY};
use super::{Limits, RequestError};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt::{self, Write as _};
use std::iter::Peekable;

/// How much of an unreadable number an error message quotes.
const QUOTED_NUMBER_CHARS: usize = 40;

/// What serde_json says when its own fixed recursion limit (128) trips first; only reachable
/// when [`Limits::max_depth`] is configured above roughly 125.
const SERDE_RECURSION_MESSAGE: &str = "recursion limit exceeded";

/// Parses `text` as one JSON value under the rules described in the module documentation.
pub(super) fn parse(text: &str, limits: &Limits) -> Result<Value, RequestError> {
    let mut state = State {
        path: String::new(),
        error: None,
        max_depth: limits.max_depth,
        text,
        numbers: Tokens::new(text).peekable(),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = ValueSeed {
        state: &mut state,
        depth: 1,
        batch_root: true,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(value),
        Err(e) => Err(state.error.take().unwrap_or_else(|| {
            let message = message_without_position(&e);
            if message == SERDE_RECURSION_MESSAGE {
                RequestError::TooDeep {
                    path: state.path.clone(),
                    max: limits.max_depth,
                }
            } else {
                RequestError::MalformedJson {
                    line: e.line(),
                    column: e.column(),
                    message,
                }
            }
        })),
    }
}

/// serde_json appends " at line L column C" to its messages; the position is reported
/// separately, so it is removed here to avoid saying it twice.
fn message_without_position(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_string()
}

/// Parser state shared by every level: the path of the value being read (left pointing at
/// the fault when parsing fails), the structured error behind a failure (serde's error type
/// can only carry a string), and the raw text's number tokens not yet met.
struct State<'t> {
    /// JSON path of the value being parsed.
    path: String,
    /// Why the parse failed, when this parser (not serde_json) failed it.
    error: Option<RequestError>,
    /// [`Limits::max_depth`].
    max_depth: usize,
    /// The body being parsed.
    text: &'t str,
    /// Its numbers and reserved keys, in document order, from the next one on.
    numbers: Peekable<Tokens<'t>>,
}

impl State<'_> {
    /// Records `error` and returns the opaque serde error that unwinds the parse.
    fn fail<E: de::Error>(&mut self, error: RequestError) -> E {
        let text = error.to_string();
        self.error = Some(error);
        E::custom(text)
    }

    /// The number serde_json just read, spelled `parsed`, taken from the next number token of
    /// the raw text. The two always agree on well-formed JSON; anything else (a token that is
    /// not a number, or one spelled otherwise) is refused as an unreadable number rather than
    /// stored as something the client did not send.
    fn number<E: de::Error>(&mut self, parsed: &str) -> Result<Number, E> {
        let token = self.numbers.next();
        if let Some(Token::Number { text, .. }) = token {
            if let Ok(number) = text.parse::<Number>() {
                if number.as_str() == parsed {
                    return Ok(number);
                }
            }
        }
        let offset = token.map_or(self.text.len(), Token::offset);
        let (line, column) = numbers::position(self.text, offset);
        let spelled = match token {
            Some(Token::Number { text, .. }) => text.chars().take(QUOTED_NUMBER_CHARS).collect(),
            _ => parsed.chars().take(QUOTED_NUMBER_CHARS).collect::<String>(),
        };
        let error = RequestError::MalformedJson {
            line,
            column,
            message: format!("the number `{spelled}` could not be read exactly"),
        };
        Err(self.fail(error))
    }
}

/// Appends an object key to a path: `actor` + `id` → `actor.id`.
fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// Parses one value; `depth` is the depth this value has if it is an array or object.
struct ValueSeed<'a, 't> {
    /// Shared by every level.
    state: &'a mut State<'t>,
    /// Depth of this value if it is a container; the event object is at 1.
    depth: usize,
    /// True only for the body's top-level value, whose `events` member is the batch array.
    batch_root: bool,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// serde_json with `arbitrary_precision` never calls `visit_f64` from `deserialize_any`: a
/// number that is not a `u64` or `i64` arrives as a map under [`NUMBER_KEY`] (see
/// `visit_map`), so floats never pass through `f64` and keep their digits.
impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.state.number(&v.to_string()).map(Value::Number)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.state.number(&v.to_string()).map(Value::Number)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.visit_string(v.to_string())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        if v.contains('\0') {
            let error = RequestError::NulCharacter {
                path: self.state.path.clone(),
            };
            return Err(self.state.fail(error));
        }
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth > self.state.max_depth {
            let error = RequestError::TooDeep {
                path: self.state.path.clone(),
                max: self.state.max_depth,
            };
            return Err(self.state.fail(error));
        }
        let mut items = Vec::new();
        loop {
            let base = self.state.path.len();
            // Writing to a String cannot fail.
            let _ = write!(self.state.path, "[{}]", items.len());
            let seed = ValueSeed {
                state: &mut *self.state,
                depth: self.depth + 1,
                batch_root: false,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => {
                    self.state.path.truncate(base);
                    return Ok(Value::Array(items));
                }
            }
            self.state.path.truncate(base);
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut next = map.next_key::<String>()?;
        let real_number = next.as_deref() == Some(NUMBER_KEY)
            && matches!(self.state.numbers.peek(), Some(Token::Number { .. }));
        if real_number {
            // serde_json's form of a number that is not a u64 or i64: its text under the key.
            let text: String = map.next_value()?;
            return self.state.number(&text).map(Value::Number);
        }
        if self.depth > self.state.max_depth {
            let error = RequestError::TooDeep {
                path: self.state.path.clone(),
                max: self.state.max_depth,
            };
            return Err(self.state.fail(error));
        }
        let mut object = Map::new();
        while let Some(key) = next {
            let base = self.state.path.len();
            push_key(&mut self.state.path, &key);
            if key.contains('\0') {
                let error = RequestError::NulCharacter {
                    path: self.state.path.clone(),
                };
                return Err(self.state.fail(error));
            }
            if key == NUMBER_KEY {
                let error = RequestError::ReservedKey {
                    path: self.state.path.clone(),
                };
                return Err(self.state.fail(error));
            }
            if object.contains_key(&key) {
                let error = RequestError::DuplicateKey {
                    path: self.state.path.clone(),
                };
                return Err(self.state.fail(error));
            }
            let depth = if self.batch_root && key == "events" {
                // The batch array and its wrapper do not count: its events sit at depth 1.
                0
            } else {
                self.depth + 1
            };
            let value = map.next_value_seed(ValueSeed {
                state: &mut *self.state,
                depth,
                batch_root: false,
            })?;
            self.state.path.truncate(base);
            object.insert(key, value);
            next = map.next_key::<String>()?;
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits(max_depth: usize) -> Limits {
        Limits {
            max_depth,
            ..Limits::default()
        }
    }

    #[test]
    fn parses_ordinary_json_like_serde_json() {
        let text = r#"{"a": [1, -2, 3.5, true, null, "x\u00e9"], "b": {"c": {}}, "d": []}"#;
        let expected: Value = serde_json::from_str(text).unwrap();
        assert_eq!(parse(text, &Limits::default()).unwrap(), expected);
    }

    #[test]
    fn keeps_key_order() {
        let v = parse(r#"{"z": 1, "a": 2, "m": 3}"#, &Limits::default()).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn duplicate_keys_name_their_path() {
        let cases = [
            (r#"{"a": 1, "a": 2}"#, "a"),
            (r#"{"actor": {"id": "x", "id": "y"}}"#, "actor.id"),
            (
                r#"{"targets": [{}, {"type": 1, "type": 2}]}"#,
                "targets[1].type",
            ),
            (
                r#"{"events": [{"p": {"a": {"b": 1, "b": 1}}}]}"#,
                "events[0].p.a.b",
            ),
            (r#"[{"k": 1, "k": 1}]"#, "[0].k"),
        ];
        for (text, path) in cases {
            assert_eq!(
                parse(text, &Limits::default()),
                Err(RequestError::DuplicateKey { path: path.into() }),
                "{text}"
            );
        }
    }

    #[test]
    fn nul_characters_are_refused_in_values_and_keys() {
        let limits = limits(8);
        assert_eq!(
            parse(r#"{"actor": {"id": "a\u0000b"}}"#, &limits),
            Err(RequestError::NulCharacter {
                path: "actor.id".into()
            })
        );
        assert_eq!(
            parse(r#"{"properties": {"k\u0000": 1}}"#, &limits),
            Err(RequestError::NulCharacter {
                path: "properties.k\u{0}".into()
            })
        );
        assert!(parse(r#"{"a": "\u0001 is fine"}"#, &limits).is_ok());
    }

    #[test]
    fn depth_is_checked_before_descending() {
        let at_limit = format!("{}{}", "[".repeat(4), "]".repeat(4));
        assert!(parse(&at_limit, &limits(4)).is_ok());
        let over = format!("{}{}", "[".repeat(5), "]".repeat(5));
        assert_eq!(
            parse(&over, &limits(4)),
            Err(RequestError::TooDeep {
                path: "[0][0][0][0]".into(),
                max: 4
            })
        );
        let objects = r#"{"a": {"b": {"c": {}}}}"#;
        assert!(parse(objects, &limits(4)).is_ok());
        assert_eq!(
            parse(objects, &limits(3)),
            Err(RequestError::TooDeep {
                path: "a.b.c".into(),
                max: 3
            })
        );
    }

    #[test]
    fn hostile_nesting_is_refused_without_overflowing_the_stack() {
        let body = "[".repeat(200_000);
        assert!(matches!(
            parse(&body, &Limits::default()),
            Err(RequestError::TooDeep { max: 32, .. })
        ));
        let body = r#"{"a":"#.repeat(200_000);
        assert!(matches!(
            parse(&body, &Limits::default()),
            Err(RequestError::TooDeep { max: 32, .. })
        ));
    }

    #[test]
    fn batch_wrapper_does_not_count_towards_depth() {
        let event = json!({"p": {"q": [1]}}); // depth 3
        let single = serde_json::to_string(&event).unwrap();
        let batch = serde_json::to_string(&json!({ "events": [event] })).unwrap();
        assert!(parse(&single, &limits(3)).is_ok());
        assert!(parse(&batch, &limits(3)).is_ok());
        assert!(matches!(
            parse(&batch, &limits(2)),
            Err(RequestError::TooDeep { path, .. }) if path == "events[0].p.q"
        ));
        // Only the top-level `events` member is exempt.
        let nested = serde_json::to_string(&json!({"p": {"events": [[1]]}})).unwrap();
        assert!(parse(&nested, &limits(3)).is_err());
    }

    #[test]
    fn serde_json_recursion_limit_is_reported_as_too_deep() {
        let body = "[".repeat(300);
        assert!(matches!(
            parse(&body, &limits(1000)),
            Err(RequestError::TooDeep { max: 1000, .. })
        ));
    }

    #[test]
    fn syntax_errors_report_line_and_column_once() {
        let err = parse("{\"action\": ", &Limits::default()).unwrap_err();
        assert_eq!(
            err,
            RequestError::MalformedJson {
                line: 1,
                column: 11,
                message: "EOF while parsing a value".into()
            }
        );
        let err = parse("{\n  \"a\": 1,\n  \"b\" 2\n}", &Limits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                RequestError::MalformedJson {
                    line: 3,
                    column: 7,
                    ..
                }
            ),
            "{err:?}"
        );
        for text in [
            "",
            "{} {}",
            "{\"a\":1,}",
            "'a'",
            "[1 2]",
            "[1.]",
            "[-]",
            "{1: 2}",
        ] {
            assert!(
                matches!(
                    parse(text, &Limits::default()),
                    Err(RequestError::MalformedJson { .. })
                ),
                "{text:?}"
            );
        }
    }
}
