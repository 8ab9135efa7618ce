//! Cases on tamper evidence: the stored tree against an independent in-memory tree, every
//! inclusion and consistency proof checked by core's verifiers, envelopes that open to what
//! was appended, and the checkpoint equivocation guard.

use super::fixtures::*;
use sealtrail_core::envelope;
use sealtrail_core::merkle::{self, MemoryTree};
use sealtrail_core::{Entry, TenantId};
use sealtrail_store::{CheckpointToRecord, Hash, Store, StoreError, TreeHead};
use std::sync::Arc;

/// The leaf hashes of every kept entry, from `leaves`, in seq order.
pub async fn leaf_hashes(store: &Arc<dyn Store>, t: TenantId) -> Vec<(u64, Hash)> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let page = match store.leaves(t, from, 7).await {
            Ok(p) => p,
            Err(e) => panic!("leaves from {from}: {e}"),
        };
        let Some(last) = page.last() else {
            return out;
        };
        from = last.seq + 1;
        out.extend(page.iter().map(|l| (l.seq, l.leaf_hash)));
    }
}

/// A memory tree over the log's leaves (all kept, so seq = position).
async fn memory_tree(store: &Arc<dyn Store>, t: TenantId) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for (i, (seq, leaf)) in leaf_hashes(store, t).await.into_iter().enumerate() {
        assert_eq!(seq, i as u64, "leaves are gapless before any prune");
        tree.push(leaf);
    }
    tree
}

/// The current tree head, unwrapped.
pub async fn head(store: &Arc<dyn Store>, t: TenantId) -> TreeHead {
    match store.tree_head(t).await {
        Ok(h) => h,
        Err(e) => panic!("tree_head: {e}"),
    }
}

/// The root at `size` from an independent memory tree.
fn root_at(tree: &mut MemoryTree, size: u64) -> Hash {
    match tree.root_at(size) {
        Ok(r) => r,
        Err(e) => panic!("memory root at {size}: {e}"),
    }
}

/// Appends `n` dataset entries in batches of varied size, so group boundaries fall everywhere.
pub async fn grow(store: &Arc<dyn Store>, t: TenantId, n: usize) {
    let mut i = 0;
    let mut batch = 1;
    while i < n {
        let k = batch.min(n - i);
        append(store, t, (i..i + k).map(dataset_entry).collect()).await;
        i += k;
        batch = batch % 5 + 1;
    }
}

/// The stored root equals an in-memory tree built from `leaves()`; envelopes name the tenant's
/// origin, hash to their leaf and open to the entry `get` returns.
pub async fn tree_head_matches_an_independent_tree(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let empty = head(&store, t).await;
    assert_eq!((empty.size, empty.root), (0, merkle::empty_root()));
    let origin = store.log_origin(t).await.unwrap_or_default();
    let parts: Vec<&str> = origin.split('/').collect();
    assert!(
        parts.len() == 3
            && parts[0] == "sealtrail"
            && parts[1].len() == 8
            && parts[1].chars().all(|c| c.is_ascii_hexdigit())
            && parts[2] == "acme",
        "origin {origin}"
    );
    let other = tenant(&store, "globex").await;
    let other_origin = store.log_origin(other).await.unwrap_or_default();
    assert_eq!(other_origin, format!("sealtrail/{}/globex", parts[1]));
    assert!(matches!(
        store.log_origin(TenantId(987_654)).await,
        Err(StoreError::NotFound(_))
    ));

    for n in [1usize, 2, 3, 5, 8, 13, 24, 31] {
        let size = head(&store, t).await.size as usize;
        grow(&store, t, n - size.min(n)).await;
        let h = head(&store, t).await;
        let mut tree = memory_tree(&store, t).await;
        assert_eq!(tree.size(), h.size);
        assert_eq!(
            root_at(&mut tree, h.size),
            h.root,
            "root at size {}",
            h.size
        );
    }
    let leaves = store.leaves(t, 0, 1000).await.unwrap_or_default();
    assert_eq!(leaves.len(), 31);
    for leaf in &leaves {
        assert_eq!(leaf.leaf_hash, merkle::leaf_hash(&leaf.envelope));
        let claims = envelope::head(&leaf.envelope).map(|h| (h.log, h.seq, h.id));
        assert_eq!(claims.ok(), Some((origin.clone(), leaf.seq, leaf.id)));
        assert_eq!(
            envelope::mismatched_commitments(&leaf.envelope, &leaf.slots).ok(),
            Some(vec![])
        );
        let opened = envelope::open(&leaf.envelope, &leaf.slots).ok();
        assert_eq!(opened, found(&store, t, leaf.id).await, "seq {}", leaf.seq);
    }
    let tail = store.leaves(t, 29, 10).await.unwrap_or_default();
    assert_eq!(tail.iter().map(|l| l.seq).collect::<Vec<_>>(), [29, 30]);
    assert_eq!(
        head(&store, other).await.size,
        0,
        "other tenant's tree untouched"
    );
}

