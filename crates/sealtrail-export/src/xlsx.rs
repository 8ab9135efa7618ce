//! XLSX: a real Excel workbook for compliance staff who want filters, sorting and dates that
//! behave as dates, without the CSV import dialog.
//!
//! * One sheet "Audit log" with the CSV export's columns ([`crate::columns`]), header row bold
//!   and frozen, columns sized for their content.
//! * `recorded_at`/`occurred_at` are date-time cells (Excel serial dates, UTC) formatted
//!   `yyyy-mm-dd hh:mm:ss.000`, so they sort and filter as time, not text.
//! * Every other cell is written as a string cell: text is never interpreted as a formula,
//!   so no formula injection is possible (and no formula writer is ever called).
//! * Excel's limits are respected instead of producing a file Excel refuses: a cell longer than
//!   [`MAX_CELL_CHARS`] (UTF-16 units) is cut and ends with [`TRUNCATION_MARKER`]; after
//!   [`MAX_DATA_ROWS`] rows the export continues on "Audit log (2)", "Audit log (3)", … each with
//!   its own header row.
//!
//! The workbook is written by hand (the [`xml`] module) and streamed: each row is appended to
//! its sheet's part, which is deflated straight into the ZIP package as it goes out, so the
//! first bytes leave at once and memory does not grow with the rows. The package opens with
//! its content types and relationships, as Excel orders it; the parts that name the sheets
//! (the workbook and its relationships) come last, when their number is known. Readers find
//! every part through the ZIP's central directory, which is always last.
//! Deflate runs at level 1: a million entries make about 1.5 GB of sheet XML, and the
//! default level took a third of a 26 s export with `rust_xlsxwriter` (BENCHMARKS.md, issue
//! #20), for a file a few percent smaller.
//!
//! Rows can be encoded on several threads ([`XlsxRows`], through [`RowSink`]): a row's bytes
//! depend only on its entry, and the writer cuts the runs into sheets.

mod gate;
mod xml;

use crate::columns::{self, Cell, HEADER};
use crate::rows::{RowEncoder, RowSink};
use crate::{EntryEncoder, ExportError};
use gate::{Gate, GateState};
use sealtrail_core::envelope::EntryView;
use sealtrail_core::{Entry, Timestamp};
use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

/// Data rows per sheet: Excel's 1,048,576 rows less the header row.
pub const MAX_DATA_ROWS: u32 = 1_048_575;
/// Excel's limit on the length of a cell's text, in UTF-16 code units.
pub const MAX_CELL_CHARS: usize = 32_767;
/// What ends a cell whose text was cut at [`MAX_CELL_CHARS`], so nobody mistakes it for the
/// whole value (the CSV, JSON and NDJSON exports carry it in full).
pub const TRUNCATION_MARKER: &str = "…[truncated]";
/// The first sheet's name; later sheets are "Audit log (2)" and so on.
pub const SHEET_NAME: &str = "Audit log";
/// How the two time columns display: unambiguous, sortable, millisecond precision like the log.
pub const DATE_FORMAT: &str = "yyyy-mm-dd hh:mm:ss.000";

/// Column widths in Excel character units, in [`HEADER`] order: wide enough for typical values
/// (UUIDs, dates, e-mail addresses) without making the sheet unwieldy.
const WIDTHS: [f64; 23] = [
    38.0, 23.0, 23.0, 14.0, 26.0, 12.0, 18.0, 60.0, 10.0, 11.0, 18.0, 22.0, 28.0, 16.0, 14.0, 18.0,
    22.0, 16.0, 30.0, 60.0, 22.0, 50.0, 16.0,
];

/// Days from Excel's epoch (1899-12-30, as the 1900 date system counts) to 1970-01-01.
const UNIX_EPOCH_SERIAL: f64 = 25_569.0;
const MILLIS_PER_DAY: f64 = 86_400_000.0;
/// Serial dates Excel displays correctly: 1900-03-01 (after its fictitious 1900-02-29)
/// through 9999-12-31.
const SERIAL_RANGE: std::ops::Range<f64> = 61.0..2_958_466.0;

