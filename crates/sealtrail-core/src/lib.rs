//! Sealtrail's domain model, with no I/O so every rule here is testable in isolation.
//!
//! * [`compat`] — other audit-log services' wire formats (Retraced), mapped onto entries.
//! * [`checkpoint`] — signed tree heads in the C2SP signed-note / tlog-checkpoint formats.
//! * [`cosignature`] — witnesses' timestamped cosignatures of checkpoints (C2SP tlog-cosignature).
//! * [`entry`] — the audit entry as accepted ([`entry::NewEntry`]) and as stored ([`entry::Entry`]).
//! * [`envelope`] — the canonical leaf bytes of an entry, with personal data as salted commitments.
//! * [`ingest`] — turning untrusted request bytes into validated, redacted entries.
//! * [`redact`] — removing secrets before anything is hashed or stored.
//! * [`schemas`] — per-action JSON Schemas events are checked against at ingest.
//! * [`filter`] — the query language shared by the HTTP API, the CLI and every store backend.
//! * [`keys`] — API-key generation, hashing at rest and scope checks.
//! * [`merkle`] — RFC 6962 tree hashes, inclusion and consistency proofs (tamper evidence).
//! * [`netacl`] — per-tenant IP allowlists.
//! * [`session`] — web sign-in session tokens and their CSRF tokens.
//! * [`tiles`] — the C2SP tlog-tiles paths through which monitors follow a log's tree.
//! * [`timestamp`] — the one time representation (UTC, millisecond precision).
//! * [`users`] — people who sign in, their roles, and password hashing (Argon2id).
//! * [`witness`] — the C2SP tlog-witness `add-checkpoint` request and a witness's rules.

pub mod changes;
pub mod checkpoint;
pub mod compat;
pub mod cors;
pub mod cosignature;
pub mod entry;
pub mod envelope;
pub mod filter;
pub mod ingest;
pub mod ip_allowlist;
pub mod jobs;
pub mod keys;
pub mod merkle;
pub mod parallel;
pub mod policy;
pub mod redact;
pub mod schemas;
pub mod session;
pub mod sinks;
pub mod tiles;
pub mod timeline;
pub mod timestamp;
pub mod users;
pub mod witness;

pub use entry::{
    Actor, ActorType, Appended, Changes, Context, Entry, NewEntry, Outcome, RequestInfo, Target,
};
pub use filter::{ActionMatch, Cursor, Direction, Facets, Filter, Page, Query, TimeBasis};
pub use keys::{ApiKey, Scope};
pub use timestamp::Timestamp;

/// Internal numeric id of a tenant. Every store call is scoped by one, and it always comes from
/// the authenticated API key, never from anything the client sends.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct TenantId(pub i64);

/// An organisation or workspace: the unit of isolation. Each tenant has its own gapless log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tenant {
    /// Internal id, used to scope every query.
    #[serde(skip)]
    pub id: TenantId,
    /// Unique, human-chosen name (a slug such as `acme`), used by operators and the CLI.
    pub name: String,
    /// When the tenant was created.
    pub created_at: Timestamp,
}

/// At most `chars` characters of what someone sent, to quote it in a message without
/// echoing an arbitrarily long input back.
pub(crate) fn excerpt(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// Tenant names are slugs so they are safe in URLs, file names and log lines.
pub fn validate_tenant_name(name: &str) -> Result<(), String> {
    let ok_len = (1..=64).contains(&name.len());
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    let ok_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_start {
        Ok(())
    } else {
        Err(format!(
            "tenant name `{name}` must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"
        ))
    }
}

/// Checks a tenant alias: the name another service gives the tenant (a WorkOS organization
/// id such as `org_01EHZNVPK3SFK441A1RGBFSHRT`, a Retraced project id), 1-128 visible ASCII
/// characters without `/`, `?`, `#` or `%`, so it reads the same in a URL path as in a body.
pub fn validate_tenant_alias(alias: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'%'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "alias `{}` must be 1-128 visible ASCII characters without '/', '?', '#' or '%'",
            alias.escape_debug()
        ))
    }
}
