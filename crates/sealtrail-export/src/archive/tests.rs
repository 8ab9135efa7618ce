//! Archive chunk tests: a log built in memory, chunks cut from it, verified, tampered with.

use super::*;
use crate::testutil::sample_entry;
use flate2::read::GzDecoder;
use proptest::prelude::*;
use sealtrail_core::checkpoint::{Checkpoint, NoteSigner};
use sealtrail_core::envelope::{Part, Sealed};
use sealtrail_core::merkle::{self, MemoryTree};
use std::io::Read;

const ORIGIN: &str = "sealtrail.example/acme";

struct Log {
    signer: NoteSigner,
    tree: MemoryTree,
    sealed: Vec<Sealed>,
}

impl Log {
    fn new(n: u64, salt: u8) -> Log {
        let (tree, sealed, signer) = crate::testutil::sealed_log(n, ORIGIN, salt);
        Log {
            signer,
            tree,
            sealed,
        }
    }

    fn size(&self) -> u64 {
        self.sealed.len() as u64
    }

    fn leaf(&self, seq: u64) -> ChunkLeaf {
        let s = &self.sealed[seq as usize];
        ChunkLeaf {
            seq,
            envelope: s.envelope.clone(),
            slots: s.vault.iter().cloned().map(Slot::Committed).collect(),
        }
    }

    /// The proof of a chunk `first..=last` against the checkpoint of the whole log.
    fn proof(&mut self, first: u64, last: u64, format: SinkFormat) -> ChunkProof {
        let size = self.size();
        let root = self.tree.root_at(size).unwrap();
        let note = Checkpoint {
            origin: ORIGIN.into(),
            size,
            root,
        }
        .sign(&self.signer)
        .unwrap();
        let frontier = if first == 0 {
            Frontier::new()
        } else {
            let path = merkle::inclusion_proof(&mut self.tree, first, first + 1).unwrap();
            Frontier::from_last_leaf_path(first, &path).unwrap()
        };
        ChunkProof {
            origin: ORIGIN.into(),
            tenant: "acme".into(),
            format,
            checkpoint_note: note,
            frontier,
            consistency: merkle::consistency_proof(&mut self.tree, last + 1, size).unwrap(),
            created_at: Timestamp::parse_rfc3339("2026-12-06T10:00:00Z").unwrap(),
        }
    }

    fn chunk(&mut self, first: u64, last: u64, format: SinkFormat) -> Result<Chunk, ArchiveError> {
        let proof = self.proof(first, last, format);
        let leaves: Vec<ChunkLeaf> = (first..=last).map(|s| self.leaf(s)).collect();
        write_chunk(&proof, &leaves, &self.signer.verifier())
    }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
    text
}

fn gzip(text: &str) -> Vec<u8> {
    let mut out = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
    out.write_all(text.as_bytes()).unwrap();
    out.finish().unwrap()
}

/// The evidence object with its text changed by `edit`, the header's data hash kept.
fn edit_evidence(chunk: &Chunk, edit: impl Fn(String) -> String) -> Vec<u8> {
    gzip(&edit(gunzip(&chunk.evidence)))
}

/// The data object with its text changed by `edit`, and the evidence's hash of it updated,
/// as a forger who rewrote both would.
fn forge_data(chunk: &Chunk, edit: impl Fn(String) -> String) -> (Vec<u8>, Vec<u8>) {
    let data = gzip(&edit(gunzip(&chunk.data)));
    let old = hex::encode(Sha256::digest(&chunk.data));
    let new = hex::encode(Sha256::digest(&data));
    (edit_evidence(chunk, |t| t.replace(&old, &new)), data)
}

#[test]
fn a_chunk_verifies_and_its_data_lines_are_the_entries() {
    let mut log = Log::new(40, 0);
    let chunk = log.chunk(0, 39, SinkFormat::Sealtrail).unwrap();
    let report = verify_chunk(&chunk.evidence, &chunk.data, &log.signer.verifier()).unwrap();
    assert_eq!(
        (report.first, report.last, report.checkpoint_size),
        (0, 39, 40)
    );
    let lines: Vec<serde_json::Value> = gunzip(&chunk.data)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 40);
    assert_eq!(lines[7]["seq"], 7);
    assert_eq!(lines[7]["action"], sample_entry(7).action.as_str());
}

