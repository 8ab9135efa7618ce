//! The compact form of a tree's first `n` leaves: the roots of its perfect subtrees, one per
//! set bit of `n`, largest first. It is all a verifier needs to keep appending leaves and to
//! compute the root of every size it passes, in O(log n) memory: how an archive chunk that
//! starts at seq `a` carries the `popcount(a)` hashes of everything before it instead of the
//! entries themselves.

use super::{empty_root, node_hash, Hash, ProofError};

/// The perfect-subtree roots of the first [`Frontier::size`] leaves, largest (leftmost) first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of a tree of `size` leaves from its subtree roots, largest first; refused
    /// unless there is exactly one hash per set bit of `size`.
    pub fn from_nodes(size: u64, nodes: Vec<Hash>) -> Result<Self, ProofError> {
        let expected = size.count_ones() as usize;
        if nodes.len() != expected {
            return Err(ProofError::WrongLength {
                got: nodes.len(),
                expected,
            });
        }
        Ok(Frontier { size, nodes })
    }

    /// The frontier of `size` leaves from the RFC 6962 audit path of leaf `size` in the tree of
    /// `size + 1` leaves: every hash on that path is a left sibling, and together they are
    /// exactly the frontier, smallest first.
    pub fn from_last_leaf_path(size: u64, path: &[Hash]) -> Result<Self, ProofError> {
        Self::from_nodes(size, path.iter().rev().copied().collect())
    }

    /// Number of leaves covered.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree roots, largest first.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends one leaf hash: equal-sized neighbours merge, as in a binary counter.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut carry = self.size;
        while carry & 1 == 1 {
            // One node per set bit, so a set bit always has its node.
            let Some(left) = self.nodes.pop() else { break };
            hash = node_hash(&left, &hash);
            carry >>= 1;
        }
        self.nodes.push(hash);
        self.size += 1;
    }

    /// The RFC 6962 root of the leaves covered: `H(P1, H(P2, … Pk))`.
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return empty_root();
        };
        nodes.fold(*last, |right, left| node_hash(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{inclusion_proof, leaf_hash, MemoryTree};
    use proptest::prelude::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn the_empty_frontier_has_the_empty_root() {
        assert_eq!(Frontier::new().root(), empty_root());
    }

    #[test]
    fn a_frontier_with_the_wrong_number_of_nodes_is_refused() {
        assert!(Frontier::from_nodes(5, vec![[0; 32]]).is_err());
        assert!(Frontier::from_nodes(5, vec![[0; 32], [1; 32]]).is_ok());
    }

    proptest! {
        #[test]
        fn every_prefix_root_matches_the_full_tree(n in 1u64..300) {
            let mut tree = MemoryTree::new();
            let mut frontier = Frontier::new();
            for (i, leaf) in leaves(n).into_iter().enumerate() {
                tree.push(leaf);
                frontier.push(leaf);
                prop_assert_eq!(frontier.size(), i as u64 + 1);
                prop_assert_eq!(frontier.root(), tree.root_at(i as u64 + 1).unwrap());
                prop_assert_eq!(frontier.nodes().len(), frontier.size().count_ones() as usize);
            }
        }

        #[test]
        fn a_frontier_from_the_last_leafs_path_continues_the_tree(a in 0u64..200, more in 1u64..100) {
            let all = leaves(a + more);
            let mut tree = MemoryTree::new();
            for leaf in &all {
                tree.push(*leaf);
            }
            let path = inclusion_proof(&mut tree, a, a + 1).unwrap();
            let mut frontier = Frontier::from_last_leaf_path(a, &path).unwrap();
            for leaf in &all[a as usize..] {
                frontier.push(*leaf);
            }
            prop_assert_eq!(frontier.root(), tree.root_at(a + more).unwrap());
        }
    }
}
