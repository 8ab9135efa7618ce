//! Known answers from the RFC 6962 reference leaves, and properties checked against a naive
//! implementation written straight from the RFC's recursive definitions.

use super::*;
use proptest::prelude::*;

/// The eight reference leaves of the transparency-dev / certificate-transparency test vectors.
fn reference_leaves() -> Vec<Vec<u8>> {
    vec![
        vec![],
        vec![0x00],
        vec![0x10],
        vec![0x20, 0x21],
        vec![0x30, 0x31],
        vec![0x40, 0x41, 0x42, 0x43],
        (0x50..0x58).collect(),
        (0x60..0x70).collect(),
    ]
}

fn h(hex_str: &str) -> Hash {
    let bytes = hex::decode(hex_str).unwrap();
    bytes.try_into().unwrap()
}

fn tree_of(leaves: &[Hash]) -> MemoryTree {
    let mut t = MemoryTree::new();
    for l in leaves {
        t.push(*l);
    }
    t
}

fn reference_tree() -> (Vec<Hash>, MemoryTree) {
    let leaves: Vec<Hash> = reference_leaves().iter().map(|l| leaf_hash(l)).collect();
    let tree = tree_of(&leaves);
    (leaves, tree)
}

#[test]
fn roots_of_the_reference_leaves() {
    let expected = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let (_, mut tree) = reference_tree();
    for (size, root) in expected.iter().enumerate() {
        assert_eq!(tree.root_at(size as u64).unwrap(), h(root), "size {size}");
    }
}

#[test]
fn reference_inclusion_and_consistency_proofs() {
    let (leaves, mut tree) = reference_tree();
    let root8 = tree.root_at(8).unwrap();
    let p0 = inclusion_proof(&mut tree, 0, 8).unwrap();
    let prefixes: Vec<String> = p0.iter().map(|x| hex::encode(&x[..8])).collect();
    assert_eq!(
        prefixes,
        ["96a296d224f285c6", "5f083f0a1a33ca07", "6b47aaf29ee3c2af"]
    );
    let p5 = inclusion_proof(&mut tree, 5, 8).unwrap();
    assert_eq!(
        p5,
        vec![
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ]
    );
    verify_inclusion(5, 8, &leaves[5], &p5, &root8).unwrap();

    let c6 = consistency_proof(&mut tree, 6, 8).unwrap();
    let prefixes: Vec<String> = c6.iter().map(|x| hex::encode(&x[..8])).collect();
    assert_eq!(
        prefixes,
        ["0ebc5d3437fbe2db", "ca854ea128ed050b", "d37ee418976dd957"]
    );
    let root6 = tree.root_at(6).unwrap();
    verify_consistency(6, 8, &root6, &root8, &c6).unwrap();
    let c1 = consistency_proof(&mut tree, 1, 8).unwrap();
    assert_eq!(c1, p0, "consistency from 1 is the audit path of leaf 0");
}

#[test]
fn requests_outside_the_tree_are_refused() {
    let (leaves, mut tree) = reference_tree();
    assert!(matches!(
        inclusion_proof(&mut tree, 8, 8),
        Err(ProofError::InvalidRequest(_))
    ));
    assert!(matches!(
        consistency_proof(&mut tree, 9, 8),
        Err(ProofError::InvalidRequest(_))
    ));
    assert!(matches!(
        root(&mut tree, 9),
        Err(ProofError::MissingNode { .. })
    ));
    let root8 = tree.root_at(8).unwrap();
    assert!(verify_inclusion(8, 8, &leaves[0], &[], &root8).is_err());
    assert!(verify_consistency(8, 4, &root8, &root8, &[]).is_err());
    assert_eq!(verify_consistency(0, 8, &empty_root(), &root8, &[]), Ok(()));
    assert_eq!(verify_consistency(8, 8, &root8, &root8, &[]), Ok(()));
    assert!(verify_consistency(8, 8, &root8, &leaves[0], &[]).is_err());
}

/// RFC 6962 §2.1 `MTH`, `PATH` and `PROOF`, written over slices with no stored nodes.
mod naive {
    use super::super::{empty_root, node_hash, Hash};

