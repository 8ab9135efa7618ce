//! Which names mark a value as secret: JSON object keys, `name=value` pairs in free text and
//! URL query parameters all ask [`secret_key`] (query parameters through
//! [`secret_query_parameter`], which knows a few more names), and [`SecretKey::covers`] decides
//! whether the value found under such a name is replaced.
//!
//! Long, distinctive fragments (`password`, `secret`, `token`, …) are matched as substrings of
//! the normalised name, so `X-Api-Key`, `db_password_hash` and `sessionId` are all caught.
//! Short ones (`pwd`, `pass`, `pin`, `otp`) hide inside ordinary words (`shipping`, `compass`,
//! `passenger`), so they must be a whole *word* of the name: `user_pin`, `pinCode`, `PIN` and
//! `db_pass` are secret, `spinner` and `passport_country` are not.

use super::REDACTED;
use serde_json::Value;

/// Fragments matched as substrings of the normalised name (lowercase, without `_`, `-`, `.`
/// and spaces).
///
/// Substring matching over-redacts some harmless keys (`secretary`, `cookie_consent`,
/// `tokenizer`); for an audit log a lost harmless value is far cheaper than a stored secret.
const SECRET_FRAGMENTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "secret",
    "token",
    "authorization",
    "cookie",
    "apikey",
    "privatekey",
    "accesskey",
    "credential",
    "sessionid",
    // PHPSESSID and friends, which `sessionid` misses.
    "sessid",
    "clientsecret",
];

/// Short names that are secret only as a whole word of the name (see [`words`]).
const SECRET_WORDS: &[&str] = &["pwd", "pw", "pass", "pin", "otp", "totp", "hotp"];

/// URL query parameters that carry a credential in a URL although their names mean nothing
/// secret elsewhere, matched against the whole normalised name: presigned-URL signatures
/// (Azure `sig`, CloudFront `Signature`, S3 `X-Amz-Signature`, GCS `X-Goog-Signature`; the
/// `…-Credential` and `…-Security-Token` parameters are caught as fragments), OAuth
/// authorization and magic-link `code`s, API `key`s, CAS `ticket`s and session `sid`s. Only the
/// exact name counts, so `country_code`, `sort_key` and `promo_code` stay readable.
const SECRET_QUERY_NAMES: &[&str] = &[
    "sig",
    "signature",
    "xamzsignature",
    "xgoogsignature",
    "code",
    "key",
    "ticket",
    "sid",
];

/// What a secret-like name says about the value under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SecretKey {
    /// Any non-empty value is replaced.
    Always,
    /// Only the fragment `token` matched: a JSON *number* under it is a count (`max_tokens`,
    /// `tokens_used`), not a credential, and is kept.
    TokenCount,
}

impl SecretKey {
    /// Whether `value`, found under a name of this kind, is replaced. Nulls, booleans, empty
    /// strings and already-redacted values carry no secret (and `password_changed: true` is
    /// exactly what an audit log should show), so they are kept.
    pub(super) fn covers(self, value: &Value) -> bool {
        match value {
            Value::Null | Value::Bool(_) => false,
            Value::String(s) => !s.is_empty() && s != REDACTED,
            Value::Number(_) => self == SecretKey::Always,
            Value::Array(_) | Value::Object(_) => true,
        }
    }
}

/// How the name `key` marks its value, or `None` for an ordinary name.
pub(super) fn secret_key(key: &str) -> Option<SecretKey> {
    let normalised = normalise(key);
    let mut fragments = SECRET_FRAGMENTS
        .iter()
        .filter(|fragment| normalised.contains(*fragment));
    let first = fragments.next();
    let more_fragments = fragments.next().is_some();
    let word = words(key).any(|w| SECRET_WORDS.contains(&w.as_str()));
    match (first, more_fragments || word) {
        (None, false) => None,
        (Some(&"token"), false) => Some(SecretKey::TokenCount),
        _ => Some(SecretKey::Always),
    }
}

/// How the URL query parameter `name` marks its value: like [`secret_key`], plus the names in
/// [`SECRET_QUERY_NAMES`]. Query values are text, so a count exception never applies to them.
pub(super) fn secret_query_parameter(name: &str) -> Option<SecretKey> {
    let query_only = SECRET_QUERY_NAMES.contains(&normalise(name).as_str());
    secret_key(name)
        .map(|_| SecretKey::Always)
        .or(query_only.then_some(SecretKey::Always))
}

