//! Values that the text itself names as secret: `password=hunter2`, `api_key: abc`,
//! `"token": "…"` (JSON, or a dict printed into a message), `--db-password=…`,
//! `Password=…;` in a connection string, and URL parameters such as `/reset?token=abc&user=7`
//! or a presigned URL's `X-Amz-Signature=…`. Only the value goes: `password=[REDACTED]`,
//! `/reset?token=[REDACTED]&user=7`.
//!
//! A name is a run of ASCII letters, digits, `_`, `-` and `.`, optionally quoted, right before
//! `=` or `:`. Whether it is secret is decided by [`super::keys`] with the same rule as JSON
//! keys, so `password_changed: true` and `max_tokens=4096` stay. A name right after `?`, `&`
//! or `#` followed by `=` is a URL parameter: it also matches the URL-only names (`sig`,
//! `code`, …), and its value is always text.
//!
//! The scan visits each `=` and `:` once and looks back at most [`MAX_NAME`] bytes, so it is
//! linear in the text whatever the text is.

use super::keys::{secret_key, secret_query_parameter};
use serde_json::{Number, Value};
use std::ops::Range;

/// Longest name considered; no one names a secret with a longer one.
const MAX_NAME: usize = 64;

/// HTTP authentication schemes: in `Authorization: Bearer abc` the value is `abc`.
const AUTH_SCHEMES: &[&str] = &["bearer", "basic", "digest", "negotiate", "token", "bot"];

/// The detector: the value of every pair whose name marks it secret, in text order.
pub(super) fn named_values(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut pos = 0;
    while let Some(offset) = bytes
        .get(pos..)
        .and_then(|rest| rest.iter().position(|&b| b == b'=' || b == b':'))
    {
        let separator = pos + offset;
        pos = separator + 1;
        if let Some(value) = secret_value(text, separator) {
            pos = pos.max(value.end);
            found.push(value);
        }
    }
    found
}

/// The value after the separator at byte `separator`, when the name before it marks it secret.
fn secret_value(text: &str, separator: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let name = name_before(bytes, separator)?;
    let in_url = bytes.get(separator) == Some(&b'=')
        && name
            .start
            .checked_sub(1)
            .and_then(|i| bytes.get(i))
            .is_some_and(|b| matches!(b, b'?' | b'&' | b'#'));
    let name = text.get(name)?;
    let (kind, value, scalar) = if in_url {
        let kind = secret_query_parameter(name)?;
        let value = separator + 1..run(bytes, separator + 1, ends_url_value);
        let scalar = Value::String(text.get(value.clone())?.to_string());
        (kind, value, scalar)
    } else {
        let kind = secret_key(name)?;
        let (value, quoted) = text_value(bytes, separator)?;
        let scalar = scalar(text.get(value.clone())?, quoted);
        (kind, value, scalar)
    };
    kind.covers(&scalar).then_some(value)
}

/// The name ending right before `separator` (blanks and one quote, possibly escaped as in
/// double-encoded JSON, may sit between them), or `None` when there is none or it is too long.
fn name_before(bytes: &[u8], separator: usize) -> Option<Range<usize>> {
    let before = |i: usize| i.checked_sub(1).and_then(|j| bytes.get(j)).copied();
    let mut end = separator;
    while matches!(before(end), Some(b' ' | b'\t')) {
        end -= 1;
    }
    if matches!(before(end), Some(b'"' | b'\'')) {
        end -= 1;
        if before(end) == Some(b'\\') {
            end -= 1;
        }
    }
    let mut start = end;
    while before(start).is_some_and(is_name_byte) {
        start -= 1;
        if end - start > MAX_NAME {
            return None;
        }
    }
    (start < end).then_some(start..end)
}