#[test]
fn an_ocsf_chunk_verifies_too() {
    let mut log = Log::new(10, 0);
    let chunk = log.chunk(3, 8, SinkFormat::Ocsf).unwrap();
    verify_chunk(&chunk.evidence, &chunk.data, &log.signer.verifier()).unwrap();
    let first: serde_json::Value =
        serde_json::from_str(gunzip(&chunk.data).lines().next().unwrap()).unwrap();
    assert_eq!(first["class_uid"], 6003);
}

#[test]
fn a_chunk_in_the_middle_stands_alone_and_chunks_chain() {
    let mut log = Log::new(100, 0);
    let mut chain = ChainCheck::new();
    for (first, last) in [(13, 40), (41, 41), (42, 99)] {
        let chunk = log.chunk(first, last, SinkFormat::Sealtrail).unwrap();
        let report = verify_chunk(&chunk.evidence, &chunk.data, &log.signer.verifier()).unwrap();
        chain.add(&report).unwrap();
    }
    assert_eq!(chain.first(), Some(13));
    assert_eq!(chain.covered(), 100);
    assert!(chain.gaps().is_empty());
}

#[test]
fn a_missing_chunk_is_a_gap_and_a_repeated_one_is_counted() {
    let mut log = Log::new(50, 0);
    let mut chain = ChainCheck::new();
    for (first, last) in [(0, 9), (0, 9), (20, 49)] {
        let chunk = log.chunk(first, last, SinkFormat::Sealtrail).unwrap();
        chain
            .add(&verify_chunk(&chunk.evidence, &chunk.data, &log.signer.verifier()).unwrap())
            .unwrap();
    }
    assert_eq!(chain.gaps(), &[(10, 19)]);
    assert_eq!(chain.repeated(), 1);
}

#[test]
fn a_chunk_from_another_tree_is_a_fork() {
    let mut honest = Log::new(30, 0);
    let mut forked = Log::new(30, 1);
    let mut chain = ChainCheck::new();
    let a = honest.chunk(0, 9, SinkFormat::Sealtrail).unwrap();
    chain
        .add(&verify_chunk(&a.evidence, &a.data, &honest.signer.verifier()).unwrap())
        .unwrap();
    let b = forked.chunk(10, 29, SinkFormat::Sealtrail).unwrap();
    let report = verify_chunk(&b.evidence, &b.data, &forked.signer.verifier()).unwrap();
    assert!(chain.add(&report).unwrap_err().contains("fork"));
}

#[test]
fn tampering_is_found_and_located() {
    let mut log = Log::new(20, 0);
    let verifier = log.signer.verifier();
    let chunk = log.chunk(5, 19, SinkFormat::Sealtrail).unwrap();
    let action = sample_entry(9).action.as_str().to_string();

    // The data object rewritten (and the evidence's hash of it with it).
    let (evidence, data) = forge_data(&chunk, |t| {
        let mut lines: Vec<String> = t.lines().map(String::from).collect();
        lines[4] = lines[4].replacen(&action, "user.nothing_to_see", 1);
        lines.join("\n") + "\n"
    });
    let error = verify_chunk(&evidence, &data, &verifier).unwrap_err();
    assert!(
        error.starts_with("seq 9:") && error.contains("data line"),
        "{error}"
    );

    // The data object replaced alone.
    let error = verify_chunk(&chunk.evidence, &gzip("{}\n"), &verifier).unwrap_err();
    assert!(error.contains("SHA-256"), "{error}");

    // A line of the data dropped.
    let (evidence, data) = forge_data(&chunk, |t| {
        t.lines().skip(1).map(|l| format!("{l}\n")).collect()
    });
    assert!(verify_chunk(&evidence, &data, &verifier).is_err());

    // The frontier of what came before changed: the tree no longer leads to the signed root.
    let header = gunzip(&chunk.evidence);
    let frontier_hash = serde_json::from_str::<serde_json::Value>(header.lines().next().unwrap())
        .unwrap()["frontier"][0]
        .as_str()
        .unwrap()
        .to_string();
    let evidence = edit_evidence(&chunk, |t| t.replacen(&frontier_hash, &"0".repeat(64), 1));
    let error = verify_chunk(&evidence, &chunk.data, &verifier).unwrap_err();
    assert!(error.contains("prefix of the signed tree"), "{error}");

    // Signed by someone else.
    let other = NoteSigner::from_seed("sealtrail.example", [8; 32]).unwrap();
    let error = verify_chunk(&chunk.evidence, &chunk.data, &other.verifier()).unwrap_err();
    assert!(error.contains("not signed by this key"), "{error}");
}

