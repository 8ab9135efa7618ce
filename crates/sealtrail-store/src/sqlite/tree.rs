//! Each tenant's Merkle tree in `tree_nodes`: appending a leaf writes the complete subtrees it
//! finishes (in the entry's own transaction), and heads and proofs read O(log n) of them
//! through `core::merkle`, which does all the arithmetic.

use super::error::backend;
use super::pk::log_range;
use super::WriteError;
use crate::{Hash, StoreError, TreeHead};
use rusqlite::{params, Connection, OptionalExtension};
use sealtrail_core::merkle::{self, NodeSource, ProofError};
use sealtrail_core::TenantId;
use std::collections::HashMap;

/// A stored hash as a [`Hash`]; any other length means the row was not written by us.
pub(crate) fn hash_from_blob(blob: &[u8]) -> Result<Hash, StoreError> {
    <Hash>::try_from(blob)
        .map_err(|_| StoreError::Corrupt(format!("stored hash has {} bytes", blob.len())))
}

/// Complete-subtree hashes read from `tree_nodes` for one tenant. SQL errors cannot pass
/// through [`NodeSource`], so the first one is kept here and reported by [`SqlNodes::fail`].
pub(crate) struct SqlNodes<'c> {
    conn: &'c Connection,
    tenant: i64,
    error: Option<StoreError>,
}

impl<'c> SqlNodes<'c> {
    /// Reads `tenant`'s nodes through `conn` (a read snapshot or the writer's transaction).
    pub(crate) fn new(conn: &'c Connection, tenant: TenantId) -> Self {
        SqlNodes {
            conn,
            tenant: tenant.0,
            error: None,
        }
    }

    /// The stored node, or `None` if absent.
    fn lookup(&self, level: u32, index: u64) -> Result<Option<Hash>, StoreError> {
        let Ok(index) = i64::try_from(index) else {
            return Ok(None);
        };
        let blob: Option<Vec<u8>> = self
            .conn
            .prepare_cached(
                "SELECT hash FROM tree_nodes WHERE tenant = ?1 AND level = ?2 AND idx = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![self.tenant, level, index], |r| r.get(0))
                    .optional()
            })
            .map_err(backend("reading a tree node"))?;
        blob.as_deref().map(hash_from_blob).transpose()
    }

    /// Turns a proof error into a store error: a SQL failure stays a backend error, a missing
    /// node means the tree is damaged, and a bad request is the caller's.
    pub(crate) fn fail(self, error: ProofError) -> StoreError {
        if let Some(e) = self.error {
            return e;
        }
        match error {
            ProofError::InvalidRequest(m) => StoreError::Invalid(m),
            other => StoreError::Corrupt(format!("tree of tenant {}: {other}", self.tenant)),
        }
    }
}

impl NodeSource for SqlNodes<'_> {
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, ProofError> {
        match self.lookup(level, index) {
            Ok(Some(hash)) => Ok(hash),
            Ok(None) => Err(ProofError::MissingNode { level, index }),
            Err(e) => {
                self.error.get_or_insert(e);
                Err(ProofError::MissingNode { level, index })
            }
        }
    }
}

/// Nodes written by the current transaction, so the next leaf's left siblings are usually
/// found without a query.
#[derive(Default)]
pub(crate) struct NodeCache {
    nodes: HashMap<(i64, u32, u64), Hash>,
}

/// Stores leaf `seq` of `tenant` and every subtree it completes, inside the caller's
/// transaction. Left siblings come from this transaction's cache or the table (which, read
/// inside the write transaction, is current even with another process on the file).
pub(crate) fn append_leaf(
    tx: &Connection,
    cache: &mut NodeCache,
    tenant: TenantId,
    seq: u64,
    leaf: Hash,
) -> Result<(), WriteError> {
    let mut sql_error = None;
    let created = {
        let nodes = SqlNodes::new(tx, tenant);
        merkle::nodes_completed_by_append(seq, leaf, |level, index| {
            if let Some(hash) = cache.nodes.get(&(tenant.0, level, index)) {
                return Ok(*hash);
            }
            match nodes.lookup(level, index) {
                Ok(Some(hash)) => Ok(hash),
                Ok(None) => Err(ProofError::MissingNode { level, index }),
                Err(e) => {
                    sql_error.get_or_insert(e);
                    Err(ProofError::MissingNode { level, index })
                }
            }
        })
    };
    let created = match (created, sql_error) {
        (_, Some(e)) => return Err(e.into()),
        (Err(e), None) => {
            return Err(StoreError::Corrupt(format!(
                "appending leaf {seq} of tenant {}: {e}",
                tenant.0
            ))
            .into())
        }
        (Ok(created), None) => created,
    };
    let mut insert = tx.prepare_cached(
        "INSERT INTO tree_nodes (tenant, level, idx, hash) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (level, index, hash) in created {
        let idx = i64::try_from(index).map_err(|_| {
            WriteError::Store(StoreError::Backend(format!("tree index {index} too large")))
        })?;
        insert.execute(params![tenant.0, level, idx, hash.as_slice()])?;
        cache.nodes.insert((tenant.0, level, index), hash);
    }
    Ok(())
}

