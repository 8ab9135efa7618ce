//! Embedded SQLite backend: one file in WAL mode, one writer thread doing group commit, and a
//! pool of read-only connections.
//!
//! * [`schema`] — pragmas and migrations; [`backfill`] — sealing version-1 entries.
//! * [`writer`] — the single writer thread and its group commit.
//! * [`append`] — what one group transaction writes (log heads, idempotency, envelope, tree
//!   leaf, facets, search).
//! * [`vault`] — vault slots and turning stored rows back into entries.
//! * [`tree`] — Merkle tree nodes, heads and proofs; [`checkpoints`] — the equivocation guard.
//! * [`read`] — the read pool, single-entry reads and facets.
//! * [`query`] — filters, cursor pages and counts; [`search`] — free text as an FTS5 query.
//! * [`admin`] — tenants (origin, retention, legal hold) and API keys.
//! * [`prune`] — retention pruning; [`erase`] — GDPR erasure.
//! * [`verify`] — recomputing a log's integrity from stored bytes.
//! * [`facets`] — writing facet-count deltas.
//!
//! What is not SQL is shared with every backend: [`crate::pruning`], [`crate::erasure`] and
//! [`crate::scrub`], [`crate::verification`], [`crate::facets`] and [`crate::index_terms`].

mod admin;
mod aliases;
mod append;
mod attempts;
mod backfill;
mod checkpoints;
mod derive;
mod erase;
mod error;
mod facets;
mod jobs;
mod ledger;
mod pk;
mod prune;
mod purge;
mod query;
mod read;
mod schema;
mod schemas;
mod search;
mod sinks;
mod tree;
mod users;
mod vault;
mod verify;
mod wal;
mod writer;

#[cfg(test)]
mod ledger_tests;
#[cfg(test)]
mod tests;

use crate::facets::ActorSearch;
use crate::group_commit::{GroupLimits, WriterHandle};
use crate::Clock;
use crate::{
    appended_seq, CheckpointToRecord, ErasureMode, ErasureOutcome, Hash, KeyRecord, LeafRecord,
    LogVerification, Lookup, NewUser, PruneOrder, PruneOutcome, PseudonymKey, Retention, Store,
    StoreError, StoredCheckpoint, TenantLimits, TenantSettings, TileAccess, TreeHead, UserChange,
};
use crate::{Directory, EventLog, Integrity, Lifecycle, Schemas, SealedPage, StoredSchema};
use async_trait::async_trait;
use read::ReadPool;
use sealtrail_core::entry::{Actor, Appended, NewEntry};
use sealtrail_core::filter::{FacetActor, Facets, Filter, Query};
use sealtrail_core::keys::{ApiKey, Scope};
use sealtrail_core::session::Session;
use sealtrail_core::timeline::{Tally, TallyUnit};
use sealtrail_core::users::User;
use sealtrail_core::{Tenant, TenantId, Timestamp};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use wal::{WalCheckpointer, WalPolicy};
use writer::SqliteWriter;

pub(crate) use writer::WriteError;

/// The database file's name inside the data directory.
pub const DB_FILE_NAME: &str = "sealtrail.db";

/// Tuning knobs. The defaults suit a single server; tests shrink or stretch them.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Read-only connections in the pool: how many reads run in parallel.
    pub read_connections: usize,
    /// Most entries one group commit takes from the queue; larger groups amortise the fsync
    /// further but delay the acknowledgement of every request in them.
    pub max_batch_entries: usize,
    /// How long the writer waits for more requests after the first before committing. Zero
    /// commits at once; the queue still fills while an fsync is in progress, so groups form
    /// under load anyway.
    pub group_commit_wait: Duration,
    /// Where `recorded_at` comes from: the system clock except in bulk loaders.
    pub clock: Clock,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            read_connections: 4,
            max_batch_entries: 10_000,
            group_commit_wait: Duration::ZERO,
            clock: Clock::System,
        }
    }
}

/// True when a filter reads a derived index: search words or target rows.
fn uses_derived_indexes(filter: &Filter) -> bool {
    filter.text.is_some()
        || filter.target_type.is_some()
        || filter.target_id.is_some()
        || filter.target_name.is_some()
}

/// The embedded store: everything in `<data_dir>/sealtrail.db`.
pub struct SqliteStore {
    db_path: PathBuf,
    // Field order matters for Drop: readers and the checkpoint thread close before the writer,
    // whose connection is then the last one and checkpoints what is left of the WAL.
    reads: Arc<ReadPool>,
    wal: WalCheckpointer,
    writer: WriterHandle<SqliteWriter>,
}

