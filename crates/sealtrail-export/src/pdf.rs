//! PDF: a report an auditor can read, print and file, with what was selected and how to check it.
//!
//! Page 1 starts with the title "Audit log report" and a summary: tenant, period, the filters
//! in words, generation time, entry count and the latest signed checkpoint (tree size, root,
//! public key). Then a table (Seq, When (UTC), Actor, Action, Event, Result, Subject,
//! Description) runs over as many A4 landscape pages as needed, its header repeated on each;
//! every page is numbered "Page N". Long cell text wraps, up to four lines, then ends with "…".
//! Under each row, its details: the fields a before/after change touched and the entry's
//! properties, wrapped, up to eight lines.
//!
//! Streaming: each page is compressed and written as soon as it is full, so memory is bounded
//! by one page plus 8 bytes per PDF object (two per page) for the cross-reference table. The
//! summary's count and period are only known at the end, so page 1 shows them through a form
//! XObject written by [`PdfWriter::finish`]; the font subset is written then too.
//!
//! The text is set in an embedded subset of DejaVu Sans (`fonts/`) and is extractable
//! (`pdftotext`, copy/paste). Limits: no complex shaping (no ligatures or kerning, Arabic in
//! isolated letter forms, right-to-left runs drawn left to right), "�" for characters the
//! font lacks (CJK, emoji), and a flat page tree (one `/Kids` array, valid PDF; a
//! balanced tree would open very large reports faster in some readers).

mod file;
mod font;
mod header;
mod layout;

#[cfg(test)]
mod tests;

use crate::{EntryEncoder, ExportError};
use file::PdfFile;
use font::{new_chunk, Font, FontRefs};
pub use header::{PdfHeader, ReportCheckpoint, MAX_FILTER_LINES};
use layout::{
    clip, wrap, BODY_SIZE, BOTTOM, COLUMNS, CONTENT_WIDTH, DETAILS_INDENT, FOOTER_Y, LEADING,
    MARGIN, MAX_CELL_LINES, MAX_DETAIL_LINES, PAD, PAGE_HEIGHT, PAGE_WIDTH,
};
use pdf_writer::types::TextRenderingMode;
use pdf_writer::writers::{Catalog, DocumentInfo};
use pdf_writer::{Content, Date, Filter, Finish, Name, Rect, Ref, Str, TextStr};
use sealtrail_core::TimeBasis;
use sealtrail_core::{Entry, Timestamp};
use std::io::Write;

/// Object numbers fixed in advance, so pages can refer to objects written at the end.
const CATALOG: Ref = Ref::new(1);
const PAGES: Ref = Ref::new(2);
const FONT: FontRefs = FontRefs {
    type0: Ref::new(3),
    cid: Ref::new(4),
    descriptor: Ref::new(5),
    file: Ref::new(6),
    to_unicode: Ref::new(7),
};
const SUMMARY: Ref = Ref::new(8);
const INFO: Ref = Ref::new(9);
/// Page N is object `FIRST_PAGE + 2(N-1)`, its content stream the next number.
const FIRST_PAGE: i64 = 10;

/// The summary's text size, line spacing and label column width.
const SUMMARY_SIZE: f32 = 9.0;
const SUMMARY_LEADING: f32 = 12.5;
const LABEL_WIDTH: f32 = 115.0;

/// Writes entries as the rows of a PDF report to `W`, one finished page at a time.
pub struct PdfWriter<W: Write> {
    file: PdfFile<W>,
    font: Font,
    header: PdfHeader,
    /// The page being filled.
    content: Content,
    /// Its number, from 1.
    page: u32,
    /// Where the next row's top goes.
    y: f32,
    entries: u64,
    /// Earliest and latest `recorded_at` seen.
    span: Option<(Timestamp, Timestamp)>,
}

