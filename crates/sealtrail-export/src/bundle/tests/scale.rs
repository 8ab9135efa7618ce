//! A large bundle, written and verified with bounded memory (ignored by default: run with
//! `cargo test -p sealtrail-export --release -- --ignored large` and watch the process's RSS).

use super::*;
use std::io::{BufReader, Seek, SeekFrom};

fn salts(seq: u64) -> [[u8; 16]; 3] {
    let b = seq as u8;
    [[b; 16], [b ^ 0x55; 16], [b ^ 0xaa; 16]]
}

#[test]
#[ignore = "slow; measures memory at scale"]
fn a_large_bundle_streams_in_constant_memory() {
    let n: u64 = std::env::var("BUNDLE_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    // Pass 1: the tree (hashes only). Pass 2: re-seal each entry and stream it out.
    let mut tree = MemoryTree::new();
    for seq in 0..n {
        tree.push(envelope::seal(&sample_entry(seq), ORIGIN, salts(seq)).leaf_hash);
    }
    let mut log = TestLog::new(0);
    let root = tree.root_at(n).unwrap();
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: n,
        root,
    };
    let header = BundleHeader {
        checkpoint_note: cp.sign(&log.signer).unwrap(),
        tree_size: n,
        root,
        ..log.header()
    };
    let file = tempfile::tempfile().unwrap();
    let mut w = BundleWriter::new(file, header).unwrap();
    for seq in 0..n {
        let s = envelope::seal(&sample_entry(seq), ORIGIN, salts(seq));
        w.add(&BundleEntry {
            seq,
            envelope: s.envelope,
            slots: s.vault.into_iter().map(Slot::Committed).collect(),
            inclusion_proof: merkle::inclusion_proof(&mut tree, seq, n).unwrap(),
        })
        .unwrap();
    }
    let mut file = w.finish().unwrap();
    eprintln!(
        "bundle of {n} entries: {} bytes",
        file.stream_position().unwrap()
    );
    file.seek(SeekFrom::Start(0)).unwrap();
    let report = verify_bundle(BufReader::new(file), |_| {}).unwrap();
    assert!(report.is_ok(), "{:?}", report.first_problem);
    assert!(report.whole_log);
    assert_eq!(report.entries, n);
}