impl SqliteStore {
    /// Creates or opens `<data_dir>/sealtrail.db` (creating the directory if needed), applies pending migrations and starts the
    /// writer thread. Safe to call while another process has the same file open.
    pub fn open(data_dir: &Path, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Backend(format!(
                "creating data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let db_path = data_dir.join(DB_FILE_NAME);
        let mut conn = schema::open_writer(&db_path)?;
        wal::install_backstop(&conn);
        schema::migrate(&mut conn, schema::latest_version())?;
        // Readers open after the writer so the WAL files they need already exist.
        let reads = ReadPool::open(&db_path, options.read_connections)?;
        let writer = WriterHandle::spawn(
            SqliteWriter::open(conn, options.clock.clone())?,
            GroupLimits {
                max_entries: options.max_batch_entries.max(1),
                wait: options.group_commit_wait,
            },
        )?;
        let wal = WalCheckpointer::spawn(&db_path, WalPolicy::default(), writer.shared_arc())?;
        Ok(SqliteStore {
            db_path,
            reads,
            wal,
            writer,
        })
    }

    /// The database file, for operators (backups, `sealtrail` CLI messages).
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Group transactions committed by this instance since it opened; with concurrent appends
    /// it grows slower than the number of requests, which is the point of group commit.
    pub fn commit_count(&self) -> u64 {
        self.writer.shared().commits()
    }

    /// Checkpoint rounds that copied the whole WAL into the main file; the writer itself never
    /// checkpoints, so this is how tests and operators see that the WAL is being drained.
    pub fn wal_checkpoints(&self) -> u64 {
        self.wal.complete_rounds()
    }

    /// Entries this instance has committed whose derived indexes (search words, targets, facet
    /// counts) are not written yet; they are due `derive::MAX_LAG` after their commit (later
    /// under sustained load, see there), and are written at once when a read needs them.
    pub fn entries_awaiting_indexes(&self) -> u64 {
        self.writer.shared().deferred()
    }

    /// Removes what a prune or an erasure left in the files ([`purge`]): the search index
    /// merged into one segment step by step, each step a writer job so appends queued
    /// meanwhile commit between steps, then the WAL truncated.
    async fn purge_traces(&self) -> Result<(), StoreError> {
        let pages = self.writer.run_job(purge::index_pages).await?;
        // A full merge writes the index about once; twice that bounds the steps, so appends
        // that keep adding small segments cannot hold the loop open.
        let mut steps_left = pages / purge::MERGE_PAGES.unsigned_abs() * 2 + 16;
        let mut merging = self.writer.run_job(purge::start_merge).await?;
        while merging && steps_left > 0 {
            merging = self.writer.run_job(purge::continue_merge).await?;
            steps_left -= 1;
        }
        if merging {
            tracing::warn!(
                "the stepwise merge of the search index did not finish; merging it at once"
            );
            self.writer.run_job(purge::optimize).await?;
        }
        self.writer.run_job(purge::truncate_wal).await
    }

    /// Before a read that uses a derived index, has the writer write what is pending, so the
    /// read finds every entry acknowledged before it started. A stopped writer cannot: the read
    /// then answers from what was indexed.
    async fn settle(&self, needed: bool) {
        if needed && self.writer.shared().deferred() > 0 {
            let caught_up = self.writer.run(|_, _| Ok(())).await;
            if let Err(error) = caught_up {
                tracing::warn!(%error, "reading without the newest derived indexes");
            }
        }
    }

    /// The newest schema version this build applies.
    pub fn schema_version() -> i64 {
        schema::latest_version()
    }

    /// Creates (or migrates) `<data_dir>/sealtrail.db` only up to schema `version`, as an
    /// older build left it, so upgrade tests can fill it with old rows and reopen it.
    #[cfg(any(test, feature = "test-support"))]
    pub fn create_at_version(data_dir: &Path, version: i64) -> Result<PathBuf, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Backend(format!("creating {}: {e}", data_dir.display())))?;
        let path = data_dir.join(DB_FILE_NAME);
        schema::create_at_version(&path, version)?;
        Ok(path)
    }

    /// Runs `job` on the writer connection; for in-crate tests that need to provoke failures.
    #[cfg(test)]
    pub(crate) async fn with_writer<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut rusqlite::Connection) -> Result<T, WriteError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.writer.run_job(job).await
    }
}

