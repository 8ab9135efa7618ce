//! NDJSON: one entry per line, for log pipelines and `jq`; no wrapper, so files concatenate.
//! Each line also names its tenant (`"tenant"` first), since a line travels alone into a SIEM
//! or an archive where the file it came from is forgotten.

use crate::{EntryEncoder, ExportError};
use sealtrail_core::Entry;
use std::io::{BufWriter, Write};

/// Writes one compact JSON entry per line to `W`.
#[derive(Debug)]
pub struct NdjsonWriter<W: Write> {
    out: BufWriter<W>,
    /// `{"tenant":"<name>",`: the start of every line.
    line_start: Vec<u8>,
    /// One entry's JSON, reused from line to line.
    scratch: Vec<u8>,
}

impl<W: Write> NdjsonWriter<W> {
    /// An NDJSON stream has no preamble; `tenant` is named on every line.
    pub fn new(out: W, tenant: &str) -> Self {
        let mut line_start = b"{\"tenant\":".to_vec();
        // Serialising a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut line_start, tenant);
        line_start.push(b',');
        NdjsonWriter {
            out: BufWriter::new(out),
            line_start,
            scratch: Vec::new(),
        }
    }

    /// Writes one line: the tenant, then the entry's own fields.
    pub fn write_entry(&mut self, entry: &Entry) -> Result<(), ExportError> {
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, entry).map_err(std::io::Error::from)?;
        // An entry serialises as an object: drop its `{`, which the line start opened.
        let fields = self.scratch.get(1..).unwrap_or_default();
        self.out.write_all(&self.line_start)?;
        self.out.write_all(fields)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    /// Flushes and returns the output.
    pub fn finish(self) -> Result<W, ExportError> {
        self.out
            .into_inner()
            .map_err(|e| ExportError::Io(e.into_error()))
    }
}

impl<W: Write> EntryEncoder<W> for NdjsonWriter<W> {
    fn write_entry(&mut self, entry: &Entry) -> Result<(), ExportError> {
        NdjsonWriter::write_entry(self, entry)
    }

    fn finish(self: Box<Self>) -> Result<W, ExportError> {
        NdjsonWriter::finish(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::sample_entry;
    use proptest::prelude::*;

    fn export(entries: &[Entry]) -> Vec<u8> {
        let mut w = NdjsonWriter::new(Vec::new(), "acme \"north\"");
        for e in entries {
            w.write_entry(e).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn every_line_is_one_entry() {
        let entries: Vec<Entry> = (0..7).map(sample_entry).collect();
        let text = String::from_utf8(export(&entries)).unwrap();
        assert!(text.ends_with("}\n"));
        let back: Vec<Entry> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, entries);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["tenant"], "acme \"north\"", "every line names its tenant");
            assert!(line.starts_with("{\"tenant\":"), "{line}");
        }
        assert!(export(&[]).is_empty());
    }

    proptest! {
        #[test]
        fn newlines_in_values_never_split_lines(texts in proptest::collection::vec(any::<String>(), 1..20)) {
            let entries: Vec<Entry> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let mut e = sample_entry(i as u64);
                    e.description = format!("{t}\n{t}\r\n");
                    e
                })
                .collect();
            let text = String::from_utf8(export(&entries)).unwrap();
            prop_assert_eq!(text.lines().count(), entries.len());
            let back: Vec<Entry> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            prop_assert_eq!(back, entries);
        }
    }
}
