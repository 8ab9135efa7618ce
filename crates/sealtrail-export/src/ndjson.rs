//! NDJSON: one entry per line, for log pipelines and `jq`; no wrapper, so files concatenate.
//! Each line also names its tenant (`"tenant"` first), since a line travels alone into a SIEM
//! or an archive where the file it came from is forgotten.

use crate::rows::{RowEncoder, RowFormat, RowWriter};
use crate::ExportError;
use sealtrail_core::envelope::EntryView;
use std::io::Write;

/// One line per entry, each opening with its tenant.
struct NdjsonRows {
    /// `{"tenant":"<name>",`: the start of every line.
    line_start: Vec<u8>,
}

impl RowEncoder for NdjsonRows {
    /// One line: the tenant, then the entry's own fields.
    fn encode_row(
        &self,
        view: &EntryView<'_>,
        _first: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ExportError> {
        let start = out.len();
        serde_json::to_writer(&mut *out, view).map_err(std::io::Error::from)?;
        // An entry serialises as an object: its `{` becomes the line start, which opens it.
        out.splice(start..start + 1, self.line_start.iter().copied());
        out.push(b'\n');
        Ok(())
    }
}

/// NDJSON as rows: no preamble, no epilogue; `tenant` is named on every line.
pub fn format(tenant: &str) -> RowFormat {
    let mut line_start = b"{\"tenant\":".to_vec();
    // Serialising a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut line_start, tenant);
    line_start.push(b',');
    RowFormat {
        preamble: Vec::new(),
        rows: std::sync::Arc::new(NdjsonRows { line_start }),
        epilogue: b"",
    }
}

/// A streaming NDJSON writer, a line per [`RowWriter::write_entry`].
pub fn writer<W: Write>(out: W, tenant: &str) -> Result<RowWriter<W>, ExportError> {
    RowWriter::new(out, format(tenant))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::sample_entry;
    use proptest::prelude::*;
    use sealtrail_core::Entry;

    fn export(entries: &[Entry]) -> Vec<u8> {
        let mut w = writer(Vec::new(), "acme \"north\"").unwrap();
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
