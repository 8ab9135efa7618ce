//! Sealtrail's exports: every format an admin or auditor can download, written as a stream.
//!
//! Exports have no row cap, so every encoder takes entries one at a time and writes them to any
//! [`std::io::Write`] in constant memory; the server and CLI own the files and sockets.
//!
//! * [`archive`] — archive sinks' chunks: gzip NDJSON in the sink's format beside the evidence
//!   that verifies them offline.
//! * [`bundle`] — the signed evidence bundle an auditor verifies offline (see `BUNDLE.md`).
//! * [`csv`] — spreadsheet-safe CSV (BOM, UTC header, formula injection neutralised).
//! * [`xlsx`] — an Excel workbook with real date cells, written in constant memory.
//! * [`columns`] — the columns CSV and XLSX share.
//! * [`json`] — one JSON document `{exported_at, filters, entries: [...]}`.
//! * [`ndjson`] — one entry per line, for log pipelines.
//! * [`rows`] — the formats made of standalone rows, encodable a run at a time on any thread.
//! * [`pdf`] — a paginated report for auditors, with the signed checkpoint, written page by page.
//! * [`Format`] — the formats by name, with file names and content types.

pub mod archive;
pub mod bundle;
pub mod columns;
pub mod csv;
mod format;
pub mod json;
pub mod ndjson;
pub mod pdf;
pub mod rows;
pub mod xlsx;

pub use format::{Format, UnknownFormat};

use sealtrail_core::{Entry, Timestamp};
use std::io::Write;

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output failed (a closed socket, a full disk).
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
    /// The format cannot be produced from entries alone (the evidence bundle needs proofs).
    #[error("the {0} format is not written entry by entry; use the bundle module")]
    NotAnEntryFormat(Format),
    /// The spreadsheet library refused the workbook (a limit it enforces that we did not).
    #[error("building the XLSX workbook failed: {0}")]
    Xlsx(String),
    /// The PDF report could not be built (the embedded font, or a report too large for PDF).
    #[error("building the PDF report failed: {0}")]
    Pdf(String),
    /// The checkpoint given for the PDF report does not verify with the given key.
    #[error("the report's checkpoint does not verify: {0}")]
    Checkpoint(sealtrail_core::checkpoint::NoteError),
    /// The PDF report needs its header (tenant, period, checkpoint): build it with
    /// [`pdf::PdfWriter::new`], which is an [`EntryEncoder`] like the others.
    #[error("the {0} format needs a report header; use pdf::PdfWriter::new")]
    NeedsReportHeader(Format),
}

/// A streaming encoder of entries, so callers can pick the format at run time and feed every
/// format the same way.
pub trait EntryEncoder<W: Write> {
    /// Encodes one more entry; memory use does not grow with the number of entries.
    fn write_entry(&mut self, entry: &Entry) -> Result<(), ExportError>;
    /// Writes whatever closes the document, flushes, and hands the output back.
    fn finish(self: Box<Self>) -> Result<W, ExportError>;
}

/// The encoder for `format`, already past its preamble (BOM and header, or JSON prefix).
/// `tenant` names whose log it is (a column, a header field or a field of every line);
/// `filters` describes the selection; formats with a header carry it (JSON), others ignore it.
/// The PDF report needs more than this (tenant, checkpoint): build it with
/// [`pdf::PdfWriter::new`] and use it through the same [`EntryEncoder`] trait.
pub fn encoder<'a, W: Write + 'a>(
    format: Format,
    out: W,
    exported_at: Timestamp,
    tenant: &str,
    filters: &serde_json::Value,
) -> Result<Box<dyn EntryEncoder<W> + 'a>, ExportError> {
    Ok(match format {
        Format::Xlsx => Box::new(xlsx::XlsxWriter::new(out, tenant)?),
        Format::Csv | Format::Json | Format::Ndjson => {
            match row_format(format, exported_at, tenant, filters)? {
                Some(rows) => Box::new(rows::RowWriter::new(out, rows)?),
                None => return Err(ExportError::NotAnEntryFormat(format)),
            }
        }
        Format::Pdf => return Err(ExportError::NeedsReportHeader(format)),
        Format::Bundle => return Err(ExportError::NotAnEntryFormat(format)),
    })
}

/// The row form of `format` when its rows stand alone (CSV, JSON, NDJSON), so a caller can
/// encode runs of rows on several threads ([`rows`]); `None` for the others.
pub fn row_format(
    format: Format,
    exported_at: Timestamp,
    tenant: &str,
    filters: &serde_json::Value,
) -> Result<Option<rows::RowFormat>, ExportError> {
    Ok(match format {
        Format::Csv => Some(csv::format(tenant)),
        Format::Json => Some(json::format(exported_at, tenant, filters)?),
        Format::Ndjson => Some(ndjson::format(tenant)),
        Format::Xlsx | Format::Pdf | Format::Bundle => None,
    })
}

/// The writer of `format` as a [`rows::RowSink`] when its rows can be encoded apart from one
/// another (CSV, JSON, NDJSON, XLSX), so an export encodes runs of rows on every core; `None`
/// for the others (PDF, bundle).
pub fn row_sink<'a, W: Write + 'a>(
    format: Format,
    out: W,
    exported_at: Timestamp,
    tenant: &str,
    filters: &serde_json::Value,
) -> Result<Option<Box<dyn rows::RowSink<W> + 'a>>, ExportError> {
    if format == Format::Xlsx {
        return Ok(Some(Box::new(xlsx::XlsxWriter::new(out, tenant)?)));
    }
    Ok(match row_format(format, exported_at, tenant, filters)? {
        Some(rows) => Some(Box::new(rows::RowWriter::new(out, rows)?)),
        None => None,
    })
}

#[cfg(test)]
mod testutil;
