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
//! Memory stays constant: `rust_xlsxwriter`'s constant-memory mode streams each row to an
//! anonymous temporary file (in `$TMPDIR`); [`XlsxWriter::finish`] zips the workbook into
//! another temporary file and copies it to the caller's writer. Disk use is roughly the
//! uncompressed sheet XML (about 1–2 KB per entry) plus the compressed workbook.

use crate::columns::{self, Cell, HEADER};
use crate::{EntryEncoder, ExportError};
use rust_xlsxwriter::{Format as CellFormat, Workbook, XlsxError};
use sealtrail_core::envelope::EntryView;
use sealtrail_core::{Entry, Timestamp};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

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

/// Writes entries as rows of an XLSX workbook, delivered to `W` by [`XlsxWriter::finish`].
pub struct XlsxWriter<W: Write> {
    out: W,
    workbook: Workbook,
    /// Receives the zipped workbook before it is copied to `out`; created up front so an
    /// unusable temporary directory is an error at the start, not at the end.
    zipped: File,
    bold: CellFormat,
    date: CellFormat,
    /// Wraps a multi-line cell (one line per changed field) so each line shows on its own.
    wrap: CellFormat,
    /// The tenant's name, the last cell of every row.
    tenant: String,
    /// 1-based number of the sheet being written.
    sheet: u32,
    /// Index of the next row to write in that sheet (row 0 is the header).
    row: u32,
    rows_per_sheet: u32,
}

impl<W: Write> std::fmt::Debug for XlsxWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XlsxWriter")
            .field("sheet", &self.sheet)
            .field("row", &self.row)
            .finish_non_exhaustive()
    }
}

impl<W: Write> XlsxWriter<W> {
    /// Starts the workbook and its first sheet; nothing reaches `out` before [`Self::finish`].
    /// `tenant` names the log on every row.
    pub fn new(out: W, tenant: &str) -> Result<Self, ExportError> {
        Self::with_rows_per_sheet(out, tenant, MAX_DATA_ROWS)
    }

    /// [`Self::new`] with a smaller sheet size, so tests can cross sheet boundaries cheaply.
    pub(crate) fn with_rows_per_sheet(
        out: W,
        tenant: &str,
        rows_per_sheet: u32,
    ) -> Result<Self, ExportError> {
        let zipped = tempfile::tempfile()?;
        let mut workbook = Workbook::new();
        // ZIP64: a sheet of a million long rows can pass 4 GB of XML, which plain ZIP cannot hold.
        workbook.use_zip_large_file(true);
        let mut writer = XlsxWriter {
            out,
            workbook,
            zipped,
            bold: CellFormat::new().set_bold(),
            date: CellFormat::new().set_num_format(DATE_FORMAT),
            wrap: CellFormat::new().set_text_wrap(),
            tenant: tenant.to_string(),
            sheet: 0,
            row: 0,
            rows_per_sheet: rows_per_sheet.clamp(1, MAX_DATA_ROWS),
        };
        writer.start_sheet()?;
        Ok(writer)
    }

    /// Adds the next sheet in constant-memory mode and writes its header.
    fn start_sheet(&mut self) -> Result<(), ExportError> {
        self.sheet += 1;
        let name = match self.sheet {
            1 => SHEET_NAME.to_string(),
            n => format!("{SHEET_NAME} ({n})"),
        };
        let sheet = self.workbook.add_worksheet_with_constant_memory();
        sheet.set_name(name)?;
        sheet.set_freeze_panes(1, 0)?;
        for (col, (title, width)) in (0u16..).zip(HEADER.iter().zip(WIDTHS)) {
            sheet.set_column_width(col, width)?;
            sheet.write_string_with_format(0, col, *title, &self.bold)?;
        }
        self.row = 1;
        Ok(())
    }

    /// Writes one row, starting a new sheet first when the current one is full.
    pub fn write_entry(&mut self, entry: &Entry) -> Result<(), ExportError> {
        if self.row > self.rows_per_sheet {
            self.start_sheet()?;
        }
        let view = EntryView::of(entry).map_err(std::io::Error::from)?;
        let cells = columns::row(&view, &self.tenant).map_err(std::io::Error::from)?;
        let index = usize::try_from(self.sheet - 1).unwrap_or(usize::MAX);
        let sheet = self.workbook.worksheet_from_index(index)?;
        for (col, cell) in (0u16..).zip(cells) {
            match cell {
                Cell::Time(at) => match excel_serial(at) {
                    Some(serial) => {
                        sheet.write_number_with_format(self.row, col, serial, &self.date)?
                    }
                    None => sheet.write_string(self.row, col, at.to_rfc3339())?,
                },
                Cell::Text(text) if text.contains('\n') => sheet.write_string_with_format(
                    self.row,
                    col,
                    truncate(text.into_owned()),
                    &self.wrap,
                )?,
                Cell::Text(text) => {
                    sheet.write_string(self.row, col, truncate(text.into_owned()))?
                }
            };
        }
        self.row += 1;
        Ok(())
    }

    /// Zips the workbook, copies it to the output, flushes, and returns the output.
    pub fn finish(mut self) -> Result<W, ExportError> {
        let mut zipped = BufWriter::new(&mut self.zipped);
        self.workbook.save_to_writer(&mut zipped)?;
        zipped.flush()?;
        drop(zipped);
        self.zipped.seek(SeekFrom::Start(0))?;
        std::io::copy(&mut self.zipped, &mut self.out)?;
        self.out.flush()?;
        Ok(self.out)
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

impl From<XlsxError> for ExportError {
    fn from(e: XlsxError) -> Self {
        match e {
            XlsxError::IoError(io) => ExportError::Io(io),
            other => ExportError::Xlsx(other.to_string()),
        }
    }
}

/// The Excel serial date of `at` (days since 1899-12-30, UTC), or `None` outside the range
/// Excel can display, where the caller writes the RFC 3339 text instead.
pub fn excel_serial(at: Timestamp) -> Option<f64> {
    let serial = UNIX_EPOCH_SERIAL + at.millis() as f64 / MILLIS_PER_DAY;
    SERIAL_RANGE.contains(&serial).then_some(serial)
}

/// `text` cut to fit Excel's cell limit, ending with [`TRUNCATION_MARKER`] when it was cut.
pub fn truncate(text: String) -> String {
    if text.encode_utf16().count() <= MAX_CELL_CHARS {
        return text;
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
    kept
}

#[cfg(test)]
mod tests;
