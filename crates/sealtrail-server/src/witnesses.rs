//! The witnesses of this installation's logs: asking them to cosign each new checkpoint
//! (C2SP tlog-witness, as a client) and keeping their cosignatures with the checkpoint.
//!
//! Why: a checkpoint signed only by the log says nothing about whether the log showed everyone
//! the same tree or went back to an older database. Each configured witness cosigns a
//! checkpoint only when it extends the last one that witness saw; the cosignatures are merged
//! into the stored note (so the API, the tiles endpoint and evidence bundles carry them) and
//! `sealtrail verify --witness` checks for a quorum. A witness that is down never slows
//! ingest: the periodic signer only marks a tenant as waiting, and one worker asks the
//! witnesses in the background; on-demand checkpoints (bundles) wait a bounded time.

use sealtrail_core::checkpoint::merge_signatures;
use sealtrail_core::cosignature::CosignatureVerifier;
use sealtrail_core::witness::{AddCheckpoint, SIZE_CONTENT_TYPE};
use sealtrail_core::TenantId;
use sealtrail_store::{Store, StoreError, StoredCheckpoint};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// How long one request to a witness may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

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

/// What a witness last answered, for the API and the logs.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WitnessStatus {
    /// The witness's name.
    pub name: String,
    /// Its submission prefix.
    pub url: String,
    /// The last tree size it cosigned for any tenant through this node.
    pub last_cosigned_size: Option<u64>,
    /// The last refusal or failure, if the last attempt failed.
    pub last_error: Option<String>,
}

/// Why one witness did not cosign.
#[derive(Debug, thiserror::Error)]
enum AskError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Refused(String),
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
    status: Mutex<Vec<WitnessStatus>>,
    pending: Mutex<BTreeSet<TenantId>>,
    wake: Notify,
}

