//! `sealtrail serve`: the service on the embedded store (or PostgreSQL), with first-start
//! credentials printed once.

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use sealtrail_server::ServerConfig;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Options for `serve`; every one can also come from the environment, for containers.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SEALTRAIL_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory holding the embedded database and this node's files (signing key, export
    /// jobs); created with owner-only permissions.
    #[arg(long, env = "SEALTRAIL_DATA_DIR", default_value = "./sealtrail-data")]
    data_dir: PathBuf,
    /// PostgreSQL connection URL (`postgres://user:password@host:5432/database`): keep the log
    /// there instead of the embedded database, so several nodes can serve it.
    #[arg(long = "database", env = "SEALTRAIL_DATABASE_URL")]
    database_url: Option<String>,
    /// A streaming replica of that database to serve pages, counts and exports from.
    #[arg(
        long = "database-replica",
        env = "SEALTRAIL_DATABASE_REPLICA_URL",
        requires = "database_url"
    )]
    database_replica_url: Option<String>,
    /// PEM file of the certificate authorities to trust for the database's TLS certificate
    /// (default: Mozilla's roots).
    #[arg(
        long = "database-ca",
        env = "SEALTRAIL_DATABASE_CA",
        requires = "database_url"
    )]
    database_ca: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "SEALTRAIL_MAX_BODY_BYTES", default_value_t = 8 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Requests running longer are answered 408.
    #[arg(long, env = "SEALTRAIL_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// Seconds a client has to send a request's headers, on a new connection and between
    /// requests on a kept-alive one; slower connections are closed.
    #[arg(long, env = "SEALTRAIL_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    header_timeout_secs: u64,
    /// Seconds a connection may go with no byte moving either way (a stalled upload, a download
    /// nobody reads) before it is closed, not counting time the server spends producing the
    /// answer; longer than --request-timeout-secs.
    #[arg(long, env = "SEALTRAIL_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    idle_timeout_secs: u64,
    /// Most open connections (lowered to fit the open-file limit). At the cap a new connection
    /// replaces one that is doing nothing, or gets 503 when all are busy.
    #[arg(long, env = "SEALTRAIL_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// Most requests in progress at once; more are answered 503 with Retry-After.
    #[arg(long, env = "SEALTRAIL_MAX_CONCURRENT_REQUESTS", default_value_t = 256)]
    max_concurrent_requests: usize,
    /// Seconds shutdown waits for requests in progress before cutting connections and signing
    /// the final checkpoint.
    #[arg(long, env = "SEALTRAIL_SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    shutdown_timeout_secs: u64,
    /// MiB of ingest request bodies read and parsed at once; more get 503 with Retry-After.
    #[arg(long, env = "SEALTRAIL_INGEST_BUFFER_MIB", default_value_t = 128)]
    ingest_buffer_mib: usize,
    /// Events parsed and waiting for the writer at most; more get 503 with Retry-After.
    #[arg(long, env = "SEALTRAIL_MAX_QUEUED_EVENTS", default_value_t = 20_000)]
    max_queued_events: usize,
    /// Checkpoint signing key file (created 0600 on first start). Default: in the data
    /// directory. Nodes sharing one database must share this file.
    #[arg(long, env = "SEALTRAIL_SIGNING_KEY_FILE")]
    signing_key_file: Option<PathBuf>,
    /// Pseudonym key file: the secret that makes erased subjects' pseudonyms impossible to
    /// confirm by guessing (created 0600 on first start). Default: in the data directory.
    /// Nodes sharing one database must share this file.
    #[arg(long, env = "SEALTRAIL_PSEUDONYM_KEY_FILE")]
    pseudonym_key_file: Option<PathBuf>,
    /// Daily time (UTC, HH:MM) of the retention prune.
    #[arg(long, env = "SEALTRAIL_PRUNE_AT", default_value = "03:00")]
    prune_at: sealtrail_service::lifecycle::DailyAt,
    /// Do not run the nightly prune in this process (e.g. all but one node of a cluster).
    #[arg(long, env = "SEALTRAIL_NO_NIGHTLY_PRUNE")]
    no_nightly_prune: bool,
    /// Let sinks deliver to receivers on private networks (loopback, 10/8, 172.16/12,
    /// 192.168/16, link-local, …); off by default, so a tenant's admin cannot make the server
    /// call the services beside it.
    #[arg(long, env = "SEALTRAIL_SINK_PRIVATE_NETWORKS")]
    sink_private_networks: bool,
    /// A PEM file of CA certificates sinks trust beside Mozilla's roots, for receivers
    /// (HTTPS, syslog over TLS) whose certificates a private CA issued.
    #[arg(long, env = "SEALTRAIL_SINK_CA")]
    sink_ca: Option<PathBuf>,
    /// How long finished background export files are kept before they expire.
    #[arg(long, env = "SEALTRAIL_EXPORT_RETENTION_HOURS", default_value_t = 24)]
    export_retention_hours: u64,
    /// Background export jobs run at once (others wait, queued).
    #[arg(long, env = "SEALTRAIL_EXPORT_JOBS", default_value_t = 2)]
    export_jobs: usize,
    /// A reverse proxy (address or CIDR block) whose `X-Forwarded-For` header names the real
    /// client, for the IP allowlist and audit entries. Repeat for several. Default: none, so the
    /// header is ignored and the connection's address is used.
    #[arg(
        long = "trusted-proxy",
        env = "SEALTRAIL_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<String>,
    /// Send the session cookie without `Secure`, for serving the web page over plain HTTP on an
    /// address other than localhost. Prefer HTTPS (a TLS-terminating proxy) instead.
    #[arg(long, env = "SEALTRAIL_INSECURE_COOKIES")]
    insecure_cookies: bool,
    /// A witness to ask for a cosignature of every checkpoint: `<witness key> <URL prefix>`
    /// (the URL its `add-checkpoint` lives under, e.g. `https://w.example/witness`). Repeat for
    /// several (in the environment, separate them with `;`).
    #[arg(long = "witness", env = "SEALTRAIL_WITNESSES", value_delimiter = ';')]
    witnesses: Vec<String>,
    /// Cosignatures a checkpoint needs to count as witnessed (default: every --witness).
    #[arg(long, env = "SEALTRAIL_WITNESS_QUORUM", requires = "witnesses")]
    witness_quorum: Option<usize>,
    /// Act as a witness for another installation's logs: `<origin prefix> <log verifier key>`
    /// (e.g. `sealtrail/0a1b2c3d/ sealtrail+1234abcd+AX…`). Repeat for several (`;` in the
    /// environment). Turns on `POST /witness/add-checkpoint`.
    #[arg(
        long = "witness-for",
        env = "SEALTRAIL_WITNESS_FOR",
        value_delimiter = ';'
    )]
    witness_for: Vec<String>,
    /// The witness's key file (created 0600 on first start). Default: in the data directory.
    #[arg(long, env = "SEALTRAIL_WITNESS_KEY_FILE")]
    witness_key_file: Option<PathBuf>,
    /// The witness's name on its cosignatures, used when its key is created (a URL-like
    /// identifier such as `witness.example.com/sealtrail`).
    #[arg(long, env = "SEALTRAIL_WITNESS_NAME", default_value = sealtrail_service::witness::DEFAULT_NAME)]
    witness_name: String,
    /// Log line format on stderr (`RUST_LOG` sets the level, default `info`).
    #[arg(long, env = "SEALTRAIL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// A TOML file of these settings (docs/configuration.md); a flag or a `SEALTRAIL_*`
    /// variable overrides what it says. Check one with `sealtrail config check`.
    #[arg(long, env = "SEALTRAIL_CONFIG")]
    config: Option<PathBuf>,
}

