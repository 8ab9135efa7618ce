//! Storage behind one trait, so the HTTP server, CLI and exports never know which engine holds
//! the log, and one contract suite ([`contract`]) proves every backend behaves the same.

use async_trait::async_trait;
use sealtrail_core::entry::{Actor, Appended, Entry, NewEntry};
use sealtrail_core::filter::{FacetActor, Facets, Filter, Page, Query};
use sealtrail_core::keys::{ApiKey, Scope};
use sealtrail_core::session::Session;
use sealtrail_core::timeline::{Tally, TallyUnit};
use sealtrail_core::users::{Role, User};
use sealtrail_core::{Tenant, TenantId, Timestamp};
use uuid::Uuid;

/// Re-exported because [`LeafRecord`] hands out vault slots as stored.
pub use sealtrail_core::envelope::Slot;
/// Re-exported so callers of the integrity methods need not depend on `core::merkle` directly.
pub use sealtrail_core::merkle::Hash;

pub use attempts::{AttemptCheck, AttemptRequest, AttemptRule, KeyWindow, SignInAttempts};
pub use clock::{Clock, ReplayHandle};
pub use jobs::{JobAttempt, JobEnd, JobSweep, Jobs, StoredJob, SweepRules};
pub use limits::TenantLimits;
pub use scrub::PseudonymKey;
pub use sinks::{NewSink, SinkRecord, Sinks};
pub use stored_entry::{SealedEntry, SealedPage};

mod actor_columns;
mod attempts;
mod blocking;
mod clock;
pub(crate) mod conditions;
pub(crate) mod erasure;
pub(crate) mod event_time;
pub(crate) mod facets;
pub(crate) mod group_commit;
pub(crate) mod guards;
pub(crate) mod index_terms;
mod jobs;
pub(crate) mod key_rows;
mod limits;
pub(crate) mod paging;
pub mod pg;
pub(crate) mod pruning;
pub(crate) mod scrub;
pub(crate) mod sequencer;
mod sinks;
pub mod sqlite;
pub(crate) mod stored_entry;
pub(crate) mod tallies;
pub(crate) mod verification;

/// Everything that can go wrong in storage, phrased for operators (clients see only a 5xx or 503).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The tenant (or key) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness rule refused the write (for example a tenant name already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The writer stopped accepting writes after an unrecoverable error (e.g. fsync failed);
    /// the process must restart so recovery runs from what is durably on disk.
    #[error("the log writer has stopped after a fatal storage error: {0}")]
    WriterFailed(String),
    /// The database server could not be reached, or the connection broke mid-operation
    /// (PostgreSQL restarting, failing over). A write answered with this may or may not have
    /// been stored: retry it with the same idempotency key (HTTP 503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A backend error on this operation only.
    #[error("storage error: {0}")]
    Backend(String),
    /// Stored bytes did not decode; indicates corruption or a schema mismatch.
    #[error("corrupt stored entry: {0}")]
    Corrupt(String),
    /// The request itself is invalid (a proof for a size beyond the log, a retention below
    /// the floor); the caller must change it, retrying cannot help (HTTP 400/422).
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// The tree head as stored now: what a checkpoint signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of leaves: every entry ever appended, pruned ones included.
    pub size: u64,
    /// RFC 6962 root over those leaves.
    pub root: Hash,
}

/// A signed checkpoint as recorded, so the signer can never sign a smaller size or a second
/// root for a size it already signed, even after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size the note commits to.
    pub size: u64,
    /// Root at that size.
    pub root: Hash,
    /// The signed note, verbatim (C2SP signed-note text).
    pub note: String,
    /// When it was recorded.
    pub signed_at: Timestamp,
}

/// A checkpoint to record with [`Store::record_checkpoints`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointToRecord {
    /// Whose log the checkpoint covers; each item of a batch is checked on its own.
    pub tenant: TenantId,
    /// Tree size the note commits to; refused below the latest recorded size or past the log.
    pub size: u64,
    /// Root at `size`; refused unless it is the stored tree's root at that size.
    pub root: Hash,
    /// The signed note, verbatim.
    pub note: String,
}

