//! What Sealtrail does, with no HTTP in it: the actions the API, the web page and the CLI all
//! perform, so each enforces the same rules and leaves the same audit entries.
//!
//! Layering: `core` (pure domain) and `store` (the `Store` trait and its backends) sit below;
//! `export` encodes files; this crate combines them into actions (create a key, erase a
//! subject, prune a log, sign a checkpoint, run an export job, admit an ingest request);
//! `server` maps HTTP requests and pages onto these functions and [`ServiceError`] onto
//! statuses. Nothing here knows a status code, a header or a template.

pub mod audit;
pub mod checkpointer;
pub mod durable_file;
pub mod error;
pub mod export_stream;
pub mod ingest;
pub mod jobs;
pub mod lifecycle;
pub mod metrics_catalog;
pub mod node_id;
pub mod passwords;
pub mod retraced;
pub mod schemas;
pub mod secret_file;
pub mod signed_memory;
pub mod signing;
pub mod sinks;
pub mod stores;
pub mod tenants;
pub mod throttle;
pub mod timeline;
pub mod usage;
pub mod users;
pub mod witness;
pub mod witnesses;
pub mod workos;

pub use error::ServiceError;
pub use tenants::{Bootstrap, CreatedKey};

/// A mutex's contents even after a panic elsewhere: every map kept behind one here stays
/// consistent between statements, so a poisoned lock is no reason to fail a request.
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