#[async_trait]
impl EventLog for SqliteStore {
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

    async fn query_sealed(
        &self,
        tenant: TenantId,
        query: &Query,
    ) -> Result<SealedPage, StoreError> {
        self.settle(uses_derived_indexes(&query.filter)).await;
        let query = query.clone();
        self.reads
            .read(move |conn| query::query(conn, tenant, &query))
            .await
    }

    async fn count(&self, tenant: TenantId, filter: &Filter) -> Result<u64, StoreError> {
        self.settle(uses_derived_indexes(filter)).await;
        let filter = filter.clone();
        self.reads
            .read(move |conn| query::count(conn, tenant, &filter))
            .await
    }

    async fn tallies(
        &self,
        tenant: TenantId,
        filter: &Filter,
        unit: TallyUnit,
    ) -> Result<Vec<Tally>, StoreError> {
        // Entries not yet in the day rollup are counted from their rows (`query::tallies`), so
        // only a search or target filter waits for the derived indexes, as a count does.
        self.settle(uses_derived_indexes(filter)).await;
        let filter = filter.clone();
        self.reads
            .read(move |conn| query::tallies(conn, tenant, &filter, unit))
            .await
    }

    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Lookup, StoreError> {
        self.reads
            .read(move |conn| read::get(conn, tenant, id))
            .await
    }

    async fn facets(&self, tenant: TenantId) -> Result<Facets, StoreError> {
        self.settle(true).await;
        self.reads
            .read(move |conn| read::facets(conn, tenant))
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
        self.settle(true).await;
        self.reads
            .read(move |conn| read::find_actors(conn, tenant, search))
            .await
    }

    async fn log_size(&self, tenant: TenantId) -> Result<u64, StoreError> {
        self.reads
            .read(move |conn| read::log_size(conn, tenant))
            .await
    }

    async fn log_sizes(&self) -> Result<Vec<(TenantId, u64)>, StoreError> {
        self.reads.read(read::log_sizes).await
    }

    async fn entries_since(&self, tenant: TenantId, since: Timestamp) -> Result<u64, StoreError> {
        self.reads
            .read(move |conn| read::entries_since(conn, tenant, since))
            .await
    }

    async fn verify_log(
        &self,
        tenant: TenantId,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<LogVerification, StoreError> {
        crate::verification::relay_progress(progress, |sender| {
            self.reads
                .read(move |conn| verify::verify_log(conn, tenant, &|n| sender.report(n)))
        })
        .await
    }
}

#[async_trait]
impl Integrity for SqliteStore {
    async fn log_origin(&self, tenant: TenantId) -> Result<String, StoreError> {
        self.reads
            .read(move |conn| admin::tenant_origin(conn, tenant))
            .await
    }

    async fn tree_head(&self, tenant: TenantId) -> Result<TreeHead, StoreError> {
        self.reads
            .read(move |conn| tree::tree_head(conn, tenant))
            .await
    }

    async fn inclusion_proofs(
        &self,
        tenant: TenantId,
        seqs: Vec<u64>,
        size: u64,
    ) -> Result<Vec<Vec<Hash>>, StoreError> {
        self.reads
            .read(move |conn| tree::inclusion_proofs(conn, tenant, &seqs, size))
            .await
    }

    async fn consistency_proof(
        &self,
        tenant: TenantId,
        old: u64,
        new: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        self.reads
            .read(move |conn| tree::consistency_proof(conn, tenant, old, new))
            .await
    }

    async fn leaves(
        &self,
        tenant: TenantId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<LeafRecord>, StoreError> {
        self.reads
            .read(move |conn| read::leaves(conn, tenant, from_seq, limit))
            .await
    }

    async fn latest_checkpoint(
        &self,
        tenant: TenantId,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.reads
            .read(move |conn| checkpoints::latest(conn, tenant))
            .await
    }

    async fn checkpoint_at(
        &self,
        tenant: TenantId,
        size: u64,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.reads
            .read(move |conn| checkpoints::at(conn, tenant, size))
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
        self.writer
            .run_job(move |conn| checkpoints::record(conn, tenant, size, root, &note))
            .await
    }

    async fn record_checkpoints(
        &self,
        batch: Vec<CheckpointToRecord>,
    ) -> Vec<Result<StoredCheckpoint, StoreError>> {
        let n = batch.len();
        match self
            .writer
            .run_job(move |conn| checkpoints::record_many(conn, &batch))
            .await
        {
            Ok(results) => results,
            Err(e) => vec![Err(e); n],
        }
    }

    async fn tree_level(
        &self,
        tenant: TenantId,
        level: u32,
        first: u64,
        count: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        self.reads
            .read(move |conn| tree::level_range(conn, tenant, level, first, count))
            .await
    }
}

#[async_trait]
impl Lifecycle for SqliteStore {
    async fn settings(&self, tenant: TenantId) -> Result<TenantSettings, StoreError> {
        self.reads
            .read(move |conn| admin::settings(conn, tenant))
            .await
    }