/// Encodes data rows as sheet XML; shared by every thread encoding a run of an export.
/// Rows and cells carry no `r` reference (SpreadsheetML makes it optional: a row follows the
/// one before, a cell the one before it), so a row's bytes depend only on its entry and the
/// writer is free to cut sheets wherever it must ([`XlsxWriter`]).
#[derive(Debug, Clone)]
pub struct XlsxRows {
    /// The tenant's name, the last cell of every row.
    tenant: String,
}

impl RowEncoder for XlsxRows {
    /// One `<row>`: times as date cells (text outside Excel's date range), text as inline
    /// strings (never a formula), cut to Excel's cell limit; an empty cell as `<c/>`.
    fn encode_row(
        &self,
        view: &EntryView<'_>,
        _first: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ExportError> {
        let cells = columns::row(view, &self.tenant).map_err(std::io::Error::from)?;
        out.extend_from_slice(b"<row>");
        for cell in &cells {
            match cell {
                Cell::Time(at) => match excel_serial(*at) {
                    Some(serial) => xml::push_number_cell(out, xml::STYLE_DATE, serial),
                    None => xml::push_string_cell(out, 0, &at.to_rfc3339()),
                },
                Cell::Text(text) if text.is_empty() => out.extend_from_slice(b"<c/>"),
                Cell::Text(text) => {
                    let style = if text.contains('\n') {
                        xml::STYLE_WRAP
                    } else {
                        0
                    };
                    xml::push_string_cell(out, style, &truncated(text));
                }
            }
        }
        out.extend_from_slice(b"</row>");
        Ok(())
    }
}

/// The most sheet XML one sheet holds: a sheet is cut here even before Excel's row limit, so
/// no part of the package reaches the 4 GiB that plain ZIP can describe. (ZIP64 would lift
/// the limit, but streamed ZIP64 entries are what Excel is known to refuse.)
const SHEET_BYTES: u64 = 3 << 30;

/// The most compressed bytes a workbook may take before its last part starts: a part starting
/// beyond 4 GiB needs ZIP64 too. At about 200 bytes per entry that is some 20 million entries;
/// an export past it fails with a message saying so rather than write a file Excel refuses.
const PACKAGE_BYTES: u64 = (4 << 30) - (1 << 20);

/// The package as the `zip` crate writes it, through the [`Gate`].
type Package<W> = ZipWriter<StreamWriter<Gate<W>>>;

/// Writes entries as rows of an XLSX workbook streamed to `W`.
pub struct XlsxWriter<W: Write> {
    /// `None` once [`XlsxWriter::finish`] has taken it.
    zip: Option<Package<W>>,
    /// Shut when the workbook is dropped, so an abandoned package sends nothing more.
    gate: Arc<GateState>,
    rows: Arc<XlsxRows>,
    rows_per_sheet: u32,
    /// The most XML a sheet holds ([`SHEET_BYTES`]).
    bytes_per_sheet: u64,
    /// The most compressed bytes before the last part ([`PACKAGE_BYTES`]).
    package_bytes: u64,
    /// The sheets started so far; the last is being written.
    sheets: Vec<String>,
    /// Data rows written so far, over every sheet.
    written: u64,
    /// Data rows in the sheet being written.
    sheet_rows: u32,
    /// Bytes of XML in the sheet being written.
    sheet_bytes: u64,
    /// One row's bytes, reused from row to row.
    scratch: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for XlsxWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XlsxWriter")
            .field("sheets", &self.sheets.len())
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl<W: Write> XlsxWriter<W> {
    /// Starts the workbook and its first sheet. `tenant` names the log on every row.
    pub fn new(out: W, tenant: &str) -> Result<Self, ExportError> {
        Self::with_rows_per_sheet(out, tenant, MAX_DATA_ROWS)
    }

    /// [`Self::new`] with a smaller sheet size, so tests can cross sheet boundaries cheaply.
    pub(crate) fn with_rows_per_sheet(
        out: W,
        tenant: &str,
        rows_per_sheet: u32,
    ) -> Result<Self, ExportError> {
        Self::with_limits(out, tenant, rows_per_sheet, SHEET_BYTES, PACKAGE_BYTES)
    }

    /// [`Self::new`] with smaller sheets, so tests can cross both limits cheaply.
    pub(crate) fn with_limits(
        out: W,
        tenant: &str,
        rows_per_sheet: u32,
        bytes_per_sheet: u64,
        package_bytes: u64,
    ) -> Result<Self, ExportError> {
        let (out, gate) = Gate::new(out);
        let mut writer = XlsxWriter {
            zip: Some(ZipWriter::new_stream(out)),
            gate,
            rows: Arc::new(XlsxRows {
                tenant: tenant.to_string(),
            }),
            rows_per_sheet: rows_per_sheet.clamp(1, MAX_DATA_ROWS),
            bytes_per_sheet: bytes_per_sheet.min(SHEET_BYTES),
            package_bytes: package_bytes.min(PACKAGE_BYTES),
            sheets: Vec::new(),
            written: 0,
            sheet_rows: 0,
            sheet_bytes: 0,
            scratch: Vec::new(),
        };
        // The parts that do not depend on the rows open the package, as Excel orders them.
        writer.write_part("[Content_Types].xml", &xml::content_types())?;
        writer.write_part("_rels/.rels", &xml::package_rels())?;
        writer.start_sheet()?;
        Ok(writer)
    }

    /// How every part is stored: deflated at level 1, as plain ZIP (no part reaches 4 GiB:
    /// [`SHEET_BYTES`]).
    fn options() -> SimpleFileOptions {
        SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(1))
    }