/// Bytes a name is made of.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// The value after a separator in free text, and whether it was quoted. `=>` and `:=` are
/// separators too; `==` and `::` are not (comparisons, paths). Blanks after the separator are
/// skipped. A quoted value runs to its closing quote; a bare one to the next blank or
/// punctuation, after an HTTP authentication scheme if it starts with one.
fn text_value(bytes: &[u8], separator: usize) -> Option<(Range<usize>, bool)> {
    let mut start = separator + 1;
    match (bytes.get(separator), bytes.get(start)) {
        (Some(b'='), Some(b'>')) | (Some(b':'), Some(b'=')) => start += 1,
        (_, Some(b'=' | b':')) => return None,
        _ => {}
    }
    start = run(bytes, start, |b| b != b' ' && b != b'\t');
    match (bytes.get(start), bytes.get(start + 1)) {
        (Some(&quote @ (b'"' | b'\'')), _) => {
            Some((start + 1..closing_quote(bytes, start + 1, quote), true))
        }
        (Some(b'\\'), Some(&quote @ (b'"' | b'\''))) => {
            let end = (start + 2..bytes.len())
                .find(|&i| bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&quote))
                .unwrap_or(bytes.len());
            Some((start + 2..end, true))
        }
        _ => {
            let start = skip_auth_scheme(bytes, start);
            let end = run(bytes, start, ends_text_value);
            (end > start).then_some((start..end, false))
        }
    }
}

/// Where a quoted value that starts at `from` ends: its closing `quote` (a backslash escapes
/// the next byte), or the end of the text when it is never closed.
fn closing_quote(bytes: &[u8], from: usize, quote: u8) -> usize {
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b if b == quote => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// `start`, or the start of the credential when the value begins with an authentication
/// scheme followed by more (`Bearer abc` → `abc`; a lone `Bearer` is the value itself).
fn skip_auth_scheme(bytes: &[u8], start: usize) -> usize {
    let word_end = run(bytes, start, |b| !b.is_ascii_alphabetic());
    let is_scheme = bytes.get(start..word_end).is_some_and(|word| {
        AUTH_SCHEMES
            .iter()
            .any(|scheme| word.eq_ignore_ascii_case(scheme.as_bytes()))
    });
    let credential = run(bytes, word_end, |b| b != b' ' && b != b'\t');
    let has_credential = bytes.get(credential).is_some_and(|&b| !ends_text_value(b));
    if is_scheme && credential > word_end && has_credential {
        credential
    } else {
        start
    }
}

/// A bare value in text ends at a blank, a quote or punctuation that closes or separates. `[`
/// and `]` do not end it, so a value reading `[REDACTED]` is seen whole (and left alone).
fn ends_text_value(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'"' | b'\'' | b'`' | b',' | b';' | b'&' | b'<' | b'>' | b'(' | b')' | b'{' | b'}'
        )
}

/// A URL parameter's value ends at the next parameter, the fragment, or the end of the URL.
fn ends_url_value(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'&' | b'#' | b'"' | b'\'' | b'`' | b'<' | b'>')
}

/// The index of the first byte from `from` on where `stop` holds, or the end of the text.
fn run(bytes: &[u8], from: usize, stop: fn(u8) -> bool) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| stop(b)))
        .map_or(bytes.len(), |i| from + i)
}

