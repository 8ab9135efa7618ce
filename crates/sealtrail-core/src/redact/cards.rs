//! Payment-card numbers, found by their grouping, their first digit and the Luhn checksum.
//!
//! Card numbers are mostly digits that also make up dates, phone numbers, ids and amounts, so
//! the rules lean towards keeping ordinary text: 13-19 digits starting with 2-6 (every major
//! network), Luhn-valid, grouped like a card and not glued to letters or digits.

use std::ops::Range;

/// Shortest and longest payment-card number, in digits.
const CARD_DIGITS: std::ops::RangeInclusive<usize> = 13..=19;

/// Digits separated by single spaces or dashes: "4111 1111 1111 1111", "4111-1111-...".
/// Within such a run, each start group is tried with the longest window of whole groups that
/// is a plausible card: 13-19 digits, first digit 2-6, Luhn-valid, and, when it spans several
/// groups, one separator kind and groups of 2-6 digits (so "2024-01-15 2024-01-16" is not a
/// card), and must not touch a letter or digit. A lone group of 20+ digits (an id) never is.
pub(super) fn card_numbers(text: &str) -> Vec<Range<usize>> {
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
    use crate::redact::redact_text;

    fn r(text: &str) -> String {
        redact_text(text).unwrap_or_else(|| text.to_string())
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
}
