//! API keys: how they look, how they are stored (hashed, never in plain text) and what they allow.
//!
//! A key reads `st_<prefix>_<secret>`. The 12-character prefix is stored in clear to find the
//! row; the full key is stored only as SHA-256. Keys carry 192 bits of randomness, so a fast
//! hash is enough (unlike passwords, they cannot be guessed from a dictionary), and lookups stay
//! cheap on every request.

use crate::timestamp::Timestamp;
use crate::TenantId;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;

/// What a key may do. `Admin` implies every other scope.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send events.
    Ingest,
    /// List, search and inspect entries.
    Read,
    /// Download exports.
    Export,
    /// Follow the log's checkpoint and tree tiles (hashes only), where the tenant allows keys
    /// to: for monitors that check the log never forks, without reading any entry.
    Monitor,
    /// Manage keys and tenant settings; implies all scopes.
    Admin,
}

impl Scope {
    /// Every scope, in display order.
    pub const ALL: [Scope; 5] = [
        Scope::Ingest,
        Scope::Read,
        Scope::Export,
        Scope::Monitor,
        Scope::Admin,
    ];

    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Export => "export",
            Scope::Monitor => "monitor",
            Scope::Admin => "admin",
        }
    }

    /// Parses a comma-separated list such as `ingest,read`; refuses empty lists and unknown names.
    pub fn parse_list(s: &str) -> Result<Vec<Scope>, String> {
        let mut scopes: Vec<Scope> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope: Scope = part.parse()?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err(
                "at least one scope is required (ingest, read, export, monitor, admin)".into(),
            );
        }
        scopes.sort();
        Ok(scopes)
    }

    /// Comma-separated storage form of a scope list.
    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                format!("unknown scope `{s}` (expected ingest, read, export, monitor or admin)")
            })
    }
}

/// A key's stored record: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Public identifier used to list and revoke the key (its prefix).
    pub id: String,
    /// The only tenant the key can act for; left out of serialised output.
    #[serde(skip)]
    pub tenant: TenantId,
    /// Label chosen at creation; Sealtrail's own entries name the key's actor by it.
    pub name: String,
    /// What the key grants; check with [`ApiKey::allows`], as `Admin` implies every scope.
    pub scopes: Vec<Scope>,
    /// When the key was generated.
    pub created_at: Timestamp,
    /// `None` while active; set once on revocation and kept, so the key still lists as revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// SHA-256 of the full key. Never serialised.
    #[serde(skip)]
    pub hash: [u8; 32],
}

impl ApiKey {
    /// True if the key is active and grants `needed` (admin grants everything).
    pub fn allows(&self, needed: Scope) -> bool {
        self.revoked_at.is_none()
            && (self.scopes.contains(&needed) || self.scopes.contains(&Scope::Admin))
    }
}

/// A freshly generated key: the plaintext exists only here, to be shown once.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The full key to hand to the user. Not stored anywhere.
    pub plaintext: String,
    /// The prefix, stored in clear and used as the key's public id.
    pub prefix: String,
    /// What is stored instead of the key.
    pub hash: [u8; 32],
}

const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Uniformly random text over an alphabet without look-alike characters (no 0/O, 1/l/I), for
/// secrets people may have to read or type: keys, first passwords, session tokens.
pub(crate) fn random_text(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    // 256 is not a multiple of the alphabet size; reject-and-redraw keeps it uniform.
    let limit = 256 - (256 % ALPHABET.len());
    let mut out = String::with_capacity(len);
    let mut pool = bytes.into_iter();
    while out.len() < len {
        let b = match pool.next() {
            Some(b) => b as usize,
            None => {
                let mut one = [0u8; 1];
                rand::rngs::OsRng.fill_bytes(&mut one);
                one[0] as usize
            }
        };
        if b < limit {
            out.push(ALPHABET[b % ALPHABET.len()] as char);
        }
    }
    out
}

/// Generates a new key with a 12-character prefix and a 33-character (~192-bit) secret.
pub fn generate() -> GeneratedKey {
    let prefix = random_text(12);
    let secret = random_text(33);
    let plaintext = format!("st_{prefix}_{secret}");
    let hash = hash_key(&plaintext);
    GeneratedKey {
        plaintext,
        prefix,
        hash,
    }
}

/// The stored form of a key.
pub fn hash_key(plaintext: &str) -> [u8; 32] {
    Sha256::digest(plaintext.as_bytes()).into()
}

/// Extracts the lookup prefix from a presented key, or `None` if it is not shaped like one of ours.
pub fn prefix_of(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix("st_")?;
    let (prefix, secret) = rest.split_once('_')?;
    let well_formed = prefix.len() == 12
        && secret.len() == 33
        && prefix
            .bytes()
            .chain(secret.bytes())
            .all(|b| ALPHABET.contains(&b));
    well_formed.then_some(prefix)
}

/// Constant-time comparison of a presented key against the stored hash.
pub fn verify(presented: &str, stored_hash: &[u8; 32]) -> bool {
    hash_key(presented).ct_eq(stored_hash).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_verify_and_expose_their_prefix() {
        let k = generate();
        assert_eq!(prefix_of(&k.plaintext), Some(k.prefix.as_str()));
        assert!(verify(&k.plaintext, &k.hash));
        assert!(!verify(&format!("{}x", k.plaintext), &k.hash));
        assert_ne!(generate().plaintext, k.plaintext);
    }

    #[test]
    fn malformed_keys_have_no_prefix() {
        assert_eq!(prefix_of("Bearer abc"), None);
        assert_eq!(prefix_of("st_short_secret"), None);
    }

    #[test]
    fn admin_implies_everything_and_revocation_denies_all() {
        let mut key = ApiKey {
            id: "p".into(),
            tenant: TenantId(1),
            name: "n".into(),
            scopes: vec![Scope::Admin],
            created_at: Timestamp(0),
            revoked_at: None,
            hash: [0; 32],
        };
        assert!(Scope::ALL.iter().all(|s| key.allows(*s)));
        key.scopes = vec![Scope::Ingest];
        assert!(key.allows(Scope::Ingest) && !key.allows(Scope::Read));
        key.revoked_at = Some(Timestamp(1));
        assert!(!key.allows(Scope::Ingest));
    }

    #[test]
    fn scope_lists() {
        assert_eq!(
            Scope::parse_list("read, ingest,read").unwrap(),
            vec![Scope::Ingest, Scope::Read]
        );
        assert!(Scope::parse_list("").is_err());
        assert!(Scope::parse_list("root").is_err());
    }
}
