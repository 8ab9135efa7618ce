//! People who sign in to the web page: their roles, and how their passwords are kept.
//!
//! The audit log holds who did what to whose data, so only admin-class roles may read it (the
//! seeds: "HR, Reporter, and Manager roles do not have access to the Audit Log due to the
//! sensitive nature of the information it contains"). Passwords are stored only as Argon2id
//! PHC strings: unlike API keys, people choose guessable secrets, so the hash must be slow.

use crate::keys::random_text;
use crate::timestamp::Timestamp;
use crate::TenantId;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's role in their tenant. The names are the ones the seeds' products use, so an
/// operator mapping their product's roles onto Sealtrail finds the same words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// Full control, including over other owners; a tenant always keeps at least one.
    #[serde(rename = "owner")]
    Owner,
    /// Installation-wide administrators' role inside a tenant; same rights as `admin`.
    #[serde(rename = "super-admin")]
    SuperAdmin,
    /// Manages settings, keys and users (but not owners).
    #[serde(rename = "admin")]
    Admin,
    /// Reads and exports the log (security and IT staff), changes nothing.
    #[serde(rename = "it-admin")]
    ItAdmin,
    /// Signs in but cannot see the log.
    #[serde(rename = "manager")]
    Manager,
    /// Signs in but cannot see the log.
    #[serde(rename = "reporter")]
    Reporter,
    /// Signs in but cannot see the log.
    #[serde(rename = "hr")]
    Hr,
    /// Signs in but cannot see the log.
    #[serde(rename = "member")]
    Member,
}

impl Role {
    /// Every role, most privileged first (the order settings pages list them in).
    pub const ALL: [Role; 8] = [
        Role::Owner,
        Role::SuperAdmin,
        Role::Admin,
        Role::ItAdmin,
        Role::Manager,
        Role::Reporter,
        Role::Hr,
        Role::Member,
    ];

    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::SuperAdmin => "super-admin",
            Role::Admin => "admin",
            Role::ItAdmin => "it-admin",
            Role::Manager => "manager",
            Role::Reporter => "reporter",
            Role::Hr => "hr",
            Role::Member => "member",
        }
    }

    /// May open the audit page, inspect entries and export them.
    pub fn can_view_log(self) -> bool {
        matches!(
            self,
            Role::Owner | Role::SuperAdmin | Role::Admin | Role::ItAdmin
        )
    }

    /// May change the tenant's settings, API keys and users.
    pub fn can_manage(self) -> bool {
        matches!(self, Role::Owner | Role::SuperAdmin | Role::Admin)
    }

    /// May give or take away `target`: only owners touch the owner role, so an admin cannot
    /// promote themselves past the people who appointed them.
    pub fn can_assign(self, target: Role) -> bool {
        self.can_manage() && (target != Role::Owner || self == Role::Owner)
    }

    /// The roles that can read the log, for messages that explain a refusal.
    pub fn log_viewers() -> String {
        Role::ALL
            .iter()
            .filter(|r| r.can_view_log())
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| {
                format!(
                    "unknown role `{s}` (expected one of {})",
                    Role::ALL.map(Role::as_str).join(", ")
                )
            })
    }
}

/// A stored user: everything but the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable public id (used in URLs and as the actor id of the user's actions).
    pub id: String,
    /// The tenant the user belongs to; users never cross tenants.
    #[serde(skip)]
    pub tenant: TenantId,
    /// Sign-in name, stored lower-cased; unique within the tenant.
    pub email: String,
    /// Display name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// When the account was created.
    pub created_at: Timestamp,
    /// Set when the account was deactivated; such users cannot sign in and their sessions end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deactivated_at: Option<Timestamp>,
    /// Argon2id PHC string. Never serialised.
    #[serde(skip)]
    pub password_hash: String,
}

impl User {
    /// True if the account may sign in.
    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }
}

/// Shortest password accepted: length beats composition rules (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, so a megabyte "password" cannot tie up the hasher.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// Checks a password someone is choosing.
pub fn validate_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "password must be at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    Ok(())
}

/// Normalises and checks an e-mail address used as a sign-in name. Deliberately loose (one
/// `@`, something either side, no spaces or controls): the address is an identifier here,
/// nothing is ever sent to it.
pub fn normalize_email(email: &str) -> Result<String, String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(format!("`{email}` is not an e-mail address"))
    }
}

