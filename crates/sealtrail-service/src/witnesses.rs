//! The witnesses of this installation's logs: asking them to cosign each new checkpoint
//! (C2SP tlog-witness, as a client) and keeping their cosignatures with the checkpoint.
//!
//! Why: a checkpoint signed only by the log says nothing about whether the log showed everyone
//! the same tree or went back to an older database. Each configured witness cosigns a
//! checkpoint only when it extends the last one that witness saw; the cosignatures are merged
//! into the stored note (so the API, the tiles endpoint and evidence bundles carry them) and
//! `sealtrail verify --witness` checks for a quorum. A witness that is down never slows
//! ingest or shutdown: signing only marks a tenant as waiting, and one worker asks the
//! witnesses in the background (again, with growing pauses, while a checkpoint lacks its
//! quorum); only evidence bundles and an explicit `POST /v1/checkpoint` wait, at most a few
//! seconds, for the cosignatures of the checkpoint they return.

mod ask;

use crate::lock;
use ask::ask;
use sealtrail_core::checkpoint::{merge_signatures, split_note};
use sealtrail_core::cosignature::CosignatureVerifier;
use sealtrail_core::TenantId;
use sealtrail_store::{Store, StoredCheckpoint};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// How long one request to a witness may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The first pause before asking again for a checkpoint that lacks its quorum; it doubles up
/// to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest pause between attempts for one log.
const MAX_RETRY: Duration = Duration::from_secs(300);

/// One configured witness: its key and its submission prefix (`.../add-checkpoint` is added).
#[derive(Debug, Clone)]
pub struct WitnessSpec {
    /// The witness's cosignature verifier key.
    pub key: CosignatureVerifier,
    /// Its submission prefix, e.g. `https://witness.example/witness`.
    pub url: String,
}

impl std::str::FromStr for WitnessSpec {
    type Err = String;

    /// Parses `<witness verifier key> <submission URL prefix>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, url) = s
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("expected `<witness key> <URL>`, got `{s}`"))?;
        let key = key
            .parse()
            .map_err(|e| format!("witness key `{key}`: {e}"))?;
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "witness URL `{url}` must start with http:// or https://"
            ));
        }
        Ok(WitnessSpec {
            key,
            url: url.to_string(),
        })
    }
}

/// What a witness last answered for one log, as the log's own checkpoint answers show it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WitnessStatus {
    /// The witness's name.
    pub name: String,
    /// The last tree size of this log it cosigned through this node.
    pub last_cosigned_size: Option<u64>,
    /// Why the last attempt failed, until a later one succeeds.
    pub last_error: Option<String>,
}

/// Something kept per witness (by its index) and tenant.
type PerWitnessAndLog<T> = Mutex<HashMap<(usize, TenantId), T>>;

/// The configured witnesses and what this node knows of each.
pub struct Witnesses {
    specs: Vec<WitnessSpec>,
    quorum: usize,
    client: reqwest::Client,
    /// The size each witness last cosigned, per tenant (learned from answers and 409s).
    known: PerWitnessAndLog<u64>,
    /// One request at a time per witness and tenant, so `known` stays true.
    locks: PerWitnessAndLog<Arc<tokio::sync::Mutex<()>>>,
    /// The last outcome per witness and tenant.
    outcomes: PerWitnessAndLog<(Option<u64>, Option<String>)>,
    /// Tenants whose latest checkpoint waits for cosignatures.
    pending: Mutex<BTreeSet<TenantId>>,
    /// Tenants below quorum: when to ask again, and the pause after that.
    retries: Mutex<BTreeMap<TenantId, (Instant, Duration)>>,
    wake: Notify,
}

