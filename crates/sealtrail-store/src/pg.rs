//! PostgreSQL backend, for running any number of stateless Sealtrail nodes on one database.
//!
//! * [`schema`] — migrations and the monthly partitions of `entries`.
//! * [`pool`] — synchronous connections used from `spawn_blocking`, prepared-statement caches,
//!   snapshot reads and retried writes.
//! * [`writer`] and [`append`] — this node's group commit: each group locks the log-head rows
//!   of its tenants (`FOR UPDATE`, in tenant order), so appends from every node to one tenant
//!   serialise there and `seq` and the Merkle tree stay gapless.
//! * [`tree`] and [`checkpoints`] — Merkle nodes, heads, proofs and the equivocation guard.
//! * [`read`] and [`query`] — single entries, leaves, facets, filtered pages and counts.
//! * [`admin`] and [`users`] — tenants, settings, API keys, users and sessions.
//! * [`lifecycle`] — retention pruning and GDPR erasure.
//! * [`verify`] — the row streams verification checks, from one snapshot.

mod admin;
mod aliases;
mod append;
mod attempts;
mod checkpoints;
mod error;
mod facets;
mod jobs;
mod lifecycle;
mod pool;
mod query;
mod read;
mod schema;
mod schemas;
pub(crate) mod search;
mod sinks;
mod tls;
pub use tls::read_ca_certificates;
mod tree;
mod users;
mod verify;
mod writer;

use crate::facets::ActorSearch;
use crate::group_commit::{GroupLimits, WriterHandle};
use crate::Clock;
use crate::{
    appended_seq, ErasureMode, ErasureOutcome, Hash, KeyRecord, LeafRecord, LogVerification,
    Lookup, NewUser, PruneOrder, PruneOutcome, PseudonymKey, Retention, Store, StoreError,
    StoredCheckpoint, TenantLimits, TenantSettings, TileAccess, TreeHead, UserChange,
};
use crate::{Directory, EventLog, Integrity, Lifecycle, SealedPage};
use crate::{Schemas, StoredSchema};
use async_trait::async_trait;
use pool::Pool;
use sealtrail_core::entry::{Actor, Appended, NewEntry};
use sealtrail_core::filter::{FacetActor, Facets, Filter, Query};
use sealtrail_core::keys::{ApiKey, Scope};
use sealtrail_core::session::Session;
use sealtrail_core::timeline::{Tally, TallyUnit};
use sealtrail_core::users::User;
use sealtrail_core::{Tenant, TenantId, Timestamp};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use writer::PgWriter;

/// Tuning knobs. The defaults suit one node of several; tests shrink or stretch them.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections for reads and small writes: how many run in parallel on this node (the
    /// writer has one more of its own).
    pub pool_size: usize,
    /// Most entries one group commit takes from this node's queue.
    pub max_batch_entries: usize,
    /// How long the writer waits for more requests after the first before committing.
    pub group_commit_wait: Duration,
    /// PEM file of the certificate authorities to trust for the database's TLS certificate
    /// (a private CA, a managed database's own); `None` trusts Mozilla's roots.
    pub ca_file: Option<PathBuf>,
    /// Where `recorded_at` comes from: the system clock except in bulk loaders.
    pub clock: Clock,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 8,
            max_batch_entries: 10_000,
            group_commit_wait: Duration::ZERO,
            ca_file: None,
            clock: Clock::System,
        }
    }
}

/// A store on a PostgreSQL database; many nodes may hold one on the same database at once.
pub struct PgStore {
    pool: Arc<Pool>,
    /// Where pages, counts, facets and single entries are read: a streaming replica when one
    /// is configured, else `pool`.
    reads: Arc<Pool>,
    /// How connections are encrypted (the replica's too).
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    writer: WriterHandle<PgWriter>,
    /// The URL without its password, for messages.
    display_url: String,
    /// Set while this node rewrites what erasures left pending in the background, so the
    /// per-tenant calls of a start or nightly run start one rewrite, not one per tenant.
    rewriting: Arc<std::sync::atomic::AtomicBool>,
}

