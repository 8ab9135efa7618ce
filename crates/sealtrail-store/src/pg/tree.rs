//! Each tenant's Merkle tree in `tree_nodes`. The arithmetic is `core::merkle`'s; this module
//! only decides which stored complete-subtree hashes to read, and reads them in one round trip:
//! which nodes a root or proof needs depends only on the sizes, never on the hashes, so a first
//! pass records the positions and one query fetches them all.

use super::pool::{column, PgResult, Tx};
use super::read::existing_head;
use crate::{Hash, StoreError, TreeHead};
use sealtrail_core::merkle::{self, NodeSource, ProofError};
use sealtrail_core::TenantId;
use std::collections::HashMap;

/// A stored hash as a [`Hash`]; any other length means the row was not written by us.
pub(crate) fn hash_from_bytes(bytes: &[u8]) -> Result<Hash, StoreError> {
    <Hash>::try_from(bytes)
        .map_err(|_| StoreError::Corrupt(format!("stored hash has {} bytes", bytes.len())))
}

/// Records the positions asked for, answering with a dummy hash.
#[derive(Default)]
struct Recorder(Vec<(u32, u64)>);

impl NodeSource for Recorder {
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, ProofError> {
        self.0.push((level, index));
        Ok([0; 32])
    }
}

/// Nodes already fetched, by position.
#[derive(Default)]
pub(crate) struct Fetched(pub(crate) HashMap<(u32, u64), Hash>);

impl NodeSource for Fetched {
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, ProofError> {
        self.0
            .get(&(level, index))
            .copied()
            .ok_or(ProofError::MissingNode { level, index })
    }
}

/// Reads the stored nodes at `positions` of `tenant`'s tree in one query; absent ones are
/// simply not in the map.
pub(crate) fn fetch(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    positions: &[(u32, u64)],
) -> PgResult<Fetched> {
    let mut fetched = fetch_nodes(tx, positions.iter().map(|&(l, i)| (tenant, l, i)))?;
    Ok(fetched.remove(&tenant.0).unwrap_or_default())
}

/// The frontier ([`frontier`]) of each `(tenant, size)` in one query: a group appends to the
/// trees of up to hundreds of tenants, and one round trip per tenant was the largest part of a
/// group's time on PostgreSQL. Every tenant asked for has an entry, empty for an empty tree.
pub(crate) fn fetch_frontiers(
    tx: &mut Tx<'_>,
    trees: &[(TenantId, u64)],
) -> PgResult<HashMap<i64, Fetched>> {
    let positions = trees.iter().flat_map(|&(tenant, size)| {
        frontier(size)
            .into_iter()
            .map(move |(level, index)| (tenant, level, index))
    });
    let mut fetched = fetch_nodes(tx, positions)?;
    for (tenant, _) in trees {
        fetched.entry(tenant.0).or_default();
    }
    Ok(fetched)
}

/// The stored nodes at `(tenant, level, index)` positions of any trees, by tenant, in one
/// query; absent ones are simply not in the maps.
fn fetch_nodes(
    tx: &mut Tx<'_>,
    positions: impl Iterator<Item = (TenantId, u32, u64)>,
) -> PgResult<HashMap<i64, Fetched>> {
    let mut fetched: HashMap<i64, Fetched> = HashMap::new();
    let (mut tenants, mut levels, mut indexes) = (Vec::new(), Vec::new(), Vec::new());
    for (tenant, level, index) in positions {
        tenants.push(tenant.0);
        levels.push(i32::try_from(level).unwrap_or(i32::MAX));
        indexes.push(i64::try_from(index).unwrap_or(i64::MAX));
    }
    if tenants.is_empty() {
        return Ok(fetched);
    }
    let rows = tx.query(
        "SELECT n.tenant, n.level, n.idx, n.hash
         FROM unnest($1::bigint[], $2::int[], $3::bigint[]) AS p(tenant, level, idx)
         JOIN tree_nodes AS n ON n.tenant = p.tenant AND n.level = p.level AND n.idx = p.idx",
        &[&tenants, &levels, &indexes],
    )?;
    for row in rows {
        let tenant: i64 = row.try_get(0)?;
        let level: i32 = row.try_get(1)?;
        let idx: i64 = row.try_get(2)?;
        let hash: &[u8] = row.try_get(3)?;
        fetched.entry(tenant).or_default().0.insert(
            (level.max(0) as u32, idx.max(0) as u64),
            hash_from_bytes(hash)?,
        );
    }
    Ok(fetched)
}

/// Runs a tree computation over stored nodes: once to learn the positions it reads, then
/// again over those nodes fetched in one query.
fn with_nodes<T>(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    compute: impl Fn(&mut dyn FnMut(u32, u64) -> Result<Hash, ProofError>) -> Result<T, ProofError>,
) -> PgResult<T> {
    let mut recorder = Recorder::default();
    let planned = compute(&mut |level, index| recorder.node(level, index));
    if let Err(ProofError::InvalidRequest(m)) = planned {
        return Err(StoreError::Invalid(m).into());
    }
    // Several proofs share nodes: each position is asked for once.
    recorder.0.sort_unstable();
    recorder.0.dedup();
    let mut fetched = fetch(tx, tenant, &recorder.0)?;
    compute(&mut |level, index| fetched.node(level, index)).map_err(|e| match e {
        ProofError::InvalidRequest(m) => StoreError::Invalid(m).into(),
        other => StoreError::Corrupt(format!("tree of tenant {}: {other}", tenant.0)).into(),
    })
}