/// A value as JSON would have it, so a name's rule treats `password_changed: true` in text
/// like `{"password_changed": true}`: quoted values are strings; bare `true`/`false`,
/// `null`/`none`/`nil` (any case, as other languages print them) and JSON numbers are scalars.
fn scalar(raw: &str, quoted: bool) -> Value {
    if quoted {
        return Value::String(raw.to_string());
    }
    let is = |word: &str| raw.eq_ignore_ascii_case(word);
    if is("true") || is("false") {
        Value::Bool(is("true"))
    } else if is("null") || is("none") || is("nil") {
        Value::Null
    } else {
        raw.parse::<Number>()
            .map_or_else(|_| Value::String(raw.to_string()), Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use crate::redact::redact_text;

    fn r(text: &str) -> String {
        redact_text(text).unwrap_or_else(|| text.to_string())
    }

    #[test]
    fn named_values_in_text_lose_only_the_value() {
        for (text, clean) in [
            ("password=hunter2", "password=[REDACTED]"),
            ("login failed, pwd=hunter2.", "login failed, pwd=[REDACTED]"),
            ("api_key: abc next", "api_key: [REDACTED] next"),
            (
                r#"{"token": "abc def", "user": "bob"}"#,
                r#"{"token": "[REDACTED]", "user": "bob"}"#,
            ),
            (
                "{'password': 'x', 'user': 'bob'}",
                "{'password': '[REDACTED]', 'user': 'bob'}",
            ),
            (
                r#"{\"password\":\"hunter2\",\"u\":1}"#,
                r#"{\"password\":\"[REDACTED]\",\"u\":1}"#,
            ),
            (
                "run --db-password=abc --verbose",
                "run --db-password=[REDACTED] --verbose",
            ),
            (
                "Authorization: Bearer abcdef",
                "Authorization: Bearer [REDACTED]",
            ),
            ("authorization: bearer", "authorization: [REDACTED]"),
            (
                "Server=db;User Id=app;Password=s3cret;",
                "Server=db;User Id=app;Password=[REDACTED];",
            ),
            ("PIN: 1234", "PIN: [REDACTED]"),
            ("user_pin => '0000'", "user_pin => '[REDACTED]'"),
            ("secret := x", "secret := [REDACTED]"),
            ("(otp=123456)", "(otp=[REDACTED])"),
            (r#"password: "unclosed"#, r#"password: "[REDACTED]"#),
        ] {
            assert_eq!(r(text), clean, "{text}");
        }
    }

    #[test]
    fn url_parameters_lose_only_their_value() {
        for (text, clean) in [
            ("/reset?token=abc&user=7", "/reset?token=[REDACTED]&user=7"),
            (
                "/cb?code=4/0AX4Xf&state=xyz#top",
                "/cb?code=[REDACTED]&state=xyz#top",
            ),
            (
                "/cb#access_token=abc&expires_in=3600",
                "/cb#access_token=[REDACTED]&expires_in=3600",
            ),
            (
                "https://acct.blob.core.windows.net/c/b?sv=2020-08-04&sig=abc%3D",
                "https://acct.blob.core.windows.net/c/b?sv=2020-08-04&sig=[REDACTED]",
            ),
            ("/maps?key=xyz&q=Berlin", "/maps?key=[REDACTED]&q=Berlin"),
            (
                "/login?user=bob&password=p@ss,word;x",
                "/login?user=bob&password=[REDACTED]",
            ),
        ] {
            assert_eq!(r(text), clean, "{text}");
        }
        let presigned = "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request\
            &X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-Signature=0a1b2c3d4e5f";
        assert_eq!(
            r(presigned),
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=[REDACTED]&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900\
            &X-Amz-Signature=[REDACTED]"
        );
    }

    #[test]
    fn ordinary_pairs_are_kept() {
        for text in [
            "Password changed",
            "password reset requested by admin",
            "password_changed: true",
            "{\"password_changed\": true, \"mfa\": null, \"max_tokens\": 4096}",
            "{'password_set': True, 'pin_enabled': False, 'otp': None}",
            "max_tokens=4096 tokens_used=17",
            "code: 404",
            "key: name",
            "sort: name, order: asc",
            "/v1/users/42/pin-history",
            "/v1/items?page=2&sort_key=name&country_code=DE&state=open",
            "at 10:30:00, 2026-01-01T10:30:00Z",
            "password == other",
            "use std::password::hash",
            "password=",
            "token: \"\"",
            "password: [REDACTED]",
            "mapping: x, shipping: y, spinner: z, passenger: w, compass: v",
        ] {
            assert_eq!(redact_text(text), None, "{text}");
        }
    }

    #[test]
    fn scan_is_linear_on_hostile_text() {
        let text = "a=".repeat(50_000) + &"password:".repeat(20_000);
        let started = std::time::Instant::now();
        let _ = redact_text(&text);
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }
}