impl PgStore {
    /// Writes the `subject.erased` entry of every erasure run of `tenant` that lacks one.
    async fn record_erasures(
        &self,
        tenant: TenantId,
        key: &PseudonymKey,
    ) -> Result<u64, StoreError> {
        crate::erasure::ledger::record_pending(
            key,
            tenant,
            || lifecycle::pending_erasures(&self.pool, tenant),
            |record| async move { appended_seq(self.append(tenant, vec![record]).await?) },
            |run, seq| lifecycle::mark_recorded(&self.pool, tenant, run, seq),
        )
        .await
    }

    /// Connects to `url` (`postgres://user:password@host:port/database`, or key=value
    /// settings), applies pending migrations, creates the partitions ahead and starts this
    /// node's writer thread.
    pub async fn connect(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let config: postgres::Config = url.parse().map_err(|e| {
            StoreError::Invalid(format!("the PostgreSQL connection string is invalid: {e}"))
        })?;
        let display_url = redacted_url(url);
        let tls = tls::connector(options.ca_file.as_deref())?;
        let pool = Pool::new(config.clone(), tls.clone(), options.pool_size);
        pool.with_conn(schema::migrate).await?;
        let limits = GroupLimits {
            max_entries: options.max_batch_entries.max(1),
            wait: options.group_commit_wait,
        };
        // On a blocking thread: the writer's synchronous client must be neither created nor
        // (if the thread cannot start) dropped on an async one.
        let writer_tls = tls.clone();
        let clock = options.clock.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let writer = PgWriter::connect(pool::with_timeouts(config), writer_tls, clock)?;
            WriterHandle::spawn(writer, limits)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("starting the writer: {e}")))??;
        Ok(PgStore {
            tls,
            reads: pool.clone(),
            pool,
            writer,
            display_url,
            rewriting: Arc::default(),
        })
    }

    /// Serves pages, counts and facets (the web page, `GET /v1/events`, exports) from a
    /// streaming replica at `url`, keeping that load off the primary. Appends, settings, single
    /// entries, proofs, checkpoints and evidence bundles stay on the primary: they must agree
    /// with what was just acknowledged and with the newest signed tree head, which a lagging
    /// replica may not hold yet.
    pub async fn with_read_replica(
        mut self,
        url: &str,
        pool_size: usize,
    ) -> Result<Self, StoreError> {
        let config: postgres::Config = url.parse().map_err(|e| {
            StoreError::Invalid(format!("the replica connection string is invalid: {e}"))
        })?;
        let replica = Pool::new(config, self.tls.clone(), pool_size);
        // Fail at start, not on the first page view, if the replica is unreachable or was
        // never migrated (it replicates the primary's schema).
        replica
            .read("checking the read replica", |tx| {
                tx.query_one("SELECT max(version) FROM schema_migrations", &[])?;
                Ok(())
            })
            .await?;
        self.reads = replica;
        Ok(self)
    }

    /// The database URL with any password replaced by `***`, for logs and CLI messages.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// Group transactions this node has committed; with concurrent appends it grows slower
    /// than the number of requests, which is the point of group commit.
    pub fn commit_count(&self) -> u64 {
        self.writer.shared().commits()
    }

    /// The newest schema version this build applies.
    pub fn schema_version() -> i32 {
        schema::latest_version()
    }
}