    async fn set_retention(
        &self,
        tenant: TenantId,
        retention: Retention,
    ) -> Result<TenantSettings, StoreError> {
        self.writer
            .run_job(move |conn| admin::update_settings(conn, tenant, Some(retention), None))
            .await
    }

    async fn set_legal_hold(
        &self,
        tenant: TenantId,
        hold: bool,
    ) -> Result<TenantSettings, StoreError> {
        self.writer
            .run_job(move |conn| admin::update_settings(conn, tenant, None, Some(hold)))
            .await
    }

    async fn set_export_exclusions(
        &self,
        tenant: TenantId,
        keys: Vec<String>,
    ) -> Result<TenantSettings, StoreError> {
        self.writer
            .run_job(move |conn| admin::set_export_exclusions(conn, tenant, keys))
            .await
    }

    async fn set_tile_access(
        &self,
        tenant: TenantId,
        access: TileAccess,
    ) -> Result<TenantSettings, StoreError> {
        self.writer
            .run_job(move |conn| admin::set_tile_access(conn, tenant, access))
            .await
    }

    async fn set_default_period(
        &self,
        tenant: TenantId,
        period: Option<String>,
    ) -> Result<TenantSettings, StoreError> {
        crate::guards::check_default_period(period.as_deref())?;
        self.writer
            .run_job(move |conn| admin::set_default_period(conn, tenant, period))
            .await
    }

    async fn set_limits(
        &self,
        tenant: TenantId,
        limits: TenantLimits,
    ) -> Result<TenantSettings, StoreError> {
        self.writer
            .run_job(move |conn| admin::set_limits(conn, tenant, limits))
            .await
    }

    async fn prune(
        &self,
        tenant: TenantId,
        order: &PruneOrder,
    ) -> Result<PruneOutcome, StoreError> {
        let cutoff = order.cutoff;
        let outcome = crate::pruning::run(
            tenant,
            order,
            || {
                self.reads
                    .read(move |conn| prune::plan(conn, tenant, cutoff))
            },
            |record| async move { self.append(tenant, vec![record]).await.map(drop) },
            // One writer job per chunk: appends queued meanwhile run between chunks.
            |first, end| {
                self.writer
                    .run_job(move |conn| prune::step(conn, tenant, first, end, cutoff))
            },
        )
        .await?;
        if outcome.removed > 0 {
            self.purge_traces().await?;
        }
        Ok(outcome)
    }

    async fn erase_subject(
        &self,
        tenant: TenantId,
        subject: &str,
        mode: ErasureMode,
        by: &Actor,
        key: &PseudonymKey,
    ) -> Result<ErasureOutcome, StoreError> {
        crate::erasure::check_subject(subject)?;
        let origin = self.log_origin(tenant).await?;
        // The subject is also found through its entries' target rows.
        self.settle(true).await;
        let (owned, finder_key) = (subject.to_string(), key.clone());
        let plan = self
            .reads
            .read(move |conn| erase::find_subject(conn, tenant, &owned, &origin, &finder_key))
            .await?;
        let plan = Arc::new(plan);
        if mode == ErasureMode::DryRun {
            // One read snapshot per chunk, as the erasure takes one transaction per chunk.
            return crate::erasure::run(tenant, &plan, mode, |from| {
                let plan = plan.clone();
                self.reads
                    .read(move |conn| erase::preview_chunk(conn, tenant, from, &plan))
            })
            .await;
        }
        let run = crate::erasure::ledger::new_run_id();
        let (pseudonym, by) = (plan.pseudonym.clone(), by.clone());
        let seal = crate::erasure::ledger::run_seal(key, tenant, &run, &pseudonym);
        self.writer
            .run_job(move |conn| ledger::begin(conn, tenant, run, &pseudonym, &by, &seal))
            .await?;
        let outcome = crate::erasure::run(tenant, &plan, mode, |from| {
            let plan = plan.clone();
            self.writer
                .run_job(move |conn| erase::scrub_chunk(conn, tenant, from, &plan, run))
        })
        .await?;
        self.writer
            .run_job(move |conn| ledger::finish(conn, tenant, run))
            .await?;
        let specs_rewritten = self
            .withdraw_exports(tenant, Timestamp::now(), plan)
            .await?;
        self.finish_erasures(tenant, key).await?;
        // The WAL holds the pages as they were until it is truncated.
        if outcome.entries_scrubbed > 0 || specs_rewritten > 0 {
            self.purge_traces().await?;
        }
        Ok(outcome)
    }

