//! The numbers of a request body as its raw text spells them, in document order: an
//! independent check on what serde_json hands the strict parser.
//!
//! With `arbitrary_precision` serde_json keeps every digit of a number, but passes it to a
//! visitor either as a `u64`/`i64` or as a one-member map under the private key
//! [`NUMBER_KEY`] whose value is the number's text. A client can write that map itself —
//! `{"$serde_json::private::Number": "5"}` — and serde_json's own `Value` reads it as the
//! number 5, so a stored object would turn into a number for every later reader (and a value
//! other than the one received would be signed). Walking the raw text alongside the parse
//! tells them apart: a real number is a number token here, a smuggled one is an object key.

/// The key serde_json's `arbitrary_precision` number maps use. Not public in serde_json, so
/// spelled here; `smuggled_numbers_are_refused` fails if serde_json ever renames it.
pub(super) const NUMBER_KEY: &str = "$serde_json::private::Number";

/// One item of the raw text that the parser must meet in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token<'t> {
    /// A number as the text spells it, and the byte offset where it starts.
    Number {
        /// The characters of the number token.
        text: &'t str,
        /// Where it starts in the body.
        offset: usize,
    },
    /// An object key that decodes to [`NUMBER_KEY`], starting at `offset`.
    ReservedKey {
        /// Where the key's opening quote is.
        offset: usize,
    },
}

impl Token<'_> {
    /// Where the token starts in the body.
    pub(super) fn offset(self) -> usize {
        match self {
            Token::Number { offset, .. } | Token::ReservedKey { offset } => offset,
        }
    }
}

/// The [`Token`]s of a JSON text, found as the parse asks for them: one pass over the text,
/// nothing allocated (except to decode a key written with escapes).
pub(super) struct Tokens<'t> {
    /// The whole body.
    text: &'t str,
    /// Where scanning resumes.
    pos: usize,
}

impl<'t> Tokens<'t> {
    /// Tokens of `text`, from its start.
    pub(super) fn new(text: &'t str) -> Self {
        Tokens { text, pos: 0 }
    }
}

impl<'t> Iterator for Tokens<'t> {
    type Item = Token<'t>;

    fn next(&mut self) -> Option<Token<'t>> {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            let start = self.pos;
            match b {
                b'"' => {
                    let end = string_end(bytes, start + 1);
                    self.pos = end;
                    let reserved = is_key(bytes, end)
                        && self.text.get(start..end).is_some_and(decodes_to_number_key);
                    if reserved {
                        return Some(Token::ReservedKey { offset: start });
                    }
                }
                b'-' | b'0'..=b'9' => {
                    let end = bytes
                        .get(start..)
                        .and_then(|rest| {
                            rest.iter().position(|b| {
                                !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                            })
                        })
                        .map_or(bytes.len(), |n| start + n);
                    self.pos = end;
                    let text = self.text.get(start..end)?;
                    return Some(Token::Number {
                        text,
                        offset: start,
                    });
                }
                _ => self.pos += 1,
            }
        }
        None
    }
}

/// The index just past the closing quote of a string whose content starts at `from` (a
/// backslash escapes the next byte), or the end of the text if it is never closed.
fn string_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Whether the string ending just before `end` is an object key: a `:` follows it.
fn is_key(bytes: &[u8], end: usize) -> bool {
    let next = bytes.get(end..).and_then(|rest| {
        rest.iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    });
    next == Some(&b':')
}

/// Whether a JSON string token (quotes included) means [`NUMBER_KEY`], however it is escaped.
fn decodes_to_number_key(token: &str) -> bool {
    if !token.contains('\\') {
        return token.get(1..token.len().saturating_sub(1)) == Some(NUMBER_KEY);
    }
    // An escaped spelling is longer, never shorter; only then is decoding worth it.
    token.len() > NUMBER_KEY.len()
        && serde_json::from_str::<String>(token).is_ok_and(|key| key == NUMBER_KEY)
}

/// 1-based line and column (in bytes) of `offset` in `text`, for error messages.
pub(super) fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<Token<'_>> {
        Tokens::new(text).collect()
    }

    #[test]
    fn numbers_in_document_order_strings_skipped() {
        let text = r#"{"a": [1, -0, 1.5e+3], "b\"1": "2", "c": {"d": 12345678901234567890}}"#;
        let numbers: Vec<&str> = tokens(text)
            .into_iter()
            .filter_map(|t| match t {
                Token::Number { text, .. } => Some(text),
                Token::ReservedKey { .. } => None,
            })
            .collect();
        assert_eq!(numbers, ["1", "-0", "1.5e+3", "12345678901234567890"]);
        assert_eq!(
            tokens("[7]"),
            [Token::Number {
                text: "7",
                offset: 1
            }]
        );
    }

    #[test]
    fn reserved_keys_are_found_however_spelled_but_not_as_values() {
        for text in [
            r#"{"$serde_json::private::Number": "5"}"#,
            r#"{"$serde_json::private::Number"  :"5"}"#,
            "{\"$serde_json::private::Number\"\n:\"5\"}",
            r#"{"$serde_json::private::Num\u0062er": "5"}"#,
            r#"{"\u0024serde_json::private::Number": "5"}"#,
        ] {
            assert_eq!(tokens(text), [Token::ReservedKey { offset: 1 }], "{text}");
        }
        for text in [
            r#"{"a": "$serde_json::private::Number"}"#,
            r#"["$serde_json::private::Number"]"#,
            r#"{"$serde_json::private::Numbers": 1}"#,
        ] {
            assert!(
                !tokens(text)
                    .iter()
                    .any(|t| matches!(t, Token::ReservedKey { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn positions_are_one_based() {
        assert_eq!(position("abc", 0), (1, 1));
        assert_eq!(position("a\nbc", 3), (2, 2));
        assert_eq!(position("a", 99), (1, 2));
    }
}
