//! Formats made of rows that stand alone (CSV, NDJSON, JSON): a preamble, one row per entry, an
//! epilogue. A row depends only on its entry (and, for JSON, on whether it is the document's
//! first), so a caller may encode runs of rows on several threads and write the runs in order;
//! an export of a million entries does exactly that. [`RowWriter`] is the one-entry-at-a-time
//! streaming form of the same encoders, so both ways produce the same bytes.

use crate::{EntryEncoder, ExportError};
use sealtrail_core::envelope::EntryView;
use sealtrail_core::Entry;
use std::io::{BufWriter, Write};
use std::sync::Arc;

/// How one format writes a row. It reads an [`EntryView`], which an export builds straight
/// from the stored bytes (no entry opened) and a caller holding an opened entry builds with
/// [`EntryView::of`]; both write the same bytes.
pub trait RowEncoder: Send + Sync {
    /// Appends the row of the entry `view` shows to `out`. `first` is true for the document's
    /// first row only.
    fn encode_row(
        &self,
        view: &EntryView<'_>,
        first: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ExportError>;
}

/// A document written from rows encoded anywhere: one at a time by the writer itself, or in
/// runs on other threads with [`RowSink::encoder`] and handed back in order. An export of a
/// million entries encodes its pages this way on every core.
pub trait RowSink<W: Write> {
    /// Rows written so far; a run encoded elsewhere starts the document when this is zero.
    fn rows_written(&self) -> u64;
    /// The document's row encoder, to encode runs of rows on other threads (shared, so they
    /// can hold it while this writer writes the runs they finished).
    fn encoder(&self) -> Arc<dyn RowEncoder>;
    /// Appends rows [`RowSink::encoder`] encoded elsewhere, in order: `ends[i]` is where
    /// row `i` ends in `bytes` (XLSX cuts sheets between rows).
    fn write_encoded(&mut self, bytes: &[u8], ends: &[usize]) -> Result<(), ExportError>;
    /// Writes whatever closes the document, flushes, and hands the output back.
    fn finish_rows(self: Box<Self>) -> Result<W, ExportError>;
}

/// A row format: the bytes before the first row, the rows' encoder, the bytes after the last.
pub struct RowFormat {
    /// Written once, before any row (a BOM and header, a JSON prefix, or nothing).
    pub preamble: Vec<u8>,
    /// Writes each row.
    pub rows: Arc<dyn RowEncoder>,
    /// Written once, after the last row.
    pub epilogue: &'static [u8],
}

impl std::fmt::Debug for RowFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowFormat").finish_non_exhaustive()
    }
}

/// Streams a [`RowFormat`] to `W`: rows encoded here one at a time, or runs of rows encoded
/// elsewhere ([`RowWriter::write_encoded`]).
#[derive(Debug)]
pub struct RowWriter<W: Write> {
    out: BufWriter<W>,
    format: RowFormat,
    rows: u64,
    /// One row's bytes, reused from row to row.
    scratch: Vec<u8>,
}

impl<W: Write> RowWriter<W> {
    /// Writes the preamble.
    pub fn new(out: W, format: RowFormat) -> Result<Self, ExportError> {
        let mut out = BufWriter::new(out);
        out.write_all(&format.preamble)?;
        Ok(RowWriter {
            out,
            format,
            rows: 0,
            scratch: Vec::new(),
        })
    }

    /// Encodes and writes one more row.
    pub fn write_entry(&mut self, entry: &Entry) -> Result<(), ExportError> {
        self.scratch.clear();
        let view = EntryView::of(entry).map_err(std::io::Error::from)?;
        self.format
            .rows
            .encode_row(&view, self.rows == 0, &mut self.scratch)?;
        self.out.write_all(&self.scratch)?;
        self.rows += 1;
        Ok(())
    }

    /// Writes the epilogue, flushes, and returns the output.
    pub fn finish(mut self) -> Result<W, ExportError> {
        self.out.write_all(self.format.epilogue)?;
        self.out
            .into_inner()
            .map_err(|e| ExportError::Io(e.into_error()))
    }
}

impl<W: Write> RowSink<W> for RowWriter<W> {
    fn rows_written(&self) -> u64 {
        self.rows
    }

    fn encoder(&self) -> Arc<dyn RowEncoder> {
        self.format.rows.clone()
    }

    fn write_encoded(&mut self, bytes: &[u8], ends: &[usize]) -> Result<(), ExportError> {
        self.out.write_all(bytes)?;
        self.rows += ends.len() as u64;
        Ok(())
    }

    fn finish_rows(self: Box<Self>) -> Result<W, ExportError> {
        RowWriter::finish(*self)
    }
}

impl<W: Write> EntryEncoder<W> for RowWriter<W> {
    fn write_entry(&mut self, entry: &Entry) -> Result<(), ExportError> {
        RowWriter::write_entry(self, entry)
    }

    fn finish(self: Box<Self>) -> Result<W, ExportError> {
        RowWriter::finish(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::sample_entry;
    use crate::Format;
    use proptest::prelude::*;
    use sealtrail_core::Timestamp;

    fn formats() -> Vec<RowFormat> {
        let at = Timestamp::parse_rfc3339("2026-11-23T10:15:00Z").unwrap();
        [Format::Csv, Format::Json, Format::Ndjson]
            .into_iter()
            .map(|f| {
                crate::row_format(f, at, "acme", &serde_json::json!({}))
                    .unwrap()
                    .unwrap()
            })
            .collect()
    }

    proptest! {
        /// Rows encoded in runs (as an export does on several threads) and written in order
        /// make the same document as rows written one at a time.
        #[test]
        fn runs_written_in_order_match_the_stream(n in 0usize..40, cut in 0usize..40) {
            let entries: Vec<Entry> = (0..n as u64).map(sample_entry).collect();
            let cut = cut.min(n);
            for (streamed, in_runs) in formats().into_iter().zip(formats()) {
                let mut one_by_one = RowWriter::new(Vec::new(), streamed).unwrap();
                for e in &entries {
                    one_by_one.write_entry(e).unwrap();
                }
                let mut by_runs = RowWriter::new(Vec::new(), in_runs).unwrap();
                for (start, run) in [(0, &entries[..cut]), (cut, &entries[cut..])] {
                    let (mut bytes, mut ends) = (Vec::new(), Vec::new());
                    for (i, e) in run.iter().enumerate() {
                        let view = EntryView::of(e).unwrap();
                        by_runs.encoder().encode_row(&view, start + i == 0, &mut bytes).unwrap();
                        ends.push(bytes.len());
                    }
                    by_runs.write_encoded(&bytes, &ends).unwrap();
                }
                prop_assert_eq!(by_runs.rows_written(), n as u64);
                prop_assert_eq!(by_runs.finish().unwrap(), one_by_one.finish().unwrap());
            }
        }
    }
}
