//! This node's name among the nodes sharing one database: what a sink's lease records as its
//! holder (see [`crate::sinks::delivery`]).
//!
//! Kept in the data directory ([`FILE_NAME`]) rather than drawn at every start, so a node that
//! is restarted — after a crash, an upgrade, a SIGKILL — still holds the leases it held and
//! resumes delivery at once instead of waiting for them to run out. Every node has its own
//! data directory (as it has its own record of signed checkpoints), hence its own name.

use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The file in the data directory.
pub const FILE_NAME: &str = "node-id";

/// Why the node's name could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum NodeIdError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds something other than a UUID.
    #[error("{path} does not hold a node id (a UUID); remove it to let the node draw a new one")]
    Invalid {
        /// The file.
        path: PathBuf,
    },
}

/// The node id kept in `dir`, drawn and stored (durably) the first time.
pub fn load_or_create(dir: &Path) -> Result<String, NodeIdError> {
    let path = dir.join(FILE_NAME);
    let io = |source| NodeIdError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Uuid::parse_str(text.trim())
            .map(|id| id.to_string())
            .map_err(|_| NodeIdError::Invalid { path: path.clone() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string();
            crate::durable_file::replace(&path, format!("{id}\n").as_bytes()).map_err(io)?;
            Ok(id)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_keeps_its_id_across_starts() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        assert_eq!(load_or_create(dir.path()).unwrap(), first);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(load_or_create(other.path()).unwrap(), first);
    }

    #[test]
    fn a_damaged_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "not a uuid").unwrap();
        assert!(matches!(
            load_or_create(dir.path()),
            Err(NodeIdError::Invalid { .. })
        ));
    }
}
