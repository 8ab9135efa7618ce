//! Web sign-in sessions: an unguessable token in an HttpOnly cookie, stored only as a hash.
//!
//! A stolen database therefore holds no usable session, as with API keys. The CSRF token of a
//! session is derived from its secret token, so forms can carry it without the store keeping a
//! second secret, and a page rendered for one session is useless to any other.

use crate::keys::random_text;
use crate::timestamp::Timestamp;
use crate::TenantId;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How long a sign-in lasts, regardless of activity: an admin console should not stay open
/// for days on a shared machine.
pub const SESSION_LIFETIME_MS: i64 = 12 * 3600 * 1000;

/// A session as stored (keyed by the token's hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the cookie token.
    pub token_hash: [u8; 32],
    /// The tenant the signed-in user belongs to.
    pub tenant: TenantId,
    /// The signed-in user's id.
    pub user_id: String,
    /// When the user signed in.
    pub created_at: Timestamp,
    /// After this instant the session is refused and may be deleted.
    pub expires_at: Timestamp,
}

impl Session {
    /// True while the session may still be used.
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// A new session token (about 256 bits); only its hash is stored.
pub fn generate_token() -> String {
    random_text(44)
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The CSRF token forms of this session carry: a keyed digest of the secret session token.
pub fn csrf_token(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"sealtrail-csrf-v1\0");
    h.update(session_token.as_bytes());
    hex::encode(h.finalize())
}

/// Checks a submitted CSRF token in constant time.
pub fn csrf_matches(session_token: &str, submitted: &str) -> bool {
    csrf_token(session_token)
        .as_bytes()
        .ct_eq(submitted.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let a = generate_token();
        assert_eq!(a.len(), 44);
        assert_ne!(a, generate_token());
        assert_ne!(hash_token(&a), hash_token(&generate_token()));
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let a = generate_token();
        let b = generate_token();
        assert!(csrf_matches(&a, &csrf_token(&a)));
        assert!(!csrf_matches(&a, &csrf_token(&b)));
        assert!(!csrf_matches(&a, ""));
    }
}
