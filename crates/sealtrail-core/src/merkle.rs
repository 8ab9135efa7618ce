//! RFC 6962 / RFC 9162 Merkle trees: the arithmetic behind tamper evidence.
//!
//! Each tenant's log is one Merkle tree over its entries in `seq` order. Storage keeps the hash
//! of every *complete* subtree (`2^level` leaves starting at a multiple of `2^level`), which an
//! append produces incrementally (on average two hashes per leaf). Every subtree hash RFC 6962
//! needs for a root or a proof of a tree of size `n` is either such a complete subtree or lies
//! on the right edge, so roots and proofs cost O(log n) stored-hash reads — see [`NodeSource`].
//!
//! Verification ([`verify_inclusion`], [`verify_consistency`]) is the RFC 9162 §2.1.3 algorithm
//! and needs nothing but hashes, so auditors can run it offline.

mod frontier;

pub use frontier::Frontier;
use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || leaf)`: the domain separation that stops a leaf posing as an inner node.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Why a proof or a request for one was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index or sizes do not describe a valid proof request.
    #[error("invalid proof request: {0}")]
    InvalidRequest(String),
    /// The proof has the wrong number of hashes for the sizes given.
    #[error("proof has {got} hashes, expected {expected}")]
    WrongLength {
        /// Hashes supplied.
        got: usize,
        /// Hashes the sizes require.
        expected: usize,
    },
    /// The proof does not lead to the claimed root.
    #[error("proof does not verify against the root")]
    Mismatch,
    /// A stored hash needed for the proof is missing.
    #[error("missing tree hash at level {level}, index {index}")]
    MissingNode {
        /// Subtree height.
        level: u32,
        /// Subtree position at that height.
        index: u64,
    },
}

/// Where complete-subtree hashes come from: a database table, or memory in tests and verifiers.
///
/// `node(level, index)` is the hash of leaves `[index << level, (index + 1) << level)`.
pub trait NodeSource {
    /// The stored hash, or `MissingNode`.
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, ProofError>;
}

/// The hash of leaves `[lo, hi)` per RFC 6962 `MTH`, reading complete subtrees from `source`.
///
/// Only ranges whose start is aligned to their split point occur in roots and proofs, so the
/// recursion descends one edge: O(log n) reads.
pub fn range_hash(source: &mut impl NodeSource, lo: u64, hi: u64) -> Result<Hash, ProofError> {
    if hi <= lo {
        return if hi == lo {
            Ok(empty_root())
        } else {
            Err(ProofError::InvalidRequest(format!(
                "empty range {lo}..{hi}"
            )))
        };
    }
    let n = hi - lo;
    if n.is_power_of_two() && lo % n == 0 {
        return source.node(n.trailing_zeros(), lo / n);
    }
    let k = split_point(n);
    let left = range_hash(source, lo, lo + k)?;
    let right = range_hash(source, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

/// The root of the first `size` leaves.
pub fn root(source: &mut impl NodeSource, size: u64) -> Result<Hash, ProofError> {
    range_hash(source, 0, size)
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The audit path for leaf `index` in the tree of the first `size` leaves (RFC 6962 §2.1.1).
pub fn inclusion_proof(
    source: &mut impl NodeSource,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::InvalidRequest(format!(
            "leaf {index} is not in a tree of size {size}"
        )));
    }
    let mut proof = Vec::new();
    path(source, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path(
    source: &mut impl NodeSource,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(source, m, lo, lo + k, out)?;
        out.push(range_hash(source, lo + k, hi)?);
    } else {
        path(source, m - k, lo + k, hi, out)?;
        out.push(range_hash(source, lo, lo + k)?);
    }
    Ok(())
}

/// The consistency proof between the first `old` and first `new` leaves (RFC 6962 §2.1.2).
pub fn consistency_proof(
    source: &mut impl NodeSource,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::InvalidRequest(format!(
            "old size {old} is larger than new size {new}"
        )));
    }
    let mut proof = Vec::new();
    if old == 0 || old == new {
        return Ok(proof);
    }
    subproof(source, old, 0, new, true, &mut proof)?;
    Ok(proof)
}

fn subproof(
    source: &mut impl NodeSource,
    m: u64,
    lo: u64,
    hi: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = hi - lo;
    if m == n {
        if !complete {
            out.push(range_hash(source, lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(source, m, lo, lo + k, complete, out)?;
        out.push(range_hash(source, lo + k, hi)?);
    } else {
        subproof(source, m - k, lo + k, hi, false, out)?;
        out.push(range_hash(source, lo, lo + k)?);
    }
    Ok(())
}

/// Checks that `leaf` (a leaf hash) sits at `index` in the tree of `size` leaves with `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::InvalidRequest(format!(
            "leaf {index} is not in a tree of size {size}"
        )));
    }
    let expected = inclusion_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            expected,
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::Mismatch);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && r == *root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// Number of hashes in an inclusion proof, so malformed proofs are refused before hashing.
fn inclusion_len(index: u64, size: u64) -> usize {
    let (mut m, mut lo, mut hi, mut len) = (index, 0u64, size, 0usize);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < k {
            hi = lo + k;
        } else {
            m -= k;
            lo += k;
        }
        len += 1;
    }
    len
}

