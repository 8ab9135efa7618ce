//! An API key row's columns as both backends read them, decoded into an [`ApiKey`] once.
//! Each backend fills [`StoredKey`] from its own row type (SQL and I/O stay native); what a
//! malformed row means is decided here.

use crate::StoreError;
use sealtrail_core::keys::{ApiKey, Scope};
use sealtrail_core::{TenantId, Timestamp};

/// The columns `id, tenant, name, scopes, hash, created_at, revoked_at` of an `api_keys` row,
/// in the order both backends select them.
pub(crate) const KEY_COLUMNS: &str = "id, tenant, name, scopes, hash, created_at, revoked_at";

/// One `api_keys` row as stored, before its scope list and hash are checked.
pub(crate) struct StoredKey {
    /// The key's public id (its prefix).
    pub id: String,
    /// Owning tenant.
    pub tenant: i64,
    /// Display name.
    pub name: String,
    /// Comma-separated scopes.
    pub scopes: String,
    /// SHA-256 of the secret.
    pub hash: Vec<u8>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Revocation time, Unix milliseconds, if revoked.
    pub revoked_at: Option<i64>,
}

impl StoredKey {
    /// The key, or `Corrupt` for a malformed scope list or hash: such a row was not written by
    /// us, and half a key must never authenticate anyone.
    pub(crate) fn decode(self) -> Result<ApiKey, StoreError> {
        let id = self.id;
        let scopes = Scope::parse_list(&self.scopes)
            .map_err(|e| StoreError::Corrupt(format!("key {id} scopes: {e}")))?;
        let hash = <[u8; 32]>::try_from(self.hash.as_slice())
            .map_err(|_| StoreError::Corrupt(format!("key {id} hash is not 32 bytes")))?;
        Ok(ApiKey {
            tenant: TenantId(self.tenant),
            name: self.name,
            scopes,
            hash,
            created_at: Timestamp(self.created_at),
            revoked_at: self.revoked_at.map(Timestamp),
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(scopes: &str, hash: Vec<u8>) -> StoredKey {
        StoredKey {
            id: "key_1".into(),
            tenant: 7,
            name: "ci".into(),
            scopes: scopes.into(),
            hash,
            created_at: 1,
            revoked_at: None,
        }
    }

    #[test]
    fn a_well_formed_row_is_a_key() {
        let key = row("ingest", vec![9; 32]).decode().unwrap();
        assert_eq!(
            (key.id.as_str(), key.tenant, key.hash),
            ("key_1", TenantId(7), [9; 32])
        );
    }

    #[test]
    fn a_malformed_row_is_corrupt_not_half_a_key() {
        for bad in [row("ingest", vec![9; 31]), row("fly", vec![9; 32])] {
            assert!(
                matches!(bad.decode(), Err(StoreError::Corrupt(m)) if m.starts_with("key key_1"))
            );
        }
    }
}
