//! Opening a store as every Sealtrail process does (the server, and CLI commands that work on a
//! data directory or database directly), so both apply the same permissions and settings.

use sealtrail_store::pg::{PgOptions, PgStore};
use sealtrail_store::sqlite::{SqliteOptions, SqliteStore};
use sealtrail_store::{Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory could not be created or given owner-only permissions.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database refused to open, migrate or connect.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Opens (creating if needed, with owner-only permissions: it holds the log and the
/// pseudonymised values) the embedded SQLite store in `data_dir`.
pub fn open_embedded(data_dir: &Path) -> Result<Arc<dyn Store>, OpenError> {
    let io_err = |source| OpenError::DataDir {
        path: data_dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(io_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err)?;
    }
    Ok(Arc::new(SqliteStore::open(
        data_dir,
        SqliteOptions::default(),
    )?))
}

/// Connects to a PostgreSQL database (migrating it if needed) with the default node settings,
/// reading pages and exports from `replica` when given, trusting the CAs in `ca_file` (else
/// Mozilla's roots) for TLS.
pub async fn open_postgres(
    url: &str,
    replica: Option<&str>,
    ca_file: Option<PathBuf>,
) -> Result<Arc<dyn Store>, OpenError> {
    let options = PgOptions {
        ca_file,
        ..PgOptions::default()
    };
    let pool_size = options.pool_size;
    let mut store = PgStore::connect(url, options).await?;
    if let Some(replica) = replica {
        store = store.with_read_replica(replica, pool_size).await?;
    }
    Ok(Arc::new(store))
}