impl Witnesses {
    /// The witnesses of `specs`, a checkpoint counting as witnessed with `quorum` of them
    /// (default: all).
    pub fn new(specs: Vec<WitnessSpec>, quorum: Option<usize>) -> Result<Witnesses, String> {
        let quorum = quorum.unwrap_or(specs.len());
        if quorum > specs.len() || (quorum == 0 && !specs.is_empty()) {
            return Err(format!(
                "a witness quorum of {quorum} needs between 1 and {} configured witnesses",
                specs.len()
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("building the witness client: {e}"))?;
        let status = specs
            .iter()
            .map(|s| WitnessStatus {
                name: s.key.name().to_string(),
                url: s.url.clone(),
                ..WitnessStatus::default()
            })
            .collect();
        Ok(Witnesses {
            specs,
            quorum,
            client,
            known: Mutex::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
            status: Mutex::new(status),
            pending: Mutex::new(BTreeSet::new()),
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

    /// What each witness last answered.
    pub fn status(&self) -> Vec<WitnessStatus> {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Marks the tenant's latest checkpoint as waiting for cosignatures; the worker
    /// ([`Witnesses::run`]) asks for them. Never blocks.
    pub fn notify(&self, tenant: TenantId) {
        if self.specs.is_empty() {
            return;
        }
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tenant);
        self.wake.notify_one();
    }

    /// Asks for cosignatures of every tenant marked by [`Witnesses::notify`], until
    /// `shutdown` changes.
    pub async fn run(self: Arc<Self>, store: Arc<dyn Store>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            let tenants =
                std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
            for tenant in tenants {
                match store.latest_checkpoint(tenant).await {
                    Ok(Some(checkpoint)) => {
                        self.cosign(store.as_ref(), tenant, checkpoint).await;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "reading a checkpoint to witness failed"),
                }
            }
        }
    }

    /// Asks every witness that has not cosigned `checkpoint` yet, at once, and records the
    /// cosignatures that verify; returns the checkpoint as recorded (with them), or as given
    /// when none was added. Failures are logged and kept in [`Witnesses::status`].
    pub async fn cosign(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        checkpoint: StoredCheckpoint,
    ) -> StoredCheckpoint {
        let missing: Vec<usize> = (0..self.specs.len())
            .filter(|&i| !matches!(self.specs[i].key.cosigned_at(&checkpoint.note), Ok(Some(_))))
            .collect();
        let asks = missing
            .iter()
            .map(|&i| self.ask(store, tenant, i, &checkpoint));
        let answers = futures::future::join_all(asks).await;
        let mut note = checkpoint.note.clone();
        for (&i, answer) in missing.iter().zip(answers) {
            let outcome = match answer {
                Ok(lines) => match merge_signatures(&note, &format!("{}\n{lines}", text_of(&note)))
                {
                    Ok(Some(merged)) => {
                        note = merged;
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(format!("its answer does not merge into the note: {e}")),
                },
                Err(e) => Err(e.to_string()),
            };
            self.record_status(i, checkpoint.size, outcome);
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

    fn record_status(&self, witness: usize, size: u64, outcome: Result<(), String>) {
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = status.get_mut(witness) else {
            return;
        };
        match outcome {
            Ok(()) => {
                entry.last_cosigned_size = Some(size);
                entry.last_error = None;
                metrics::counter!("sealtrail_witness_cosignatures_total").increment(1);
            }
            Err(message) => {
                tracing::warn!(witness = %entry.name, size, error = %message, "the witness did not cosign the checkpoint");
                metrics::counter!("sealtrail_witness_refusals_total").increment(1);
                entry.last_error = Some(message);
            }
        }
    }

    /// One witness's cosignature lines for `checkpoint`, after at most one retry with the size
    /// the witness says it last cosigned.
    async fn ask(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        witness: usize,
        checkpoint: &StoredCheckpoint,
    ) -> Result<String, AskError> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry((witness, tenant)).or_default().clone()
        };
        let _one_at_a_time = lock.lock().await;
        let spec = &self.specs[witness];
        let mut old = self.known_size(witness, tenant);
        for _ in 0..2 {
            if old > checkpoint.size {
                let log = store.log_size(tenant).await?;
                return Err(AskError::Refused(if log < old {
                    format!(
                        "the witness cosigned a tree of {old} entries but the log now has {log}: the log was rolled back"
                    )
                } else {
                    format!("the witness already cosigned a larger tree ({old} entries)")
                }));
            }
            let proof = if old == 0 {
                Vec::new()
            } else {
                store
                    .consistency_proof(tenant, old, checkpoint.size)
                    .await?
            };
            let body = AddCheckpoint {
                old,
                proof,
                note: checkpoint.note.clone(),
            }
            .to_body();
            let response = self
                .client
                .post(format!("{}/add-checkpoint", spec.url))
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let is_size = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with(SIZE_CONTENT_TYPE));
            let text = response.text().await?;
            match status.as_u16() {
                200 => {
                    let cosigned = format!("{}\n{text}", text_of(&checkpoint.note));
                    return match spec.key.cosigned_at(&cosigned) {
                        Ok(Some(_)) => {
                            self.set_known(witness, tenant, checkpoint.size);
                            Ok(text)
                        }
                        _ => Err(AskError::Refused(
                            "its answer carries no valid cosignature by its key".into(),
                        )),
                    };
                }
                409 if is_size => {
                    let size: u64 = text.trim().parse().map_err(|_| {
                        AskError::Refused(format!("409 with an unreadable size `{}`", text.trim()))
                    })?;
                    self.set_known(witness, tenant, size);
                    if size == old {
                        return Err(AskError::Refused(format!(
                            "the witness cosigned another tree of {size} entries: the log forked"
                        )));
                    }
                    old = size;
                }
                422 => {
                    return Err(AskError::Refused(format!(
                        "the witness refused the consistency proof from {old} entries: the tree does not extend what it cosigned (a fork or a rollback)"
                    )))
                }
                code => {
                    return Err(AskError::Refused(format!(
                        "answered {code}: {}",
                        text.chars().take(200).collect::<String>()
                    )))
                }
            }
        }
        Err(AskError::Refused(
            "the witness's size kept changing; will retry".into(),
        ))
    }

    fn known_size(&self, witness: usize, tenant: TenantId) -> u64 {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.get(&(witness, tenant)).copied().unwrap_or(0)
    }

    fn set_known(&self, witness: usize, tenant: TenantId, size: u64) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.insert((witness, tenant), size);
    }
}

/// The text of a note (everything before the blank line, with its newline).
fn text_of(note: &str) -> &str {
    note.rfind("\n\n").map_or(note, |i| &note[..i + 1])
}
