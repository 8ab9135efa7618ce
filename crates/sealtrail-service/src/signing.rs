//! The checkpoint signing key: created once, kept in a file only its owner can read.
//!
//! The key signs every checkpoint of every tenant on this installation. It lives in a file, not
//! in the database, so a database copy handed to someone (or a backup) cannot be used to forge
//! checkpoints, and so several stateless nodes can share one key file.

use crate::secret_file::{self, SecretFileError};
use sealtrail_core::checkpoint::NoteSigner;
use std::path::Path;

/// File name of the key inside the data directory, unless configured elsewhere.
pub const DEFAULT_KEY_FILE: &str = "checkpoint-signing.key";
/// Name on signature lines and in the verifier key; no spaces or '+' allowed.
pub const DEFAULT_KEY_NAME: &str = "sealtrail";

/// Why the key could not be loaded or created.
pub type SigningKeyError = SecretFileError;

/// Loads the key from `path`, or creates it there (mode 0600) when the file does not exist.
/// Returns the signer and whether it was created now.
pub fn load_or_create(path: &Path, name: &str) -> Result<(NoteSigner, bool), SigningKeyError> {
    secret_file::load_or_create(
        path,
        "signing key",
        |text| NoteSigner::from_private_key_string(text).map_err(|e| e.to_string()),
        || {
            let signer = NoteSigner::generate(name).map_err(|e| e.to_string())?;
            let text = signer.private_key_string();
            Ok((signer, text))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_owner_only_mode_then_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_KEY_FILE);
        let (first, created) = load_or_create(&path, DEFAULT_KEY_NAME).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let (again, created) = load_or_create(&path, DEFAULT_KEY_NAME).unwrap();
        assert!(!created);
        assert_eq!(first.verifier(), again.verifier());
    }

    #[cfg(unix)]
    #[test]
    fn a_key_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_KEY_FILE);
        load_or_create(&path, DEFAULT_KEY_NAME).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_or_create(&path, DEFAULT_KEY_NAME),
            Err(SigningKeyError::TooOpen { .. })
        ));
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_KEY_FILE);
        let signer = NoteSigner::generate("x").unwrap();
        secret_file::write_new(&path, &signer.private_key_string()).unwrap();
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            load_or_create(&path, DEFAULT_KEY_NAME),
            Err(SigningKeyError::Invalid { .. })
        ));
    }
}