/// One leaf with everything an offline verifier needs: the envelope bytes the tree commits to
/// and the vault slots that open it (evidence bundles, exports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRecord {
    /// Leaf index.
    pub seq: u64,
    /// Entry id.
    pub id: Uuid,
    /// The canonical envelope, exactly as stored.
    pub envelope: Vec<u8>,
    /// Vault slots in part order; erased slots carry their replacement only.
    pub slots: Vec<Slot>,
    /// `leaf_hash(envelope)`, computed from the stored bytes.
    pub leaf_hash: Hash,
}

/// The answer to a lookup by id: a pruned entry is not the same as one that never existed (the
/// API answers 410 Gone rather than 404 for it).
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The entry, as stored (erased parts show their pseudonymous replacement).
    Found(Box<Entry>),
    /// The entry existed in this tenant's log at `seq` but retention pruning removed its body.
    Pruned {
        /// Where it was; its leaf hash is still in the tree.
        seq: u64,
    },
    /// No such entry in this tenant (including another tenant's id).
    Missing,
}

/// How long a tenant keeps entry bodies: a product rule, defined with its floor in
/// [`sealtrail_core::policy`] and re-exported here because every settings call names it.
pub use sealtrail_core::policy::Retention;

/// Per-tenant data-lifecycle settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantSettings {
    /// How long entries are kept.
    pub retention: Retention,
    /// While set, nothing may be pruned (litigation, investigations).
    pub legal_hold: bool,
    /// `properties` keys that exports never include (e.g. `dialogue`: conversation content an
    /// auditor must not receive even though the log keeps it).
    pub export_excluded_properties: Vec<String>,
    /// Addresses (normalised CIDR blocks or single IPs) allowed to reach the tenant's page and
    /// read API; empty means no restriction.
    pub ip_allowlist: Vec<String>,
    /// Rate limits and the daily quota the server enforces for this tenant.
    pub limits: TenantLimits,
    /// Who may read the log's tree tiles (hashes only) to monitor it for forks.
    pub tile_access: TileAccess,
    /// The period the audit page opens on when its address names none (a
    /// [`sealtrail_core::filter::PRESETS`] value such as `24h` or `3m`); `None` is any time.
    pub default_period: Option<String>,
    /// Web origins whose pages may call the tenant's API from a browser (CORS), normalised
    /// ([`sealtrail_core::cors`]); empty (the default) means none.
    pub cors_origins: Vec<String>,
}

/// Who may fetch a log's checkpoint and Merkle tree tiles (C2SP tlog-tiles) without signing in.
/// Off by default: a tenant decides whether its log's size and growth are anyone's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TileAccess {
    /// Nobody: the tiles answer 404 as if the log did not exist.
    #[default]
    Off,
    /// API keys of the tenant with the `monitor` scope (or `admin`).
    Monitor,
    /// Anyone, without a key (a public log that outside monitors and witnesses follow).
    Public,
}

impl TileAccess {
    /// Every value, in display order.
    pub const ALL: [TileAccess; 3] = [TileAccess::Off, TileAccess::Monitor, TileAccess::Public];

    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TileAccess::Off => "off",
            TileAccess::Monitor => "monitor",
            TileAccess::Public => "public",
        }
    }

    /// Parses the spelling of [`TileAccess::as_str`].
    pub fn parse(s: &str) -> Option<TileAccess> {
        TileAccess::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A user to create; the password arrives already hashed, so the store never sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Sign-in e-mail, already normalised (lower-case, trimmed).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Initial role.
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// One change to a user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    /// A new role. Refused (`Conflict`) if it would leave the tenant without an active owner.
    Role(Role),
    /// A new password hash; ends every session of the user.
    PasswordHash(String),
    /// Deactivates the account and ends its sessions. Refused (`Conflict`) for the last active
    /// owner. Deactivating twice keeps the first time.
    Deactivate,
}

