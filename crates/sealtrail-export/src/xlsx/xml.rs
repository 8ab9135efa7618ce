//! The SpreadsheetML an XLSX export is made of, written by hand: the package parts (content
//! types, relationships, workbook, styles), each sheet's head and tail, and cell text escaped
//! as Excel itself escapes it. Only what the export uses: inline-string and number cells,
//! four cell formats, a frozen header row and column widths.

use std::fmt::Write as _;

/// SpreadsheetML's namespace.
const MAIN_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
/// The relationships namespace.
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;

/// Cell formats, as indexes into `styles.xml`'s `cellXfs`.
pub(super) const STYLE_BOLD: u32 = 1;
/// A date-time cell shown with [`super::DATE_FORMAT`].
pub(super) const STYLE_DATE: u32 = 2;
/// Text wrapped at its line breaks.
pub(super) const STYLE_WRAP: u32 = 3;

/// A column width as Excel stores it for a width given in characters of the default font
/// (7 pixels wide, 5 pixels of padding): 38 characters are stored as 38.7109375.
fn stored_width(width: f64) -> f64 {
    let pixels = (width * 7.0 + 5.0).trunc();
    (pixels / 7.0 * 256.0).trunc() / 256.0
}

/// The start of sheet `n` (1-based) up to its open `<sheetData>`: a frozen first row and the
/// column widths. Only the first sheet is selected when the workbook opens.
pub(super) fn sheet_head(n: u32, widths: &[f64]) -> String {
    let selected = if n == 1 { r#" tabSelected="1""# } else { "" };
    let mut head = format!(
        r#"{XML_DECLARATION}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheetViews><sheetView{selected} workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>"#
    );
    for (i, width) in widths.iter().enumerate() {
        let _ = write!(
            head,
            r#"<col min="{c}" max="{c}" width="{w}" customWidth="1"/>"#,
            c = i + 1,
            w = stored_width(*width)
        );
    }
    head.push_str("</cols><sheetData>");
    head
}

/// The end of every sheet.
pub(super) const SHEET_TAIL: &str = "</sheetData></worksheet>";

/// `[Content_Types].xml`. Every `.xml` part is a worksheet unless overridden (the workbook
/// and the styles are), so the part does not depend on how many sheets follow and can open
/// the package, where tools that recognise a workbook by its first entries (libmagic's
/// "Microsoft Excel 2007+") look for it.
pub(super) fn content_types() -> String {
    format!(
        r#"{XML_DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#
    )
}

/// `_rels/.rels`: the package's main part is the workbook.
pub(super) fn package_rels() -> String {
    format!(
        r#"{XML_DECLARATION}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
    )
}

/// `xl/workbook.xml`, naming the sheets in order.
pub(super) fn workbook(names: &[String]) -> String {
    let mut xml = format!(
        r#"{XML_DECLARATION}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><bookViews><workbookView/></bookViews><sheets>"#
    );
    for (i, name) in names.iter().enumerate() {
        let mut escaped = Vec::new();
        push_text(&mut escaped, name);
        let _ = write!(
            xml,
            r#"<sheet name="{}" sheetId="{n}" r:id="rId{n}"/>"#,
            String::from_utf8_lossy(&escaped).replace('"', "&quot;"),
            n = i + 1
        );
    }
    xml.push_str("</sheets></workbook>");
    xml
}

/// `xl/_rels/workbook.xml.rels`: the sheets, then the styles.
pub(super) fn workbook_rels(sheets: u32) -> String {
    let mut xml = format!(
        r#"{XML_DECLARATION}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#
    );
    for n in 1..=sheets {
        let _ = write!(
            xml,
            r#"<Relationship Id="rId{n}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{n}.xml"/>"#
        );
    }
    let _ = write!(
        xml,
        r#"<Relationship Id="rId{}" Type="{REL_NS}/styles" Target="styles.xml"/></Relationships>"#,
        sheets + 1
    );
    xml
}

/// `xl/styles.xml`: the default format, then [`STYLE_BOLD`], [`STYLE_DATE`] and
/// [`STYLE_WRAP`], in that order.
pub(super) fn styles(date_format: &str) -> String {
    let font = r#"<sz val="11"/><name val="Calibri"/><family val="2"/>"#;
    format!(
        r#"{XML_DECLARATION}<styleSheet xmlns="{MAIN_NS}"><numFmts count="1"><numFmt numFmtId="164" formatCode="{date_format}"/></numFmts><fonts count="2"><font>{font}</font><font><b/>{font}</font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1"><alignment wrapText="1"/></xf></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"#
    )
}

/// Appends an inline-string cell, after the previous one, with cell format `style` (0 for
/// none). Text with a leading or trailing blank keeps it (`xml:space="preserve"`).
pub(super) fn push_string_cell(out: &mut Vec<u8>, style: u32, text: &str) {
    out.extend_from_slice(b"<c");
    if style > 0 {
        let _ = write!(Bytes(out), " s=\"{style}\"");
    }
    let blank = [' ', '\t', '\n'];
    if text.starts_with(blank) || text.ends_with(blank) {
        out.extend_from_slice(b" t=\"inlineStr\"><is><t xml:space=\"preserve\">");
    } else {
        out.extend_from_slice(b" t=\"inlineStr\"><is><t>");
    }
    push_text(out, text);
    out.extend_from_slice(b"</t></is></c>");
}

/// Appends a number cell, after the previous one, with cell format `style`.
pub(super) fn push_number_cell(out: &mut Vec<u8>, style: u32, value: f64) {
    let _ = write!(Bytes(out), "<c s=\"{style}\"><v>{value}</v></c>");
}

/// `fmt::Write` onto a byte buffer, for `write!` of small ASCII pieces.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// True for a byte that may need escaping: markup, `_` (which may start something that reads
/// as an escape), control bytes but tab and line feed, and 0xEF (which starts U+FFFE and
/// U+FFFF in UTF-8, characters XML does not allow).
fn special(b: u8) -> bool {
    matches!(b, b'&' | b'<' | b'>' | b'_' | 0xEF) || (b < 0x20 && b != b'\t' && b != b'\n')
}

/// Appends `text` as XML character data, escaped as Excel escapes it: `&`, `<` and `>` as
/// entities; control characters (but tab and line feed, carriage return included, which XML
/// would otherwise turn into a line feed) and U+FFFE/U+FFFF, which XML cannot carry, as
/// `_xHHHH_`; and a literal `_xHHHH_` in the text with its underscore escaped (`_x005F_`),
/// so a reader never decodes text that was not an escape.
pub(super) fn push_text(out: &mut Vec<u8>, text: &str) {
    if !text.bytes().any(special) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for (at, ch) in text.char_indices() {
        match ch {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '_' if looks_like_escape(&text[at..]) => out.extend_from_slice(b"_x005F_"),
            '\t' | '\n' => out.push(ch as u8),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(Bytes(out), "_x{:04X}_", c as u32);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// True when `text` starts with `_xHHHH_` (four hex digits), which readers decode as an
/// escaped character.
fn looks_like_escape(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 7
        && b[0] == b'_'
        && b[1] == b'x'
        && b[2..6].iter().all(u8::is_ascii_hexdigit)
        && b[6] == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        push_text(&mut out, text);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn text_is_escaped_as_excel_escapes_it() {
        assert_eq!(escaped("plain Zoë"), "plain Zoë");
        assert_eq!(escaped("a<b & c>d"), "a&lt;b &amp; c&gt;d");
        assert_eq!(escaped("tab\tline\ncr\r"), "tab\tline\ncr_x000D_");
        assert_eq!(escaped("\u{0}\u{1f}\u{FFFE}"), "_x0000__x001F__xFFFE_");
        assert_eq!(escaped("_x0041_ and _x12_"), "_x005F_x0041_ and _x12_");
        assert_eq!(escaped("snake_case"), "snake_case");
    }

    #[test]
    fn widths_are_stored_as_excel_stores_them() {
        assert_eq!(stored_width(38.0), 38.7109375);
        assert_eq!(stored_width(10.0), 10.7109375);
    }
}
