//! Archive sinks' I/O: the object store client (S3-compatible, through `object_store`, with
//! the deliverer's HTTP client so the same private-network rule and CA roots apply), the
//! choice of the next chunk, and reading an archive back for `sealtrail verify --archive`.
//!
//! A chunk is cut when [`ArchiveTarget::entries`] entries wait or the oldest has waited
//! [`ArchiveTarget::wait`], and only up to the latest signed checkpoint (signed every second
//! by default), whose note travels in the chunk. Its data object is written first and its
//! evidence object second, so an evidence object always has its data; the cursor moves only
//! after both are stored. A crash between them leaves a data object without evidence that the
//! next attempt overwrites, or (if more entries arrived meanwhile) that verification reports
//! as incomplete and ignores.

use object_store::aws::AmazonS3Builder;
use object_store::client::{HttpClient, HttpConnector};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
/// The object store interface, for callers that hold one of [`open`]'s or [`open_location`]'s.
pub use object_store::ObjectStore;
use object_store::{BackoffConfig, ClientOptions, PutPayload, RetryConfig};
use sealtrail_core::checkpoint::NoteVerifier;
use sealtrail_core::merkle::Frontier;
use sealtrail_core::sinks::archive::{self, ArchiveTarget, DATA_SUFFIX, EVIDENCE_SUFFIX};
use sealtrail_core::sinks::SinkFormat;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_export::archive::{write_chunk, ChunkLeaf, ChunkProof};
use sealtrail_store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// How long one object store request may take (a chunk of 50,000 entries is tens of MB).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The object store's HTTP client is the deliverer's.
#[derive(Debug)]
struct Connector(reqwest::Client);

impl HttpConnector for Connector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(self.0.clone()))
    }
}

/// The object store a target names, signing with `credential` (`ACCESS_KEY_ID:SECRET`) and
/// speaking through `client`. Retries are few and short: the deliverer's own backoff takes
/// over after them.
pub fn open(
    target: &ArchiveTarget,
    credential: &str,
    client: reqwest::Client,
) -> Result<Arc<dyn ObjectStore>, String> {
    let (key_id, secret) = archive::split_credential(credential)?;
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&target.bucket)
        .with_region(&target.region)
        .with_access_key_id(key_id)
        .with_secret_access_key(secret)
        .with_http_connector(Connector(client))
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 2,
            retry_timeout: Duration::from_secs(30),
        });
    if let Some(endpoint) = &target.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    let store = builder
        .build()
        .map_err(|e| format!("the object store: {e}"))?;
    Ok(Arc::new(store))
}

/// A folder of a local copy of an archive (`aws s3 sync` to a disk), for offline checking.
pub fn open_local(dir: &std::path::Path) -> Result<Arc<dyn ObjectStore>, String> {
    let store =
        LocalFileSystem::new_with_prefix(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(Arc::new(store))
}

/// What the next attempt for an archive sink found.
pub enum NextChunk {
    /// Nothing to write yet: no entries, no checkpoint covering them, or a chunk still filling.
    Wait,
    /// A chunk written to memory, to upload.
    Ready(sealtrail_export::archive::Chunk),
}

/// The log and key a chunk is written for.
pub struct ChunkSource<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// The tenant.
    pub tenant: TenantId,
    /// Its name (the folder).
    pub tenant_name: &'a str,
    /// The sink's next seq.
    pub cursor: u64,
    /// The data object's format.
    pub format: SinkFormat,
    /// The log's key, to check the chunk before it leaves.
    pub verifier: &'a NoteVerifier,
    /// How long the oldest entry after the cursor has waited ([`super::lag`]).
    pub oldest_waited: Duration,
}

/// Why a chunk could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// Reading the log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored entries did not make a chunk that verifies (a damaged leaf).
    #[error("{0}")]
    Chunk(String),
}

/// The next chunk of `source` for `target`, or `Wait`.
pub async fn next_chunk(
    source: &ChunkSource<'_>,
    target: &ArchiveTarget,
    now: Timestamp,
) -> Result<NextChunk, ChunkError> {
    let store = source.store;
    let tenant = source.tenant;
    let Some(checkpoint) = store.latest_checkpoint(tenant).await? else {
        return Ok(NextChunk::Wait);
    };
    // Only entries the latest signed checkpoint covers: its note travels with the chunk.
    let provable = checkpoint.size;
    if source.cursor >= provable {
        return Ok(NextChunk::Wait);
    }
    let waiting = provable - source.cursor;
    // Not full: written only once the oldest waiting entry has waited long enough.
    if (waiting as usize) < target.entries && source.oldest_waited < target.wait {
        return Ok(NextChunk::Wait);
    }
    let mut leaves = store.leaves(tenant, source.cursor, target.entries).await?;
    leaves.retain(|leaf| leaf.seq < provable);
    // One gapless run: pruned entries before it are covered by the frontier.
    if let Some(first) = leaves.first().map(|l| l.seq) {
        let run = leaves
            .iter()
            .enumerate()
            .take_while(|(i, leaf)| leaf.seq == first + *i as u64)
            .count();
        leaves.truncate(run);
    }
    let (Some(first), Some(last)) = (leaves.first(), leaves.last()) else {
        return Ok(NextChunk::Wait);
    };
    let (first, last) = (first.seq, last.seq);
    let frontier = if first == 0 {
        Frontier::new()
    } else {
        let path = store.inclusion_proof(tenant, first, first + 1).await?;
        Frontier::from_last_leaf_path(first, &path).map_err(|e| ChunkError::Chunk(e.to_string()))?
    };
    let proof = ChunkProof {
        origin: store.log_origin(tenant).await?,
        tenant: source.tenant_name.to_string(),
        format: source.format,
        checkpoint_note: checkpoint.note,
        frontier,
        consistency: store.consistency_proof(tenant, last + 1, provable).await?,
        created_at: now,
    };
    let leaves: Vec<ChunkLeaf> = leaves
        .into_iter()
        .map(|l| ChunkLeaf {
            seq: l.seq,
            envelope: l.envelope,
            slots: l.slots,
        })
        .collect();
    let verifier = source.verifier.clone();
    // Compressing and self-checking tens of thousands of entries is CPU work.
    let chunk = tokio::task::spawn_blocking(move || write_chunk(&proof, &leaves, &verifier))
        .await
        .map_err(|e| ChunkError::Chunk(format!("writing the chunk stopped: {e}")))?
        .map_err(|e| ChunkError::Chunk(e.to_string()))?;
    Ok(NextChunk::Ready(chunk))
}

