//! Secrets recognised by their shape alone, wherever they appear: PEM private keys, JWTs, AWS
//! access key ids, GitHub, Slack and Stripe tokens, Google API keys, `Bearer`/`Basic`
//! credentials and the password in a URL's userinfo (`postgres://app:s3cret@db`).
//!
//! Where a secret sits inside a longer construct (a header, a URL), only the secret is
//! replaced, so `Bearer [REDACTED]` and `postgres://app:[REDACTED]@db:5432/x` stay readable.

use base64::Engine;
use regex::{Regex, RegexSet};
use std::ops::Range;
use std::sync::LazyLock;

/// A compiled pattern. The patterns are constants that the `patterns_compile` test checks, so
/// `None` only happens if this file was changed without running its tests; the detector then
/// finds nothing rather than panicking on the ingest path.
pub(super) type Pattern = LazyLock<Option<Regex>>;

/// Compiles one of the patterns below.
fn regex(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

/// `-----BEGIN ... PRIVATE KEY-----` through its END line (RSA, EC, OpenSSH, PKCS#8, PGP).
/// An unterminated block (a truncated paste) is redacted to the end of the text.
const PEM_PRIVATE_KEY_TEXT: &str = r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----(?s:.*?-----END[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|.*)";
pub(super) static PEM_PRIVATE_KEY: Pattern = LazyLock::new(|| regex(PEM_PRIVATE_KEY_TEXT));
/// Three base64url parts; the header always starts `eyJ` (`{"`). The signature may be empty.
const JWT_TEXT: &str = r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{3,}\.[A-Za-z0-9_-]*";
pub(super) static JWT: Pattern = LazyLock::new(|| regex(JWT_TEXT));
/// Long-term (AKIA) and temporary (ASIA) AWS access key ids.
const AWS_ACCESS_KEY_ID_TEXT: &str = r"(?:AKIA|ASIA)[A-Z0-9]{16}";
pub(super) static AWS_ACCESS_KEY_ID: Pattern = LazyLock::new(|| regex(AWS_ACCESS_KEY_ID_TEXT));
/// GitHub personal, OAuth, user-to-server, server-to-server and refresh tokens.
const GITHUB_TOKEN_TEXT: &str = r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}";
pub(super) static GITHUB_TOKEN: Pattern = LazyLock::new(|| regex(GITHUB_TOKEN_TEXT));
/// Slack bot, app, user, refresh and legacy tokens.
const SLACK_TOKEN_TEXT: &str = r"xox[baprs]-[A-Za-z0-9-]{10,}";
pub(super) static SLACK_TOKEN: Pattern = LazyLock::new(|| regex(SLACK_TOKEN_TEXT));
/// Stripe secret and restricted keys (live and test) and webhook signing secrets. Publishable
/// keys (`pk_live_…`) are meant to be embedded in web pages, so they are kept.
const STRIPE_KEY_TEXT: &str = r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}|whsec_[0-9A-Za-z]{24,}";
pub(super) static STRIPE_KEY: Pattern = LazyLock::new(|| regex(STRIPE_KEY_TEXT));
/// Google API keys: `AIza` and 35 more characters.
const GOOGLE_API_KEY_TEXT: &str = r"AIza[0-9A-Za-z_-]{35}";
pub(super) static GOOGLE_API_KEY: Pattern = LazyLock::new(|| regex(GOOGLE_API_KEY_TEXT));
/// `Bearer <token>`: only the token is replaced.
const BEARER_TEXT: &str = r"(?i:bearer)\s+(?P<cred>[A-Za-z0-9\-._~+/]{8,}=*)";
pub(super) static BEARER: Pattern = LazyLock::new(|| regex(BEARER_TEXT));
/// `Basic <base64 user:password>`: only the credential is replaced.
const BASIC_TEXT: &str = r"(?i:basic)\s+(?P<cred>[A-Za-z0-9+/]{4,}={0,2})";
pub(super) static BASIC: Pattern = LazyLock::new(|| regex(BASIC_TEXT));
/// The password of a URL's userinfo, `scheme://user:password@host` (database, broker and
/// HTTP URLs alike; the user may be empty, as in `redis://:pw@host`). The password runs to
/// the last `@` before the path, query, fragment or whitespace, because unencoded `@` in
/// passwords is common. A userinfo without a password (`ssh://git@host`) is kept.
const URL_PASSWORD_TEXT: &str = r"://[^\s/?#@:]*:(?P<cred>[^\s/?#]+)@";
pub(super) static URL_PASSWORD: Pattern = LazyLock::new(|| regex(URL_PASSWORD_TEXT));