/// Adapts a closure to [`NodeSource`], so `core::merkle`'s generic functions can run over
/// either pass of [`with_nodes`].
struct Source<'f>(&'f mut dyn FnMut(u32, u64) -> Result<Hash, ProofError>);

impl NodeSource for Source<'_> {
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, ProofError> {
        (self.0)(level, index)
    }
}

/// The root of the first `size` leaves, from stored nodes.
pub(crate) fn root_at(tx: &mut Tx<'_>, tenant: TenantId, size: u64) -> PgResult<Hash> {
    with_nodes(tx, tenant, |nodes| merkle::root(&mut Source(nodes), size))
}

/// The stored hashes at `level`, indexes `first .. first + count`, once the tree has them all.
pub(crate) fn level_range(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    level: u32,
    first: u64,
    count: u64,
) -> PgResult<Vec<Hash>> {
    let size = existing_head(tx, tenant)?.size;
    let range = crate::guards::tree_level_range(size, level, first, count)?;
    let level_column = i32::try_from(level).unwrap_or(i32::MAX);
    let rows = tx.query(
        "SELECT idx, hash FROM tree_nodes
         WHERE tenant = $1 AND level = $2 AND idx >= $3 AND idx < $4 ORDER BY idx",
        &[&tenant.0, &level_column, &range.0, &range.1],
    )?;
    let rows = rows
        .iter()
        .map(|row| {
            Ok((
                column::<i64>(row, 0)?,
                hash_from_bytes(column::<&[u8]>(row, 1)?)?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(crate::guards::contiguous_level(rows, level, range)?)
}

/// Size and root now.
pub(crate) fn tree_head(tx: &mut Tx<'_>, tenant: TenantId) -> PgResult<TreeHead> {
    let size = existing_head(tx, tenant)?.size;
    Ok(TreeHead {
        size,
        root: root_at(tx, tenant, size)?,
    })
}

fn beyond_log(size: u64, log: u64) -> super::pool::PgError {
    StoreError::Invalid(format!(
        "tree size {size} is larger than the log ({log} entries)"
    ))
    .into()
}

/// The audit paths of `seqs` in the tree of `size` leaves, in order: the nodes of all of them
/// fetched in one query.
pub(crate) fn inclusion_proofs(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    seqs: &[u64],
    size: u64,
) -> PgResult<Vec<Vec<Hash>>> {
    let log = existing_head(tx, tenant)?.size;
    if size > log {
        return Err(beyond_log(size, log));
    }
    with_nodes(tx, tenant, |nodes| {
        seqs.iter()
            .map(|&seq| merkle::inclusion_proof(&mut Source(&mut *nodes), seq, size))
            .collect()
    })
}

/// The consistency proof from `old` to `new` leaves.
pub(crate) fn consistency_proof(
    tx: &mut Tx<'_>,
    tenant: TenantId,
    old: u64,
    new: u64,
) -> PgResult<Vec<Hash>> {
    let log = existing_head(tx, tenant)?.size;
    if new > log {
        return Err(beyond_log(new, log));
    }
    with_nodes(tx, tenant, |nodes| {
        merkle::consistency_proof(&mut Source(nodes), old, new)
    })
}

/// The complete subtrees that make up the first `size` leaves (one per set bit of `size`):
/// exactly the left siblings the next appends can need that are not created by them.
pub(crate) fn frontier(size: u64) -> Vec<(u32, u64)> {
    (0..u64::BITS)
        .filter(|level| (size >> level) & 1 == 1)
        .map(|level| (level, (size >> level) - 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_core::merkle::{leaf_hash, MemoryTree};

    #[test]
    fn appends_need_only_the_frontier_and_their_own_nodes() {
        // Build trees of every size up to 70 by appending, answering left siblings only from
        // the frontier at the start and the nodes created since: the frontier claim holds.
        for start in 0..40u64 {
            let mut tree = MemoryTree::new();
            for i in 0..start {
                tree.push(leaf_hash(&i.to_be_bytes()));
            }
            let mut known: HashMap<(u32, u64), Hash> = HashMap::new();
            for (level, index) in frontier(start) {
                let hash = tree.node(level, index);
                assert!(hash.is_ok(), "frontier node ({level}, {index}) of {start}");
                known.insert((level, index), hash.unwrap_or_default());
            }
            for i in start..start + 30 {
                let leaf = leaf_hash(&i.to_be_bytes());
                let created = merkle::nodes_completed_by_append(i, leaf, |level, index| {
                    known
                        .get(&(level, index))
                        .copied()
                        .ok_or(ProofError::MissingNode { level, index })
                });
                let created = created.unwrap_or_else(|e| panic!("start {start}, leaf {i}: {e}"));
                for (level, index, hash) in created {
                    known.insert((level, index), hash);
                }
                tree.push(leaf);
            }
        }
    }
}