    async fn finish_erasures(
        &self,
        tenant: TenantId,
        key: &PseudonymKey,
    ) -> Result<u64, StoreError> {
        crate::erasure::ledger::record_pending(
            key,
            tenant,
            || self.reads.read(move |conn| ledger::pending(conn, tenant)),
            |record| async move { appended_seq(self.append(tenant, vec![record]).await?) },
            |run, seq| {
                self.writer
                    .run_job(move |conn| ledger::mark_recorded(conn, tenant, run, seq))
            },
        )
        .await
    }
}

#[async_trait]
impl Directory for SqliteStore {
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError> {
        let name = name.to_string();
        self.writer
            .run_job(move |conn| admin::create_tenant(conn, &name))
            .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.reads.read(admin::list_tenants).await
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        let name = name.to_string();
        self.reads
            .read(move |conn| admin::tenant_by_name(conn, &name))
            .await
    }

    async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        self.reads
            .read(move |conn| admin::tenant_by_id(conn, id))
            .await
    }

    async fn add_tenant_alias(&self, tenant: TenantId, alias: &str) -> Result<(), StoreError> {
        let alias = alias.to_string();
        self.writer
            .run_job(move |conn| aliases::add(conn, tenant, &alias))
            .await
    }

    async fn remove_tenant_alias(&self, tenant: TenantId, alias: &str) -> Result<bool, StoreError> {
        let alias = alias.to_string();
        self.writer
            .run_job(move |conn| aliases::remove(conn, tenant, &alias))
            .await
    }

    async fn tenant_aliases(&self, tenant: TenantId) -> Result<Vec<String>, StoreError> {
        self.reads
            .read(move |conn| aliases::list(conn, tenant))
            .await
    }

    async fn has_tenant_alias(&self, tenant: TenantId, alias: &str) -> Result<bool, StoreError> {
        let alias = alias.to_string();
        self.reads
            .read(move |conn| aliases::has(conn, tenant, &alias))
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
        self.writer
            .run_job(move |conn| admin::insert_api_key(conn, tenant, &prefix, hash, &name, &scopes))
            .await
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<KeyRecord>, StoreError> {
        let prefix = prefix.to_string();
        self.reads
            .read_point(move |conn| admin::api_key_by_prefix(conn, &prefix))
            .await
    }

    async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>, StoreError> {
        self.reads
            .read(move |conn| admin::list_api_keys(conn, tenant))
            .await
    }

    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        id: &str,
    ) -> Result<Option<ApiKey>, StoreError> {
        let id = id.to_string();
        self.writer
            .run_job(move |conn| admin::revoke_api_key(conn, tenant, &id))
            .await
    }

    async fn set_cors_origins(
        &self,
        tenant: TenantId,
        origins: Vec<String>,
    ) -> Result<TenantSettings, StoreError> {
        self.writer
            .run_job(move |conn| admin::set_cors_origins(conn, tenant, origins))
            .await
    }

    async fn cors_origins_of_all_tenants(&self) -> Result<Vec<String>, StoreError> {
        self.reads.read(admin::cors_origins_of_all_tenants).await
    }

    async fn set_ip_allowlist(
        &self,
        tenant: TenantId,
        entries: Vec<String>,
    ) -> Result<TenantSettings, StoreError> {
        self.writer
            .run_job(move |conn| admin::set_ip_allowlist(conn, tenant, entries))
            .await
    }

    async fn create_user(&self, tenant: TenantId, user: NewUser) -> Result<User, StoreError> {
        self.writer
            .run_job(move |conn| users::create_user(conn, tenant, user))
            .await
    }

    async fn user_by_email(
        &self,
        tenant: TenantId,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        let email = email.to_string();
        self.reads
            .read(move |conn| users::user_by_email(conn, tenant, &email))
            .await
    }

