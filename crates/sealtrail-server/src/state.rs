//! What every handler shares: the store and the limits it enforces.

use metrics_exporter_prometheus::PrometheusHandle;
use sealtrail_core::ingest::Limits;
use sealtrail_core::ip_allowlist::IpAllowlist;
use sealtrail_store::Store;
use std::sync::Arc;

/// Shared, cheaply cloned handler state.
#[derive(Clone)]
pub struct AppState {
    /// The log and directory (tenants, keys).
    pub store: Arc<dyn Store>,
    /// The deployment's key for erased subjects' pseudonyms (from its file, never the database).
    pub pseudonym_key: Arc<sealtrail_store::PseudonymKey>,
    /// Per-event and per-batch ingest limits.
    pub limits: Arc<Limits>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Signs checkpoints on demand (the periodic signer shares it).
    pub checkpointer: Arc<sealtrail_service::checkpointer::Checkpointer>,
    /// Background export jobs (queue, files, expiry), shared with their runners.
    pub exports: Arc<sealtrail_service::jobs::ExportJobs>,
    /// Proxies whose `X-Forwarded-For` is believed (empty: none).
    pub trusted_proxies: Arc<IpAllowlist>,
    /// Whether the session cookie carries `Secure` (off only for plain-HTTP deployments).
    pub secure_cookies: bool,
    /// Failed sign-in counts, so passwords cannot be guessed at speed.
    pub throttle: Arc<sealtrail_service::throttle::SignInThrottle>,
    /// Rate limits, quotas and the node's ingest capacity.
    pub usage: Arc<sealtrail_service::usage::Usage>,
    /// Each tenant's compiled per-action schemas, which every ingest route checks events
    /// against.
    pub schemas: Arc<sealtrail_service::schemas::SchemaRegistry>,
    /// This process's witness role for other logs, when configured.
    pub witness: Option<Arc<sealtrail_service::witness::Witness>>,
    /// Every tenant's CORS origins, cached for preflights.
    pub cors: Arc<crate::cors::CorsOrigins>,
    /// Delivers every active sink; the API wakes it when a sink is resumed or replayed.
    pub deliverer: Arc<sealtrail_service::sinks::delivery::Deliverer>,
}
