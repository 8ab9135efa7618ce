//! CSV for spreadsheets: what compliance staff open in Excel, LibreOffice or Google Sheets.
//!
//! * A UTF-8 byte-order mark, so Excel reads names like "Zoë" correctly.
//! * A header row whose time columns say `(UTC)`, so nobody reads them as local time.
//! * Every cell quoted, embedded quotes doubled (RFC 4180, via the `csv` crate).
//! * Formula injection neutralised (OWASP "CSV Injection"): a cell starting with `=`, `+`, `-`,
//!   `@`, TAB, CR or LF — or with `'` itself, so the rule stays reversible — gets a `'` prefix,
//!   which spreadsheets show as text instead of evaluating. Strip exactly one leading `'` to
//!   recover the stored value.

use crate::columns::Cell;
use crate::{EntryEncoder, ExportError};
use ::csv::{QuoteStyle, WriterBuilder};
use sealtrail_core::Entry;
use std::borrow::Cow;
use std::io::Write;

/// The UTF-8 byte-order mark written first.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The header row, shared with the XLSX export (see [`crate::columns`]).
pub use crate::columns::HEADER;

/// Characters that make a spreadsheet treat a cell as a formula (or, for `'`, as escaped text).
const TRIGGERS: [char; 8] = ['=', '+', '-', '@', '\t', '\r', '\n', '\''];

/// Prefixes `'` to a cell a spreadsheet would otherwise evaluate.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(TRIGGERS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Writes entries as CSV rows to `W`, buffering one row at a time.
pub struct CsvWriter<W: Write> {
    inner: ::csv::Writer<W>,
    /// The tenant's name, the last cell of every row.
    tenant: String,
}

impl<W: Write> std::fmt::Debug for CsvWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvWriter").finish_non_exhaustive()
    }
}

impl<W: Write> CsvWriter<W> {
    /// Writes the BOM and the header row; `tenant` names the log on every row.
    pub fn new(mut out: W, tenant: &str) -> Result<Self, ExportError> {
        out.write_all(BOM)?;
        let mut inner = WriterBuilder::new()
            .quote_style(QuoteStyle::Always)
            .from_writer(out);
        inner.write_record(HEADER).map_err(std::io::Error::from)?;
        Ok(CsvWriter {
            inner,
            tenant: tenant.to_string(),
        })
    }

    /// Writes one row: the cells of [`crate::columns::row`], times as RFC 3339, each neutralised.
    pub fn write_entry(&mut self, e: &Entry) -> Result<(), ExportError> {
        let cells = crate::columns::row(e, &self.tenant).map_err(std::io::Error::from)?;
        for cell in cells {
            match cell {
                // RFC 3339 starts with a digit: never a formula.
                Cell::Time(at) => self.inner.write_field(at.rfc3339_text().as_str()),
                Cell::Text(text) => self.inner.write_field(neutralise(&text).as_bytes()),
            }
            .map_err(std::io::Error::from)?;
        }
        self.inner
            .write_record(None::<&[u8]>)
            .map_err(std::io::Error::from)?;
        Ok(())
    }

    /// Flushes and returns the output.
    pub fn finish(self) -> Result<W, ExportError> {
        self.inner.into_inner().map_err(|e| {
            ExportError::Io(std::io::Error::new(e.error().kind(), e.error().to_string()))
        })
    }
}

impl<W: Write> EntryEncoder<W> for CsvWriter<W> {
    fn write_entry(&mut self, entry: &Entry) -> Result<(), ExportError> {
        CsvWriter::write_entry(self, entry)
    }

    fn finish(self: Box<Self>) -> Result<W, ExportError> {
        CsvWriter::finish(*self)
    }
}

#[cfg(test)]
mod tests;