/// `url` with every password replaced by `***`, so it can be printed: the password of a
/// `postgres://user:password@host/db` URL, a `password=` query parameter, and a `password=`
/// setting of the key=value form (quoted or not).
pub fn redacted_url(url: &str) -> String {
    let mut out = match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, tail) = rest
                .find(['/', '?'])
                .map_or((rest, ""), |i| rest.split_at(i));
            match authority.rsplit_once('@') {
                Some((credentials, host)) if credentials.contains(':') => {
                    let user = credentials.split(':').next().unwrap_or_default();
                    format!("{scheme}://{user}:***@{host}{tail}")
                }
                _ => url.to_string(),
            }
        }
        None => url.to_string(),
    };
    let mut from = 0;
    while let Some(found) = out[from..].find("password") {
        let start = from + found + "password".len();
        let rest = &out[start..];
        let spaces = rest.len() - rest.trim_start().len();
        if !rest[spaces..].starts_with('=') {
            from = start;
            continue;
        }
        let value_at = start + spaces + 1;
        let value = &out[value_at..];
        let value = &value[value.len() - value.trim_start().len()..];
        let value_at = out.len() - value.len();
        let end = if let Some(quoted) = value.strip_prefix('\'') {
            // A quoted value ends at the next quote not escaped by a backslash.
            let mut escaped = false;
            let close = quoted.char_indices().find(|(_, c)| {
                let done = *c == '\'' && !escaped;
                escaped = *c == '\\' && !escaped;
                done
            });
            value_at + 1 + close.map_or(quoted.len(), |(i, _)| i + 1)
        } else {
            value_at + value.find([' ', '&', '\t', '\n']).unwrap_or(value.len())
        };
        out.replace_range(value_at..end, "***");
        from = value_at + 3;
    }
    out
}

#[async_trait]
impl EventLog for PgStore {
    async fn append(
        &self,
        tenant: TenantId,
        entries: Vec<NewEntry>,
    ) -> Result<Vec<Appended>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        self.writer.append(tenant, entries).await
    }

    fn reads_pages_ahead(&self) -> bool {
        true
    }

    async fn query_sealed(
        &self,
        tenant: TenantId,
        query: &Query,
    ) -> Result<SealedPage, StoreError> {
        let query = query.clone();
        self.reads
            .read_unshared("querying entries", move |conn| {
                query::query(conn, tenant, &query)
            })
            .await
    }

    async fn count(&self, tenant: TenantId, filter: &Filter) -> Result<u64, StoreError> {
        let filter = filter.clone();
        self.reads
            .read_unshared("counting entries", move |conn| {
                query::count(conn, tenant, &filter)
            })
            .await
    }

    async fn tallies(
        &self,
        tenant: TenantId,
        filter: &Filter,
        unit: TallyUnit,
    ) -> Result<Vec<Tally>, StoreError> {
        let filter = filter.clone();
        self.reads
            .read("tallying entries", move |tx| {
                query::tallies(tx, tenant, &filter, unit)
            })
            .await
    }

    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Lookup, StoreError> {
        // On the primary: an id just acknowledged must never answer 404 because of lag.
        self.pool
            .read("reading an entry", move |tx| read::get(tx, tenant, id))
            .await
    }

    async fn facets(&self, tenant: TenantId) -> Result<Facets, StoreError> {
        self.reads
            .read("reading facets", move |tx| read::facets(tx, tenant))
            .await
    }

    async fn find_actors(
        &self,
        tenant: TenantId,
        text: &str,
        limit: usize,
    ) -> Result<Vec<FacetActor>, StoreError> {
        let Some(search) = ActorSearch::new(text, limit) else {
            return Ok(Vec::new());
        };
        self.reads
            .read("searching actors", move |tx| {
                read::find_actors(tx, tenant, search.clone())
            })
            .await
    }

    async fn log_size(&self, tenant: TenantId) -> Result<u64, StoreError> {
        self.pool
            .read("reading the log size", move |tx| read::log_size(tx, tenant))
            .await
    }

    async fn log_sizes(&self) -> Result<Vec<(TenantId, u64)>, StoreError> {
        self.pool
            .read("reading the log sizes", read::log_sizes)
            .await
    }

    async fn entries_since(&self, tenant: TenantId, since: Timestamp) -> Result<u64, StoreError> {
        self.pool
            .read("counting recent entries", move |tx| {
                read::entries_since(tx, tenant, since)
            })
            .await
    }

    async fn verify_log(
        &self,
        tenant: TenantId,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<LogVerification, StoreError> {
        verify::verify_log(&self.pool, tenant, progress).await
    }
}

#[async_trait]
impl Integrity for PgStore {
    async fn log_origin(&self, tenant: TenantId) -> Result<String, StoreError> {
        self.pool
            .read("reading a log origin", move |tx| {
                admin::tenant_origin(tx, tenant)
            })
            .await
    }