/// Uploads a chunk's data object, then its evidence object.
pub async fn upload(
    store: &dyn ObjectStore,
    target: &ArchiveTarget,
    tenant: &str,
    chunk: sealtrail_export::archive::Chunk,
) -> Result<(), String> {
    let stem = archive::chunk_stem(
        &archive::tenant_folder(&target.prefix, tenant),
        chunk.first,
        chunk.last,
    );
    for (suffix, bytes) in [(DATA_SUFFIX, chunk.data), (EVIDENCE_SUFFIX, chunk.evidence)] {
        let path = ObjectPath::from(format!("{stem}{suffix}"));
        tokio::time::timeout(REQUEST_TIMEOUT, store.put(&path, PutPayload::from(bytes)))
            .await
            .map_err(|_| format!("writing {path}: no answer in {REQUEST_TIMEOUT:?}"))?
            .map_err(|e| format!("writing {path}: {e}"))?;
    }
    Ok(())
}

/// Writes and removes a small object in the tenant's folder: what `sinks test` checks an
/// archive's bucket and access key with.
pub async fn test(
    store: &dyn ObjectStore,
    target: &ArchiveTarget,
    tenant: &str,
) -> Result<(), String> {
    let path = ObjectPath::from(format!(
        "{}/.sealtrail-test",
        archive::tenant_folder(&target.prefix, tenant)
    ));
    let payload = PutPayload::from_static(b"Sealtrail checked that it can write here.\n");
    tokio::time::timeout(REQUEST_TIMEOUT, store.put(&path, payload))
        .await
        .map_err(|_| "no answer from the object store".to_string())?
        .map_err(|e| format!("writing a test object: {e}"))?;
    store
        .delete(&path)
        .await
        .map_err(|e| format!("removing the test object: {e}"))
}

/// A chunk found in an archive: the paths of its objects, either of which may be missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChunk {
    /// The folder it is in (one per tenant).
    pub folder: String,
    /// The first seq its name claims.
    pub first: u64,
    /// The last seq its name claims.
    pub last: u64,
    /// Its data object.
    pub data: Option<String>,
    /// Its evidence object.
    pub evidence: Option<String>,
}

/// Opens an archive where `location` says: an archive sink's `s3://…` URL (signing with
/// `credential`) or a folder holding a copy. Returns the store and the prefix to list.
pub fn open_location(
    location: &str,
    credential: Option<&str>,
) -> Result<(Arc<dyn ObjectStore>, String), String> {
    if location.starts_with("s3://") {
        let target = archive::parse(location)?;
        let credential = credential.ok_or(
            "an s3:// archive needs the access key (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
             or --archive-credential-file)",
        )?;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("the HTTP client: {e}"))?;
        return Ok((open(&target, credential, client)?, target.prefix));
    }
    Ok((open_local(std::path::Path::new(location))?, String::new()))
}

/// Every chunk under `prefix`, sorted by folder, then first seq, then last seq; objects that
/// are not chunks are left out.
pub async fn list_chunks(
    store: &dyn ObjectStore,
    prefix: &str,
) -> Result<Vec<StoredChunk>, String> {
    use futures::TryStreamExt;
    let prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
    let objects: Vec<object_store::ObjectMeta> = store
        .list(prefix.as_ref())
        .try_collect()
        .await
        .map_err(|e| format!("listing the archive: {e}"))?;
    let mut chunks: std::collections::BTreeMap<(String, u64, u64), StoredChunk> =
        std::collections::BTreeMap::new();
    for object in objects {
        let path = object.location.to_string();
        let Some((first, last)) = archive::parse_chunk_name(&path) else {
            continue;
        };
        let folder = path
            .rsplit_once('/')
            .map(|(f, _)| f)
            .unwrap_or("")
            .to_string();
        let chunk = chunks
            .entry((folder.clone(), first, last))
            .or_insert_with(|| StoredChunk {
                folder,
                first,
                last,
                data: None,
                evidence: None,
            });
        if path.ends_with(EVIDENCE_SUFFIX) {
            chunk.evidence = Some(path);
        } else {
            chunk.data = Some(path);
        }
    }
    Ok(chunks.into_values().collect())
}

/// One object's bytes.
pub async fn fetch(store: &dyn ObjectStore, path: &str) -> Result<Vec<u8>, String> {
    let object = store
        .get(&ObjectPath::from(path))
        .await
        .map_err(|e| format!("reading {path}: {e}"))?;
    let bytes = object
        .bytes()
        .await
        .map_err(|e| format!("reading {path}: {e}"))?;
    Ok(bytes.to_vec())
}