/// Entries read back (by id and by page) equal exactly what was appended.
pub async fn entries_read_back_equal_what_was_appended(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let news: Vec<_> = (0..24).map(dataset_entry).collect();
    let acks = append(&store, t, news.clone()).await;
    let expected: Vec<Entry> = news
        .into_iter()
        .zip(&acks)
        .map(|(n, a)| Entry::from_new(n, a.id, a.seq, a.recorded_at))
        .collect();
    for e in &expected {
        assert_eq!(found(&store, t, e.id).await.as_ref(), Some(e));
    }
    let mut listed = all_pages(&store, t, &Default::default(), 5).await;
    listed.reverse();
    assert_eq!(listed, expected);
}

/// Every inclusion proof of a 50-entry log, at several tree sizes, verifies with core's
/// verifier; bad requests are `Invalid`.
pub async fn every_inclusion_proof_verifies(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    grow(&store, t, 50).await;
    let mut tree = memory_tree(&store, t).await;
    let leaves = leaf_hashes(&store, t).await;
    for size in [1u64, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 49, 50] {
        let root = root_at(&mut tree, size);
        for seq in 0..size {
            let proof = match store.inclusion_proof(t, seq, size).await {
                Ok(p) => p,
                Err(e) => panic!("proof {seq}@{size}: {e}"),
            };
            let leaf = leaves[seq as usize].1;
            let verified = merkle::verify_inclusion(seq, size, &leaf, &proof, &root);
            assert!(verified.is_ok(), "seq {seq} size {size}: {verified:?}");
            let wrong = merkle::verify_inclusion(seq, size, &[0; 32], &proof, &root);
            assert!(wrong.is_err(), "a wrong leaf must not verify");
        }
    }
    for (seq, size) in [(50, 50), (3, 2), (0, 0), (0, 51)] {
        let r = store.inclusion_proof(t, seq, size).await;
        assert!(
            matches!(r, Err(StoreError::Invalid(_))),
            "{seq}@{size}: {r:?}"
        );
    }
}

/// Proofs asked for together are each the proof asked for alone (any order, repeats, pruned
/// seqs too), and one bad seq or size refuses the whole request as `Invalid`.
pub async fn inclusion_proofs_together_equal_each_alone(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    grow(&store, t, 37).await;
    for size in [1u64, 2, 17, 32, 37] {
        let seqs: Vec<u64> = (0..size).rev().chain([0, size / 2, size - 1]).collect();
        let together = store
            .inclusion_proofs(t, seqs.clone(), size)
            .await
            .unwrap_or_else(|e| panic!("proofs at size {size}: {e}"));
        assert_eq!(together.len(), seqs.len());
        for (seq, proof) in seqs.iter().zip(&together) {
            let alone = store.inclusion_proof(t, *seq, size).await.unwrap();
            assert_eq!(proof, &alone, "seq {seq} at size {size}");
        }
    }
    assert_eq!(
        store.inclusion_proofs(t, vec![], 37).await.unwrap().len(),
        0
    );
    for (seqs, size) in [(vec![0, 37], 37), (vec![1, 2], 38), (vec![5], 0)] {
        let r = store.inclusion_proofs(t, seqs.clone(), size).await;
        assert!(
            matches!(r, Err(StoreError::Invalid(_))),
            "{seqs:?}@{size}: {r:?}"
        );
    }
}

