//! Finding secrets in free text, wherever they appear, and replacing only the secret, so
//! "card 4111 1111 1111 1111 declined" keeps its meaning as "card [REDACTED] declined".
//!
//! The detectors live beside this file: [`super::shapes`] (tokens and keys recognised by their
//! shape), [`super::cards`] (payment-card numbers) and [`super::pairs`] (values that the text
//! itself names as secret: `password=…`, `?token=…`). Detection errs towards keeping ordinary
//! text intact; each detector documents how.

use super::shapes::{self, credentials, whole_matches};
use super::{cards, pairs, REDACTED};
use std::ops::Range;

/// Replacing a secret can expose another one (for example a key that only matches once the
/// text glued to it is gone), so passes repeat until nothing changes. Real text settles in one
/// or two passes; the cap only bounds adversarial input.
const MAX_PASSES: usize = 8;

/// A detector returns the byte ranges to replace, sorted and non-overlapping.
type Detector = fn(&str) -> Vec<Range<usize>>;

/// Applied in this order within a pass, each on the previous one's output:
///
/// * PEM blocks first, because their base64 body could look like other things and a key
///   named in the text (`private_key: -----BEGIN …`) would otherwise lose only its first line;
/// * JWTs before `Bearer`, so `Bearer eyJ...` goes as a JWT;
/// * whole secrets (tokens, keys, URL passwords, cards) before named values, so
///   `pin=4111 1111 1111 1111` loses the whole card, not only its first group;
/// * named values last, to catch what no shape describes (`password=hunter2`).
const DETECTORS: [Detector; 12] = [
    |t| whole_matches(&shapes::PEM_PRIVATE_KEY, t),
    |t| whole_matches(&shapes::JWT, t),
    |t| whole_matches(&shapes::AWS_ACCESS_KEY_ID, t),
    |t| whole_matches(&shapes::GITHUB_TOKEN, t),
    |t| whole_matches(&shapes::SLACK_TOKEN, t),
    |t| whole_matches(&shapes::STRIPE_KEY, t),
    |t| whole_matches(&shapes::GOOGLE_API_KEY, t),
    |t| credentials(&shapes::BEARER, t, shapes::is_bearer_token),
    |t| credentials(&shapes::BASIC, t, shapes::is_basic_credential),
    |t| credentials(&shapes::URL_PASSWORD, t, |_| true),
    cards::card_numbers,
    pairs::named_values,
];

/// Returns the text with every secret replaced by [`REDACTED`], or `None` when it holds none.
/// Never panics, and redacting the result again changes nothing.
pub fn redact_text(text: &str) -> Option<String> {
    if holds_no_secret(text) {
        return None;
    }
    redact_passes(text)
}

/// True when no detector finds anything in `text`, so a first pass would change nothing and
/// neither would any later one. The ten shapes are asked at once ([`shapes::ANY_SHAPE`]); the
/// card and named-value scans are plain byte loops already.
fn holds_no_secret(text: &str) -> bool {
    let no_shape = shapes::ANY_SHAPE
        .as_ref()
        .is_some_and(|set| !set.is_match(text));
    no_shape && cards::card_numbers(text).is_empty() && pairs::named_values(text).is_empty()
}

/// The passes of [`redact_text`], without the screen that skips them for ordinary text.
fn redact_passes(text: &str) -> Option<String> {
    let mut current: Option<String> = None;
    for _ in 0..MAX_PASSES {
        match redact_pass(current.as_deref().unwrap_or(text)) {
            Some(next) => current = Some(next),
            None => break,
        }
    }
    current.filter(|redacted| redacted != text)
}

/// Runs every detector once, each on the previous one's output. A range that already reads
/// [`REDACTED`] (a URL password or a named value redacted before) is left alone, so a
/// redacted text is a fixed point.
fn redact_pass(text: &str) -> Option<String> {
    let mut current: Option<String> = None;
    for detect in DETECTORS {
        let source = current.as_deref().unwrap_or(text);
        let mut ranges = detect(source);
        ranges.retain(|range| source.get(range.clone()) != Some(REDACTED));
        if !ranges.is_empty() {
            current = Some(replace_ranges(source, &ranges));
        }
    }
    current
}

/// `text` with each range (sorted, non-overlapping) replaced by [`REDACTED`].
fn replace_ranges(text: &str, ranges: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for range in ranges {
        out.push_str(text.get(last..range.start).unwrap_or_default());
        out.push_str(REDACTED);
        last = range.end;
    }
    out.push_str(text.get(last..).unwrap_or_default());
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn r(text: &str) -> String {
        redact_text(text).unwrap_or_else(|| text.to_string())
    }

    #[test]
    fn secrets_uncovered_by_a_replacement_are_caught_and_result_is_stable() {
        let text = "4111111111111111AKIAIOSFODNN7EXAMPLE";
        let once = r(text);
        assert!(!once.contains("AKIA") && !once.contains("4111"), "{once}");
        assert_eq!(redact_text(&once), None);
    }

    #[test]
    fn whole_secrets_go_before_named_values() {
        assert_eq!(r("pin=4111 1111 1111 1111 ok"), "pin=[REDACTED] ok");
        assert_eq!(
            r("private_key: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----"),
            "private_key: [REDACTED]"
        );
        assert_eq!(r("token=AKIAIOSFODNN7EXAMPLE&x=1"), "token=[REDACTED]&x=1");
        assert_eq!(
            r("password=hunter2AKIAIOSFODNN7EXAMPLE"),
            "password=[REDACTED]",
            "the value around a key is still the value"
        );
    }

    /// The screen only skips work: on any text, with or without it, the answer is the same.
    pub(crate) fn screened_equals_unscreened(text: &str) {
        assert_eq!(redact_text(text), redact_passes(text), "{text:?}");
    }

    #[test]
    fn the_screen_passes_every_kind_of_secret_to_the_detectors() {
        for text in [
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
            "key AKIAIOSFODNN7EXAMPLE",
            "ghp_1234567890abcdefghijABCDEFGHIJ123456",
            "xoxb-1234567890-abcdef",
            "sk_live_1234567890abcdefABCD",
            "AIzaSyA1234567890abcdefghijklmnopqrstu",
            "Authorization: Bearer abc123def456",
            "Basic dXNlcjpwYXNz",
            "postgres://app:s3cret@db/x",
            "card 4111 1111 1111 1111 declined",
            "password=hunter2",
            "/reset?token=abc&user=7",
            "plain words, 2024-01-15, user 42",
        ] {
            screened_equals_unscreened(text);
        }
        assert_ne!(redact_text("password=hunter2"), None);
    }

    #[test]
    fn text_without_secrets_is_unchanged() {
        assert_eq!(redact_text(""), None);
        assert_eq!(redact_text("Alice changed the role of Bob to admin"), None);
        assert_eq!(redact_text("[REDACTED]"), None);
        assert_eq!(redact_text("postgres://app:[REDACTED]@db/x"), None);
    }
}
