//! CSV for spreadsheets: what compliance staff open in Excel, LibreOffice or Google Sheets.
//!
//! * A UTF-8 byte-order mark, so Excel reads names like "Zoë" correctly.
//! * A header row whose time columns say `(UTC)`, so nobody reads them as local time.
//! * Every cell quoted, embedded quotes doubled (RFC 4180).
//! * Formula injection neutralised (OWASP "CSV Injection"): a cell starting with `=`, `+`, `-`,
//!   `@`, TAB, CR or LF — or with `'` itself, so the rule stays reversible — gets a `'` prefix,
//!   which spreadsheets show as text instead of evaluating. Strip exactly one leading `'` to
//!   recover the stored value.

use crate::columns::Cell;
use crate::rows::{RowEncoder, RowFormat, RowWriter};
use crate::ExportError;
use sealtrail_core::envelope::EntryView;
use std::io::Write;

/// The UTF-8 byte-order mark written first.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The header row, shared with the XLSX export (see [`crate::columns`]).
pub use crate::columns::HEADER;

/// Characters that make a spreadsheet treat a cell as a formula (or, for `'`, as escaped text).
const TRIGGERS: [char; 8] = ['=', '+', '-', '@', '\t', '\r', '\n', '\''];

/// Appends one cell, quoted (every cell is: RFC 4180 allows it, and no reader then guesses
/// where a field with a comma or line break ends), quotes inside doubled, and a formula
/// trigger at its start neutralised in place.
fn write_cell(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    if text.starts_with(TRIGGERS) {
        out.push(b'\'');
    }
    let mut rest = text.as_bytes();
    // Most cells hold no quote: one (vectorised) search, one copy.
    while let Some(at) = memchr::memchr(b'"', rest) {
        let (before, after) = rest.split_at(at + 1);
        out.extend_from_slice(before);
        out.push(b'"');
        rest = after;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// One CSV row per entry; `tenant` names the log in the last cell of every row.
struct CsvRows {
    tenant: String,
}

impl RowEncoder for CsvRows {
    /// The cells of [`crate::columns::row`], times as RFC 3339, each neutralised.
    fn encode_row(
        &self,
        view: &EntryView<'_>,
        _first: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ExportError> {
        let cells = crate::columns::row(view, &self.tenant).map_err(std::io::Error::from)?;
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match cell {
                // RFC 3339 starts with a digit: never a formula.
                Cell::Time(at) => write_cell(out, at.rfc3339_text().as_str()),
                Cell::Text(text) => write_cell(out, text),
            }
        }
        out.push(b'\n');
        Ok(())
    }
}

/// CSV as rows: the BOM and the header row first, then one row per entry.
pub fn format(tenant: &str) -> RowFormat {
    let mut preamble = BOM.to_vec();
    for (i, name) in HEADER.iter().enumerate() {
        if i > 0 {
            preamble.push(b',');
        }
        write_cell(&mut preamble, name);
    }
    preamble.push(b'\n');
    RowFormat {
        preamble,
        rows: std::sync::Arc::new(CsvRows {
            tenant: tenant.to_string(),
        }),
        epilogue: b"",
    }
}

/// A streaming CSV writer: the BOM and header now, a row per [`RowWriter::write_entry`].
pub fn writer<W: Write>(out: W, tenant: &str) -> Result<RowWriter<W>, ExportError> {
    RowWriter::new(out, format(tenant))
}

#[cfg(test)]
mod tests;