/// Every consistency proof between two sizes of a 20-entry log verifies.
pub async fn every_consistency_proof_verifies(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    grow(&store, t, 20).await;
    let mut tree = memory_tree(&store, t).await;
    for new in 0..=20u64 {
        let new_root = root_at(&mut tree, new);
        for old in 0..=new {
            let old_root = root_at(&mut tree, old);
            let proof = match store.consistency_proof(t, old, new).await {
                Ok(p) => p,
                Err(e) => panic!("consistency {old}->{new}: {e}"),
            };
            let verified = merkle::verify_consistency(old, new, &old_root, &new_root, &proof);
            assert!(verified.is_ok(), "{old} -> {new}: {verified:?}");
        }
    }
    for (old, new) in [(5, 21), (6, 5)] {
        let r = store.consistency_proof(t, old, new).await;
        assert!(
            matches!(r, Err(StoreError::Invalid(_))),
            "{old}->{new}: {r:?}"
        );
    }
}

/// The equivocation guard: never a smaller size, never a second root for a size, never a
/// size beyond the log or a root that is not the tree's; the same checkpoint again is fine.
pub async fn checkpoints_refuse_equivocation(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    assert_eq!(store.latest_checkpoint(t).await.ok(), Some(None));
    grow(&store, t, 10).await;
    let mut tree = memory_tree(&store, t).await;
    let root = |tree: &mut MemoryTree, n| root_at(tree, n);
    let r5 = root(&mut tree, 5);
    let first = store.record_checkpoint(t, 5, r5, "note 5\n").await;
    let first = match first {
        Ok(c) => c,
        Err(e) => panic!("first checkpoint: {e}"),
    };
    assert_eq!(
        (first.size, first.root, first.note.as_str()),
        (5, r5, "note 5\n")
    );
    let again = store.record_checkpoint(t, 5, r5, "another note\n").await;
    assert_eq!(
        again.ok(),
        Some(first.clone()),
        "same checkpoint returns the record"
    );

    let refused = [
        (5, root(&mut tree, 6), "another root for a signed size"),
        (4, root(&mut tree, 4), "smaller than the latest"),
        (11, root(&mut tree, 10), "beyond the log"),
        (8, root(&mut tree, 7), "not the tree's root"),
        (8, [7; 32], "made-up root"),
    ];
    for (size, root, why) in refused {
        let r = store.record_checkpoint(t, size, root, "x\n").await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{why}: {r:?}");
    }
    assert_eq!(store.checkpoint_at(t, 8).await.ok(), Some(None));
    let r10 = root(&mut tree, 10);
    assert!(store
        .record_checkpoint(t, 10, r10, "note 10\n")
        .await
        .is_ok());
    let latest = store.latest_checkpoint(t).await.ok().flatten();
    assert_eq!(latest.map(|c| (c.size, c.root)), Some((10, r10)));
    assert_eq!(
        store.checkpoint_at(t, 5).await.ok().flatten(),
        Some(first.clone())
    );
    let old_again = store.record_checkpoint(t, 5, r5, "note 5\n").await;
    assert_eq!(
        old_again.ok(),
        Some(first),
        "a recorded checkpoint stays valid"
    );
    let unknown = store
        .record_checkpoint(TenantId(987_654), 0, merkle::empty_root(), "x\n")
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

/// A batch of checkpoints answers each item as a single recording would: good ones are
/// recorded, equivocating ones refused, and one refusal does not stop the others.
pub async fn checkpoint_batches_answer_each_item(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "globex").await;
    grow(&store, a, 6).await;
    grow(&store, b, 4).await;
    let mut tree_a = memory_tree(&store, a).await;
    let mut tree_b = memory_tree(&store, b).await;
    let (a6, a3, b4) = (
        root_at(&mut tree_a, 6),
        root_at(&mut tree_a, 3),
        root_at(&mut tree_b, 4),
    );
    let item = |tenant, size, root, note: &str| CheckpointToRecord {
        tenant,
        size,
        root,
        note: note.into(),
    };
    let results = store
        .record_checkpoints(vec![
            item(a, 6, a6, "a6\n"),
            item(a, 3, a3, "a3: smaller than a6, refused\n"),
            item(b, 4, [9; 32], "not b's root, refused\n"),
            item(b, 4, b4, "b4\n"),
        ])
        .await;
    let sizes: Vec<_> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|c| c.size)
                .map_err(|e| matches!(e, StoreError::Conflict(_)))
        })
        .collect();
    assert_eq!(sizes, [Ok(6), Err(true), Err(true), Ok(4)], "{results:?}");
    let latest = |t| {
        let store = store.clone();
        async move {
            store
                .latest_checkpoint(t)
                .await
                .ok()
                .flatten()
                .map(|c| (c.size, c.note))
        }
    };
    assert_eq!(latest(a).await, Some((6, "a6\n".to_string())));
    assert_eq!(latest(b).await, Some((4, "b4\n".to_string())));
    assert!(store.record_checkpoints(Vec::new()).await.is_empty());
}

