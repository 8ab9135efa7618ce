//! Signs checkpoints: at least every second while a tenant's log grows, and on demand.
//!
//! The store refuses to record a checkpoint that would equivocate (a smaller size than one
//! already signed, or another root for a signed size), across restarts and across nodes. A
//! database restored from an older copy would forget what it refused, so before every
//! signature the tree must also extend the newest checkpoint this node remembers signing
//! outside the database ([`crate::signed_memory`]), which is made durable before the new
//! checkpoint is recorded or returned.

use crate::lock;
use crate::signed_memory::{extends, rollback_message, SignedMemory};
use crate::witnesses::Witnesses;
use sealtrail_core::checkpoint::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
use sealtrail_core::TenantId;
use sealtrail_store::{CheckpointToRecord, Store, StoreError, StoredCheckpoint, TreeHead};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Why a checkpoint could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading the tree or recording the checkpoint failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The note could not be signed (an origin the format cannot carry).
    #[error("signing the checkpoint failed: {0}")]
    Note(#[from] NoteError),
    /// The database's tree no longer extends a checkpoint this node signed: signing would fork
    /// the log.
    #[error("{0}")]
    Rollback(String),
    /// The record of signed checkpoints could not be written, so nothing is signed.
    #[error("remembering the signed checkpoint failed: {0}")]
    Memory(#[from] crate::signed_memory::MemoryError),
}

/// How long an on-demand checkpoint waits for witnesses' cosignatures before it is returned
/// with those it has.
const COSIGN_WAIT: Duration = Duration::from_secs(3);

/// The installation's signer plus the per-tenant serialisation of signing.
pub struct Checkpointer {
    store: Arc<dyn Store>,
    signer: NoteSigner,
    memory: SignedMemory,
    witnesses: Arc<Witnesses>,
    /// Log origins by tenant (fixed at creation).
    origins: Mutex<HashMap<TenantId, String>>,
    tenant_locks: Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>>,
}

impl Checkpointer {
    /// A checkpointer signing with `signer` over `store`, never behind what `memory` says this
    /// node signed before, asking `witnesses` (possibly none) to cosign what it signs.
    pub fn new(
        store: Arc<dyn Store>,
        signer: NoteSigner,
        memory: SignedMemory,
        witnesses: Arc<Witnesses>,
    ) -> Self {
        Checkpointer {
            store,
            signer,
            memory,
            witnesses,
            origins: Mutex::new(HashMap::new()),
            tenant_locks: Mutex::new(HashMap::new()),
        }
    }

    /// The store it signs for.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The witnesses asked to cosign.
    pub fn witnesses(&self) -> &Arc<Witnesses> {
        &self.witnesses
    }

    /// The public key auditors verify checkpoints with.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    fn lock_for(&self, tenant: TenantId) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.tenant_locks).entry(tenant).or_default().clone()
    }

    /// A signed checkpoint covering at least everything committed to the tenant's log before
    /// this call: the latest one if it already does, else a new one. Witnesses, if any, are
    /// asked in the background; this never waits for them.
    pub async fn checkpoint_now(
        &self,
        tenant: TenantId,
    ) -> Result<StoredCheckpoint, CheckpointError> {
        let checkpoint = self.sign_now(tenant).await?;
        if !self.witnesses.has_quorum(&checkpoint.note) {
            self.witnesses.notify(tenant);
        }
        Ok(checkpoint)
    }

    /// [`Checkpointer::checkpoint_now`], then up to a few seconds for the witnesses'
    /// cosignatures when it lacks its quorum: for evidence bundles and an explicit request,
    /// whose checkpoint an auditor checks against the witnesses.
    pub async fn witnessed_checkpoint_now(
        &self,
        tenant: TenantId,
    ) -> Result<StoredCheckpoint, CheckpointError> {
        let checkpoint = self.sign_now(tenant).await?;
        if self.witnesses.has_quorum(&checkpoint.note) {
            return Ok(checkpoint);
        }
        Ok(self
            .witnesses
            .cosign_within(&self.store, tenant, checkpoint, COSIGN_WAIT)
            .await)
    }

    /// [`Checkpointer::checkpoint_now`] without asking the witnesses.
    async fn sign_now(&self, tenant: TenantId) -> Result<StoredCheckpoint, CheckpointError> {
        let lock = self.lock_for(tenant);
        let _serialised = lock.lock().await;
        let checkpoint = match self.head(tenant).await? {
            Head::Covered(latest) => return Ok(latest),
            Head::Unsigned(checkpoint) => checkpoint,
        };
        self.guard(tenant, &checkpoint).await?;
        let note = checkpoint.sign(&self.signer)?;
        self.memory
            .remember(&[(checkpoint.clone(), note.clone())])?;
        let recorded = self
            .store
            .record_checkpoint(tenant, checkpoint.size, checkpoint.root, &note)
            .await;
        self.recorded(tenant, checkpoint.size, recorded).await
    }

    /// Counts a recorded checkpoint; a conflict because another node signed a larger tree
    /// meanwhile is no failure, since that checkpoint covers ours too.
    async fn recorded(
        &self,
        tenant: TenantId,
        size: u64,
        result: Result<StoredCheckpoint, StoreError>,
    ) -> Result<StoredCheckpoint, CheckpointError> {
        match result {
            Ok(recorded) => {
                metrics::counter!("sealtrail_checkpoints_signed_total").increment(1);
                Ok(recorded)
            }
            Err(StoreError::Conflict(reason)) => {
                match self.store.latest_checkpoint(tenant).await? {
                    Some(latest) if latest.size >= size => Ok(latest),
                    _ => Err(StoreError::Conflict(reason).into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Signs, every `interval`, for each tenant whose log grew since its last checkpoint, until
    /// `shutdown` changes. Failures are logged and retried on the next tick.
    pub async fn run(self: Arc<Self>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut signed: HashMap<TenantId, u64> = HashMap::new();
        let mut behind_since: HashMap<TenantId, std::time::Instant> = HashMap::new();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            // One read for every log's size: most logs did not grow since the last tick.
            let sizes = match self.store.log_sizes().await {
                Ok(sizes) => sizes,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the logs' sizes failed; will retry");
                    continue;
                }
            };
            if let Err(e) = self.sign_grown_logs(&mut signed, &sizes).await {
                tracing::warn!(error = %e, "periodic checkpoint signing failed; will retry");
            }
            record_ages(&sizes, &signed, &mut behind_since);
        }
    }

    /// Signs every log that grew since the last tick and records all the notes in one
    /// batch (one durable write on SQLite, however many tenants grew). Tenants being signed
    /// on demand at the same moment are left for the next tick.
    async fn sign_grown_logs(
        &self,
        signed: &mut HashMap<TenantId, u64>,
        sizes: &[(TenantId, u64)],
    ) -> Result<(), CheckpointError> {
        let mut held = Vec::new();
        let mut batch = Vec::new();
        let mut remembered = Vec::new();
        for &(tenant, size) in sizes {
            if signed.get(&tenant).is_some_and(|s| *s >= size) {
                continue;
            }
            let lock = self.lock_for(tenant);
            let Ok(guard) = lock.try_lock_owned() else {
                continue;
            };
            // A log this process signed before needs no look at the latest checkpoint: it grew
            // past what was signed (another node's larger checkpoint makes the record below
            // answer with that one instead).
            let head = if signed.contains_key(&tenant) {
                match self.store.tree_head(tenant).await {
                    Ok(head) => self.unsigned(tenant, head).await,
                    Err(e) => Err(e),
                }
            } else {
                self.head(tenant).await
            };
            match head {
                Ok(Head::Unsigned(checkpoint)) => {
                    if let Err(e) = self.guard(tenant, &checkpoint).await {
                        tracing::error!(tenant = tenant.0, error = %e, "checkpoint not signed");
                        continue;
                    }
                    let note = checkpoint.sign(&self.signer)?;
                    remembered.push((checkpoint.clone(), note.clone()));
                    batch.push(CheckpointToRecord {
                        tenant,
                        size: checkpoint.size,
                        root: checkpoint.root,
                        note,
                    });
                    held.push((tenant, guard));
                }
                Ok(Head::Covered(latest)) => {
                    signed.insert(tenant, latest.size);
                }
                Err(e) => {
                    tracing::warn!(tenant = tenant.0, error = %e, "checkpoint not signed")
                }
            }
        }
        // Durable before any of them is recorded, so none can be published and then forgotten.
        self.memory.remember(&remembered)?;
        let sizes: Vec<u64> = batch.iter().map(|c| c.size).collect();
        let results = self.store.record_checkpoints(batch).await;
        for ((tenant, _guard), (size, result)) in
            held.into_iter().zip(sizes.into_iter().zip(results))
        {
            match self.recorded(tenant, size, result).await {
                Ok(cp) => {
                    signed.insert(tenant, cp.size);
                    self.witnesses.notify(tenant);
                }
                Err(e) => {
                    tracing::warn!(tenant = tenant.0, error = %e, "checkpoint not signed")
                }
            }
        }
        Ok(())
    }

    /// Refuses a checkpoint whose tree does not extend the one this node last signed for the
    /// log (a database restored from an older copy, or changed behind its back).
    async fn guard(
        &self,
        tenant: TenantId,
        checkpoint: &Checkpoint,
    ) -> Result<(), CheckpointError> {
        let Some(remembered) = self.memory.get(&checkpoint.origin) else {
            return Ok(());
        };
        match extends(
            self.store.as_ref(),
            tenant,
            &remembered,
            checkpoint.size,
            &checkpoint.root,
        )
        .await?
        {
            Ok(()) => Ok(()),
            Err(why) => Err(CheckpointError::Rollback(rollback_message(
                &checkpoint.origin,
                &why,
                self.memory.path(),
            ))),
        }
    }

    /// Checks every log's tree against what this node remembers signing; `serve` refuses to
    /// start on the first that does not extend it.
    pub async fn check_all(&self) -> Result<(), CheckpointError> {
        for tenant in self.store.list_tenants().await? {
            let head = self.store.tree_head(tenant.id).await?;
            let checkpoint = Checkpoint {
                origin: self.origin(tenant.id).await?,
                size: head.size,
                root: head.root,
            };
            self.guard(tenant.id, &checkpoint).await?;
        }
        Ok(())
    }

    /// The tenant's latest checkpoint if it covers the whole tree, else the checkpoint to sign.
    async fn head(&self, tenant: TenantId) -> Result<Head, StoreError> {
        let head = self.store.tree_head(tenant).await?;
        if let Some(latest) = self.store.latest_checkpoint(tenant).await? {
            if latest.size >= head.size {
                return Ok(Head::Covered(latest));
            }
        }
        self.unsigned(tenant, head).await
    }

    /// The checkpoint of `head`, to sign.
    async fn unsigned(&self, tenant: TenantId, head: TreeHead) -> Result<Head, StoreError> {
        Ok(Head::Unsigned(Checkpoint {
            origin: self.origin(tenant).await?,
            size: head.size,
            root: head.root,
        }))
    }

    /// The tenant's log origin: fixed when the tenant is created, so read once per process
    /// rather than before every signature.
    async fn origin(&self, tenant: TenantId) -> Result<String, StoreError> {
        if let Some(origin) = lock(&self.origins).get(&tenant) {
            return Ok(origin.clone());
        }
        let origin = self.store.log_origin(tenant).await?;
        lock(&self.origins).insert(tenant, origin.clone());
        Ok(origin)
    }
}

/// Whether a tenant's tree needs a new checkpoint.
enum Head {
    /// The latest recorded checkpoint already covers the tree.
    Covered(StoredCheckpoint),
    /// The checkpoint to sign.
    Unsigned(Checkpoint),
}

/// `sealtrail_checkpoint_age_seconds` per log: how long it has held entries no signed
/// checkpoint covers (0 when covered), so an operator can alert on signing that stopped.
fn record_ages(
    sizes: &[(TenantId, u64)],
    signed: &HashMap<TenantId, u64>,
    behind_since: &mut HashMap<TenantId, std::time::Instant>,
) {
    let now = std::time::Instant::now();
    for &(tenant, size) in sizes {
        let covered = size == 0 || signed.get(&tenant).is_some_and(|s| *s >= size);
        let age = if covered {
            behind_since.remove(&tenant);
            0.0
        } else {
            now.duration_since(*behind_since.entry(tenant).or_insert(now))
                .as_secs_f64()
        };
        metrics::gauge!("sealtrail_checkpoint_age_seconds", "tenant" => tenant.0.to_string())
            .set(age);
    }
}