    async fn user_by_id(&self, tenant: TenantId, id: &str) -> Result<Option<User>, StoreError> {
        let id = id.to_string();
        self.reads
            .read(move |conn| users::user_by_id(conn, tenant, &id))
            .await
    }

    async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>, StoreError> {
        self.reads
            .read(move |conn| users::list_users(conn, tenant))
            .await
    }

    async fn update_user(
        &self,
        tenant: TenantId,
        id: &str,
        change: UserChange,
    ) -> Result<Option<User>, StoreError> {
        let id = id.to_string();
        self.writer
            .run_job(move |conn| users::update_user(conn, tenant, &id, change))
            .await
    }

    async fn create_session(&self, session: Session) -> Result<(), StoreError> {
        self.writer
            .run_job(move |conn| users::create_session(conn, session))
            .await
    }

    async fn session(&self, token_hash: [u8; 32]) -> Result<Option<Session>, StoreError> {
        self.reads
            .read(move |conn| users::session(conn, token_hash))
            .await
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.writer
            .run_job(move |conn| users::delete_session(conn, token_hash))
            .await
    }

    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.writer
            .run_job(move |conn| users::delete_expired_sessions(conn, now))
            .await
    }
}

#[async_trait]
impl Schemas for SqliteStore {
    async fn add_action_schema(
        &self,
        tenant: TenantId,
        action: &str,
        document: &str,
        source: Option<&str>,
    ) -> Result<StoredSchema, StoreError> {
        let (action, document) = (action.to_string(), document.to_string());
        let source = source.map(str::to_string);
        self.writer
            .run_job(move |conn| schemas::add(conn, tenant, &action, &document, source.as_deref()))
            .await
    }

    async fn action_schemas(&self, tenant: TenantId) -> Result<Vec<StoredSchema>, StoreError> {
        self.reads
            .read(move |conn| schemas::list(conn, tenant))
            .await
    }
}

#[async_trait]
impl crate::Sinks for SqliteStore {
    async fn add_sink(
        &self,
        tenant: TenantId,
        sink: crate::NewSink,
    ) -> Result<crate::SinkRecord, StoreError> {
        self.writer
            .run_job(move |conn| sinks::add(conn, tenant, &sink))
            .await
    }

    async fn sinks(&self, tenant: TenantId) -> Result<Vec<crate::SinkRecord>, StoreError> {
        self.reads.read(move |conn| sinks::list(conn, tenant)).await
    }

    async fn active_sinks(&self) -> Result<Vec<crate::SinkRecord>, StoreError> {
        self.reads.read(sinks::active).await
    }

    async fn sink_state_counts(
        &self,
    ) -> Result<Vec<(sealtrail_core::sinks::SinkState, u64)>, StoreError> {
        self.reads.read(sinks::state_counts).await
    }

    async fn claim_sinks(
        &self,
        node: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<crate::SinkRecord>, StoreError> {
        let node = node.to_string();
        self.writer
            .run_job(move |conn| sinks::claim(conn, &node, until, now))
            .await
    }

    async fn set_sink_state(
        &self,
        tenant: TenantId,
        id: Uuid,
        state: sealtrail_core::sinks::SinkState,
        cursor: Option<u64>,
    ) -> Result<crate::SinkRecord, StoreError> {
        self.writer
            .run_job(move |conn| sinks::set_state(conn, tenant, id, state, cursor))
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
        self.writer
            .run_job(move |conn| sinks::delivered(conn, tenant, id, from, to, at))
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
        self.writer
            .run_job(move |conn| sinks::failed(conn, tenant, id, at_cursor, &error, dead_after, at))
            .await
    }

    async fn remove_sink(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError> {
        self.writer
            .run_job(move |conn| sinks::remove(conn, tenant, id))
            .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn api_key_with_settings(
        &self,
        prefix: &str,
    ) -> Result<Option<(ApiKey, TenantSettings)>, StoreError> {
        let prefix = prefix.to_string();
        // Both point reads in one read transaction, on the calling thread when a connection is
        // free (as the key alone was read), rather than a second trip through the pool.
        self.reads
            .read_point(move |conn| {
                let Some(key) = admin::api_key_by_prefix(conn, &prefix)? else {
                    return Ok(None);
                };
                let settings = admin::settings(conn, key.tenant)?;
                Ok(Some((key, settings)))
            })
            .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.writer.healthy()?;
        self.reads
            .read(|conn| {
                conn.query_row("SELECT count(*) FROM schema_migrations", [], |_| Ok(()))
                    .map_err(error::backend("health check"))
            })
            .await
    }
}