/// What a prune removed, for the audit entry the server appends about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneOutcome {
    /// Entries whose bodies and vault values were deleted.
    pub removed: u64,
    /// Entries recorded before this instant were removed.
    pub cutoff: Timestamp,
    /// The oldest seq still held (equals the log size when everything was pruned).
    pub first_kept_seq: u64,
}

/// A prune to run: the cutoff, and who asked and why, for the entry the prune writes.
#[derive(Debug, Clone)]
pub struct PruneOrder {
    /// Entries recorded before this instant are removed.
    pub cutoff: Timestamp,
    /// Who prunes: the System actor for the nightly run, the admin for one on request.
    pub by: Actor,
    /// The retention window the cutoff came from, shown in the prune's entry.
    pub retention_days: Option<u32>,
}

impl PruneOrder {
    /// A prune of everything recorded before `cutoff`, by the System actor.
    pub fn at(cutoff: Timestamp) -> PruneOrder {
        PruneOrder {
            cutoff,
            by: Actor::system("Retention"),
            retention_days: None,
        }
    }
}

/// Whether [`Store::erase_subject`] writes: erasure cannot be undone, so an operator can see
/// first exactly what it would change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasureMode {
    /// Computes what the erasure would change, from the same steps, and changes nothing.
    DryRun,
    /// Replaces the values.
    Erase,
}

/// The most entries an [`ErasureOutcome`] lists one by one (its counts cover all of them), so
/// the answer about a subject with a million entries stays small.
pub const ERASURE_LIST_LIMIT: usize = 1_000;

/// One entry an erasure changed, or would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasedEntry {
    /// The entry's id.
    pub id: Uuid,
    /// Its place in the log.
    pub seq: u64,
    /// The vault parts whose values were replaced, in part order: with `seq`, what a record
    /// of the erasure can commit to.
    pub parts: Vec<sealtrail_core::envelope::Part>,
    /// The fields replaced, sorted: `actor` and `context` (the subject's own entries),
    /// `targets[i]` (a target that is the subject), or the path of a free-text value such as
    /// `description`, `properties.note`, `changes.after.owner`, `targets[1].name`.
    pub fields: Vec<String>,
}

/// What an erasure changed (or, in a dry run, would change), so the operator sees it and the
/// server can record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureOutcome {
    /// Entries with at least one vault value replaced.
    pub entries_scrubbed: u64,
    /// The stable stand-in now shown for the subject.
    pub pseudonym: String,
    /// For each field path (as in [`ErasedEntry::fields`]), the number of entries in which it
    /// was replaced.
    pub fields: std::collections::BTreeMap<String, u64>,
    /// The changed entries in seq order, at most [`ERASURE_LIST_LIMIT`].
    pub entries: Vec<ErasedEntry>,
    /// True when more entries changed than `entries` lists.
    pub truncated: bool,
    /// Database relations that may still hold old values on disk because their rewrite has
    /// to wait (PostgreSQL: another node is rewriting, or a busy table's lock could not be
    /// had); they are rewritten in the background. An officer answering a data subject needs
    /// to know whether the erasure is complete on disk, so this is said rather than logged.
    /// Always empty on SQLite, whose erasure purges before it answers.
    pub rewrites_pending: Vec<String>,
}

/// The result of recomputing a log's integrity from its stored bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogVerification {
    /// Log size verified.
    pub size: u64,
    /// Root recomputed from the stored leaf hashes; compare it with the latest signed
    /// checkpoint to detect rewritten history.
    pub root: Hash,
    /// The lowest seq where stored data disagrees with the tree, and why.
    pub first_problem: Option<(u64, String)>,
    /// Entries whose bytes were checked against their leaf hash.
    pub checked: u64,
    /// Pruned seqs, covered only by their stored leaf hashes.
    pub pruned: u64,
}