impl Witnesses {
    /// The witnesses of `specs`, a checkpoint counting as witnessed with `quorum` of them
    /// (default: all). The same key twice, or a quorum of 0 or above the number of witnesses,
    /// is refused: either would make the quorum mean less than it says.
    pub fn new(specs: Vec<WitnessSpec>, quorum: Option<usize>) -> Result<Witnesses, String> {
        for (i, spec) in specs.iter().enumerate() {
            if specs[..i].iter().any(|s| s.key == spec.key) {
                return Err(format!("witness {} is configured twice", spec.key));
            }
        }
        let quorum = quorum.unwrap_or(specs.len());
        if !specs.is_empty() && !(1..=specs.len()).contains(&quorum) {
            return Err(format!(
                "a witness quorum of {quorum} needs between 1 and {} configured witnesses",
                specs.len()
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("building the witness client: {e}"))?;
        Ok(Witnesses {
            specs,
            quorum,
            client,
            known: Mutex::default(),
            locks: Mutex::default(),
            outcomes: Mutex::default(),
            pending: Mutex::default(),
            retries: Mutex::default(),
            wake: Notify::new(),
        })
    }

    /// Whether any witness is configured.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Cosignatures a checkpoint needs to count as witnessed.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// The names of the configured witnesses whose cosignature on `note` verifies.
    pub fn cosigned_by(&self, note: &str) -> Vec<String> {
        self.specs
            .iter()
            .filter(|s| matches!(s.key.cosigned_at(note), Ok(Some(_))))
            .map(|s| s.key.name().to_string())
            .collect()
    }

    /// Whether `note` carries the quorum (always, with no witness configured).
    pub fn has_quorum(&self, note: &str) -> bool {
        self.cosigned_by(note).len() >= self.quorum
    }

    /// What each witness last answered for `tenant`'s log (never another tenant's).
    pub fn status(&self, tenant: TenantId) -> Vec<WitnessStatus> {
        let outcomes = lock(&self.outcomes);
        self.specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let (size, error) = outcomes.get(&(i, tenant)).cloned().unwrap_or_default();
                WitnessStatus {
                    name: spec.key.name().to_string(),
                    last_cosigned_size: size,
                    last_error: error,
                }
            })
            .collect()
    }

    /// Marks the tenant's latest checkpoint as waiting for cosignatures; the worker
    /// ([`Witnesses::run`]) asks for them. Never blocks.
    pub fn notify(&self, tenant: TenantId) {
        if self.specs.is_empty() {
            return;
        }
        lock(&self.pending).insert(tenant);
        self.wake.notify_one();
    }

