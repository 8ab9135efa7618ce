//! The checkpoint signing key: created once, kept in a file only its owner can read.
//!
//! The key signs every checkpoint of every tenant on this installation. It lives in a file, not
//! in the database, so a database copy handed to someone (or a backup) cannot be used to forge
//! checkpoints, and so several stateless nodes can share one key file.

use sealtrail_core::checkpoint::{NoteError, NoteSigner};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// File name of the key inside the data directory, unless configured elsewhere.
pub const DEFAULT_KEY_FILE: &str = "checkpoint-signing.key";
/// Name on signature lines and in the verifier key; no spaces or '+' allowed.
pub const DEFAULT_KEY_NAME: &str = "sealtrail";

/// Why the key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    /// Reading or writing the key file failed.
    #[error("signing key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file exists but does not hold a key.
    #[error("signing key file {path} is not a valid key: {source}")]
    Invalid {
        /// The key file.
        path: PathBuf,
        /// What was wrong.
        source: NoteError,
    },
    /// Other users can read the key, so it must be considered leaked.
    #[error(
        "signing key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    TooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// Loads the key from `path`, or creates it there (mode 0600) when the file does not exist.
/// Returns the signer and whether it was created now.
pub fn load_or_create(path: &Path, name: &str) -> Result<(NoteSigner, bool), SigningKeyError> {
    let io = |source| SigningKeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_permissions(path)?;
            let signer = NoteSigner::from_private_key_string(text.trim()).map_err(|source| {
                SigningKeyError::Invalid {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
            Ok((signer, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let signer = NoteSigner::generate(name).map_err(|source| SigningKeyError::Invalid {
                path: path.to_path_buf(),
                source,
            })?;
            write_new_key(path, &signer).map_err(io)?;
            Ok((signer, true))
        }
        Err(e) => Err(io(e)),
    }
}

/// Creates the file exclusively (never overwrites a key another process just wrote) with
/// owner-only permissions from the first byte, and syncs it before the key is used.
fn write_new_key(path: &Path, signer: &NoteSigner) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{}", signer.private_key_string())?;
    file.sync_all()
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), SigningKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| SigningKeyError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(SigningKeyError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), SigningKeyError> {
    Ok(())
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
        write_new_key(&path, &NoteSigner::generate("x").unwrap()).unwrap();
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            load_or_create(&path, DEFAULT_KEY_NAME),
            Err(SigningKeyError::Invalid { .. })
        ));
    }
}