    async fn tree_head(&self, tenant: TenantId) -> Result<TreeHead, StoreError> {
        self.pool
            .read("reading the tree head", move |tx| {
                tree::tree_head(tx, tenant)
            })
            .await
    }

    async fn inclusion_proofs(
        &self,
        tenant: TenantId,
        seqs: Vec<u64>,
        size: u64,
    ) -> Result<Vec<Vec<Hash>>, StoreError> {
        self.pool
            .read("building inclusion proofs", move |tx| {
                tree::inclusion_proofs(tx, tenant, &seqs, size)
            })
            .await
    }

    async fn consistency_proof(
        &self,
        tenant: TenantId,
        old: u64,
        new: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        self.pool
            .read("building a consistency proof", move |tx| {
                tree::consistency_proof(tx, tenant, old, new)
            })
            .await
    }

    async fn leaves(
        &self,
        tenant: TenantId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<LeafRecord>, StoreError> {
        self.pool
            .read("reading leaves", move |tx| {
                read::leaves(tx, tenant, from_seq, limit)
            })
            .await
    }

    async fn latest_checkpoint(
        &self,
        tenant: TenantId,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.pool
            .read("reading checkpoints", move |tx| {
                checkpoints::latest(tx, tenant)
            })
            .await
    }

    async fn checkpoint_at(
        &self,
        tenant: TenantId,
        size: u64,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.pool
            .read("reading checkpoints", move |tx| {
                checkpoints::at(tx, tenant, size)
            })
            .await
    }

    async fn record_checkpoint(
        &self,
        tenant: TenantId,
        size: u64,
        root: Hash,
        note: &str,
    ) -> Result<StoredCheckpoint, StoreError> {
        let note = note.to_string();
        self.pool
            .write("recording a checkpoint", move |tx| {
                checkpoints::record(tx, tenant, size, root, &note)
            })
            .await
    }

    async fn tree_level(
        &self,
        tenant: TenantId,
        level: u32,
        first: u64,
        count: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        self.pool
            .read("reading tree tiles", move |tx| {
                tree::level_range(tx, tenant, level, first, count)
            })
            .await
    }
}

#[async_trait]
impl Lifecycle for PgStore {
    async fn settings(&self, tenant: TenantId) -> Result<TenantSettings, StoreError> {
        self.pool
            .read_unshared("reading tenant settings", move |conn| {
                admin::settings(conn, tenant)
            })
            .await
    }

    async fn set_retention(
        &self,
        tenant: TenantId,
        retention: Retention,
    ) -> Result<TenantSettings, StoreError> {
        self.pool
            .write("changing the retention", move |tx| {
                admin::set_retention(tx, tenant, retention)
            })
            .await
    }

    async fn set_legal_hold(
        &self,
        tenant: TenantId,
        hold: bool,
    ) -> Result<TenantSettings, StoreError> {
        self.pool
            .write("changing the legal hold", move |tx| {
                admin::set_legal_hold(tx, tenant, hold)
            })
            .await
    }

    async fn set_export_exclusions(
        &self,
        tenant: TenantId,
        keys: Vec<String>,
    ) -> Result<TenantSettings, StoreError> {
        self.pool
            .write("changing export exclusions", move |tx| {
                admin::set_export_exclusions(tx, tenant, &keys)
            })
            .await
    }

    async fn set_tile_access(
        &self,
        tenant: TenantId,
        access: TileAccess,
    ) -> Result<TenantSettings, StoreError> {
        self.pool
            .write("changing the tile access", move |tx| {
                admin::set_tile_access(tx, tenant, access)
            })
            .await
    }

    async fn set_default_period(
        &self,
        tenant: TenantId,
        period: Option<String>,
    ) -> Result<TenantSettings, StoreError> {
        crate::guards::check_default_period(period.as_deref())?;
        self.pool
            .write("changing the default period", move |tx| {
                admin::set_default_period(tx, tenant, period.as_deref())
            })
            .await
    }

