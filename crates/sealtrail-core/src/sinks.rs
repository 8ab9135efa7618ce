//! Push delivery of a tenant's log to receivers it names (sinks): what a sink is, how a
//! webhook batch is signed and how a receiver checks the signature, how long to wait before a
//! retry, and when to stop and wait for a person. Pure: the service's delivery loop does the
//! I/O, the store keeps each sink's cursor.
//!
//! Delivery is at least once and in order: a sink's cursor (the next seq to deliver) moves
//! only after the receiver acknowledged a batch with a 2xx, so a crash or a failure resends the
//! same entries with the same ids, which receivers use to drop duplicates.

pub mod archive;
pub mod hec;
pub mod ocsf;
pub mod syslog;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::Duration;

/// What receives a sink's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// JSON batches POSTed to an HTTPS (or HTTP) endpoint, HMAC-signed.
    Webhook,
    /// A Splunk HTTP Event Collector: events POSTed with the collector's token.
    SplunkHec,
    /// A syslog receiver over TLS (RFC 5425): RFC 5424 messages, octet-counted.
    Syslog,
    /// An S3-compatible object store: compressed NDJSON chunks, each with the evidence that
    /// verifies it offline ([`archive`]).
    Archive,
}

impl SinkKind {
    /// Every kind, for error messages and forms.
    pub const ALL: [SinkKind; 4] = [
        SinkKind::Webhook,
        SinkKind::SplunkHec,
        SinkKind::Syslog,
        SinkKind::Archive,
    ];

    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Webhook => "webhook",
            SinkKind::SplunkHec => "splunk_hec",
            SinkKind::Syslog => "syslog",
            SinkKind::Archive => "archive",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<SinkKind> {
        SinkKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Reads what a person typed, or says which kinds there are: the one message the API,
    /// the page and the CLI give.
    pub fn parse_named(text: &str) -> Result<SinkKind, String> {
        SinkKind::parse(text).ok_or_else(|| {
            format!(
                "kind: one of {} (got `{}`)",
                spelled(SinkKind::ALL.map(SinkKind::as_str)),
                crate::excerpt(text, 40)
            )
        })
    }

    /// Whether the receiver authenticates Sealtrail with a token of its own (kept encrypted),
    /// rather than checking Sealtrail's signature.
    pub fn needs_token(self) -> bool {
        matches!(self, SinkKind::SplunkHec | SinkKind::Archive)
    }

    /// What the token of a kind that needs one is, for messages and forms.
    pub fn token_hint(self) -> &'static str {
        match self {
            SinkKind::Archive => "the object store's access key as ACCESS_KEY_ID:SECRET_ACCESS_KEY",
            _ => "the collector's token",
        }
    }
}

/// The shape each entry is sent in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SinkFormat {
    /// The entry exactly as `GET /v1/events/{id}` and the NDJSON export give it.
    #[default]
    Sealtrail,
    /// OCSF 1.8.0 API Activity (class 6003), see [`ocsf`].
    Ocsf,
}

impl SinkFormat {
    /// Every format, for error messages and forms.
    pub const ALL: [SinkFormat; 2] = [SinkFormat::Sealtrail, SinkFormat::Ocsf];

    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkFormat::Sealtrail => "sealtrail",
            SinkFormat::Ocsf => "ocsf",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<SinkFormat> {
        SinkFormat::ALL.into_iter().find(|f| f.as_str() == text)
    }

    /// Reads what a person typed, or says which formats there are.
    pub fn parse_named(text: &str) -> Result<SinkFormat, String> {
        SinkFormat::parse(text).ok_or_else(|| {
            format!(
                "format: one of {} (got `{}`)",
                spelled(SinkFormat::ALL.map(SinkFormat::as_str)),
                crate::excerpt(text, 40)
            )
        })
    }
}