/// The seq of the one entry an append of a single entry stored (or found already stored).
pub(crate) fn appended_seq(appended: Vec<Appended>) -> Result<u64, StoreError> {
    appended
        .first()
        .map(|a| a.seq)
        .ok_or_else(|| StoreError::Backend("an append of one entry stored none".into()))
}

/// A stored API key as found by its prefix, with the tenant it belongs to.
pub type KeyRecord = ApiKey;

/// The tenant's log of entries: appending (durably, before the answer), reading pages,
/// counts, facets and single entries, and checking the stored log against its tree.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Appends one request's events to `tenant`'s log, in order, and returns only once they are
    /// durably committed. Events whose `idempotency_key` already exists in the tenant's log (or
    /// earlier in the same batch) are not stored again: their original id and seq come back with
    /// `duplicate = true`. Concurrent calls are grouped into shared transactions.
    async fn append(
        &self,
        tenant: TenantId,
        entries: Vec<NewEntry>,
    ) -> Result<Vec<Appended>, StoreError>;

    /// One page of entries matching the query, newest first: [`EventLog::query_sealed`]'s
    /// page, opened off the async threads.
    async fn query(&self, tenant: TenantId, query: &Query) -> Result<Page, StoreError> {
        let page = self.query_sealed(tenant, query).await?;
        tokio::task::spawn_blocking(move || page.open())
            .await
            .map_err(|e| StoreError::Backend(format!("opening a page failed: {e}")))?
    }

    /// The same page with its entries not yet opened, for a caller that opens and encodes each
    /// run of rows on one thread (exports); cursors as [`EventLog::query`] gives them.
    async fn query_sealed(&self, tenant: TenantId, query: &Query)
        -> Result<SealedPage, StoreError>;

    /// Whether an export should read a page ahead while it converts another: where a page is
    /// a round trip to a database server that otherwise waits on the node (PostgreSQL's was
    /// idle a sixth of a 1M-entry export). SQLite reads on the node's own cores, which an
    /// export already keeps busy, and each extra reading connection fills a page cache of its
    /// own (BENCHMARKS.md, issue #20, part 11).
    fn reads_pages_ahead(&self) -> bool {
        false
    }

    /// How many entries match the filter.
    async fn count(&self, tenant: TenantId, filter: &Filter) -> Result<u64, StoreError>;

    /// How many entries match the filter per UTC hour or day (of the filter's clock) and
    /// outcome, for the timeline; exact, in any order, without zero counts.
    async fn tallies(
        &self,
        tenant: TenantId,
        filter: &Filter,
        unit: TallyUnit,
    ) -> Result<Vec<Tally>, StoreError>;

    /// One entry by id; tells a pruned entry from one that never existed in this tenant.
    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Lookup, StoreError>;

    /// Distinct values present in the tenant's log, with counts; actors only the
    /// [`Facets::ACTORS_LISTED`] most frequent, with their total.
    async fn facets(&self, tenant: TenantId) -> Result<Facets, StoreError>;

    /// Up to `limit` actor identities of the tenant's log whose id, name or e-mail holds
    /// `text` (any case), most frequent first: the Actor box's suggestions when a tenant has
    /// more actors than a list can hold. Empty for text with nothing to look for.
    async fn find_actors(
        &self,
        tenant: TenantId,
        text: &str,
        limit: usize,
    ) -> Result<Vec<FacetActor>, StoreError>;

    /// Number of entries ever appended to the tenant's log (the next seq), pruned ones
    /// included: it is the Merkle tree's size.
    async fn log_size(&self, tenant: TenantId) -> Result<u64, StoreError>;

    /// Every tenant's log size in one read: the periodic signer asks every second which logs
    /// grew, and one query per tenant (a thousand a second) cost more than the signing.
    async fn log_sizes(&self) -> Result<Vec<(TenantId, u64)>, StoreError>;

    /// How many entries the tenant's log gained at or after `since` (by recorded time,
    /// Sealtrail's own entries included): what a daily quota counts. An index probe, not a
    /// scan, since `recorded_at` never decreases along `seq`.
    async fn entries_since(&self, tenant: TenantId, since: Timestamp) -> Result<u64, StoreError>;

    /// Recomputes the log's integrity from stored bytes, streaming, reporting the number of
    /// entries checked so far to `progress`.
    async fn verify_log(
        &self,
        tenant: TenantId,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<LogVerification, StoreError>;
}