    async fn set_limits(
        &self,
        tenant: TenantId,
        limits: TenantLimits,
    ) -> Result<TenantSettings, StoreError> {
        self.pool
            .write("changing tenant limits", move |tx| {
                admin::set_limits(tx, tenant, limits)
            })
            .await
    }

    async fn prune(
        &self,
        tenant: TenantId,
        order: &PruneOrder,
    ) -> Result<PruneOutcome, StoreError> {
        lifecycle::prune(&self.pool, tenant, order, |record| async move {
            self.append(tenant, vec![record]).await.map(drop)
        })
        .await
    }

    async fn erase_subject(
        &self,
        tenant: TenantId,
        subject: &str,
        mode: ErasureMode,
        by: &Actor,
        key: &PseudonymKey,
    ) -> Result<ErasureOutcome, StoreError> {
        let mut outcome =
            lifecycle::erase_subject(&self.pool, tenant, subject, mode, by, key).await?;
        if mode == ErasureMode::Erase {
            self.record_erasures(tenant, key).await?;
            // Before answering, so no file keeps what was erased once the caller is told, or
            // the caller is told which still may.
            outcome.rewrites_pending = lifecycle::rewrite_erased(self.pool.clone()).await;
        }
        Ok(outcome)
    }

    async fn finish_erasures(
        &self,
        tenant: TenantId,
        key: &PseudonymKey,
    ) -> Result<u64, StoreError> {
        let recorded = self.record_erasures(tenant, key).await?;
        // Rewrites an interrupted erasure left pending: in the background, so a starting node
        // serves at once (a partition's copy can take minutes), and once per node at a time
        // (the pass goes on until nothing is pending, whichever tenant asked).
        if !self
            .rewriting
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let (pool, rewriting) = (self.pool.clone(), self.rewriting.clone());
            tokio::spawn(async move {
                lifecycle::rewrite_erased(pool).await;
                rewriting.store(false, std::sync::atomic::Ordering::SeqCst);
            });
        }
        Ok(recorded)
    }
}

#[async_trait]
impl Directory for PgStore {
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError> {
        let name = name.to_string();
        self.pool
            .write("creating a tenant", move |tx| {
                admin::create_tenant(tx, &name)
            })
            .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.pool.read("listing tenants", admin::list_tenants).await
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        let name = name.to_string();
        self.pool
            .read("reading a tenant", move |tx| {
                admin::tenant_by_name(tx, &name)
            })
            .await
    }

