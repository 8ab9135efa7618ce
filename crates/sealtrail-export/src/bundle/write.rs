//! [`BundleWriter`]: streams entries into a bundle in constant memory.
//!
//! A tar member's size precedes its bytes, and the manifest (which precedes the entries) holds
//! their count, so nothing can be written until the last entry is known. Entries are therefore
//! spooled, one encoded line at a time, to an anonymous temporary file (or one the caller
//! supplies); [`BundleWriter::finish`] writes the small files and then copies the spool into
//! the archive. Memory stays at one line whatever the size of the export; disk use is the size
//! of `entries.ndjson`.

use super::line::{self, LineJson, Log, VaultJson};
use super::manifest::Manifest;
use super::{files, BundleEntry, BundleError, BundleHeader, FORMAT, README_TEXT, VERIFY_SCRIPT};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sealtrail_core::checkpoint::Checkpoint;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

/// Writes an evidence bundle to `W`. Call [`add`](Self::add) for each entry in increasing
/// `seq` order, then [`finish`](Self::finish); dropping the writer early writes nothing.
#[derive(Debug)]
pub struct BundleWriter<W: Write> {
    out: W,
    header: BundleHeader,
    log: Log,
    spool: BufWriter<File>,
    spooled_bytes: u64,
    count: u64,
    last_seq: Option<u64>,
}

impl<W: Write> BundleWriter<W> {
    /// Starts a bundle, spooling entries to an anonymous temporary file that the operating
    /// system deletes when it is closed. Refuses a header whose checkpoint does not verify
    /// with its key or does not match its origin, size and root.
    pub fn new(out: W, header: BundleHeader) -> Result<Self, BundleError> {
        Self::with_spool(out, header, tempfile::tempfile()?)
    }

    /// Like [`new`](Self::new), spooling to `spool` (truncated first), so a server can keep
    /// large exports on the volume it chooses rather than the system temp directory.
    pub fn with_spool(out: W, header: BundleHeader, spool: File) -> Result<Self, BundleError> {
        let cp = Checkpoint::open(&header.checkpoint_note, &header.verifier)
            .map_err(BundleError::Checkpoint)?;
        if cp.origin != header.origin || cp.size != header.tree_size || cp.root != header.root {
            return Err(BundleError::Mismatch(format!(
                "header says {} at size {} with root {}, checkpoint says {} at size {} with root {}",
                header.origin,
                header.tree_size,
                hex::encode(header.root),
                cp.origin,
                cp.size,
                hex::encode(cp.root)
            )));
        }
        spool.set_len(0)?;
        let log = Log {
            origin: header.origin.clone(),
            tree_size: header.tree_size,
            root: header.root,
        };
        Ok(BundleWriter {
            out,
            header,
            log,
            spool: BufWriter::new(spool),
            spooled_bytes: 0,
            count: 0,
            last_seq: None,
        })
    }

    /// Entries added so far.
    pub fn entries(&self) -> u64 {
        self.count
    }

    /// Appends one entry after checking it exactly as the verifier will; an entry that would
    /// not verify (wrong proof, tampered vault row, out of order) is refused, not written.
    pub fn add(&mut self, entry: &BundleEntry) -> Result<(), BundleError> {
        let line = self.encoder().encode(entry)?;
        self.add_encoded(line)
    }

    /// What checks and encodes lines for this bundle on any thread: checking and encoding are
    /// most of a bundle's CPU, and each line is independent of the others.
    pub fn encoder(&self) -> LineEncoder {
        LineEncoder {
            log: self.log.clone(),
        }
    }

    /// Appends a line [`LineEncoder::encode`] checked and encoded; lines must come in
    /// increasing seq order, else the line is refused, not written.
    pub fn add_encoded(&mut self, line: EncodedLine) -> Result<(), BundleError> {
        if let Some(last) = self.last_seq {
            if line.seq <= last {
                return Err(BundleError::InvalidEntry {
                    seq: line.seq,
                    reason: format!(
                        "entries must be added in increasing seq order (previous was {last})"
                    ),
                });
            }
        }
        self.spool.write_all(&line.bytes)?;
        self.spooled_bytes += line.bytes.len() as u64;
        self.count += 1;
        self.last_seq = Some(line.seq);
        Ok(())
    }