/// `a, b or c`.
fn spelled<const N: usize>(names: [&str; N]) -> String {
    match names.split_last() {
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Longest receiver token (a Splunk HEC token is a 36-character UUID).
pub const MAX_TOKEN_BYTES: usize = 512;

/// A receiver's token must be printable ASCII without spaces: it goes into a header (an
/// archive's access key is two parts, `ACCESS_KEY_ID:SECRET_ACCESS_KEY`).
pub fn check_token(kind: SinkKind, token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err(format!(
            "token: a {} sink needs {}",
            kind.as_str(),
            kind.token_hint()
        ));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!("token: at most {MAX_TOKEN_BYTES} bytes"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("token: printable ASCII without spaces only".into());
    }
    if kind == SinkKind::Archive {
        archive::split_credential(token)?;
    }
    Ok(())
}

/// Whether a sink is being delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SinkState {
    /// Delivered as entries arrive (retrying with backoff while the receiver fails).
    Active,
    /// Stopped by a person; resumes from its cursor.
    Paused,
    /// Stopped after [`DEAD_AFTER_FAILURES`] failures in a row: the failing answer is kept
    /// for a person to see; resuming retries from the same cursor, so nothing is skipped.
    DeadLetter,
}

impl SinkState {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkState::Active => "active",
            SinkState::Paused => "paused",
            SinkState::DeadLetter => "dead_letter",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<SinkState> {
        match text {
            "active" => Some(SinkState::Active),
            "paused" => Some(SinkState::Paused),
            "dead_letter" => Some(SinkState::DeadLetter),
            _ => None,
        }
    }
}

/// Longest sink name.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest receiver URL.
pub const MAX_URL_BYTES: usize = 2048;
/// Most entries one batch carries.
pub const MAX_BATCH: usize = 100;
/// Failures in a row after which a sink waits for a person ([`SinkState::DeadLetter`]): with
/// the backoff below, 20 to 40 minutes of a receiver failing.
pub const DEAD_AFTER_FAILURES: u32 = 16;
/// The first retry's delay; each further failure doubles it, up to [`MAX_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);
/// The header a webhook batch's signature travels in.
pub const SIGNATURE_HEADER: &str = "Sealtrail-Signature";
/// How far a receiver should accept a signature's time from its own clock.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Checks a sink's name: 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn check_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(format!(
            "a sink name is 1-{MAX_NAME_CHARS} characters, without control characters"
        ));
    }
    Ok(())
}

/// Checks a sink's URL: for a webhook or a Splunk collector absolute `https://` or `http://`,
/// for syslog `syslog+tls://`, for an archive `s3://` ([`archive::parse`]); with a host, no credentials in it (they would be shown
/// wherever the sink is), at most [`MAX_URL_BYTES`].
pub fn check_url(kind: SinkKind, url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_BYTES || url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!(
            "a URL is at most {MAX_URL_BYTES} bytes, without spaces or control characters"
        ));
    }
    let rest = match kind {
        SinkKind::Webhook | SinkKind::SplunkHec => url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or("the URL must start with https:// (or http://)")?,
        SinkKind::Syslog => url
            .strip_prefix("syslog+tls://")
            .ok_or("a syslog sink's URL is syslog+tls://host:port (TLS, RFC 5425)")?,
        SinkKind::Archive => return archive::parse(url).map(|_| ()),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err("the URL names no host".into());
    }
    if authority.contains('@') {
        return Err("put no credentials in the URL: the sink's signature authenticates it".into());
    }
    Ok(())
}

/// The signature header of a batch `body` sent at `timestamp` (seconds since 1970):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under the sink's secret>`.
/// Signing the time with the body lets a receiver refuse a replayed old batch.
pub fn sign(secret: &[u8; 32], timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// What a receiver does with the header (documented in docs/streaming.md, and how the tests'
/// receiver checks every batch): the MAC must match in constant time and the time must be
/// within [`SIGNATURE_TOLERANCE_SECS`] of `now`.
pub fn verify(secret: &[u8; 32], header: &str, body: &[u8], now: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", hex_mac)) => signatures.extend(hex::decode(hex_mac).ok()),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    if now.abs_diff(timestamp) > SIGNATURE_TOLERANCE_SECS.unsigned_abs() {
        return false;
    }
    signatures
        .iter()
        .any(|s| mac(secret, timestamp, body).verify_slice(s).is_ok())
}