impl<W: Write> std::fmt::Debug for PdfWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfWriter")
            .field("page", &self.page)
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl<W: Write> PdfWriter<W> {
    /// Writes the file header and starts page 1.
    pub fn new(out: W, header: PdfHeader) -> Result<Self, ExportError> {
        let mut writer = PdfWriter {
            file: PdfFile::start(out)?,
            font: Font::new()?,
            header,
            content: Content::new(),
            page: 0,
            y: 0.0,
            entries: 0,
            span: None,
        };
        writer.start_page()?;
        Ok(writer)
    }

    /// Adds one table row, on a new page when it does not fit on this one.
    pub fn write_entry(&mut self, entry: &Entry) -> Result<(), ExportError> {
        self.entries += 1;
        let at = match self.header.time {
            TimeBasis::Occurred => entry.occurred_at,
            TimeBasis::Recorded => entry.recorded_at,
        };
        self.span = Some(
            self.span
                .map_or((at, at), |(lo, hi)| (lo.min(at), hi.max(at))),
        );
        let cells = layout::cells(entry);
        let lines: Vec<Vec<String>> = cells
            .iter()
            .zip(COLUMNS)
            .map(|(text, (_, width))| {
                wrap(
                    &self.font,
                    text,
                    BODY_SIZE,
                    width - 2.0 * PAD,
                    MAX_CELL_LINES,
                )
            })
            .collect();
        let count = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let details = self.detail_lines(entry);
        let height = (count + details.len()) as f32 * LEADING + 2.0 * PAD;
        if self.y - height < BOTTOM {
            self.end_page()?;
            self.start_page()?;
        }
        let mut x = MARGIN;
        let c = &mut self.content;
        c.begin_text();
        c.set_font(Name(b"F1"), BODY_SIZE);
        for (column, (_, width)) in lines.iter().zip(COLUMNS) {
            let mut baseline = self.y - PAD - BODY_SIZE * 0.93;
            for line in column {
                c.set_text_matrix([1.0, 0.0, 0.0, 1.0, x + PAD, baseline]);
                c.show(Str(&self.font.encode(line)));
                baseline -= LEADING;
            }
            x += width;
        }
        let mut baseline = self.y - PAD - BODY_SIZE * 0.93 - count as f32 * LEADING;
        for line in &details {
            c.set_text_matrix([1.0, 0.0, 0.0, 1.0, MARGIN + DETAILS_INDENT + PAD, baseline]);
            c.show(Str(&self.font.encode(line)));
            baseline -= LEADING;
        }
        c.end_text();
        self.y -= height;
        rule(c, self.y, 0.85);
        Ok(())
    }

    /// The entry's details ([`layout::details`]) wrapped to the width under the Actor to
    /// Description columns, at most [`MAX_DETAIL_LINES`] in all, the last ending with "…"
    /// when cut.
    fn detail_lines(&self, entry: &Entry) -> Vec<String> {
        let width = CONTENT_WIDTH - DETAILS_INDENT - 2.0 * PAD;
        let mut out: Vec<String> = Vec::new();
        for paragraph in layout::details(entry) {
            let room = MAX_DETAIL_LINES.saturating_sub(out.len());
            if room == 0 {
                // A whole paragraph did not fit: say so on the last line shown.
                if let Some(last) = out.last_mut() {
                    if !last.ends_with('…') {
                        *last = clip(&self.font, &format!("{last} …"), BODY_SIZE, width);
                    }
                }
                break;
            }
            out.extend(wrap(&self.font, &paragraph, BODY_SIZE, width, room));
        }
        out
    }

    /// Ends the last page, writes the summary, font, page tree and cross-reference table,
    /// and returns the output.
    pub fn finish(mut self) -> Result<W, ExportError> {
        if self.entries == 0 {
            let y = self.y - 14.0;
            show(
                &mut self.content,
                &mut self.font,
                MARGIN + PAD,
                y,
                BODY_SIZE + 1.0,
                "No entries match the filters.",
                false,
            );
        }
        self.end_page()?;

        let lines = header::summary(&self.header, self.entries, self.span);
        let height = summary_height(lines.len());
        let mut c = Content::new();
        let mut baseline = height - SUMMARY_SIZE;
        for (label, value) in &lines {
            c.set_fill_gray(0.35);
            show(
                &mut c,
                &mut self.font,
                0.0,
                baseline,
                SUMMARY_SIZE,
                label,
                false,
            );
            c.set_fill_gray(0.0);
            let value = clip(&self.font, value, SUMMARY_SIZE, CONTENT_WIDTH - LABEL_WIDTH);
            show(
                &mut c,
                &mut self.font,
                LABEL_WIDTH,
                baseline,
                SUMMARY_SIZE,
                &value,
                false,
            );
            baseline -= SUMMARY_LEADING;
        }
        let stream = deflate(&c.finish());
        let mut chunk = new_chunk();
        let mut form = chunk.form_xobject(SUMMARY, &stream);
        form.filter(Filter::FlateDecode);
        form.bbox(Rect::new(0.0, 0.0, CONTENT_WIDTH, height));
        form.resources().fonts().pair(Name(b"F1"), FONT.type0);
        form.finish();
        self.file.emit(chunk)?;

        let file = &mut self.file;
        self.font.write(FONT, |chunk| file.emit(chunk))?;

        let kids = (1..=self.page)
            .map(page_refs)
            .map(|refs| refs.map(|(page, _)| page))
            .collect::<Result<Vec<Ref>, ExportError>>()?;
        let mut chunk = new_chunk();
        chunk
            .pages(PAGES)
            .kids(kids)
            .count(i32::try_from(self.page).unwrap_or(i32::MAX));
        self.file.emit(chunk)?;

        let mut chunk = new_chunk();
        chunk.indirect(CATALOG).start::<Catalog>().pages(PAGES);
        self.file.emit(chunk)?;

        let at = self.header.generated_at.to_datetime();
        let date = Date::new(u16::try_from(at.year()).unwrap_or(0))
            .month(u8::from(at.month()))
            .day(at.day())
            .hour(at.hour())
            .minute(at.minute())
            .second(at.second())
            .utc_offset_hour(0);
        let mut chunk = new_chunk();
        chunk
            .indirect(INFO)
            .start::<DocumentInfo>()
            .title(TextStr("Audit log report"))
            .subject(TextStr(&format!("Audit log of {}", self.header.tenant)))
            .producer(TextStr("Sealtrail"))
            .creation_date(date);
        self.file.emit(chunk)?;

        self.file.finish(CATALOG, INFO)
    }

    /// Starts the next page: title and summary on page 1, a running title on the others,
    /// then the table header.
    fn start_page(&mut self) -> Result<(), ExportError> {
        self.page += 1;
        page_refs(self.page)?;
        let summary = summary_height(header::summary(&self.header, self.entries, self.span).len());
        let c = &mut self.content;
        let mut y = PAGE_HEIGHT - MARGIN;
        if self.page == 1 {
            y -= 18.0;
            show(c, &mut self.font, MARGIN, y, 18.0, "Audit log report", true);
            y -= 12.0 + summary;
            c.save_state();
            c.transform([1.0, 0.0, 0.0, 1.0, MARGIN, y]);
            c.x_object(Name(b"Summary"));
            c.restore_state();
            y -= 12.0;
        } else {
            y -= 8.0;
            c.set_fill_gray(0.35);
            let title = format!("Audit log report · {}", self.header.tenant);
            let title = clip(&self.font, &title, 8.0, CONTENT_WIDTH);
            show(c, &mut self.font, MARGIN, y, 8.0, &title, false);
            c.set_fill_gray(0.0);
            y -= 8.0;
        }
        let height = LEADING + 2.0 * PAD;
        c.set_fill_gray(0.9);
        c.rect(MARGIN, y - height, CONTENT_WIDTH, height);
        c.fill_nonzero();
        c.set_fill_gray(0.0);
        let mut x = MARGIN;
        for (title, width) in COLUMNS {
            show(
                c,
                &mut self.font,
                x + PAD,
                y - PAD - BODY_SIZE * 0.93,
                BODY_SIZE,
                title,
                true,
            );
            x += width;
        }
        self.y = y - height;
        rule(c, self.y, 0.5);
        Ok(())
    }

    /// Numbers the page, then writes its content stream and page object.
    fn end_page(&mut self) -> Result<(), ExportError> {
        let label = format!("Page {}", self.page);
        let x = (PAGE_WIDTH - self.font.width(&label, 8.0)) / 2.0;
        show(
            &mut self.content,
            &mut self.font,
            x,
            FOOTER_Y,
            8.0,
            &label,
            false,
        );
        let content = std::mem::replace(&mut self.content, Content::new()).finish();
        let (page, stream) = page_refs(self.page)?;

        let compressed = deflate(&content);
        let mut chunk = new_chunk();
        chunk
            .stream(stream, &compressed)
            .filter(Filter::FlateDecode);
        self.file.emit(chunk)?;

        let mut chunk = new_chunk();
        let mut writer = chunk.page(page);
        writer
            .parent(PAGES)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(stream);
        let mut resources = writer.resources();
        resources.fonts().pair(Name(b"F1"), FONT.type0);
        if self.page == 1 {
            resources.x_objects().pair(Name(b"Summary"), SUMMARY);
        }
        resources.finish();
        writer.finish();
        self.file.emit(chunk)?;
        Ok(())
    }
}