/// The tenant's Merkle tree and signed checkpoints: heads, proofs, leaves, tiles' levels, and
/// the record of checkpoints with its equivocation guard.
#[async_trait]
pub trait Integrity: Send + Sync + 'static {
    /// The tenant's checkpoint origin (`sealtrail/<installation>/<tenant>`), fixed at creation
    /// and named in every envelope, so leaves of one log can never pass as another's.
    async fn log_origin(&self, tenant: TenantId) -> Result<String, StoreError>;

    /// The current tree size and root, read from stored subtree hashes (O(log n)).
    async fn tree_head(&self, tenant: TenantId) -> Result<TreeHead, StoreError>;

    /// The RFC 6962 audit path of leaf `seq` in the tree of the first `size` leaves; works for
    /// pruned seqs too. `Invalid` if `seq >= size` or `size` exceeds the log.
    async fn inclusion_proof(
        &self,
        tenant: TenantId,
        seq: u64,
        size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let mut proofs = self.inclusion_proofs(tenant, vec![seq], size).await?;
        proofs
            .pop()
            .ok_or_else(|| StoreError::Backend("no inclusion proof was built".into()))
    }

    /// [`Integrity::inclusion_proof`] of each of `seqs`, in order, from one read: an evidence
    /// bundle proves every entry it holds, and neighbouring seqs share most of their paths'
    /// nodes, each read once here (one proof at a time was a store round trip and ~20 node
    /// reads per entry). `Invalid` if any seq is not below `size`.
    async fn inclusion_proofs(
        &self,
        tenant: TenantId,
        seqs: Vec<u64>,
        size: u64,
    ) -> Result<Vec<Vec<Hash>>, StoreError>;

    /// The RFC 6962 consistency proof from size `old` to size `new`. `Invalid` if
    /// `old > new` or `new` exceeds the log.
    async fn consistency_proof(
        &self,
        tenant: TenantId,
        old: u64,
        new: u64,
    ) -> Result<Vec<Hash>, StoreError>;

    /// Up to `limit` leaves from `from_seq` on, ascending, skipping pruned ones: the raw
    /// material of evidence bundles.
    async fn leaves(
        &self,
        tenant: TenantId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<LeafRecord>, StoreError>;

    /// The checkpoint with the largest size recorded for the tenant.
    async fn latest_checkpoint(
        &self,
        tenant: TenantId,
    ) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// The checkpoint recorded for exactly this size, if any.
    async fn checkpoint_at(
        &self,
        tenant: TenantId,
        size: u64,
    ) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// Records a signed checkpoint: the equivocation guard. `Conflict` for a size below the
    /// latest recorded, another root for a recorded size, a size beyond the log, or a root
    /// that is not the tree's root at that size. The same size and root again return the
    /// existing record, with any signature line of `note` by a key it does not carry yet
    /// added to it: that is how witnesses' cosignatures are kept (the caller verifies them).
    async fn record_checkpoint(
        &self,
        tenant: TenantId,
        size: u64,
        root: Hash,
        note: &str,
    ) -> Result<StoredCheckpoint, StoreError>;

    /// Records many checkpoints, each checked exactly as [`Store::record_checkpoint`] checks
    /// one; one result per item, in order. The periodic signer sends every tenant that grew
    /// since its last tick, and a backend whose writes are serialised (SQLite) records them in
    /// one transaction, so signing costs one durable write per tick however many tenants grew,
    /// instead of one per tenant competing with appends.
    async fn record_checkpoints(
        &self,
        batch: Vec<CheckpointToRecord>,
    ) -> Vec<Result<StoredCheckpoint, StoreError>> {
        let mut results = Vec::with_capacity(batch.len());
        for c in batch {
            results.push(
                self.record_checkpoint(c.tenant, c.size, c.root, &c.note)
                    .await,
            );
        }
        results
    }

    /// The complete-subtree hashes at tree `level`, indexes `first .. first + count`, of the
    /// tenant's tree (a C2SP tile is one such range): `Invalid` when the tree does not have
    /// them all yet, `Corrupt` when a node that must exist is missing.
    async fn tree_level(
        &self,
        tenant: TenantId,
        level: u32,
        first: u64,
        count: u64,
    ) -> Result<Vec<Hash>, StoreError>;
}

