//! One `add-checkpoint` exchange with one witness (C2SP tlog-witness, client side).

use super::WitnessSpec;
use sealtrail_core::witness::{AddCheckpoint, SIZE_CONTENT_TYPE};
use sealtrail_core::TenantId;
use sealtrail_store::{Store, StoreError, StoredCheckpoint};

/// The most of a witness's answer read: a few signature lines fit easily; more is refused so a
/// witness cannot make the log buffer without bound.
const MAX_ANSWER: usize = 8 * 1024;

/// Why a witness did not cosign.
#[derive(Debug, thiserror::Error)]
pub(super) enum AskError {
    /// Reading the tree for the proof failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The witness could not be reached or its answer read.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The witness answered, but not with a cosignature.
    #[error("{0}")]
    Refused(String),
}

/// What the exchange found out besides its result: the size the witness says it last
/// cosigned, to start from next time (`None`: ask from 0 again).
pub(super) struct Asked {
    pub(super) result: Result<String, AskError>,
    pub(super) known: Option<u64>,
}

/// The witness's cosignature line for `checkpoint`, whose note text is `text` (verified,
/// without its newline), starting from `known` (the size it last cosigned, as far as this node knows) and retrying once with
/// the size a 409 names.
pub(super) async fn ask(
    client: &reqwest::Client,
    store: &dyn Store,
    tenant: TenantId,
    spec: &WitnessSpec,
    checkpoint: &StoredCheckpoint,
    checkpoint_text: &str,
    known: u64,
) -> Asked {
    let mut old = known;
    for _ in 0..2 {
        if old > checkpoint.size {
            let log = match store.log_size(tenant).await {
                Ok(log) => log,
                Err(e) => return failed(e.into(), None),
            };
            let why = if log < old {
                format!("the witness cosigned a tree of {old} entries but the log now has {log}: the log was rolled back")
            } else {
                format!("the witness already cosigned a larger tree ({old} entries)")
            };
            // Ask from 0 next time, so a witness whose state legitimately changed is re-probed.
            return failed(AskError::Refused(why), None);
        }
        let proof = if old == 0 {
            Vec::new()
        } else {
            match store.consistency_proof(tenant, old, checkpoint.size).await {
                Ok(proof) => proof,
                Err(e) => return failed(e.into(), Some(old)),
            }
        };
        let body = AddCheckpoint {
            old,
            proof,
            note: checkpoint.note.clone(),
        }
        .to_body();
        let (status, is_size, answer) = match post(client, spec, body).await {
            Ok(answer) => answer,
            Err(e) => return failed(e, Some(old)),
        };
        match status {
            200 => {
                return match spec.key.verified_line(checkpoint_text, &answer) {
                    Some(line) => Asked {
                        result: Ok(line),
                        known: Some(checkpoint.size),
                    },
                    None => failed(
                        AskError::Refused(
                            "its answer carries no valid cosignature by its key".into(),
                        ),
                        Some(old),
                    ),
                };
            }
            409 if is_size => {
                let Ok(size) = answer.trim().parse::<u64>() else {
                    return failed(
                        AskError::Refused(format!(
                            "409 with an unreadable size `{}`",
                            answer.trim()
                        )),
                        None,
                    );
                };
                if size == old {
                    tracing::error!(witness = %spec.key.name(), size, "the witness cosigned another tree of the same size: this log forked");
                    return failed(
                        AskError::Refused(format!(
                            "the witness cosigned another tree of {size} entries: the log forked"
                        )),
                        Some(size),
                    );
                }
                old = size;
            }
            422 => {
                tracing::error!(witness = %spec.key.name(), old, size = checkpoint.size, "the witness refused the consistency proof: this log forked or was rolled back");
                return failed(
                    AskError::Refused(format!(
                        "the witness refused the consistency proof from {old} entries: the tree does not extend what it cosigned (a fork or a rollback)"
                    )),
                    Some(old),
                );
            }
            code => {
                return failed(
                    AskError::Refused(format!(
                        "answered {code}: {}",
                        answer.chars().take(200).collect::<String>()
                    )),
                    None,
                )
            }
        }
    }
    failed(
        AskError::Refused("the witness's size kept changing; will retry".into()),
        None,
    )
}

fn failed(error: AskError, known: Option<u64>) -> Asked {
    Asked {
        result: Err(error),
        known,
    }
}

/// Posts one request: the status, whether the body is a size, and at most [`MAX_ANSWER`]
/// bytes of the body as text.
async fn post(
    client: &reqwest::Client,
    spec: &WitnessSpec,
    body: String,
) -> Result<(u16, bool, String), AskError> {
    let mut response = client
        .post(format!("{}/add-checkpoint", spec.url))
        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let is_size = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(SIZE_CONTENT_TYPE));
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if bytes.len() + chunk.len() > MAX_ANSWER {
            return Err(AskError::Refused(format!(
                "answered {status} with more than {MAX_ANSWER} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((
        status,
        is_size,
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}