impl<W: Write> EntryEncoder<W> for PdfWriter<W> {
    fn write_entry(&mut self, entry: &Entry) -> Result<(), ExportError> {
        PdfWriter::write_entry(self, entry)
    }

    fn finish(self: Box<Self>) -> Result<W, ExportError> {
        PdfWriter::finish(*self)
    }
}

/// Object numbers of page `n` and of its content stream.
fn page_refs(n: u32) -> Result<(Ref, Ref), ExportError> {
    let page = FIRST_PAGE + 2 * (i64::from(n) - 1);
    match (i32::try_from(page), i32::try_from(page + 1)) {
        (Ok(page), Ok(stream)) => Ok((Ref::new(page), Ref::new(stream))),
        _ => Err(ExportError::Pdf("too many pages for one PDF".into())),
    }
}

fn summary_height(lines: usize) -> f32 {
    lines as f32 * SUMMARY_LEADING
}

/// One line of text at (`x`, `y`); `bold` strokes the outline too, since the report embeds
/// a single (regular) face.
fn show(c: &mut Content, font: &mut Font, x: f32, y: f32, size: f32, text: &str, bold: bool) {
    c.begin_text();
    c.set_font(Name(b"F1"), size);
    if bold {
        c.set_line_width(size / 30.0);
        c.set_text_rendering_mode(TextRenderingMode::FillStroke);
    }
    c.set_text_matrix([1.0, 0.0, 0.0, 1.0, x, y]);
    c.show(Str(&font.encode(text)));
    if bold {
        c.set_text_rendering_mode(TextRenderingMode::Fill);
    }
    c.end_text();
}

/// A thin horizontal line across the table at `y`.
fn rule(c: &mut Content, y: f32, gray: f32) {
    c.set_stroke_gray(gray);
    c.set_line_width(0.3);
    c.move_to(MARGIN, y);
    c.line_to(MARGIN + CONTENT_WIDTH, y);
    c.stroke();
}

/// zlib-compressed `data`, for a stream with the FlateDecode filter. Level 3: level 6 made
/// compression 70% of a report's time (113,667 entries: 13.4 s at level 6, 6.0 s at level 3,
/// 4.3 s at level 1), for a file 13% smaller than level 3's (46 against 53 MB; level 1's was
/// 96 MB). BENCHMARKS.md, issue #20.
fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 3)
}