/// A tenant's settings and what they set in motion: retention and its prune, legal hold,
/// export exclusions, tile access, usage limits, and GDPR erasure.
#[async_trait]
pub trait Lifecycle: Send + Sync + 'static {
    /// The tenant's retention and legal hold.
    async fn settings(&self, tenant: TenantId) -> Result<TenantSettings, StoreError>;

    /// Changes the retention; `Invalid` below [`Retention::MIN_DAYS`]. Returns the new settings.
    async fn set_retention(
        &self,
        tenant: TenantId,
        retention: Retention,
    ) -> Result<TenantSettings, StoreError>;

    /// Sets or lifts the legal hold. Returns the new settings.
    async fn set_legal_hold(
        &self,
        tenant: TenantId,
        hold: bool,
    ) -> Result<TenantSettings, StoreError>;

    /// Replaces the list of `properties` keys exports leave out; keys are trimmed, deduplicated
    /// and sorted, and must be 1-128 characters without control characters (else `Invalid`).
    async fn set_export_exclusions(
        &self,
        tenant: TenantId,
        keys: Vec<String>,
    ) -> Result<TenantSettings, StoreError>;

    /// Sets who may read the log's tiles. Returns the new settings.
    async fn set_tile_access(
        &self,
        tenant: TenantId,
        access: TileAccess,
    ) -> Result<TenantSettings, StoreError>;

    /// Sets the period the audit page opens on (`None`: any time); `Invalid` for anything but
    /// a preset ([`sealtrail_core::filter::check_default_period`]). Returns the new settings.
    async fn set_default_period(
        &self,
        tenant: TenantId,
        period: Option<String>,
    ) -> Result<TenantSettings, StoreError>;

    /// Replaces the tenant's usage limits; `Invalid` for zero or implausibly large values
    /// ([`TenantLimits::check`]). Returns the new settings.
    async fn set_limits(
        &self,
        tenant: TenantId,
        limits: TenantLimits,
    ) -> Result<TenantSettings, StoreError>;

    /// Deletes entries recorded before the order's cutoff (bodies, vault values, search and
    /// filter rows), keeping their tree hashes so proofs and consistency still hold, in
    /// bounded chunks so ingest keeps flowing. Before it removes anything it appends a
    /// `retention.pruned` entry naming the new first seq ([`pruning`]): the only thing
    /// `verify` accepts as the reason entries are gone. `Conflict` under legal hold.
    async fn prune(&self, tenant: TenantId, order: &PruneOrder)
        -> Result<PruneOutcome, StoreError>;

    /// GDPR erasure of a data subject (an actor or target id, or an e-mail address) by `by`,
    /// who the `subject.erased` entry it ends with names, the pseudonym keyed with the
    /// deployment's `key`: the
    /// subject's actors and targets become a stable pseudonym, their entries lose their
    /// context, and whole-token mentions of their specific identifiers (e-mail, full name,
    /// long ids) are replaced in every other vault value, along with the search and filter
    /// copies; the rules are in `erasure` and `scrub`. `NotFound` when no actor or target is
    /// the subject, with nothing written. [`ErasureMode::DryRun`] reports the same outcome
    /// and writes nothing. Envelopes and tree hashes are untouched, so every proof and
    /// checkpoint stays valid.
    async fn erase_subject(
        &self,
        tenant: TenantId,
        subject: &str,
        mode: ErasureMode,
        by: &Actor,
        key: &PseudonymKey,
    ) -> Result<ErasureOutcome, StoreError>;

    /// Writes the `subject.erased` entry of every erasure run of `tenant` that finished (or
    /// was interrupted) without one, as done by the actor who started it
    /// ([`erasure::ledger`]); returns how many. [`Store::erase_subject`] ends with it, and
    /// `serve` runs it at start and nightly, so erased values that a crash left without their
    /// entry are accounted for again by the next start (until then `verify` names the run).
    /// Only runs sealed with `key` (the deployment's pseudonym key) are recorded: a run
    /// written into the database by hand is left for `verify` to report.
    async fn finish_erasures(
        &self,
        tenant: TenantId,
        key: &PseudonymKey,
    ) -> Result<u64, StoreError>;
}

