//! Sealtrail's HTTP service: thin axum handlers over the domain in `sealtrail-core` and the
//! `Store` trait in `sealtrail-store`.
//!
//! [`start`] opens the embedded store in a data directory, creates a first tenant and admin key
//! when the directory is new, binds, and serves until [`RunningServer::wait`] sees ctrl-c or
//! SIGTERM. The CLI and the integration tests use exactly this entry point.

pub mod app;
pub mod auth;
pub mod client_addr;
pub mod cors;
pub mod download;
pub mod error;
pub mod listener;
pub mod openapi;
pub mod process_metrics;
pub mod proofs;
pub mod request;
pub mod request_id;
pub mod routes;
pub mod state;
pub mod web;

pub use sealtrail_service::{Bootstrap, CreatedKey, ServiceError};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sealtrail_core::ingest::Limits;
use sealtrail_service::metrics_catalog::{self, MetricKind};
use sealtrail_service::{
    checkpointer, jobs, lifecycle, node_id, secret_file, signed_memory, signing, sinks, stores,
    tenants, throttle, usage, witness, witnesses,
};
use sealtrail_store::{Store, StoreError};
use state::AppState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory could not be created or used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The listen address could not be bound (in use, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store failed to open or serve.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data directory or database could not be opened.
    #[error(transparent)]
    Open(#[from] stores::OpenError),
    /// First-start set-up failed.
    #[error("first-start set-up failed: {0}")]
    Bootstrap(#[from] ServiceError),
    /// The database's tree does not extend a checkpoint this node signed (or that record could
    /// not be read): signing now would fork the log.
    #[error("refusing to start: {0}")]
    Checkpoints(#[from] checkpointer::CheckpointError),
    /// The record of this node's signed checkpoints could not be read.
    #[error("refusing to start: {0}")]
    SignedMemory(#[from] signed_memory::MemoryError),
    /// The witness role could not start (its key or state file).
    #[error("witness: {0}")]
    Witness(#[from] witness::WitnessError),
    /// A key kept in a file (the checkpoint signing key, the pseudonym key) could not be
    /// loaded or created.
    #[error(transparent)]
    KeyFile(#[from] secret_file::SecretFileError),
    /// The node's name among the nodes sharing a database could not be read or created.
    #[error(transparent)]
    NodeId(#[from] node_id::NodeIdError),
    /// A configuration value is unusable (e.g. a trusted proxy that is not an address).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The export jobs directory could not be opened or recovered.
    #[error(transparent)]
    ExportJobs(#[from] jobs::JobError),
    /// The HTTP server stopped with an error.
    #[error("HTTP server error: {0}")]
    Serve(std::io::Error),
}

/// How to run the service.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind; port 0 picks a free port (tests do this).
    pub listen: SocketAddr,
    /// Where the embedded database lives, and in every case this node's own files (the
    /// signing key by default, background export files).
    pub data_dir: PathBuf,
    /// A PostgreSQL connection URL: use that database instead of the embedded one, so any
    /// number of nodes can serve one log. `None` keeps the embedded SQLite database.
    pub database_url: Option<String>,
    /// A PostgreSQL streaming replica to serve pages, counts, facets and exports from (only
    /// with `database_url`).
    pub database_replica_url: Option<String>,
    /// PEM file of the CAs to trust for the database's TLS certificate; `None` trusts
    /// Mozilla's roots.
    pub database_ca: Option<PathBuf>,
    /// Largest request body accepted (a 1,000-event batch of typical events fits in 8 MiB).
    pub max_body_bytes: usize,
    /// Requests taking longer (reading the body included) are answered 408 rather than holding
    /// a connection forever. Must be shorter than `idle_timeout`.
    pub request_timeout: Duration,
    /// Time a client has to send a request head, on a new connection and between requests on a
    /// kept-alive one.
    pub header_timeout: Duration,
    /// A connection on which no byte moves either way for this long, with no handler at work on
    /// it, is closed.
    pub idle_timeout: Duration,
    /// Most open connections (lowered to what the descriptor limit allows); at the cap a new
    /// connection replaces an idle one, or is answered 503 when all are busy.
    pub max_connections: usize,
    /// Most requests in progress at once; beyond it requests are answered 503 with
    /// `Retry-After` (health checks and metrics excepted).
    pub max_concurrent_requests: usize,
    /// How long shutdown waits for requests in progress before cutting connections and signing
    /// the final checkpoint.
    pub shutdown_timeout: Duration,
    /// How much ingest work the node holds at once (beyond it: 503 with `Retry-After`).
    pub ingest_capacity: usage::IngestCapacity,
    /// The checkpoint signing key; default `<data_dir>/checkpoint-signing.key`. Nodes sharing
    /// one database must share this file.
    pub signing_key_file: Option<PathBuf>,
    /// The pseudonym key (HMAC key of erased subjects' pseudonyms); default
    /// `<data_dir>/pseudonym.key`. Nodes sharing one database must share this file.
    pub pseudonym_key_file: Option<PathBuf>,
    /// How often growing logs get a new signed checkpoint (at most this long unsigned).
    pub checkpoint_interval: Duration,
    /// When the nightly retention prune runs (UTC); `None` disables the schedule.
    pub prune_at: Option<lifecycle::DailyAt>,
    /// Whether sinks may deliver to receivers on private networks (loopback, RFC 1918,
    /// link-local, …). Off by default, so a tenant's admin cannot point the server at the
    /// services beside it; on for a deployment whose SIEM sits on its own network.
    pub sink_private_networks: bool,
    /// A PEM file of CA certificates sinks trust beside Mozilla's roots: receivers (HTTPS,
    /// syslog over TLS) whose certificates a private CA issued.
    pub sink_ca: Option<PathBuf>,
    /// How long a finished export job's file is served (jobs and their files live in the
    /// database, or beside it on SQLite, so the space they take is bounded by this).
    pub export_retention: Duration,
    /// Most export jobs running at once; the rest wait queued, so jobs cannot starve requests.
    pub export_job_concurrency: usize,
    /// Proxies (CIDR blocks or addresses) whose `X-Forwarded-For` header names the client;
    /// empty (the default) believes no header, only the connection's peer address.
    pub trusted_proxies: Vec<String>,
    /// Witnesses asked to cosign every checkpoint of every tenant's log (none by default).
    pub witnesses: Vec<witnesses::WitnessSpec>,
    /// Cosignatures a checkpoint needs to count as witnessed; `None`: all witnesses.
    pub witness_quorum: Option<usize>,
    /// Logs this process witnesses for others (`POST /witness/add-checkpoint`); empty turns
    /// the witness role off.
    pub witness_for: Vec<witness::WitnessedLog>,
    /// The witness key; default `<data_dir>/witness-signing.key` (created when witnessing).
    pub witness_key_file: Option<PathBuf>,
    /// The witness's name on its cosignatures (used when its key is created).
    pub witness_name: String,
    /// Mark the session cookie `Secure` (default). Browsers accept it on `http://localhost`;
    /// turn it off only to serve the page over plain HTTP on another address.
    pub secure_cookies: bool,
}

impl ServerConfig {
    /// Defaults for everything but where to listen and store.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        ServerConfig {
            listen,
            data_dir,
            database_url: None,
            database_replica_url: None,
            database_ca: None,
            max_body_bytes: 8 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_concurrent_requests: 256,
            shutdown_timeout: Duration::from_secs(10),
            ingest_capacity: usage::IngestCapacity {
                body_buffer_mib: 128,
                queued_events: 20_000,
            },
            signing_key_file: None,
            pseudonym_key_file: None,
            checkpoint_interval: Duration::from_secs(1),
            prune_at: Some(lifecycle::DailyAt { hour: 3, minute: 0 }),
            sink_private_networks: false,
            sink_ca: None,
            export_retention: Duration::from_secs(24 * 3600),
            export_job_concurrency: 2,
            trusted_proxies: Vec::new(),
            witnesses: Vec::new(),
            witness_quorum: None,
            witness_for: Vec::new(),
            witness_key_file: None,
            witness_name: witness::DEFAULT_NAME.to_string(),
            secure_cookies: true,
        }
    }
}

/// The process-wide Prometheus recorder: the `metrics` facade allows one global recorder, and
/// several servers may run in one process (tests).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for metric in metrics_catalog::ALL {
                if let MetricKind::Histogram(buckets) = metric.kind {
                    if buckets.is_empty() {
                        // The catalog's own test refuses this; skipped rather than lose the
                        // builder to the error an empty list would give.
                        continue;
                    }
                    builder = builder
                        .set_buckets_for_metric(Matcher::Full(metric.name.to_string()), buckets)
                        .unwrap_or_else(|_| PrometheusBuilder::new());
                }
            }
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed by an embedding program; then our
            // handle renders only what we record, which is still correct for /metrics.
            let _ = metrics::set_global_recorder(recorder);
            for metric in metrics_catalog::ALL {
                match metric.kind {
                    MetricKind::Counter => metrics::describe_counter!(metric.name, metric.help),
                    MetricKind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
                    MetricKind::Histogram(_) => {
                        metrics::describe_histogram!(metric.name, metric.help)
                    }
                }
            }
            handle
        })
        .clone()
}

/// A server that is accepting connections.
pub struct RunningServer {
    local_addr: SocketAddr,
    bootstrap: Option<Bootstrap>,
    witness_key: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    background: watch::Sender<bool>,
    checkpointer: Arc<checkpointer::Checkpointer>,
    signals: Option<ShutdownSignals>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Base URL clients use.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// This process's witness verifier key, when it witnesses other logs (`serve` prints it
    /// for the logs' operators to configure).
    pub fn witness_key(&self) -> Option<&str> {
        self.witness_key.as_deref()
    }

    /// The checkpoint signer (tests and the CLI use its public key).
    pub fn checkpointer(&self) -> &Arc<checkpointer::Checkpointer> {
        &self.checkpointer
    }

    /// What first-start set-up created, if this start did it.
    pub fn bootstrap(&self) -> Option<&Bootstrap> {
        self.bootstrap.as_ref()
    }

    /// Serves until ctrl-c or SIGTERM, then finishes in-flight requests and returns.
    pub async fn wait(mut self) -> Result<(), ServerError> {
        let mut signals = self
            .signals
            .take()
            .unwrap_or_else(ShutdownSignals::register);
        tokio::select! {
            result = &mut self.task => return flatten(result),
            () = signals.recv() => tracing::info!("shutting down: finishing in-flight requests"),
        }
        self.shutdown().await
    }

    /// Stops accepting, finishes in-flight requests, and returns.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let served = flatten((&mut self.task).await);
        let _ = self.background.send(true);
        // A final checkpoint, so everything acknowledged before shutdown is signed.
        let mut signed = Vec::new();
        for tenant in self
            .checkpointer
            .store()
            .list_tenants()
            .await
            .unwrap_or_default()
        {
            match self.checkpointer.checkpoint_now(tenant.id).await {
                Ok(checkpoint) => signed.push((tenant.id, checkpoint)),
                Err(e) => {
                    tracing::warn!(tenant = %tenant.name, error = %e, "final checkpoint not signed")
                }
            }
        }
        // And, with witnesses, one bounded wait for their cosignatures of those checkpoints
        // (all logs at once), so the newest checkpoint a stopped node leaves is witnessed.
        let witnesses = self.checkpointer.witnesses();
        witnesses
            .cosign_all(
                self.checkpointer.store().as_ref(),
                signed,
                FINAL_COSIGN_WAIT,
            )
            .await;
        served
    }
}