/// Every shape above in one automaton. Nearly all text an entry holds is free of secrets, and
/// one pass over it answers "could any shape be here?" for all ten at once; running ten
/// searches per string made redaction the largest cost of parsing a batch. `None` only if a
/// pattern stopped compiling (see [`Pattern`]); the caller then runs every detector.
pub(super) static ANY_SHAPE: LazyLock<Option<RegexSet>> = LazyLock::new(|| {
    RegexSet::new([
        PEM_PRIVATE_KEY_TEXT,
        JWT_TEXT,
        AWS_ACCESS_KEY_ID_TEXT,
        GITHUB_TOKEN_TEXT,
        SLACK_TOKEN_TEXT,
        STRIPE_KEY_TEXT,
        GOOGLE_API_KEY_TEXT,
        BEARER_TEXT,
        BASIC_TEXT,
        URL_PASSWORD_TEXT,
    ])
    .ok()
});

/// Every match of a pattern whose whole match is the secret.
pub(super) fn whole_matches(regex: &Pattern, text: &str) -> Vec<Range<usize>> {
    let Some(regex) = regex.as_ref() else {
        return Vec::new();
    };
    regex.find_iter(text).map(|m| m.range()).collect()
}

/// The `cred` group of every match that `accept` confirms. After a rejected match the search
/// resumes one character later rather than after it, so "Bearer Bearer abc12345" still finds
/// the real token.
pub(super) fn credentials(
    regex: &Pattern,
    text: &str,
    accept: fn(&str) -> bool,
) -> Vec<Range<usize>> {
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

/// A `Bearer` token must contain a digit: "Bearer authentication" is prose.
pub(super) fn is_bearer_token(cred: &str) -> bool {
    cred.bytes().any(|b| b.is_ascii_digit())
}

/// `Basic` is an ordinary English word; only a base64 `user:password` pair is a credential.
pub(super) fn is_basic_credential(cred: &str) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(cred) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(bytes) else {
        return false;
    };
    decoded.find(':').is_some_and(|i| i > 0) && !decoded.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::redact_text;

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
            &STRIPE_KEY,
            &GOOGLE_API_KEY,
            &BEARER,
            &BASIC,
            &URL_PASSWORD,
        ] {
            assert!(re.is_some());
        }
        assert!(ANY_SHAPE.is_some());
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
    fn stripe_keys() {
        assert_eq!(
            r("key sk_live_4eC39HqLyjWDarjtT1zdp7dc here"),
            "key [REDACTED] here"
        );
        assert_eq!(r("rk_test_51Habcdefghijklmnop"), "[REDACTED]");
        assert_eq!(r("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "[REDACTED]");
        assert_eq!(
            redact_text("pk_live_4eC39HqLyjWDarjtT1zdp7dc"),
            None,
            "publishable"
        );
        assert_eq!(redact_text("sk_live_short"), None);
    }

    #[test]
    fn google_api_keys() {
        assert_eq!(
            r("maps AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe!"),
            "maps [REDACTED]!"
        );
        assert_eq!(redact_text("AIza too short"), None);
    }

    #[test]
    fn url_passwords_keep_the_rest_of_the_url() {
        for (url, clean) in [
            (
                "postgres://app:s3cret@db:5432/x",
                "postgres://app:[REDACTED]@db:5432/x",
            ),
            (
                "mysql://root:p@ss@10.0.0.1/shop?ssl=true",
                "mysql://root:[REDACTED]@10.0.0.1/shop?ssl=true",
            ),
            (
                "mongodb+srv://u:pw@cluster0.example.net/db",
                "mongodb+srv://u:[REDACTED]@cluster0.example.net/db",
            ),
            ("redis://:pw@cache:6379", "redis://:[REDACTED]@cache:6379"),
            (
                "amqp://guest:guest@rabbit//vhost",
                "amqp://guest:[REDACTED]@rabbit//vhost",
            ),
            (
                "see https://user:pw@host/a and bob@example.com",
                "see https://user:[REDACTED]@host/a and bob@example.com",
            ),
            (
                "jdbc:postgresql://app:pw@db/x",
                "jdbc:postgresql://app:[REDACTED]@db/x",
            ),
        ] {
            assert_eq!(r(url), clean, "{url}");
        }
        for kept in [
            "ssh://git@github.com:22/repo.git",
            "http://example.com:8080/path@v2",
            "https://host:443?a=b@c",
            "mailto:bob@example.com",
            "postgres://app:@db/x",
        ] {
            assert_eq!(redact_text(kept), None, "{kept}");
        }
    }
}
