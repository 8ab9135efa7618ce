//! Finding secret-shaped substrings in free text by their shape alone, wherever they appear:
//! JWTs, AWS access key ids, PEM private keys, GitHub and Slack tokens, `Bearer`/`Basic`
//! credentials and payment-card numbers.
//!
//! Only the secret is replaced, so "card 4111 1111 1111 1111 declined" keeps its meaning as
//! "card [REDACTED] declined". Detection errs towards keeping ordinary text intact: card
//! numbers must pass the Luhn check, start with 2-6 (every major network) and be grouped
//! like a card; `Bearer` tokens must contain a digit; `Basic` credentials must decode to
//! `user:password`.

use super::REDACTED;
use base64::Engine;
use regex::Regex;
use std::ops::Range;
use std::sync::LazyLock;

/// Replacing a secret can expose another one (for example a key that only matches once the
/// text glued to it is gone), so passes repeat until nothing changes. Real text settles in one
/// or two passes; the cap only bounds adversarial input.
const MAX_PASSES: usize = 8;

/// Shortest and longest payment-card number, in digits.
const CARD_DIGITS: std::ops::RangeInclusive<usize> = 13..=19;

/// A compiled pattern. The patterns are constants that the `patterns_compile` test checks, so
/// `None` only happens if this file was changed without running its tests; the detector then
/// finds nothing rather than panicking on the ingest path.
type Pattern = LazyLock<Option<Regex>>;

