//! Bundle tests: a real log built in memory, bundles written from it, and tar surgery helpers.

mod props;
mod python;
mod scale;
mod snapshot;
mod tamper;

use super::*;
pub(super) use crate::testutil::sample_entry;
use sealtrail_core::checkpoint::{Checkpoint, NoteSigner};
use sealtrail_core::envelope::{self, Part, Sealed};
use sealtrail_core::merkle::{self, MemoryTree};
use serde_json::{json, Value};
use std::io::Read;

pub(super) const ORIGIN: &str = "sealtrail.example/acme";

/// A log of `n` sealed entries with its tree and signing key.
pub(super) struct TestLog {
    pub signer: NoteSigner,
    pub tree: MemoryTree,
    pub sealed: Vec<Sealed>,
}

impl TestLog {
    pub fn new(n: u64) -> Self {
        let (tree, sealed, signer) = crate::testutil::sealed_log(n, ORIGIN, 0);
        TestLog {
            signer,
            tree,
            sealed,
        }
    }

    pub fn size(&self) -> u64 {
        self.sealed.len() as u64
    }

    pub fn header(&mut self) -> BundleHeader {
        let size = self.size();
        let root = self.tree.root_at(size).unwrap();
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size,
            root,
        };
        BundleHeader {
            origin: ORIGIN.into(),
            checkpoint_note: cp.sign(&self.signer).unwrap(),
            verifier: self.signer.verifier(),
            tree_size: size,
            root,
            exported_at: Timestamp::parse_rfc3339("2026-11-23T10:15:00Z").unwrap(),
            filters: json!({"channel": "security", "from": "2026-11-01"}),
        }
    }

    /// The entry at `seq` with every vault value committed.
    pub fn entry(&mut self, seq: u64) -> BundleEntry {
        let size = self.size();
        let s = &self.sealed[seq as usize];
        BundleEntry {
            seq,
            envelope: s.envelope.clone(),
            slots: s.vault.iter().cloned().map(Slot::Committed).collect(),
            inclusion_proof: merkle::inclusion_proof(&mut self.tree, seq, size).unwrap(),
        }
    }

    /// The entry at `seq` with its actor erased and replaced by a pseudonym.
    pub fn erased_entry(&mut self, seq: u64) -> BundleEntry {
        let mut e = self.entry(seq);
        e.slots[0] = Slot::Erased {
            part: Part::Actor,
            replacement: br#"{"id":"erased-1","name":"Erased user"}"#.to_vec(),
        };
        e
    }

    /// A bundle of the entries at `seqs` (in the order given).
    pub fn bundle(&mut self, seqs: &[u64]) -> Vec<u8> {
        let entries: Vec<BundleEntry> = seqs.iter().map(|s| self.entry(*s)).collect();
        self.bundle_of(&entries)
    }

    pub fn bundle_of(&mut self, entries: &[BundleEntry]) -> Vec<u8> {
        let mut w = BundleWriter::new(Vec::new(), self.header()).unwrap();
        for e in entries {
            w.add(e).unwrap();
        }
        w.finish().unwrap()
    }
}

pub(super) fn verify(bytes: &[u8]) -> Result<BundleReport, BundleError> {
    verify_bundle(bytes, |_| {})
}

/// The archive's members as (name, bytes), in order.
pub(super) fn members(tar_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for m in archive.entries().unwrap() {
        let mut m = m.unwrap();
        let name = m.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        m.read_to_end(&mut bytes).unwrap();
        out.push((name, bytes));
    }
    out
}

/// Packs members back into a tar, the way an attacker with `tar` would.
pub(super) fn pack(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in members {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, bytes.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

/// Rewrites one member's bytes.
pub(super) fn edit_member(bundle: &[u8], name: &str, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut ms = members(bundle);
    let m = ms.iter_mut().find(|(n, _)| n == name).unwrap();
    f(&mut m.1);
    pack(&ms)
}

/// Rewrites the lines of `entries.ndjson` (as parsed JSON values).
pub(super) fn edit_lines(bundle: &[u8], f: impl FnOnce(&mut Vec<Value>)) -> Vec<u8> {
    edit_member(bundle, files::ENTRIES, |bytes| {
        let mut lines: Vec<Value> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        f(&mut lines);
        bytes.clear();
        for l in &lines {
            bytes.extend(serde_json::to_vec(l).unwrap());
            bytes.push(b'\n');
        }
    })
}

/// Flips bits of the base64-encoded bytes in the string at `value`.
pub(super) fn flip_b64(value: &mut Value, index: usize, mask: u8) {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;
    let mut raw = B64.decode(value.as_str().unwrap()).unwrap();
    let i = index % raw.len();
    raw[i] ^= mask;
    *value = Value::String(B64.encode(raw));
}

/// Flips bits of the hex-encoded hash in the string at `value`.
pub(super) fn flip_hex(value: &mut Value, index: usize, mask: u8) {
    let mut raw = hex::decode(value.as_str().unwrap()).unwrap();
    let i = index % raw.len();
    raw[i] ^= mask;
    *value = Value::String(hex::encode(raw));
}

/// The problem a verify must report, or a panic showing the whole report.
pub(super) fn problem(bytes: &[u8]) -> Problem {
    let report = verify(bytes).unwrap();
    report
        .first_problem
        .clone()
        .unwrap_or_else(|| panic!("tampering not detected: {report:?}"))
}
