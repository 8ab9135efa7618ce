//! `manifest.json`: what the bundle claims to contain, checked against the signed checkpoint.

use sealtrail_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The manifest, field order as written. `exported_at`, `filters` and `entries` are the
/// exporter's claims; `origin`, `tree_size` and `root` must equal the signed checkpoint.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    /// Always [`super::FORMAT`].
    pub format: String,
    pub origin: String,
    pub tree_size: u64,
    /// Hex of the root hash.
    pub root: String,
    pub exported_at: Timestamp,
    /// Free JSON describing the selection, as the caller gave it.
    pub filters: Value,
    /// Number of lines in `entries.ndjson`.
    pub entries: u64,
}