fn mac(secret: &[u8; 32], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(secret);
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// How long to wait after the `failures`-th failure in a row: doubling from
/// [`FIRST_RETRY_DELAY`] up to [`MAX_RETRY_DELAY`], scaled by `jitter` (0 to 1) into its upper
/// half, so receivers coming back are not met by every sink at once.
pub fn retry_delay(failures: u32, jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    let delay = FIRST_RETRY_DELAY
        .saturating_mul(1 << doublings)
        .min(MAX_RETRY_DELAY);
    delay.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Whether `ip` is an address on the public internet: not loopback, private, shared (CGNAT),
/// link-local (cloud metadata services live there), unique-local, multicast, documentation or
/// unspecified. Sinks reach only these unless the operator allows private networks, so a
/// tenant's admin cannot point the server at the services beside it.
pub fn is_public_address(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
    }
}

/// The secret's text as shown once at creation: `whsec_` and the 32 bytes in hex.
pub fn secret_text(secret: &[u8; 32]) -> String {
    format!("whsec_{}", hex::encode(secret))
}

/// Reads a secret's text back (a receiver's configuration, the tests).
pub fn parse_secret(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.strip_prefix("whsec_")?).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: [u8; 32] = [9; 32];

    #[test]
    fn a_signed_batch_verifies_and_any_change_does_not() {
        let body = br#"{"entries":[]}"#;
        let header = sign(&SECRET, 1_800_000_000, body);
        assert!(header.starts_with("t=1800000000,v1="));
        assert!(verify(&SECRET, &header, body, 1_800_000_100));
        assert!(!verify(
            &SECRET,
            &header,
            br#"{"entries":[1]}"#,
            1_800_000_100
        ));
        assert!(!verify(&[8; 32], &header, body, 1_800_000_100));
        assert!(
            !verify(&SECRET, &header, body, 1_800_000_000 + 301),
            "too old"
        );
        let moved = header.replace("t=1800000000", "t=1800000001");
        assert!(!verify(&SECRET, &moved, body, 1_800_000_000));
        assert!(!verify(&SECRET, "v1=00", body, 1_800_000_000));
    }

    #[test]
    fn retries_back_off_to_a_ceiling_with_jitter_in_the_upper_half() {
        assert_eq!(retry_delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(retry_delay(2, 1.0), Duration::from_secs(2));
        assert_eq!(retry_delay(4, 1.0), Duration::from_secs(8));
        assert_eq!(retry_delay(30, 1.0), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(4, 0.0), Duration::from_secs(4));
        let total: Duration = (1..DEAD_AFTER_FAILURES).map(|n| retry_delay(n, 1.0)).sum();
        assert!(total > Duration::from_secs(1800) && total < Duration::from_secs(7200));
    }

    #[test]
    fn only_plain_web_urls_without_credentials_are_accepted() {
        for good in [
            "https://siem.example.com/hooks/sealtrail",
            "http://127.0.0.1:8080/in",
        ] {
            assert_eq!(check_url(SinkKind::Webhook, good), Ok(()), "{good}");
            assert!(check_url(SinkKind::Syslog, good).is_err(), "{good}");
        }
        for bad in [
            "ftp://x",
            "https://",
            "https://user:pw@host/",
            "file:///etc/passwd",
            "https://host/ x",
            "javascript:alert(1)",
        ] {
            assert!(check_url(SinkKind::Webhook, bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_url(SinkKind::Syslog, "syslog+tls://logs.example.com:6514"),
            Ok(())
        );
        for bad in [
            "syslog+tls://",
            "syslog://logs.example.com",
            "syslog+tls://u@h",
        ] {
            assert!(check_url(SinkKind::Syslog, bad).is_err(), "{bad}");
        }
        assert!(check_name("").is_err());
        assert!(check_name("SIEM").is_ok());
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "224.0.0.1",
            "192.0.2.7",
            "2001:db8::1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public_address(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public_address(public.parse().unwrap()), "{public}");
        }
        assert!(
            !verify(&SECRET, "t=-9223372036854775808,v1=00", b"", 1),
            "no overflow"
        );
    }

    #[test]
    fn a_secret_reads_back_from_its_text() {
        assert_eq!(parse_secret(&secret_text(&SECRET)), Some(SECRET));
        assert_eq!(parse_secret("whsec_00"), None);
    }

    proptest! {
        #[test]
        fn no_other_body_or_time_verifies(body in proptest::collection::vec(any::<u8>(), 0..64),
                                          other in proptest::collection::vec(any::<u8>(), 0..64),
                                          t in 0i64..4_000_000_000) {
            let header = sign(&SECRET, t, &body);
            prop_assert!(verify(&SECRET, &header, &body, t));
            prop_assert_eq!(verify(&SECRET, &header, &other, t), body == other);
        }
    }
}