    /// Starts the next sheet's part and writes its head and header row.
    fn start_sheet(&mut self) -> Result<(), ExportError> {
        let n = self.sheets.len() as u32 + 1;
        self.sheets.push(match n {
            1 => SHEET_NAME.to_string(),
            n => format!("{SHEET_NAME} ({n})"),
        });
        self.start_part(&format!("xl/worksheets/sheet{n}.xml"))?;
        let mut head = xml::sheet_head(n, &WIDTHS).into_bytes();
        head.extend_from_slice(b"<row>");
        for title in HEADER {
            xml::push_string_cell(&mut head, xml::STYLE_BOLD, title);
        }
        head.extend_from_slice(b"</row>");
        self.zip()?.write_all(&head)?;
        self.sheet_rows = 0;
        self.sheet_bytes = head.len() as u64;
        Ok(())
    }

    /// Encodes and writes one more row.
    pub fn write_entry(&mut self, entry: &Entry) -> Result<(), ExportError> {
        let view = EntryView::of(entry).map_err(std::io::Error::from)?;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        self.rows
            .encode_row(&view, self.written == 0, &mut scratch)?;
        let result = self.write_rows(&scratch, &[scratch.len()]);
        self.scratch = scratch;
        result
    }

    /// The package, until [`XlsxWriter::finish`] takes it.
    fn zip(&mut self) -> Result<&mut Package<W>, ExportError> {
        self.zip
            .as_mut()
            .ok_or_else(|| ExportError::Xlsx("the workbook is already finished".into()))
    }

    /// Starts the package's next part, unless it would start beyond what plain ZIP can place.
    fn start_part(&mut self, name: &str) -> Result<(), ExportError> {
        if self.gate.written() > self.package_bytes {
            return Err(ExportError::Xlsx(format!(
                "an Excel workbook holds at most 4 GiB compressed, and this one reached it after \
                 {} entries: export a shorter period, or use CSV or NDJSON",
                self.written
            )));
        }
        self.zip()?
            .start_file(name, Self::options())
            .map_err(zip_error)
    }

    /// Writes a whole part that is not a sheet.
    fn write_part(&mut self, name: &str, text: &str) -> Result<(), ExportError> {
        self.start_part(name)?;
        self.zip()?.write_all(text.as_bytes())?;
        Ok(())
    }

    /// Appends rows encoded by [`XlsxRows`], in order (`ends[i]` is where row `i` ends in
    /// `bytes`), starting a new sheet where the current one is full: Excel's rows, or
    /// [`SHEET_BYTES`].
    fn write_rows(&mut self, bytes: &[u8], ends: &[usize]) -> Result<(), ExportError> {
        if ends.windows(2).any(|w| w[0] > w[1]) || ends.last().is_some_and(|e| *e > bytes.len()) {
            return Err(ExportError::Xlsx("encoded rows out of order".into()));
        }
        let tail = xml::SHEET_TAIL.len() as u64;
        // `from`: the first byte not yet written; `start`: where the next row starts.
        let (mut from, mut start) = (0, 0);
        for &end in ends {
            let row = (end - start) as u64;
            let full = self.sheet_rows >= self.rows_per_sheet
                || (self.sheet_rows > 0 && self.sheet_bytes + row + tail > self.bytes_per_sheet);
            if full {
                let zip = self.zip()?;
                zip.write_all(&bytes[from..start])?;
                zip.write_all(xml::SHEET_TAIL.as_bytes())?;
                from = start;
                self.start_sheet()?;
            }
            self.written += 1;
            self.sheet_rows += 1;
            self.sheet_bytes += row;
            start = end;
        }
        self.zip()?.write_all(&bytes[from..start])?;
        Ok(())
    }