/// Who may act: tenants, API keys, the IP allowlist, users and web sessions.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// Creates a tenant; `Conflict` if the name is taken.
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError>;

    /// All tenants, oldest first.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// A tenant by its name.
    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StoreError>;

    /// A tenant by its internal id.
    async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, StoreError>;

    /// Gives `tenant` another name, `alias`, by which compatible APIs may name it (a WorkOS
    /// organization id, a Retraced project id); `Conflict` when the tenant already has it,
    /// `NotFound` for an unknown tenant. Aliases are per tenant: two tenants may hold the same
    /// one (an alias only ever confirms the tenant a key already names). The caller checks the
    /// alias's form.
    async fn add_tenant_alias(&self, tenant: TenantId, alias: &str) -> Result<(), StoreError>;

    /// Removes one of `tenant`'s aliases; false when it had no such alias.
    async fn remove_tenant_alias(&self, tenant: TenantId, alias: &str) -> Result<bool, StoreError>;

    /// `tenant`'s aliases, sorted.
    async fn tenant_aliases(&self, tenant: TenantId) -> Result<Vec<String>, StoreError>;

    /// Whether `tenant` has the alias `alias` (exact, case-sensitive).
    async fn has_tenant_alias(&self, tenant: TenantId, alias: &str) -> Result<bool, StoreError>;

    /// Stores a new key's record (prefix as id, hash, scopes). The plaintext never reaches here.
    async fn insert_api_key(
        &self,
        tenant: TenantId,
        prefix: &str,
        hash: [u8; 32],
        name: &str,
        scopes: &[Scope],
    ) -> Result<ApiKey, StoreError>;

    /// The key with this prefix, revoked or not, in any tenant (authentication starts here).
    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<KeyRecord>, StoreError>;

    /// The tenant's keys, newest first, including revoked ones (an audit needs both).
    async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes a key of this tenant. Returns the key as it now is, or `None` if the tenant has
    /// no key with that id. Revoking twice keeps the first revocation time.
    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        id: &str,
    ) -> Result<Option<ApiKey>, StoreError>;

    /// Replaces the web origins allowed to call the tenant's API from a browser; normalised
    /// ([`sealtrail_core::cors::check_origins`]), `Invalid` naming the first bad one.
    async fn set_cors_origins(
        &self,
        tenant: TenantId,
        origins: Vec<String>,
    ) -> Result<TenantSettings, StoreError>;

    /// Every origin any tenant allows: what a CORS preflight, which carries no key and so
    /// names no tenant, is answered for (the request itself is checked against its tenant).
    async fn cors_origins_of_all_tenants(&self) -> Result<Vec<String>, StoreError>;

    /// Replaces the tenant's IP allowlist; entries are parsed and normalised
    /// ([`sealtrail_core::ip_allowlist::IpAllowlist`]), `Invalid` naming the first bad one.
    async fn set_ip_allowlist(
        &self,
        tenant: TenantId,
        entries: Vec<String>,
    ) -> Result<TenantSettings, StoreError>;

    /// Creates a user of `tenant`; `Conflict` if the e-mail is taken in that tenant.
    async fn create_user(&self, tenant: TenantId, user: NewUser) -> Result<User, StoreError>;

    /// The tenant's user with this (normalised) e-mail, active or not.
    async fn user_by_email(
        &self,
        tenant: TenantId,
        email: &str,
    ) -> Result<Option<User>, StoreError>;

    /// The tenant's user with this id; `None` for another tenant's user.
    async fn user_by_id(&self, tenant: TenantId, id: &str) -> Result<Option<User>, StoreError>;

    /// The tenant's users, oldest first, deactivated ones included.
    async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>, StoreError>;

    /// Applies one change to a user of `tenant`; `None` if the tenant has no such user.
    async fn update_user(
        &self,
        tenant: TenantId,
        id: &str,
        change: UserChange,
    ) -> Result<Option<User>, StoreError>;

    /// Records a signed-in session (keyed by its token's hash).
    async fn create_session(&self, session: Session) -> Result<(), StoreError>;

    /// The session with this token hash, in any tenant (authentication starts here), expired
    /// or not: the caller decides, so it can say "your session expired".
    async fn session(&self, token_hash: [u8; 32]) -> Result<Option<Session>, StoreError>;

    /// Ends a session (sign-out). Ending an unknown session is not an error.
    async fn delete_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError>;

    /// Deletes sessions whose `expires_at` is at or before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// One registered version of an action's schema, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchema {
    /// The action it constrains (exact, as events name it).
    pub action: String,
    /// 1 for the first schema registered for the action, then one more per registration.
    pub version: u32,
    /// The JSON Schema document (JSON text), checked by the caller before it was stored.
    pub document: String,
    /// The form it was registered in when that was not a JSON Schema (a WorkOS schema), so
    /// that API can show it back as it was sent.
    pub source: Option<String>,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// Each tenant's per-action schemas: versions are only ever added, never changed, so an