/// Checks that the tree of `new` leaves with `new_root` extends the tree of `old` leaves with
/// `old_root` (RFC 9162 §2.1.4.2): nothing was removed or changed, only appended.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::InvalidRequest(format!(
            "old size {old} is larger than new size {new}"
        )));
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else if !proof.is_empty() {
            Err(ProofError::WrongLength {
                got: proof.len(),
                expected: 0,
            })
        } else {
            Err(ProofError::Mismatch)
        };
    }
    if old == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength {
                got: proof.len(),
                expected: 0,
            })
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength {
            got: 0,
            expected: 1,
        });
    }
    let mut proof = proof.to_vec();
    if old.is_power_of_two() {
        proof.insert(0, *old_root);
    }
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (proof[0], proof[0]);
    for c in &proof[1..] {
        if sn == 0 {
            return Err(ProofError::Mismatch);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && fr == *old_root && sr == *new_root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// The complete-subtree hashes an append creates, in order: the leaf itself at level 0, then
/// each parent it completes. `left_sibling(level, index)` returns the existing complete subtree
/// to the left (which an append never changes), so the writer reads at most log n hashes.
pub fn nodes_completed_by_append(
    leaf_index: u64,
    leaf: Hash,
    mut left_sibling: impl FnMut(u32, u64) -> Result<Hash, ProofError>,
) -> Result<Vec<(u32, u64, Hash)>, ProofError> {
    let mut created = vec![(0u32, leaf_index, leaf)];
    let (mut level, mut index, mut hash) = (0u32, leaf_index, leaf);
    while index & 1 == 1 {
        let left = left_sibling(level, index - 1)?;
        hash = node_hash(&left, &hash);
        level += 1;
        index >>= 1;
        created.push((level, index, hash));
    }
    Ok(created)
}

/// An in-memory [`NodeSource`] holding every complete subtree: used by offline verification of
/// bundles, by tests, and by anything that rebuilds a tree from its leaves.
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf hash, storing every subtree it completes.
    pub fn push(&mut self, leaf: Hash) {
        let index = self.size();
        let levels = &mut self.levels;
        let created = nodes_completed_by_append(index, leaf, |level, i| {
            levels
                .get(level as usize)
                .and_then(|l| l.get(i as usize))
                .copied()
                .ok_or(ProofError::MissingNode { level, index: i })
        });
        // Cannot fail: every left sibling of a complete subtree is itself complete and stored.
        if let Ok(created) = created {
            for (level, _, hash) in created {
                if self.levels.len() <= level as usize {
                    self.levels.push(Vec::new());
                }
                self.levels[level as usize].push(hash);
            }
        }
    }

    /// Root of the first `size` leaves.
    pub fn root_at(&mut self, size: u64) -> Result<Hash, ProofError> {
        root(self, size)
    }
}

impl NodeSource for MemoryTree {
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, ProofError> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or(ProofError::MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests;
