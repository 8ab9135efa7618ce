//! Integrity answers the API and the page share: an entry's leaf hash and inclusion proof, a
//! checkpoint as JSON (with its witnesses' cosignatures), and the proofs an ingest answer
//! carries with `wait=checkpoint`.

use crate::error::ApiError;
use crate::state::AppState;
use sealtrail_core::merkle::Hash;
use sealtrail_core::TenantId;
use sealtrail_store::StoredCheckpoint;
use serde_json::{json, Value};

/// Hex for every hash in responses.
pub fn hexes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

/// The leaf hash of entry `seq` in hex, or `None` once the entry is pruned: its bytes are gone
/// but its tree hashes (and so its proofs) remain.
pub(crate) async fn leaf_hex(
    store: &dyn sealtrail_store::Store,
    tenant: TenantId,
    seq: u64,
) -> Result<Option<String>, ApiError> {
    Ok(store
        .leaves(tenant, seq, 1)
        .await?
        .into_iter()
        .find(|l| l.seq == seq)
        .map(|l| hex::encode(l.leaf_hash)))
}

/// A checkpoint of `tenant`'s log as the API shows it; with witnesses configured, which of
/// them cosigned it, whether that reaches the quorum, and what each last answered for this log.
pub fn checkpoint_json(state: &AppState, tenant: TenantId, cp: &StoredCheckpoint) -> Value {
    let mut out = json!({
        "size": cp.size,
        "root": hex::encode(cp.root),
        "signed_at": cp.signed_at,
        "note": cp.note,
        "public_key": state.checkpointer.verifier().to_string(),
    });
    let witnesses = state.checkpointer.witnesses();
    if !witnesses.is_empty() {
        let cosigned_by = witnesses.cosigned_by(&cp.note);
        out["witnessed"] = json!(cosigned_by.len() >= witnesses.quorum());
        out["witness_quorum"] = json!(witnesses.quorum());
        out["cosigned_by"] = json!(cosigned_by);
        out["witnesses"] = json!(witnesses.status(tenant));
    }
    out
}

/// A fresh checkpoint plus the leaf hash and inclusion proof of each requested seq in it:
/// what `POST /v1/events?wait=checkpoint` returns.
pub struct ProofSet {
    /// The checkpoint as JSON.
    pub checkpoint: Value,
    size: u64,
    proofs: std::collections::HashMap<u64, (Option<String>, Vec<String>)>,
}

impl ProofSet {
    /// Adds `leaf_hash` and `inclusion_proof` to one result object that has a `seq`.
    pub fn attach_proof(&self, result: &mut Value) {
        let Some(seq) = result.get("seq").and_then(Value::as_u64) else {
            return;
        };
        if let Some((leaf, proof)) = self.proofs.get(&seq) {
            result["leaf_hash"] = json!(leaf);
            result["tree_size"] = json!(self.size);
            result["inclusion_proof"] = json!(proof);
        }
    }

    /// [`ProofSet::attach_proof`] plus the checkpoint itself (for a single-event answer).
    pub fn attach(&self, result: &mut Value) {
        self.attach_proof(result);
        result["checkpoint"] = self.checkpoint.clone();
    }
}

/// Signs a checkpoint now (covering everything just acknowledged) and proves each seq in it.
pub async fn proofs_for(
    state: &AppState,
    tenant: TenantId,
    seqs: &[u64],
) -> Result<ProofSet, ApiError> {
    let cp = state.checkpointer.checkpoint_now(tenant).await?;
    let mut proofs = std::collections::HashMap::new();
    let paths = state
        .store
        .inclusion_proofs(tenant, seqs.to_vec(), cp.size)
        .await?;
    for (&seq, proof) in seqs.iter().zip(paths) {
        let leaf = leaf_hex(state.store.as_ref(), tenant, seq).await?;
        proofs.insert(seq, (leaf, hexes(&proof)));
    }
    Ok(ProofSet {
        checkpoint: checkpoint_json(state, tenant, &cp),
        size: cp.size,
        proofs,
    })
}

/// The `integrity` block of an entry's detail: its leaf hash and, once a signed checkpoint
/// covers it, the inclusion proof against that checkpoint.
pub async fn entry_integrity(
    state: &AppState,
    tenant: TenantId,
    seq: u64,
) -> Result<Value, ApiError> {
    let leaf = leaf_hex(state.store.as_ref(), tenant, seq).await?;
    match state.store.latest_checkpoint(tenant).await? {
        Some(cp) if cp.size > seq => {
            let proof = state.store.inclusion_proof(tenant, seq, cp.size).await?;
            Ok(json!({
                "status": "included",
                "leaf_hash": leaf,
                "tree_size": cp.size,
                "inclusion_proof": hexes(&proof),
                "checkpoint": checkpoint_json(state, tenant, &cp),
            }))
        }
        _ => Ok(json!({
            "status": "pending",
            "leaf_hash": leaf,
            "message": "not yet covered by a signed checkpoint; growing logs are signed at least every second",
        })),
    }
}