/// Checks a display name: 1–128 characters, no control characters.
pub fn validate_display_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err("name must be 1-128 characters without control characters".into());
    }
    Ok(name.to_string())
}

/// Why a password could not be hashed (only a broken parameter set or RNG can cause it).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordHashError(String);

impl PasswordHashError {
    /// The hashing thread ended before producing a result (the process is shutting down).
    pub fn interrupted() -> Self {
        PasswordHashError("the hashing task was interrupted".into())
    }
}

/// Hashes a password with Argon2id at the library's defaults (OWASP's m=19 MiB, t=2, p=1).
/// Slow on purpose (tens of milliseconds): callers run it off the async threads.
pub fn hash_password(password: &str) -> Result<String, PasswordHashError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordHashError(e.to_string()))
}

/// Argon2's working memory (19 MiB at the default parameters), kept and reused across checks.
///
/// Allocating it per check lets a burst of sign-in attempts grow the process by 19 MiB each,
/// and the allocator keeps much of that after the burst; a fixed set of these, one per check
/// allowed to run at once, bounds password memory for the life of the process.
#[derive(Default)]
pub struct PasswordMemory(Vec<Block>);

impl PasswordMemory {
    /// The first `count` blocks, growing the buffer only when parameters need more.
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.0.len() < count {
            self.0.resize(count, Block::default());
        }
        &mut self.0[..count]
    }
}

impl fmt::Debug for PasswordMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordMemory({} KiB)", self.0.len())
    }
}

/// Checks a password against a stored PHC string in `memory`; a malformed stored hash never
/// matches. The comparison of the derived hash is constant-time.
pub fn verify_password(password: &str, stored: &str, memory: &mut PasswordMemory) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = memory.blocks(params.block_count());
    let argon = Argon2::new(algorithm, version, params);
    Output::init_with(expected.len(), |out| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut *blocks)
            .map_err(|_| argon2::password_hash::Error::Password)
    })
    .is_ok_and(|derived| derived == expected)
}

/// A hash no password matches, verified against when the e-mail is unknown so a failed
/// sign-in takes as long for a missing account as for a wrong password (no user enumeration
/// by timing).
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_text(32)).unwrap_or_default())
}

/// A random first password (about 119 bits) to show once when an account is created.
pub fn generate_password() -> String {
    let raw = random_text(20);
    format!(
        "{}-{}-{}-{}",
        &raw[0..5],
        &raw[5..10],
        &raw[10..15],
        &raw[15..20]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admin_class_roles_see_the_log() {
        let viewers: Vec<_> = Role::ALL.iter().filter(|r| r.can_view_log()).collect();
        assert_eq!(
            viewers,
            [
                &Role::Owner,
                &Role::SuperAdmin,
                &Role::Admin,
                &Role::ItAdmin
            ]
        );
        assert!(!Role::ItAdmin.can_manage());
        assert!(Role::Admin.can_assign(Role::Admin));
        assert!(!Role::Admin.can_assign(Role::Owner));
        assert!(Role::Owner.can_assign(Role::Owner));
        assert!(!Role::ItAdmin.can_assign(Role::Member));
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
        assert_eq!("Super_Admin".parse::<Role>(), Ok(Role::SuperAdmin));
        assert!("root".parse::<Role>().unwrap_err().contains("owner"));
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let mut memory = PasswordMemory::default();
        assert!(verify_password("correct horse battery", &hash, &mut memory));
        assert!(!verify_password(
            "correct horse batterY",
            &hash,
            &mut memory
        ));
        assert!(!verify_password(
            "anything",
            "not a phc string",
            &mut memory
        ));
        assert!(!verify_password("anything", decoy_hash(), &mut memory));
        // Hashes made with other parameters verify too (their PHC string carries them).
        let argon_reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 3, 4, Some(32)).unwrap(),
        )
        .hash_password(
            b"password",
            argon2::password_hash::Salt::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap(),
        )
        .unwrap()
        .to_string();
        assert!(verify_password("password", &argon_reference, &mut memory));
        assert!(memory.0.len() >= Params::default().block_count());
    }

    #[test]
    fn password_rules() {
        assert!(validate_password("short").is_err());
        assert!(validate_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        assert!(validate_password("twelve chars").is_ok());
        let generated = generate_password();
        assert!(validate_password(&generated).is_ok());
        assert_ne!(generated, generate_password());
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in ["", "ada", "@x", "ada@", "a b@x", "a@b@c", "a\u{7}@x"] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }
}