/// The root of the first `size` leaves, from stored nodes.
pub(crate) fn root_at(conn: &Connection, tenant: TenantId, size: u64) -> Result<Hash, StoreError> {
    let mut nodes = SqlNodes::new(conn, tenant);
    match merkle::root(&mut nodes, size) {
        Ok(root) => Ok(root),
        Err(e) => Err(nodes.fail(e)),
    }
}

/// The log size of an existing tenant, `NotFound` otherwise.
pub(crate) fn size_of(conn: &Connection, tenant: TenantId) -> Result<u64, StoreError> {
    log_range(conn, tenant)?
        .map(|h| h.size)
        .ok_or_else(|| StoreError::NotFound(format!("tenant {}", tenant.0)))
}

/// The stored hashes at `level`, indexes `first .. first + count`, once the tree has them all.
pub(crate) fn level_range(
    conn: &Connection,
    tenant: TenantId,
    level: u32,
    first: u64,
    count: u64,
) -> Result<Vec<Hash>, StoreError> {
    let range = crate::guards::tree_level_range(size_of(conn, tenant)?, level, first, count)?;
    let rows = conn
        .prepare_cached(
            "SELECT idx, hash FROM tree_nodes
             WHERE tenant = ?1 AND level = ?2 AND idx >= ?3 AND idx < ?4 ORDER BY idx",
        )
        .and_then(|mut s| {
            s.query_map(params![tenant.0, level, range.0, range.1], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(backend("reading tree nodes"))?;
    let rows = rows
        .into_iter()
        .map(|(idx, blob)| Ok((idx, hash_from_blob(&blob)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    crate::guards::contiguous_level(rows, level, range)
}

/// Size and root now.
pub(crate) fn tree_head(conn: &Connection, tenant: TenantId) -> Result<TreeHead, StoreError> {
    let size = size_of(conn, tenant)?;
    Ok(TreeHead {
        size,
        root: root_at(conn, tenant, size)?,
    })
}

/// The audit paths of `seqs` in the tree of `size` leaves, in order. Each node is read once
/// however many of the paths hold it (neighbouring seqs share all but their lowest levels).
pub(crate) fn inclusion_proofs(
    conn: &Connection,
    tenant: TenantId,
    seqs: &[u64],
    size: u64,
) -> Result<Vec<Vec<Hash>>, StoreError> {
    let log = size_of(conn, tenant)?;
    if size > log {
        return Err(StoreError::Invalid(format!(
            "tree size {size} is larger than the log ({log} entries)"
        )));
    }
    let mut nodes = ReadOnce {
        nodes: SqlNodes::new(conn, tenant),
        read: HashMap::new(),
    };
    let mut proofs = Vec::with_capacity(seqs.len());
    for &seq in seqs {
        match merkle::inclusion_proof(&mut nodes, seq, size) {
            Ok(proof) => proofs.push(proof),
            Err(e) => return Err(nodes.nodes.fail(e)),
        }
    }
    Ok(proofs)
}

/// [`SqlNodes`] reading each node at most once.
struct ReadOnce<'c> {
    nodes: SqlNodes<'c>,
    read: HashMap<(u32, u64), Hash>,
}

impl NodeSource for ReadOnce<'_> {
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, ProofError> {
        if let Some(hash) = self.read.get(&(level, index)) {
            return Ok(*hash);
        }
        let hash = self.nodes.node(level, index)?;
        self.read.insert((level, index), hash);
        Ok(hash)
    }
}

/// The consistency proof from `old` to `new` leaves.
pub(crate) fn consistency_proof(
    conn: &Connection,
    tenant: TenantId,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, StoreError> {
    let log = size_of(conn, tenant)?;
    if new > log {
        return Err(StoreError::Invalid(format!(
            "tree size {new} is larger than the log ({log} entries)"
        )));
    }
    let mut nodes = SqlNodes::new(conn, tenant);
    merkle::consistency_proof(&mut nodes, old, new).map_err(|e| nodes.fail(e))
}
