//! Secrets the service keeps in files beside the database rather than in it — the checkpoint
//! signing key, the pseudonym key — so that a copy of the database (a backup, a dump handed to
//! someone) holds neither, and several nodes can share one file. Each is created once, with
//! owner-only permissions from its first byte, and refused when others can read it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a secret file could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// Reading or writing the file failed.
    #[error("{what} file {path}: {source}")]
    Io {
        /// Which secret.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file exists but does not hold a valid secret.
    #[error("{what} file {path} is not valid: {message}")]
    Invalid {
        /// Which secret.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// Other users can read the file, so the secret must be considered leaked.
    #[error(
        "{what} file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    TooOpen {
        /// Which secret.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// Loads the secret `what` from `path` with `parse`, or, when the file does not exist, makes
/// one with `generate` (the value and its text) and writes it there. Returns the secret and
/// whether it was created now. A file that does not parse is an error, never replaced.
pub fn load_or_create<T>(
    path: &Path,
    what: &'static str,
    parse: impl Fn(&str) -> Result<T, String>,
    generate: impl FnOnce() -> Result<(T, String), String>,
) -> Result<(T, bool), SecretFileError> {
    let invalid = |message| SecretFileError::Invalid {
        what,
        path: path.to_path_buf(),
        message,
    };
    let io = |source| SecretFileError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_permissions(path, what)?;
            Ok((parse(text.trim()).map_err(invalid)?, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (secret, text) = generate().map_err(invalid)?;
            write_new(path, &text).map_err(io)?;
            Ok((secret, true))
        }
        Err(e) => Err(io(e)),
    }
}

/// Creates the file exclusively (never overwrites a secret another process just wrote) with
/// owner-only permissions from the first byte, and syncs it before the secret is used.
pub(crate) fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
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
    writeln!(file, "{text}")?;
    file.sync_all()
}

#[cfg(unix)]
fn check_permissions(path: &Path, what: &'static str) -> Result<(), SecretFileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| SecretFileError::Io {
            what,
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretFileError::TooOpen {
            what,
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _what: &'static str) -> Result<(), SecretFileError> {
    Ok(())
}

/// File name of the pseudonym key inside the data directory, unless configured elsewhere.
pub const PSEUDONYM_KEY_FILE: &str = "pseudonym.key";

/// Loads the deployment's pseudonym key from `path` (64 hex digits), or creates it there.
/// Returns the key and whether it was created now.
pub fn pseudonym_key(
    path: &Path,
) -> Result<(sealtrail_store::PseudonymKey, bool), SecretFileError> {
    load_or_create(
        path,
        "pseudonym key",
        sealtrail_store::PseudonymKey::from_hex,
        || {
            let key = sealtrail_store::PseudonymKey::generate();
            let text = key.to_hex();
            Ok((key, text))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pseudonym_key_is_created_once_owner_only_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PSEUDONYM_KEY_FILE);
        let (first, created) = pseudonym_key(&path).unwrap();
        assert!(created);
        let (again, created) = pseudonym_key(&path).unwrap();
        assert_eq!((first, created), (again, false));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
            assert!(matches!(
                pseudonym_key(&path),
                Err(SecretFileError::TooOpen { .. })
            ));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            pseudonym_key(&path),
            Err(SecretFileError::Invalid { .. })
        ));
    }
}