/// How long shutdown waits, in all, for witnesses to cosign the final checkpoints.
const FINAL_COSIGN_WAIT: Duration = Duration::from_secs(3);

fn flatten(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> Result<(), ServerError> {
    match result {
        Ok(inner) => inner.map_err(ServerError::Serve),
        Err(join) => Err(ServerError::Serve(std::io::Error::other(join.to_string()))),
    }
}

/// Termination signals, registered when the server starts — not when [`RunningServer::wait`]
/// is first polled — so a SIGTERM arriving right after the URL is printed still shuts down
/// gracefully instead of killing the process.
struct ShutdownSignals {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            ShutdownSignals {
                terminate: signal(SignalKind::terminate()).ok(),
                interrupt: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        ShutdownSignals {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = next(&mut self.terminate) => {},
                () = next(&mut self.interrupt) => {},
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Opens the configured store (PostgreSQL when a URL is given, else the embedded one in
/// `config.data_dir`) and starts serving.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    let store = match &config.database_url {
        Some(url) => {
            let replica = config.database_replica_url.as_deref();
            stores::open_postgres(url, replica, config.database_ca.clone()).await?
        }
        None if config.database_replica_url.is_some() => {
            return Err(ServerError::Config(
                "a read replica needs a PostgreSQL database (--database) too".into(),
            ))
        }
        None => stores::open_embedded(&config.data_dir)?,
    };
    start_with_store(config, store).await
}

/// Starts serving over any store (the PostgreSQL backend and tests use this).
pub async fn start_with_store(
    config: ServerConfig,
    store: Arc<dyn Store>,
) -> Result<RunningServer, ServerError> {
    let backend = if config.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    // Through the handle, so the exporter is set up (buckets, help) before the first series.
    let _ = metrics_handle();
    metrics::gauge!("sealtrail_build_info", "version" => env!("CARGO_PKG_VERSION"), "backend" => backend)
        .set(1.0);
    let trusted_proxies = sealtrail_core::ip_allowlist::IpAllowlist::parse(&config.trusted_proxies)
        .map_err(|e| ServerError::Config(format!("trusted proxy: {e}")))?;
    let capacity = config.ingest_capacity;
    if capacity.body_buffer_mib.saturating_mul(1 << 20) < config.max_body_bytes
        || capacity.queued_events < sealtrail_core::ingest::Limits::default().max_batch
    {
        return Err(ServerError::Config(format!(
            "the ingest buffer ({} MiB) must hold at least one largest body ({} bytes) and the queue ({} events) one largest batch ({} events)",
            capacity.body_buffer_mib,
            config.max_body_bytes,
            capacity.queued_events,
            sealtrail_core::ingest::Limits::default().max_batch
        )));
    }
    if config.idle_timeout <= config.request_timeout {
        return Err(ServerError::Config(format!(
            "the idle timeout ({} s) must be longer than the request timeout ({} s), or slow requests would be cut mid-way",
            config.idle_timeout.as_secs_f64(),
            config.request_timeout.as_secs_f64()
        )));
    }
    let bootstrap = tenants::bootstrap(store.as_ref()).await?;
    let key_file = config
        .signing_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join(signing::DEFAULT_KEY_FILE));
    let (signer, created) = signing::load_or_create(&key_file, signing::DEFAULT_KEY_NAME)?;
    if created {
        tracing::info!(path = %key_file.display(), verifier = %signer.verifier(), "created the checkpoint signing key");
    }
    let pseudonym_file = config
        .pseudonym_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join(secret_file::PSEUDONYM_KEY_FILE));
    let (pseudonym_key, created) = secret_file::pseudonym_key(&pseudonym_file)?;
    if created {
        tracing::info!(path = %pseudonym_file.display(), "created the pseudonym key");
    }
    let memory_file = config.data_dir.join(signed_memory::FILE_NAME);
    let memory = signed_memory::SignedMemory::open(&memory_file, &signer.verifier())?;
    let witnesses = Arc::new(
        witnesses::Witnesses::new(config.witnesses.clone(), config.witness_quorum)
            .map_err(ServerError::Config)?,
    );
    let witness = if config.witness_for.is_empty() {
        None
    } else {
        let key_file = config
            .witness_key_file
            .clone()
            .unwrap_or_else(|| config.data_dir.join(witness::DEFAULT_KEY_FILE));
        Some(Arc::new(witness::Witness::open(
            &key_file,
            &config.witness_name,
            &config.data_dir.join(witness::STATE_FILE),
            config.witness_for.clone(),
        )?))
    };
    let checkpointer = Arc::new(checkpointer::Checkpointer::new(
        store.clone(),
        signer,
        memory,
        witnesses.clone(),
    ));
    // Never sign on top of a database that went back behind what this node signed.
    checkpointer.check_all().await?;
    // An erasure cut short by a stop or crash gets its `subject.erased` entry now (after the
    // rollback check, so a refused database is not written to), so verify does not keep
    // finding erased values that no entry in the log accounts for.
    match lifecycle::finish_erasures(store.as_ref(), &pseudonym_key).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(runs = n, "recorded erasure runs left without their entry"),
        Err(e) => tracing::warn!(error = %e, "recording erasure runs failed; retried nightly"),
    }

    let (background, background_rx) = watch::channel(false);
    tokio::spawn(
        checkpointer
            .clone()
            .run(config.checkpoint_interval, background_rx.clone()),
    );
    if !witnesses.is_empty() {
        tokio::spawn(witnesses.clone().run(store.clone(), background_rx.clone()));
        // Checkpoints signed before the witnesses were configured (or while they were down).
        for tenant in store.list_tenants().await? {
            witnesses.notify(tenant.id);
        }
    }
    let node = node_id::load_or_create(&config.data_dir)?;
    jobs::remove_legacy_files(&config.data_dir.join("exports"));
    let exports = jobs::ExportJobs::open(
        jobs::JobsConfig {
            node: node.clone(),
            retention: config.export_retention,
            concurrency: config.export_job_concurrency,
        },
        store.clone(),
        checkpointer.clone(),
        background_rx.clone(),
    )
    .await?;
    tokio::spawn(exports.clone().run());
    tokio::spawn(web::sweep_expired_sessions(
        store.clone(),
        background_rx.clone(),
    ));
    let pseudonym_key = Arc::new(pseudonym_key);
    if let Some(at) = config.prune_at {
        tokio::spawn(lifecycle::run_daily_prune(
            store.clone(),
            at,
            pseudonym_key.clone(),
            background_rx.clone(),
        ));
    }
    let deliverer = sinks::delivery::Deliverer::new(
        store.clone(),
        node,
        pseudonym_key.clone(),
        checkpointer.verifier(),
        sinks::delivery::Reach {
            private_networks: config.sink_private_networks,
            extra_roots: match &config.sink_ca {
                Some(path) => sealtrail_store::pg::read_ca_certificates(path)?,
                None => Vec::new(),
            },
        },
    )
    .map_err(|e| ServerError::Config(format!("sinks: {e}")))?;
    tokio::spawn(deliverer.clone().run(background_rx.clone()));
    let throttle = Arc::new(throttle::SignInThrottle::new(store.clone(), &pseudonym_key));
    let state = AppState {
        store,
        pseudonym_key,
        limits: Arc::new(Limits::default()),
        max_body_bytes: config.max_body_bytes,
        metrics: metrics_handle(),
        checkpointer: checkpointer.clone(),
        exports,
        trusted_proxies: Arc::new(trusted_proxies),
        secure_cookies: config.secure_cookies,
        throttle,
        usage: Arc::new(usage::Usage::new(config.ingest_capacity)),
        schemas: Arc::new(sealtrail_service::schemas::SchemaRegistry::default()),
        witness: witness.clone(),
        cors: Arc::new(cors::CorsOrigins::new()),
        deliverer,
    };
    let app = app::router(state, config.request_timeout);
    let tcp = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = tcp.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;
    let limits = listener::ConnectionLimits {
        header_timeout: config.header_timeout,
        idle_timeout: config.idle_timeout,
        max_connections: listener::connection_capacity(config.max_connections),
        max_concurrent_requests: config.max_concurrent_requests,
        shutdown_timeout: config.shutdown_timeout,
        max_discarded_body: config.max_body_bytes,
    };
    if limits.max_connections < config.max_connections {
        tracing::warn!(
            wanted = config.max_connections,
            allowed = limits.max_connections,
            "the open-file limit allows fewer connections than configured; raise `ulimit -n`"
        );
    }
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(listener::serve(tcp, app, limits, rx));
    tracing::info!(%local_addr, max_connections = limits.max_connections, "sealtrail listening");
    Ok(RunningServer {
        local_addr,
        bootstrap,
        witness_key: witness.map(|w| w.verifier().to_string()),
        shutdown: Some(tx),
        background,
        checkpointer,
        signals: Some(ShutdownSignals::register()),
        task,
    })
}