    fn k(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    pub fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => empty_root(),
            1 => d[0],
            n => node_hash(&mth(&d[..k(n)]), &mth(&d[k(n)..])),
        }
    }

    pub fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return vec![];
        }
        let k = k(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    pub fn proof(m: usize, d: &[Hash], complete: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if complete { vec![] } else { vec![mth(d)] };
        }
        let k = k(n);
        if m <= k {
            let mut p = proof(m, &d[..k], complete);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = proof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }
}

fn leaves(n: usize, seed: u64) -> Vec<Hash> {
    (0..n as u64)
        .map(|i| leaf_hash(&[seed.to_le_bytes(), i.to_le_bytes()].concat()))
        .collect()
}

fn flip(mut hash: Hash, bit: usize) -> Hash {
    hash[(bit / 8) % 32] ^= 1 << (bit % 8);
    hash
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn roots_and_proofs_match_the_rfc_definitions(n in 0usize..2000, seed: u64, a: u64, b: u64) {
        let d = leaves(n, seed);
        let mut tree = tree_of(&d);
        prop_assert_eq!(tree.root_at(n as u64).unwrap(), naive::mth(&d));
        if n > 0 {
            let index = (a % n as u64) as usize;
            let proof = inclusion_proof(&mut tree, index as u64, n as u64).unwrap();
            prop_assert_eq!(&proof, &naive::path(index, &d));
            verify_inclusion(index as u64, n as u64, &d[index], &proof, &naive::mth(&d)).unwrap();

            let old = (b % (n as u64 + 1)) as usize;
            let c = consistency_proof(&mut tree, old as u64, n as u64).unwrap();
            let expected = if old == 0 || old == n { vec![] } else { naive::proof(old, &d, true) };
            prop_assert_eq!(&c, &expected);
            verify_consistency(old as u64, n as u64, &naive::mth(&d[..old]), &naive::mth(&d), &c)
                .unwrap();
        }
    }

    #[test]
    fn any_bit_flip_is_rejected(n in 2usize..2000, seed: u64, a: u64, b: u64, bit in 0usize..256, pick: usize) {
        let d = leaves(n, seed);
        let mut tree = tree_of(&d);
        let root = tree.root_at(n as u64).unwrap();
        let index = a % n as u64;
        let leaf = d[index as usize];
        let proof = inclusion_proof(&mut tree, index, n as u64).unwrap();
        prop_assert!(verify_inclusion(index, n as u64, &flip(leaf, bit), &proof, &root).is_err());
        prop_assert!(verify_inclusion(index, n as u64, &leaf, &proof, &flip(root, bit)).is_err());
        let mut bad = proof.clone();
        let i = pick % bad.len();
        bad[i] = flip(bad[i], bit);
        prop_assert!(verify_inclusion(index, n as u64, &leaf, &bad, &root).is_err());
        let mut short = proof.clone();
        short.pop();
        prop_assert!(verify_inclusion(index, n as u64, &leaf, &short, &root).is_err());

        let old = 1 + b % (n as u64 - 1);
        let old_root = tree.root_at(old).unwrap();
        let c = consistency_proof(&mut tree, old, n as u64).unwrap();
        prop_assert!(verify_consistency(old, n as u64, &flip(old_root, bit), &root, &c).is_err());
        prop_assert!(verify_consistency(old, n as u64, &old_root, &flip(root, bit), &c).is_err());
        let mut bad = c.clone();
        let i = pick % bad.len();
        bad[i] = flip(bad[i], bit);
        prop_assert!(verify_consistency(old, n as u64, &old_root, &root, &bad).is_err());
    }

    #[test]
    fn appends_read_only_log_n_left_siblings(n in 1u64..100_000) {
        let mut reads = 0u32;
        let created = nodes_completed_by_append(n, [0u8; 32], |_, _| { reads += 1; Ok([1u8; 32]) }).unwrap();
        prop_assert_eq!(created.len() as u32, reads + 1);
        prop_assert!(reads <= 64 - n.leading_zeros());
    }
}