    /// Closes the last sheet, writes the parts that name the sheets, and returns the output.
    /// The output is not flushed: an export sends its last chunk only once it is audited.
    pub fn finish(mut self) -> Result<W, ExportError> {
        self.zip()?.write_all(xml::SHEET_TAIL.as_bytes())?;
        let sheets = self.sheets.len() as u32;
        self.write_part("xl/styles.xml", &xml::styles(DATE_FORMAT))?;
        self.write_part("xl/workbook.xml", &xml::workbook(&self.sheets))?;
        self.write_part("xl/_rels/workbook.xml.rels", &xml::workbook_rels(sheets))?;
        let zip = self
            .zip
            .take()
            .ok_or_else(|| ExportError::Xlsx("the workbook is already finished".into()))?;
        Ok(zip.finish().map_err(zip_error)?.into_inner().into_inner())
    }
}

impl<W: Write> Drop for XlsxWriter<W> {
    /// An abandoned workbook sends nothing more: the `zip` crate would finish the archive.
    fn drop(&mut self) {
        self.gate.shut();
    }
}

/// A ZIP error as an export error: I/O stays I/O (a client gone away), anything else is the
/// package's.
fn zip_error(e: zip::result::ZipError) -> ExportError {
    match e {
        zip::result::ZipError::Io(io) => ExportError::Io(io),
        other => ExportError::Xlsx(other.to_string()),
    }
}

impl<W: Write> EntryEncoder<W> for XlsxWriter<W> {
    fn write_entry(&mut self, entry: &Entry) -> Result<(), ExportError> {
        XlsxWriter::write_entry(self, entry)
    }

    fn finish(self: Box<Self>) -> Result<W, ExportError> {
        XlsxWriter::finish(*self)
    }
}

impl<W: Write> RowSink<W> for XlsxWriter<W> {
    fn rows_written(&self) -> u64 {
        self.written
    }

    fn encoder(&self) -> Arc<dyn RowEncoder> {
        self.rows.clone()
    }

    fn write_encoded(&mut self, bytes: &[u8], ends: &[usize]) -> Result<(), ExportError> {
        self.write_rows(bytes, ends)
    }

    fn finish_rows(self: Box<Self>) -> Result<W, ExportError> {
        XlsxWriter::finish(*self)
    }
}

/// The Excel serial date of `at` (days since 1899-12-30, UTC), or `None` outside the range
/// Excel can display, where the caller writes the RFC 3339 text instead.
pub fn excel_serial(at: Timestamp) -> Option<f64> {
    let serial = UNIX_EPOCH_SERIAL + at.millis() as f64 / MILLIS_PER_DAY;
    SERIAL_RANGE.contains(&serial).then_some(serial)
}

/// `text` cut to fit Excel's cell limit, ending with [`TRUNCATION_MARKER`] when it was cut.
/// Text of at most [`MAX_CELL_CHARS`] bytes is within it (a character never takes more
/// UTF-16 units than UTF-8 bytes) and is borrowed as it is.
pub fn truncated(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_CELL_CHARS || text.encode_utf16().count() <= MAX_CELL_CHARS {
        return Cow::Borrowed(text);
    }
    let budget = MAX_CELL_CHARS - TRUNCATION_MARKER.encode_utf16().count();
    let mut used = 0;
    let mut kept: String = text
        .chars()
        .take_while(|c| {
            used += c.len_utf16();
            used <= budget
        })
        .collect();
    kept.push_str(TRUNCATION_MARKER);
    Cow::Owned(kept)
}

#[cfg(test)]
mod tests;