/// Lowercase, without `_`, `-`, `.` and spaces: `X-Api-Key` → `xapikey`.
fn normalise(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The lowercase words of a name, split at anything that is not a letter or digit
/// (snake_case, kebab-case, dotted, spaces), at camelCase humps (`pinCode` → `pin`, `code`;
/// `PINCode` → `pin`, `code`) and between letters and digits (`pin2` → `pin`, `2`).
fn words(key: &str) -> impl Iterator<Item = String> {
    let chars: Vec<char> = key.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            words.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
            continue;
        }
        let previous = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let next = chars.get(i + 1).copied();
        let boundary = previous.is_some_and(|p| {
            p.is_alphanumeric()
                && ((p.is_lowercase() && c.is_uppercase())
                    || (p.is_uppercase()
                        && c.is_uppercase()
                        && next.is_some_and(char::is_lowercase))
                    || p.is_alphabetic() != c.is_alphabetic())
        });
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    words.extend((!current.is_empty()).then_some(current));
    words.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn words_split_every_naming_style() {
        let split = |k: &str| words(k).collect::<Vec<_>>();
        assert_eq!(split("user_pin"), ["user", "pin"]);
        assert_eq!(split("pinCode"), ["pin", "code"]);
        assert_eq!(split("PINCode"), ["pin", "code"]);
        assert_eq!(split("userPIN"), ["user", "pin"]);
        assert_eq!(split("X-Amz-Signature"), ["x", "amz", "signature"]);
        assert_eq!(split("db.pass word"), ["db", "pass", "word"]);
        assert_eq!(split("pin2"), ["pin", "2"]);
        assert_eq!(split("__"), Vec::<String>::new());
    }

    #[test]
    fn short_names_match_only_as_whole_words() {
        for key in [
            "pwd",
            "PWD",
            "user_pin",
            "pinCode",
            "PIN",
            "pin-code",
            "db_pass",
            "pass",
            "DB_PW",
            "otp",
            "totpSecret",
            "hotp_seed",
            "passcode",
            "adminPwd",
            "x.pin",
        ] {
            assert_eq!(secret_key(key), Some(SecretKey::Always), "{key}");
        }
        for key in [
            "shipping",
            "mapping",
            "spinner",
            "passenger",
            "compass",
            "passport_country",
            "bypass",
            "pinned",
            "topic",
            "footprint",
            "hotpink",
            "name",
            "opinion",
        ] {
            assert_eq!(secret_key(key), None, "{key}");
        }
    }

    #[test]
    fn long_fragments_match_anywhere() {
        for key in [
            "X-Api-Key",
            "db_password_hash",
            "sessionId",
            "PHPSESSID",
            "setCookie",
        ] {
            assert_eq!(secret_key(key), Some(SecretKey::Always), "{key}");
        }
        assert_eq!(secret_key("max_tokens"), Some(SecretKey::TokenCount));
        assert_eq!(secret_key("token_pin"), Some(SecretKey::Always));
        assert_eq!(secret_key("token_secret"), Some(SecretKey::Always));
    }

    #[test]
    fn query_names_add_signatures_codes_and_keys() {
        for name in [
            "sig",
            "Signature",
            "X-Amz-Signature",
            "X-Amz-Credential",
            "X-Amz-Security-Token",
            "X-Goog-Signature",
            "code",
            "key",
            "ticket",
            "sid",
            "access_token",
            "pwd",
        ] {
            assert_eq!(
                secret_query_parameter(name),
                Some(SecretKey::Always),
                "{name}"
            );
        }
        for name in [
            "country_code",
            "sort_key",
            "page",
            "user",
            "X-Amz-Date",
            "state",
        ] {
            assert_eq!(secret_query_parameter(name), None, "{name}");
        }
        assert_eq!(secret_key("code"), None, "only in a URL");
    }

    #[test]
    fn covers_keeps_values_that_carry_no_secret() {
        let always = SecretKey::Always;
        for kept in [json!(null), json!(true), json!(""), json!(REDACTED)] {
            assert!(!always.covers(&kept), "{kept}");
        }
        for replaced in [json!("x"), json!(1234), json!([]), json!({})] {
            assert!(always.covers(&replaced), "{replaced}");
        }
        assert!(!SecretKey::TokenCount.covers(&json!(4096)));
        assert!(SecretKey::TokenCount.covers(&json!("4096")));
    }
}