/// A checkpoint recorded again with witnesses' cosignatures keeps them (once per key) on every
/// later read, and a note over another text adds nothing.
pub async fn cosignatures_are_added_to_a_recorded_checkpoint(store: Arc<dyn Store>) {
    use sealtrail_core::checkpoint::{Checkpoint, NoteSigner};
    use sealtrail_core::cosignature::Cosigner;
    let t = tenant(&store, "acme").await;
    grow(&store, t, 6).await;
    let mut tree = memory_tree(&store, t).await;
    let log = NoteSigner::from_seed("sealtrail", [1; 32]).expect("log key");
    let checkpoint = Checkpoint {
        origin: "sealtrail/test/acme".into(),
        size: 6,
        root: root_at(&mut tree, 6),
    };
    let note = checkpoint.sign(&log).expect("sign");
    let first = store.record_checkpoint(t, 6, checkpoint.root, &note).await;
    assert_eq!(first.map(|c| c.note).ok(), Some(note.clone()));
    let text = checkpoint.to_text();
    let w1 = Cosigner::from_seed("w1.example", [2; 32]).expect("w1");
    let w2 = Cosigner::from_seed("w2.example", [3; 32]).expect("w2");
    let with_w1 = format!("{note}{}", w1.cosign(&text, 100));
    let kept = store
        .record_checkpoint(t, 6, checkpoint.root, &with_w1)
        .await;
    assert_eq!(kept.map(|c| c.note).ok(), Some(with_w1.clone()));
    // w1 again (later) and w2: only w2's line is new.
    let offered = format!("{text}\n{}{}", w1.cosign(&text, 200), w2.cosign(&text, 300));
    let both = store
        .record_checkpoint(t, 6, checkpoint.root, &offered)
        .await;
    let expected = format!("{with_w1}{}", w2.cosign(&text, 300));
    assert_eq!(both.map(|c| c.note).ok(), Some(expected.clone()));
    let other_text = text.replacen("acme", "globex", 1);
    let foreign = format!("{other_text}\n{}", w1.cosign(&other_text, 1));
    let ignored = store
        .record_checkpoint(t, 6, checkpoint.root, &foreign)
        .await;
    assert_eq!(ignored.map(|c| c.note).ok(), Some(expected.clone()));
    let read = store.latest_checkpoint(t).await.ok().flatten();
    assert_eq!(read.map(|c| c.note), Some(expected.clone()));
    let read = store.checkpoint_at(t, 6).await.ok().flatten();
    assert_eq!(read.map(|c| c.note), Some(expected));
    assert_eq!(
        w1.verifier().cosigned_at(&both_note(&store, t).await).ok(),
        Some(Some(100))
    );
}