/// Compiles one of the patterns below.
fn regex(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

/// `-----BEGIN ... PRIVATE KEY-----` through its END line (RSA, EC, OpenSSH, PKCS#8, PGP).
static PEM_PRIVATE_KEY: Pattern = LazyLock::new(|| {
    // An unterminated block (a truncated paste) is redacted to the end of the text.
    regex(
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----(?s:.*?-----END[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|.*)",
    )
});
/// Three base64url parts; the header always starts `eyJ` (`{"`). The signature may be empty.
static JWT: Pattern =
    LazyLock::new(|| regex(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{3,}\.[A-Za-z0-9_-]*"));
/// Long-term (AKIA) and temporary (ASIA) AWS access key ids.
static AWS_ACCESS_KEY_ID: Pattern = LazyLock::new(|| regex(r"(?:AKIA|ASIA)[A-Z0-9]{16}"));
/// GitHub personal, OAuth, user-to-server, server-to-server and refresh tokens.
static GITHUB_TOKEN: Pattern =
    LazyLock::new(|| regex(r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"));
/// Slack bot, app, user, refresh and legacy tokens.
static SLACK_TOKEN: Pattern = LazyLock::new(|| regex(r"xox[baprs]-[A-Za-z0-9-]{10,}"));
/// `Bearer <token>`: only the token is replaced.
static BEARER: Pattern =
    LazyLock::new(|| regex(r"(?i:bearer)\s+(?P<cred>[A-Za-z0-9\-._~+/]{8,}=*)"));
/// `Basic <base64 user:password>`: only the credential is replaced.
static BASIC: Pattern = LazyLock::new(|| regex(r"(?i:basic)\s+(?P<cred>[A-Za-z0-9+/]{4,}={0,2})"));

/// A detector returns the byte ranges to replace, sorted and non-overlapping.
type Detector = fn(&str) -> Vec<Range<usize>>;

/// Applied in this order within a pass: PEM blocks first because their base64 body could
/// look like other things, and JWTs before `Bearer` so `Bearer eyJ...` goes as a JWT.
const DETECTORS: [Detector; 8] = [
    |t| whole_matches(&PEM_PRIVATE_KEY, t),
    |t| whole_matches(&JWT, t),
    |t| whole_matches(&AWS_ACCESS_KEY_ID, t),
    |t| whole_matches(&GITHUB_TOKEN, t),
    |t| whole_matches(&SLACK_TOKEN, t),
    |t| credentials(&BEARER, t, |cred| cred.bytes().any(|b| b.is_ascii_digit())),
    |t| credentials(&BASIC, t, is_basic_credential),
    card_numbers,
];

/// Returns the text with every secret-shaped substring replaced by [`REDACTED`], or `None`
/// when it holds none. Never panics, and redacting the result again changes nothing.
pub fn redact_text(text: &str) -> Option<String> {
    let mut current: Option<String> = None;
    for _ in 0..MAX_PASSES {
        match redact_pass(current.as_deref().unwrap_or(text)) {
            Some(next) => current = Some(next),
            None => break,
        }
    }
    current.filter(|redacted| redacted != text)
}

/// Runs every detector once, each on the previous one's output.
fn redact_pass(text: &str) -> Option<String> {
    let mut current: Option<String> = None;
    for detect in DETECTORS {
        let source = current.as_deref().unwrap_or(text);
        let ranges = detect(source);
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

/// Every match of a pattern whose whole match is the secret.
fn whole_matches(regex: &Pattern, text: &str) -> Vec<Range<usize>> {
    let Some(regex) = regex.as_ref() else {
        return Vec::new();
    };
    regex.find_iter(text).map(|m| m.range()).collect()
}

/// The `cred` group of every match that `accept` confirms. After a rejected match the search
/// resumes one character later rather than after it, so "Bearer Bearer abc12345" still finds
/// the real token.
fn credentials(regex: &Pattern, text: &str, accept: fn(&str) -> bool) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let Some(regex) = regex.as_ref() else {
        return found;
    };
    let mut pos = 0;
    while let Some(caps) = regex.captures_at(text, pos) {
        let (Some(whole), Some(cred)) = (caps.get(0), caps.name("cred")) else {
            break;
        };
        if accept(cred.as_str()) {
            found.push(cred.range());
            pos = whole.end();
        } else {
            let step = text
                .get(whole.start()..)
                .and_then(|rest| rest.chars().next())
                .map_or(1, char::len_utf8);
            pos = whole.start() + step;
        }
    }
    found
}

/// `Basic` is an ordinary English word; only a base64 `user:password` pair is a credential.
fn is_basic_credential(cred: &str) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(cred) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(bytes) else {
        return false;
    };
    decoded.find(':').is_some_and(|i| i > 0) && !decoded.chars().any(char::is_control)
}

/// Digits separated by single spaces or dashes: "4111 1111 1111 1111", "4111-1111-...".
/// Within such a run, each start group is tried with the longest window of whole groups that
/// is a plausible card: 13-19 digits, first digit 2-6, Luhn-valid, and, when it spans several
/// groups, one separator kind and groups of 2-6 digits (so "2024-01-15 2024-01-16" is not a
/// card), and must not touch a letter or digit. A lone group of 20+ digits (an id) never is.
fn card_numbers(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut groups = Vec::new();
        let mut separators = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            groups.push(start..j);
            match (bytes.get(j), bytes.get(j + 1)) {
                (Some(&sep @ (b' ' | b'-')), Some(next)) if next.is_ascii_digit() => {
                    separators.push(sep);
                    j += 1;
                }
                _ => break,
            }
        }
        cards_in_run(bytes, &groups, &separators, &mut found);
        i = j;
    }
    found
}

/// Card numbers within one run of digit groups; `seps[i]` separates `groups[i]` and
/// `groups[i + 1]`. See [`card_numbers`].
fn cards_in_run(bytes: &[u8], groups: &[Range<usize>], seps: &[u8], found: &mut Vec<Range<usize>>) {
    let mut k = 0;
    while k < groups.len() {
        let mut best = None;
        let mut digits = Vec::new();
        for end in k..groups.len() {
            if end > k {
                let grouped = |g: &Range<usize>| (2..=6).contains(&g.len());
                if !grouped(&groups[k]) || !grouped(&groups[end]) || seps[end - 1] != seps[k] {
                    break;
                }
            }
            digits.extend_from_slice(&bytes[groups[end].clone()]);
            if digits.len() > *CARD_DIGITS.end() {
                break;
            }
            if CARD_DIGITS.contains(&digits.len())
                && stands_alone(bytes, groups[k].start..groups[end].end)
                && is_card_number(&digits)
            {
                best = Some(end);
            }
        }
        match best {
            Some(end) => {
                found.push(groups[k].start..groups[end].end);
                k = end + 1;
            }
            None => k += 1,
        }
    }
}

/// Digits glued to letters belong to a larger token (a UUID, a hash, a hex request id), not
/// a card number, so a card may not touch an ASCII letter or digit on either side.
fn stands_alone(bytes: &[u8], range: Range<usize>) -> bool {
    let before = range.start.checked_sub(1).and_then(|i| bytes.get(i));
    let after = bytes.get(range.end);
    !before.is_some_and(u8::is_ascii_alphanumeric) && !after.is_some_and(u8::is_ascii_alphanumeric)
}

/// ASCII digits that start like a card (2-6: Mastercard, Amex, Diners, JCB, Visa, Discover,
/// UnionPay, Maestro, Mir) and pass the Luhn checksum.
fn is_card_number(digits: &[u8]) -> bool {
    matches!(digits.first(), Some(b'2'..=b'6')) && luhn_valid(digits)
}

/// The Luhn checksum every payment-card number carries in its last digit.
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> String {
        redact_text(text).unwrap_or_else(|| text.to_string())
    }

    const JWT_SAMPLE: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

    #[test]
    fn patterns_compile() {
        for re in [
            &PEM_PRIVATE_KEY,
            &JWT,
            &AWS_ACCESS_KEY_ID,
            &GITHUB_TOKEN,
            &SLACK_TOKEN,
            &BEARER,
            &BASIC,
        ] {
            assert!(re.is_some());
        }
    }

    #[test]
    fn jwt() {
        assert_eq!(
            r(&format!("token={JWT_SAMPLE}; path=/")),
            "token=[REDACTED]; path=/"
        );
        assert_eq!(
            r(&format!("Authorization: Bearer {JWT_SAMPLE}")),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(
            r("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."),
            "[REDACTED]",
            "unsigned"
        );
    }

    #[test]
    fn aws_access_key_ids() {
        assert_eq!(r("key AKIAIOSFODNN7EXAMPLE used"), "key [REDACTED] used");
        assert_eq!(r("ASIAY34FZKBOKMUTVV7A"), "[REDACTED]");
        assert_eq!(redact_text("AKIA short"), None);
    }

    #[test]
    fn pem_private_keys() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3HECdnH\n-----END RSA PRIVATE KEY-----";
        assert_eq!(
            r(&format!("before\n{pem}\nafter")),
            "before\n[REDACTED]\nafter"
        );
        let two = format!("{pem} middle {}", pem.replace("RSA ", ""));
        assert_eq!(r(&two), "[REDACTED] middle [REDACTED]");
        assert_eq!(
            r("x -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r"),
            "x [REDACTED]",
            "truncated"
        );
        let public = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----";
        assert_eq!(redact_text(public), None);
    }

    #[test]
    fn github_and_slack_tokens() {
        assert_eq!(r("ghp_1234567890abcdefghijABCDEFGHIJ123456"), "[REDACTED]");
        assert_eq!(
            r("use gho_16C7e42F292c6912E7710c838347Ae178B4a now"),
            "use [REDACTED] now"
        );
        assert_eq!(
            r("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
            "[REDACTED]"
        );
        assert_eq!(
            r("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
            "[REDACTED]"
        );
        assert_eq!(r("slack xoxp-1234-5678-abcdef."), "slack [REDACTED].");
        assert_eq!(redact_text("ghp_short xoxb-1"), None);
    }

    #[test]
    fn bearer_and_basic_credentials() {
        assert_eq!(
            r("Authorization: Bearer abc123def456"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(r("bearer   s3cr3t-t0ken.v2=="), "bearer   [REDACTED]");
        assert_eq!(r("Bearer Bearer abc12345xyz"), "Bearer Bearer [REDACTED]");
        assert_eq!(r("Basic dXNlcjpwYXNzd29yZA=="), "Basic [REDACTED]");
        assert_eq!(r("basic YWxhZGRpbjpvcGVuc2VzYW1l"), "basic [REDACTED]");
        for prose in [
            "the bearer of bad news",
            "Bearer authentication",
            "basic information",
            "Basic plan",
            "basic abcd",
        ] {
            assert_eq!(redact_text(prose), None, "{prose}");
        }
    }

    #[test]
    fn card_numbers_are_found_by_luhn() {
        assert_eq!(
            r("card 4111 1111 1111 1111 declined"),
            "card [REDACTED] declined"
        );
        assert_eq!(r("4111-1111-1111-1111"), "[REDACTED]");
        assert_eq!(r("4111111111111111"), "[REDACTED]");
        assert_eq!(r("amex 3782 822463 10005."), "amex [REDACTED].");
        assert_eq!(
            r("5555555555554444,6011111111111117"),
            "[REDACTED],[REDACTED]"
        );
        assert_eq!(r("order 12 4111 1111 1111 1111"), "order 12 [REDACTED]");
        assert_eq!(r("card:4111111111111111,"), "card:[REDACTED],");
    }

    #[test]
    fn ordinary_numbers_are_kept() {
        for text in [
            "1234 5678 9012 3456",           // Luhn-invalid
            "order 123456 and 987654321012", // short ids
            "ts 1795000123456",              // epoch millis: starts with 1
            "2024-01-15 2024-01-16",         // dates
            "4111 1111-1111 1111",           // mixed separators
            "4111  1111  1111  1111",        // double spaces
            "41111111111111111111111111",    // long id
            "+49 30 1234 5678",
            "x4111111111111111y",       // glued to letters: part of a token
            "sha a3f4111111111111111b", // hex hash
            "67c04127-811e-2116-9534-308414a00000", // UUID
        ] {
            assert_eq!(redact_text(text), None, "{text}");
        }
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"79927398710"));
        assert!(luhn_valid(b"4111111111111111"));
    }

    #[test]
    fn secrets_uncovered_by_a_replacement_are_caught_and_result_is_stable() {
        let text = "4111111111111111AKIAIOSFODNN7EXAMPLE";
        let once = r(text);
        assert!(!once.contains("AKIA") && !once.contains("4111"), "{once}");
        assert_eq!(redact_text(&once), None);
    }

    #[test]
    fn text_without_secrets_is_unchanged() {
        assert_eq!(redact_text(""), None);
        assert_eq!(redact_text("Alice changed the role of Bob to admin"), None);
        assert_eq!(redact_text("[REDACTED]"), None);
    }
}