    /// Writes the archive and returns the output, so the caller can flush or close it.
    pub fn finish(self) -> Result<W, BundleError> {
        let manifest = Manifest {
            format: FORMAT.to_string(),
            origin: self.header.origin.clone(),
            tree_size: self.header.tree_size,
            root: hex::encode(self.header.root),
            exported_at: self.header.exported_at,
            filters: self.header.filters.clone(),
            entries: self.count,
        };
        let mut manifest_json =
            serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::from)?;
        manifest_json.push(b'\n');
        let key_line = format!("{}\n", self.header.verifier);

        let mut spool = self.spool.into_inner().map_err(|e| e.into_error())?;
        spool.seek(SeekFrom::Start(0))?;
        let mtime = u64::try_from(self.header.exported_at.millis() / 1000).unwrap_or(0);

        let mut tar = tar::Builder::new(self.out);
        let small: [(&str, &[u8]); 5] = [
            (files::README, README_TEXT.as_bytes()),
            (files::SCRIPT, VERIFY_SCRIPT.as_bytes()),
            (files::MANIFEST, &manifest_json),
            (files::PUBLIC_KEY, key_line.as_bytes()),
            (files::CHECKPOINT, self.header.checkpoint_note.as_bytes()),
        ];
        for (name, bytes) in small {
            append(&mut tar, name, bytes.len() as u64, mtime, bytes)?;
        }
        let size = self.spooled_bytes;
        append(&mut tar, files::ENTRIES, size, mtime, spool.take(size))?;
        Ok(tar.into_inner()?)
    }
}

/// Appends one regular file with a plain ustar header: fixed mode and owner, the export time
/// as modification time, so equal inputs give byte-identical archives.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    mtime: u64,
    data: impl Read,
) -> Result<(), BundleError> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name)?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    tar.append(&header, data)?;
    Ok(())
}

/// Checks and encodes bundle lines for one bundle ([`BundleWriter::encoder`]); cheap to clone
/// onto worker threads.
#[derive(Debug, Clone)]
pub struct LineEncoder {
    log: Log,
}

/// One entry checked exactly as the verifier will check it and encoded as its line of
/// `entries.ndjson`; only a [`LineEncoder`] makes one, so every line written was checked.
#[derive(Debug)]
pub struct EncodedLine {
    seq: u64,
    bytes: Vec<u8>,
}

impl LineEncoder {
    /// The entry's line, after every check the verifier makes of it but its order; an entry
    /// that would not verify (wrong proof, tampered vault row) is refused.
    pub fn encode(&self, entry: &BundleEntry) -> Result<EncodedLine, BundleError> {
        let invalid = |reason: String| BundleError::InvalidEntry {
            seq: entry.seq,
            reason,
        };
        let leaf = sealtrail_core::merkle::leaf_hash(&entry.envelope);
        let opened = line::check(
            &self.log,
            entry.seq,
            &entry.envelope,
            &leaf,
            &entry.inclusion_proof,
            &entry.slots,
        )
        .map_err(invalid)?;
        let json = LineJson {
            seq: entry.seq,
            id: opened.id,
            envelope: B64.encode(&entry.envelope),
            leaf_hash: line::hash_hex(&leaf),
            inclusion_proof: entry.inclusion_proof.iter().map(line::hash_hex).collect(),
            vault: VaultJson::from_slots(&entry.slots),
            entry: line::entry_json(&opened).map_err(invalid)?,
        };
        let mut bytes = Vec::with_capacity(4096);
        serde_json::to_writer(&mut bytes, &json).map_err(std::io::Error::from)?;
        bytes.push(b'\n');
        Ok(EncodedLine {
            seq: entry.seq,
            bytes,
        })
    }
}