async fn both_note(store: &Arc<dyn Store>, t: TenantId) -> String {
    match store.latest_checkpoint(t).await {
        Ok(Some(c)) => c.note,
        other => panic!("latest checkpoint: {other:?}"),
    }
}

/// A tree level range holds exactly the complete-subtree hashes an independent tree computes,
/// and ranges the tree does not complete yet are refused, per tenant.
pub async fn tree_levels_are_the_complete_subtrees(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    grow(&store, t, 21).await;
    grow(&store, other, 3).await;
    let mut tree = memory_tree(&store, t).await;
    for (level, first, count) in [
        (0u32, 0u64, 21u64),
        (0, 5, 3),
        (1, 0, 10),
        (2, 1, 4),
        (4, 0, 1),
    ] {
        let got = store.tree_level(t, level, first, count).await;
        let want: Vec<Hash> = (first..first + count)
            .map(|i| {
                let lo = i << level;
                merkle::range_hash(&mut tree, lo, lo + (1 << level)).expect("memory tree")
            })
            .collect();
        assert_eq!(got.ok(), Some(want), "level {level} from {first} x{count}");
    }
    for (level, first, count) in [
        (0u32, 0u64, 22u64),
        (1, 10, 1),
        (2, 0, 6),
        (5, 0, 1),
        (0, 3, 0),
    ] {
        let r = store.tree_level(t, level, first, count).await;
        assert!(
            matches!(r, Err(StoreError::Invalid(_))),
            "{level}/{first}/{count}: {r:?}"
        );
    }
    let r = store.tree_level(other, 0, 0, 4).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
}

/// Tile access is off by default, set per tenant, and left alone by other settings.
pub async fn tile_access_is_a_setting_per_tenant(store: Arc<dyn Store>) {
    use sealtrail_store::TileAccess;
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "globex").await;
    let access =
        |s: Result<sealtrail_store::TenantSettings, StoreError>| s.map(|s| s.tile_access).ok();
    assert_eq!(access(store.settings(t).await), Some(TileAccess::Off));
    for value in [TileAccess::Public, TileAccess::Monitor] {
        assert_eq!(access(store.set_tile_access(t, value).await), Some(value));
        assert_eq!(access(store.settings(t).await), Some(value));
    }
    assert_eq!(
        access(store.set_legal_hold(t, true).await),
        Some(TileAccess::Monitor)
    );
    assert_eq!(access(store.settings(other).await), Some(TileAccess::Off));
    let unknown = store
        .set_tile_access(TenantId(987_654), TileAccess::Public)
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

/// Every tenant's size in one read agrees with asking each tenant.
pub async fn log_sizes_list_every_tenant(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "globex").await;
    let c = tenant(&store, "initech").await;
    grow(&store, a, 5).await;
    grow(&store, c, 2).await;
    let sizes = match store.log_sizes().await {
        Ok(sizes) => sizes,
        Err(e) => panic!("log sizes: {e}"),
    };
    for t in [a, b, c] {
        let one = store.log_size(t).await.ok();
        let listed = sizes.iter().find(|(id, _)| *id == t).map(|(_, n)| *n);
        assert_eq!(listed, one, "tenant {t:?}");
    }
    assert_eq!(
        sizes.iter().find(|(id, _)| *id == a).map(|(_, n)| *n),
        Some(5)
    );
}