/// event checked against version N can be checked again against the same document later.
#[async_trait]
pub trait Schemas: Send + Sync + 'static {
    /// Stores `document` as the next version of `action`'s schema (1 for the first) and
    /// returns it; `NotFound` for an unknown tenant, `Conflict` when another registration of
    /// the same action took that version first (retry).
    async fn add_action_schema(
        &self,
        tenant: TenantId,
        action: &str,
        document: &str,
        source: Option<&str>,
    ) -> Result<StoredSchema, StoreError>;

    /// Every version of every action's schema of `tenant`, by action then version.
    async fn action_schemas(&self, tenant: TenantId) -> Result<Vec<StoredSchema>, StoreError>;
}

/// The persistence contract, split by role so each part reads on its own: [`EventLog`],
/// [`Integrity`], [`Lifecycle`], [`Directory`], [`Schemas`], [`Sinks`], [`Jobs`] and [`SignInAttempts`]. Every method is tenant-scoped where data is
/// tenant-owned: no call can read or write another tenant's entries. Callers hold an
/// `Arc<dyn Store>`, on which every role's methods are callable without importing the role.
///
/// Each backend keeps its own SQL and I/O (SQLite on one writer thread and a read pool,
/// PostgreSQL with row locks and round trips batched into one statement); what they share is
/// only pure: the sequencer, the filter conditions, group commit, paging, policies and rules.
#[async_trait]
pub trait Store:
    EventLog + Integrity + Lifecycle + Directory + Schemas + Sinks + Jobs + SignInAttempts
{
    /// Checks the backend can serve: used by `/healthz`.
    async fn health(&self) -> Result<(), StoreError>;

    /// The key with this prefix (as [`Directory::api_key_by_prefix`]) and its tenant's
    /// settings (as [`Lifecycle::settings`]): every authenticated request reads both, the key
    /// to know the tenant and the settings for its IP allowlist and limits, so each backend
    /// reads them together (one statement on PostgreSQL, one read transaction on SQLite).
    async fn api_key_with_settings(
        &self,
        prefix: &str,
    ) -> Result<Option<(KeyRecord, TenantSettings)>, StoreError>;
}