impl ServeArgs {
    /// The rules no single flag's parser can check: what `serve` refuses before it starts, and
    /// what `config check` reports.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.request_timeout_secs == 0 || self.header_timeout_secs == 0 {
            anyhow::bail!("--request-timeout-secs and --header-timeout-secs must be at least 1");
        }
        if self.max_connections == 0 || self.max_concurrent_requests == 0 {
            anyhow::bail!("--max-connections and --max-concurrent-requests must be at least 1");
        }
        if self.export_retention_hours == 0 || self.export_jobs == 0 {
            anyhow::bail!("--export-retention-hours and --export-jobs must be at least 1");
        }
        if self.idle_timeout_secs <= self.request_timeout_secs {
            anyhow::bail!(
                "--idle-timeout-secs ({}) must be longer than --request-timeout-secs ({}), or slow requests would be cut mid-way",
                self.idle_timeout_secs,
                self.request_timeout_secs
            );
        }
        if self.database_replica_url.is_some() && self.database_url.is_none() {
            anyhow::bail!("a read replica (--database-replica) needs --database too");
        }
        Ok(())
    }
}

/// Human-readable lines for a terminal, or JSON lines for a log pipeline.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a person at a terminal: a journal, a file or a log shipper gets
    // plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    // A second initialisation (never in this binary) would only be refused; ignore that.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Serves until ctrl-c or SIGTERM. The URL (and, on first start, the admin key) go to stdout so