    async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        self.pool
            .read("reading a tenant", move |tx| admin::tenant_by_id(tx, id))
            .await
    }

    async fn add_tenant_alias(&self, tenant: TenantId, alias: &str) -> Result<(), StoreError> {
        let alias = alias.to_string();
        self.pool
            .write("adding a tenant alias", move |tx| {
                aliases::add(tx, tenant, &alias)
            })
            .await
    }

    async fn remove_tenant_alias(&self, tenant: TenantId, alias: &str) -> Result<bool, StoreError> {
        let alias = alias.to_string();
        self.pool
            .write("removing a tenant alias", move |tx| {
                aliases::remove(tx, tenant, &alias)
            })
            .await
    }

    async fn tenant_aliases(&self, tenant: TenantId) -> Result<Vec<String>, StoreError> {
        self.pool
            .read("reading tenant aliases", move |tx| {
                aliases::list(tx, tenant)
            })
            .await
    }

    async fn has_tenant_alias(&self, tenant: TenantId, alias: &str) -> Result<bool, StoreError> {
        let alias = alias.to_string();
        self.pool
            .read("reading tenant aliases", move |tx| {
                aliases::has(tx, tenant, &alias)
            })
            .await
    }

    async fn insert_api_key(
        &self,
        tenant: TenantId,
        prefix: &str,
        hash: [u8; 32],
        name: &str,
        scopes: &[Scope],
    ) -> Result<ApiKey, StoreError> {
        let (prefix, name, scopes) = (prefix.to_string(), name.to_string(), scopes.to_vec());
        self.pool
            .write("storing an API key", move |tx| {
                admin::insert_api_key(tx, tenant, &prefix, hash, &name, &scopes)
            })
            .await
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<KeyRecord>, StoreError> {
        let prefix = prefix.to_string();
        self.pool
            .read_unshared("reading an API key", move |conn| {
                admin::api_key_by_prefix(conn, &prefix)
            })
            .await
    }

    async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>, StoreError> {
        self.pool
            .read("listing API keys", move |tx| {
                admin::list_api_keys(tx, tenant)
            })
            .await
    }

    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        id: &str,
    ) -> Result<Option<ApiKey>, StoreError> {
        let id = id.to_string();
        self.pool
            .write("revoking an API key", move |tx| {
                admin::revoke_api_key(tx, tenant, &id)
            })
            .await
    }

    async fn set_cors_origins(
        &self,
        tenant: TenantId,
        origins: Vec<String>,
    ) -> Result<TenantSettings, StoreError> {
        self.pool
            .write("changing the CORS origins", move |tx| {
                admin::set_cors_origins(tx, tenant, &origins)
            })
            .await
    }

    async fn cors_origins_of_all_tenants(&self) -> Result<Vec<String>, StoreError> {
        self.pool
            .read(
                "reading the CORS origins",
                admin::cors_origins_of_all_tenants,
            )
            .await
    }

    async fn set_ip_allowlist(
        &self,
        tenant: TenantId,
        entries: Vec<String>,
    ) -> Result<TenantSettings, StoreError> {
        self.pool
            .write("changing the IP allowlist", move |tx| {
                admin::set_ip_allowlist(tx, tenant, &entries)
            })
            .await
    }

    async fn create_user(&self, tenant: TenantId, user: NewUser) -> Result<User, StoreError> {
        self.pool
            .write("creating a user", move |tx| {
                users::create_user(tx, tenant, &user)
            })
            .await
    }

    async fn user_by_email(
        &self,
        tenant: TenantId,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        let email = email.to_string();
        self.pool
            .read("reading a user", move |tx| {
                users::user_by_email(tx, tenant, &email)
            })
            .await
    }

    async fn user_by_id(&self, tenant: TenantId, id: &str) -> Result<Option<User>, StoreError> {
        let id = id.to_string();
        self.pool
            .read("reading a user", move |tx| {
                users::user_by_id(tx, tenant, &id)
            })
            .await
    }

    async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>, StoreError> {
        self.pool
            .read("listing users", move |tx| users::list_users(tx, tenant))
            .await
    }

    async fn update_user(
        &self,
        tenant: TenantId,
        id: &str,
        change: UserChange,
    ) -> Result<Option<User>, StoreError> {
        let id = id.to_string();
        self.pool
            .write("changing a user", move |tx| {
                users::update_user(tx, tenant, &id, &change)
            })
            .await
    }

    async fn create_session(&self, session: Session) -> Result<(), StoreError> {
        self.pool
            .write("storing a session", move |tx| {
                users::create_session(tx, &session)
            })
            .await
    }

    async fn session(&self, token_hash: [u8; 32]) -> Result<Option<Session>, StoreError> {
        self.pool
            .read("reading a session", move |tx| {
                users::session(tx, token_hash)
            })
            .await
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.pool
            .write("ending a session", move |tx| {
                users::delete_session(tx, token_hash)
            })
            .await
    }

    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.pool
            .write("deleting expired sessions", move |tx| {
                users::delete_expired_sessions(tx, now)
            })
            .await
    }
}

#[async_trait]
impl Schemas for PgStore {
    async fn add_action_schema(
        &self,
        tenant: TenantId,
        action: &str,
        document: &str,
        source: Option<&str>,
    ) -> Result<StoredSchema, StoreError> {
        let (action, document) = (action.to_string(), document.to_string());
        let source = source.map(str::to_string);
        self.pool
            .write("registering an action schema", move |tx| {
                schemas::add(tx, tenant, &action, &document, source.as_deref())
            })
            .await
    }