    /// Asks for cosignatures of every tenant marked by [`Witnesses::notify`], and again, with
    /// growing pauses, for those whose latest checkpoint lacks its quorum, until `shutdown`
    /// changes.
    pub async fn run(self: Arc<Self>, store: Arc<dyn Store>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let next_retry = lock(&self.retries).values().map(|(at, _)| *at).min();
            let pause = next_retry
                .map(|at| at.saturating_duration_since(Instant::now()))
                .unwrap_or(MAX_RETRY);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return,
            }
            let mut tenants = std::mem::take(&mut *lock(&self.pending));
            let now = Instant::now();
            tenants.extend(
                lock(&self.retries)
                    .iter()
                    .filter(|(_, (at, _))| *at <= now)
                    .map(|(tenant, _)| *tenant),
            );
            for tenant in tenants {
                let witnessed = match store.latest_checkpoint(tenant).await {
                    Ok(Some(checkpoint)) => {
                        let recorded = self.cosign(store.as_ref(), tenant, checkpoint).await;
                        self.has_quorum(&recorded.note)
                    }
                    Ok(None) => true,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading a checkpoint to witness failed");
                        false
                    }
                };
                self.schedule_retry(tenant, witnessed);
            }
        }
    }

    /// Forgets the tenant's retry once its checkpoint is witnessed; otherwise asks again after
    /// a pause twice as long as the last one.
    fn schedule_retry(&self, tenant: TenantId, witnessed: bool) {
        let mut retries = lock(&self.retries);
        if witnessed {
            retries.remove(&tenant);
            return;
        }
        let pause = retries
            .get(&tenant)
            .map_or(FIRST_RETRY, |(_, last)| (*last * 2).min(MAX_RETRY));
        retries.insert(tenant, (Instant::now() + pause, pause));
    }

    /// [`Witnesses::cosign`], waiting at most `wait` for it: the asking goes on (and its
    /// cosignatures are recorded) after the wait ends.
    pub async fn cosign_within(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        tenant: TenantId,
        checkpoint: StoredCheckpoint,
        wait: Duration,
    ) -> StoredCheckpoint {
        let (witnesses, store) = (self.clone(), store.clone());
        let fallback = checkpoint.clone();
        let task =
            tokio::spawn(async move { witnesses.cosign(store.as_ref(), tenant, checkpoint).await });
        match tokio::time::timeout(wait, task).await {
            Ok(Ok(recorded)) => recorded,
            _ => {
                self.notify(tenant);
                fallback
            }
        }
    }

    /// [`Witnesses::cosign`] for each of `checkpoints` lacking its quorum, eight logs at a
    /// time, for at most `wait` in all (what is cosigned by then is recorded; the rest is not
    /// waited for).
    pub async fn cosign_all(
        &self,
        store: &dyn Store,
        checkpoints: Vec<(TenantId, StoredCheckpoint)>,
        wait: Duration,
    ) {
        use futures::StreamExt;
        let missing = checkpoints
            .into_iter()
            .filter(|(_, checkpoint)| !self.has_quorum(&checkpoint.note));
        let asking = futures::stream::iter(missing)
            .map(|(tenant, checkpoint)| self.cosign(store, tenant, checkpoint))
            .buffer_unordered(8)
            .for_each(|_| async {});
        let _ = tokio::time::timeout(wait, asking).await;
    }

    /// Asks every witness that has not cosigned `checkpoint` yet, at once, and records the
    /// cosignature line each one's answer holds for it (nothing else of the answer); returns
    /// the checkpoint as recorded, or as given when nothing was added. Outcomes are logged and
    /// kept for [`Witnesses::status`].
    pub async fn cosign(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        checkpoint: StoredCheckpoint,
    ) -> StoredCheckpoint {
        let text = match split_note(&checkpoint.note) {
            Ok((text, _)) => text.to_string(),
            Err(e) => {
                tracing::error!(error = %e, "a stored checkpoint is not a signed note; not asking witnesses");
                return checkpoint;
            }
        };
        let missing: Vec<(usize, &WitnessSpec)> = self
            .specs
            .iter()
            .enumerate()
            .filter(|(_, spec)| !matches!(spec.key.cosigned_at(&checkpoint.note), Ok(Some(_))))
            .collect();
        let asks = missing
            .iter()
            .map(|(i, spec)| self.ask_one(store, tenant, *i, spec, &checkpoint, &text));
        let answers = futures::future::join_all(asks).await;
        let mut note = checkpoint.note.clone();
        for ((i, spec), answer) in missing.iter().zip(answers) {
            let outcome = match answer {
                Ok(line) => match merge_signatures(&note, &format!("{text}\n{line}\n")) {
                    Ok(Some(merged)) => {
                        note = merged;
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(format!("its cosignature does not merge into the note: {e}")),
                },
                Err(e) => Err(e),
            };
            self.record_outcome(*i, spec, tenant, checkpoint.size, outcome);
        }
        if note == checkpoint.note {
            return checkpoint;
        }
        match store
            .record_checkpoint(tenant, checkpoint.size, checkpoint.root, &note)
            .await
        {
            Ok(recorded) => recorded,
            Err(e) => {
                tracing::warn!(error = %e, "recording cosignatures failed");
                checkpoint
            }
        }
    }

    /// One witness's verified cosignature line, one exchange at a time per witness and log.
    async fn ask_one(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        witness: usize,
        spec: &WitnessSpec,
        checkpoint: &StoredCheckpoint,
        text: &str,
    ) -> Result<String, String> {
        let exclusive = lock(&self.locks)
            .entry((witness, tenant))
            .or_default()
            .clone();
        let _one_at_a_time = exclusive.lock().await;
        let known = lock(&self.known)
            .get(&(witness, tenant))
            .copied()
            .unwrap_or(0);
        let asked = ask(&self.client, store, tenant, spec, checkpoint, text, known).await;
        let mut known = lock(&self.known);
        match asked.known {
            Some(size) => known.insert((witness, tenant), size),
            None => known.remove(&(witness, tenant)),
        };
        asked.result.map_err(|e| e.to_string())
    }

    fn record_outcome(
        &self,
        witness: usize,
        spec: &WitnessSpec,
        tenant: TenantId,
        size: u64,
        outcome: Result<(), String>,
    ) {
        let mut outcomes = lock(&self.outcomes);
        let entry = outcomes.entry((witness, tenant)).or_default();
        match outcome {
            Ok(()) => {
                *entry = (Some(size), None);
                metrics::counter!("sealtrail_witness_cosignatures_total").increment(1);
            }
            Err(message) => {
                tracing::warn!(witness = %spec.key.name(), tenant = tenant.0, size, error = %message, "the witness did not cosign the checkpoint");
                metrics::counter!("sealtrail_witness_refusals_total").increment(1);
                entry.1 = Some(message);
            }
        }
    }
}
