//! A receiver's own token (a Splunk HEC token) kept in the database only sealed: ChaCha20-
//! Poly1305 under a key derived from the deployment's pseudonym key, the tenant and the
//! sink, with the sink's id as associated data. A copy of the database alone reveals no token,
//! and a sealed token moved onto another sink's row does not open. Every node shares the
//! pseudonym key (docs/scale-out.md), so every node can open it.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sealtrail_core::TenantId;
use sealtrail_store::PseudonymKey;
use uuid::Uuid;

const NONCE_BYTES: usize = 12;

fn cipher(key: &PseudonymKey, tenant: TenantId, sink: Uuid) -> ChaCha20Poly1305 {
    let derived = key.derive(&format!("sealtrail sink credential v1 {} {sink}", tenant.0));
    ChaCha20Poly1305::new(Key::from_slice(&derived))
}

/// `token` sealed for the sink `sink` of `tenant`: a fresh nonce, then the ciphertext.
pub fn seal(key: &PseudonymKey, tenant: TenantId, sink: Uuid, token: &str) -> Vec<u8> {
    let nonce: [u8; NONCE_BYTES] = rand::random();
    let sealed = cipher(key, tenant, sink).encrypt(
        Nonce::from_slice(&nonce),
        Payload {
            msg: token.as_bytes(),
            aad: sink.as_bytes(),
        },
    );
    // Encryption fails only for messages beyond 256 GiB; tokens are checked to 512 bytes.
    let mut out = nonce.to_vec();
    out.extend(sealed.unwrap_or_default());
    out
}

/// The token sealed in `sealed` for that sink, or why it cannot be read (another deployment's
/// key, a row changed in the database).
pub fn open(
    key: &PseudonymKey,
    tenant: TenantId,
    sink: Uuid,
    sealed: &[u8],
) -> Result<String, String> {
    const UNREADABLE: &str =
        "the sink's token cannot be opened with this deployment's pseudonym key; create the sink again";
    if sealed.len() < NONCE_BYTES {
        return Err(UNREADABLE.into());
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let plain = cipher(key, tenant, sink)
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: sink.as_bytes(),
            },
        )
        .map_err(|_| UNREADABLE.to_string())?;
    String::from_utf8(plain).map_err(|_| UNREADABLE.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> PseudonymKey {
        PseudonymKey::from_hex(&hex::encode([byte; 32])).unwrap()
    }

    #[test]
    fn a_token_opens_only_for_its_own_sink_and_key() {
        let (tenant, sink) = (TenantId(3), Uuid::now_v7());
        let sealed = seal(
            &key(1),
            tenant,
            sink,
            "B5A79AAD-D822-46CC-80D1-819F80D7BFB0",
        );
        assert!(!sealed.windows(8).any(|w| w == b"B5A79AAD".as_slice()));
        assert_eq!(
            open(&key(1), tenant, sink, &sealed).unwrap(),
            "B5A79AAD-D822-46CC-80D1-819F80D7BFB0"
        );
        assert!(open(&key(2), tenant, sink, &sealed).is_err());
        assert!(open(&key(1), tenant, Uuid::now_v7(), &sealed).is_err());
        assert!(open(&key(1), TenantId(4), sink, &sealed).is_err());
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert!(open(&key(1), tenant, sink, &flipped).is_err());
        assert!(open(&key(1), tenant, sink, &sealed[..5]).is_err());
        assert_ne!(
            seal(&key(1), tenant, sink, "t"),
            seal(&key(1), tenant, sink, "t")
        );
    }
}