#[test]
fn an_erased_value_keeps_the_chunk_valid_and_is_counted() {
    let mut log = Log::new(8, 0);
    let proof = log.proof(0, 7, SinkFormat::Sealtrail);
    let mut leaves: Vec<ChunkLeaf> = (0..8).map(|s| log.leaf(s)).collect();
    leaves[3].slots[0] = Slot::Erased {
        part: Part::Actor,
        replacement: br#"{"id":"erased-1","name":"Erased user"}"#.to_vec(),
    };
    let chunk = write_chunk(&proof, &leaves, &log.signer.verifier()).unwrap();
    let report = verify_chunk(&chunk.evidence, &chunk.data, &log.signer.verifier()).unwrap();
    assert_eq!(report.erased, [(3, Part::Actor)]);
    assert!(gunzip(&chunk.data).contains("erased-1"));
}

#[test]
fn a_data_line_with_a_key_twice_is_refused() {
    let mut log = Log::new(6, 0);
    let verifier = log.signer.verifier();
    let chunk = log.chunk(0, 5, SinkFormat::Sealtrail).unwrap();
    // A reader keeping the first `action` would see the forged one; serde keeps the last.
    let (evidence, data) = forge_data(&chunk, |t| {
        let mut lines: Vec<String> = t.lines().map(String::from).collect();
        lines[2] = lines[2].replacen('{', "{\"action\":\"user.nothing_to_see\",", 1);
        lines.join("\n") + "\n"
    });
    let error = verify_chunk(&evidence, &data, &verifier).unwrap_err();
    assert!(error.starts_with("seq 2:"), "{error}");
}

#[test]
fn chunks_overlapping_at_any_boundary_must_share_one_tree() {
    let mut honest = Log::new(150, 0);
    let mut forked = Log::new(150, 1);
    let report = |log: &mut Log, first, last| {
        let chunk = log.chunk(first, last, SinkFormat::Sealtrail).unwrap();
        verify_chunk(&chunk.evidence, &chunk.data, &log.signer.verifier()).unwrap()
    };
    // A replay from seq 50 overlaps the first chunk in its middle: fine when honest.
    let mut chain = ChainCheck::new();
    chain.add(&report(&mut honest, 0, 99)).unwrap();
    chain.add(&report(&mut honest, 50, 149)).unwrap();
    assert_eq!(chain.covered(), 150);
    assert!(chain.gaps().is_empty());
    // The same overlap from another tree (same origin, same key) is a fork.
    let mut chain = ChainCheck::new();
    chain.add(&report(&mut honest, 0, 99)).unwrap();
    let error = chain.add(&report(&mut forked, 50, 149)).unwrap_err();
    assert!(error.contains("fork"), "{error}");
    // A chunk naming another tenant does not join the run.
    let mut chain = ChainCheck::new();
    chain.add(&report(&mut honest, 0, 49)).unwrap();
    let mut other = report(&mut honest, 50, 99);
    other.tenant = "globex".into();
    assert!(chain.add(&other).unwrap_err().contains("tenant"));
}

#[test]
fn leaves_that_are_not_one_run_are_refused() {
    let mut log = Log::new(10, 0);
    let proof = log.proof(0, 3, SinkFormat::Sealtrail);
    let leaves = vec![log.leaf(0), log.leaf(1), log.leaf(3)];
    let error = write_chunk(&proof, &leaves, &log.signer.verifier()).unwrap_err();
    assert!(matches!(error, ArchiveError::NotARun(_)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_cut_of_a_log_into_chunks_verifies_and_covers_it(n in 1u64..120, cuts in proptest::collection::vec(1u64..119, 0..6)) {
        let mut log = Log::new(n, 0);
        let mut bounds: Vec<u64> = cuts.into_iter().filter(|c| *c < n).collect();
        bounds.push(0);
        bounds.push(n);
        bounds.sort_unstable();
        bounds.dedup();
        let mut chain = ChainCheck::new();
        for pair in bounds.windows(2) {
            let chunk = log.chunk(pair[0], pair[1] - 1, SinkFormat::Sealtrail).unwrap();
            let report = verify_chunk(&chunk.evidence, &chunk.data, &log.signer.verifier()).unwrap();
            chain.add(&report).unwrap();
        }
        prop_assert_eq!(chain.first(), Some(0));
        prop_assert_eq!(chain.covered(), n);
        prop_assert!(chain.gaps().is_empty());
    }
}