/// scripts can read them; logs go to stderr.
pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);
    args.check()?;
    if let Some(file) = &args.config {
        tracing::info!(file = %file.display(), "settings read from the configuration file");
    }
    let mut config = ServerConfig::new(args.listen, args.data_dir.clone());
    config.database_url = args.database_url.clone();
    config.database_replica_url = args.database_replica_url.clone();
    config.database_ca = args.database_ca.clone();
    config.max_body_bytes = args.max_body_bytes;
    config.request_timeout = Duration::from_secs(args.request_timeout_secs);
    config.header_timeout = Duration::from_secs(args.header_timeout_secs);
    config.idle_timeout = Duration::from_secs(args.idle_timeout_secs);
    config.max_connections = args.max_connections;
    config.max_concurrent_requests = args.max_concurrent_requests;
    config.shutdown_timeout = Duration::from_secs(args.shutdown_timeout_secs);
    config.ingest_capacity = sealtrail_service::usage::IngestCapacity {
        body_buffer_mib: args.ingest_buffer_mib,
        queued_events: args.max_queued_events,
    };
    config.signing_key_file = args.signing_key_file.clone();
    config.pseudonym_key_file = args.pseudonym_key_file.clone();
    config.prune_at = (!args.no_nightly_prune).then_some(args.prune_at);
    config.sink_private_networks = args.sink_private_networks;
    config.sink_ca = args.sink_ca.clone();
    config.export_retention = Duration::from_secs(args.export_retention_hours * 3600);
    config.export_job_concurrency = args.export_jobs;
    config.trusted_proxies = args.trusted_proxies.clone();
    config.secure_cookies = !args.insecure_cookies;
    config.witnesses = args
        .witnesses
        .iter()
        .map(|w| {
            w.parse()
                .map_err(|e: String| anyhow::anyhow!("--witness: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    config.witness_quorum = args.witness_quorum;
    config.witness_for = args
        .witness_for
        .iter()
        .map(|w| {
            w.parse()
                .map_err(|e: String| anyhow::anyhow!("--witness-for: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    config.witness_key_file = args.witness_key_file.clone();
    config.witness_name = args.witness_name.clone();
    let database = match &args.database_url {
        Some(url) => sealtrail_store::pg::redacted_url(url),
        None => args.data_dir.display().to_string(),
    };
    let server = sealtrail_server::start(config)
        .await
        .with_context(|| format!("starting with database {database}"))?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "Sealtrail listening on {}", server.url())?;
    match &args.database_url {
        Some(_) => writeln!(out, "Database: {database}")?,
        None => writeln!(out, "Data directory: {database}")?,
    }
    if let Some(key) = server.witness_key() {
        writeln!(out, "Witness key (give it to the logs you witness): {key}")?;
    }
    if let Some(first) = server.bootstrap() {
        writeln!(
            out,
            "First start: created tenant \"{}\" with an admin API key (shown only now):",
            first.tenant
        )?;
        writeln!(out, "  export SEALTRAIL_URL={}", server.url())?;
        writeln!(out, "  export SEALTRAIL_KEY={}", first.admin_key)?;
        writeln!(
            out,
            "Web page: {}/signin?workspace={} — sign in as {} with password {} (shown only now; change it under Account)",
            server.url(),
            first.tenant,
            first.owner_email,
            first.owner_password
        )?;
    }
    out.flush()?;
    drop(out);

    server.wait().await?;
    Ok(ExitCode::SUCCESS)
}