    async fn action_schemas(&self, tenant: TenantId) -> Result<Vec<StoredSchema>, StoreError> {
        self.pool
            .read("reading action schemas", move |tx| {
                schemas::list(tx, tenant)
            })
            .await
    }
}

#[async_trait]
impl crate::Sinks for PgStore {
    async fn add_sink(
        &self,
        tenant: TenantId,
        sink: crate::NewSink,
    ) -> Result<crate::SinkRecord, StoreError> {
        self.pool
            .write("adding a sink", move |tx| sinks::add(tx, tenant, &sink))
            .await
    }

    async fn sinks(&self, tenant: TenantId) -> Result<Vec<crate::SinkRecord>, StoreError> {
        self.pool
            .read("reading sinks", move |tx| sinks::list(tx, tenant))
            .await
    }

    async fn active_sinks(&self) -> Result<Vec<crate::SinkRecord>, StoreError> {
        self.pool.read("reading active sinks", sinks::active).await
    }

    async fn sink_state_counts(
        &self,
    ) -> Result<Vec<(sealtrail_core::sinks::SinkState, u64)>, StoreError> {
        self.pool.read("counting sinks", sinks::state_counts).await
    }

    async fn claim_sinks(
        &self,
        node: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<crate::SinkRecord>, StoreError> {
        let node = node.to_string();
        self.pool
            .write("claiming sinks", move |tx| {
                sinks::claim(tx, &node, until, now)
            })
            .await
    }

    async fn set_sink_state(
        &self,
        tenant: TenantId,
        id: Uuid,
        state: sealtrail_core::sinks::SinkState,
        cursor: Option<u64>,
    ) -> Result<crate::SinkRecord, StoreError> {
        self.pool
            .write("changing a sink", move |tx| {
                sinks::set_state(tx, tenant, id, state, cursor)
            })
            .await
    }

    async fn sink_delivered(
        &self,
        tenant: TenantId,
        id: Uuid,
        from: u64,
        to: u64,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.pool
            .write("recording a delivery", move |tx| {
                sinks::delivered(tx, tenant, id, from, to, at)
            })
            .await
    }

    async fn sink_failed(
        &self,
        tenant: TenantId,
        id: Uuid,
        at_cursor: u64,
        error: &str,
        dead_after: u32,
        at: Timestamp,
    ) -> Result<Option<u32>, StoreError> {
        let error = error.to_string();
        self.pool
            .write("recording a failed delivery", move |tx| {
                sinks::failed(tx, tenant, id, at_cursor, &error, dead_after, at)
            })
            .await
    }

    async fn remove_sink(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError> {
        self.pool
            .write("removing a sink", move |tx| sinks::remove(tx, tenant, id))
            .await
    }
}

#[async_trait]
impl Store for PgStore {
    async fn api_key_with_settings(
        &self,
        prefix: &str,
    ) -> Result<Option<(KeyRecord, TenantSettings)>, StoreError> {
        let prefix = prefix.to_string();
        self.pool
            .read_unshared("reading an API key", move |conn| {
                admin::api_key_with_settings(conn, &prefix)
            })
            .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.writer.healthy()?;
        self.pool
            .read("checking the database", |tx| {
                tx.query_one("SELECT count(*) FROM schema_migrations", &[])?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::redacted_url;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redacted_url("postgres://app:s3cr@t@db.example:5432/audit"),
            "postgres://app:***@db.example:5432/audit"
        );
        assert_eq!(
            redacted_url("postgres://db.example/audit"),
            "postgres://db.example/audit"
        );
        assert_eq!(
            redacted_url("postgres://app@db/audit?sslmode=disable&password=s3cr%40t&x=1"),
            "postgres://app@db/audit?sslmode=disable&password=***&x=1"
        );
        assert_eq!(
            redacted_url("host=db user=app password=s3cret dbname=audit"),
            "host=db user=app password=*** dbname=audit"
        );
        assert_eq!(
            redacted_url("host=db password = 'a b\\' c' dbname=audit"),
            "host=db password = *** dbname=audit"
        );
    }
}
