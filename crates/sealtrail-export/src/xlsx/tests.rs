//! The XLSX encoder's tests: workbooks read back by calamine and checked by an external reader.

use super::*;
use crate::testutil::{external_checker, sample_entry};
use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use proptest::prelude::*;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::process::Command;

fn export_with(entries: &[Entry], rows_per_sheet: u32) -> Vec<u8> {
    let mut w = XlsxWriter::with_rows_per_sheet(Vec::new(), "acme", rows_per_sheet).unwrap();
    for e in entries {
        w.write_entry(e).unwrap();
    }
    w.finish().unwrap()
}

fn export(entries: &[Entry]) -> Vec<u8> {
    export_with(entries, MAX_DATA_ROWS)
}

fn open(bytes: &[u8]) -> Xlsx<Cursor<Vec<u8>>> {
    open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap()
}

/// Every sheet's rows, checking each sheet starts with the header and has no formula.
fn sheets(bytes: &[u8]) -> Vec<(String, Vec<Vec<Data>>)> {
    let mut book = open(bytes);
    let names = book.sheet_names();
    names
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).unwrap();
            let mut rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
            let header: Vec<Data> = HEADER.iter().map(|h| Data::String(h.to_string())).collect();
            assert_eq!(rows.remove(0), header, "sheet {name}");
            let formulas = book.worksheet_formula(&name).unwrap();
            assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()));
            (name, rows)
        })
        .collect()
}

/// The entry ids of every sheet's rows, in order.
fn ids(sheets: &[(String, Vec<Vec<Data>>)]) -> Vec<String> {
    sheets
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|r| text(&r[0]).to_string()))
        .collect()
}

fn ids_of(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.id.to_string()).collect()
}

fn text(cell: &Data) -> &str {
    match cell {
        Data::String(s) => s,
        Data::Empty => "",
        other => panic!("expected text, got {other:?}"),
    }
}

/// A part of the zip package, as text.
fn part(bytes: &[u8], name: &str) -> Option<String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut file = zip.by_name(name).ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    Some(text)
}

#[test]
fn every_column_reads_back_with_dates_as_dates() {
    let entries: Vec<Entry> = (0..5).map(sample_entry).collect();
    let sheets = sheets(&export(&entries));
    assert_eq!(sheets.len(), 1);
    let (name, rows) = &sheets[0];
    assert_eq!(name, SHEET_NAME);
    assert_eq!(rows.len(), 5);
    for (row, e) in rows.iter().zip(&entries) {
        let view = EntryView::of(e).unwrap();
        let cells = columns::row(&view, "acme").unwrap();
        for (col, (cell, want)) in row.iter().zip(cells).enumerate() {
            match want {
                Cell::Time(at) => {
                    let Data::DateTime(dt) = cell else {
                        panic!("column {} is {cell:?}, not a date", HEADER[col])
                    };
                    assert!(dt.is_datetime());
                    let want = excel_serial(at).unwrap();
                    assert!(
                        (dt.as_f64() - want).abs() < 1e-9,
                        "{} vs {want}",
                        dt.as_f64()
                    );
                }
                Cell::Text(want) => assert_eq!(text(cell), want.as_ref(), "column {}", HEADER[col]),
            }
        }
    }
    assert_eq!(
        text(&rows[1][7]),
        "Zoë changed role #1 — \"admin\" → viewer, =1+1"
    );
}

#[test]
fn unicode_rtl_and_formula_like_text_stay_text() {
    let payloads = [
        "Zoë Łukasz Ñandú",
        "مرحبا بالعالم",
        "שָׁלוֹם עולם",
        "東京 🚀 emoji",
        "=cmd|' /C calc'!A0",
        "=HYPERLINK(\"http://evil.example/\", \"Click\")",
        "+1+1",
        "@SUM(1+1)",
        "  leading and trailing spaces  ",
        "two\nlines",
        "_x0041_ looks like an escape",
        "'quoted",
    ];
    let entries: Vec<Entry> = (0u64..)
        .zip(payloads)
        .map(|(i, p)| {
            let mut e = sample_entry(i);
            e.description = p.into();
            e.actor.name = Some(p.into());
            e
        })
        .collect();
    let (_, rows) = sheets(&export(&entries)).remove(0);
    for (row, p) in rows.iter().zip(payloads) {
        assert_eq!(text(&row[7]), p);
        assert_eq!(text(&row[11]), p);
    }
}

#[test]
fn the_header_is_bold_and_frozen_and_cells_are_inline_strings() {
    let bytes = export(&[sample_entry(1)]);
    let sheet = part(&bytes, "xl/worksheets/sheet1.xml").unwrap();
    assert!(sheet
        .contains(r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#));
    assert!(sheet.contains(r#"<col min="1" max="1" width="38.7109375" customWidth="1"/>"#));
    assert!(
        sheet.contains(r#"t="inlineStr""#),
        "constant-memory mode writes inline strings"
    );
    assert!(!sheet.contains("<f>"), "no formulas");
    assert!(part(&bytes, "xl/sharedStrings.xml").is_none());
    let styles = part(&bytes, "xl/styles.xml").unwrap();
    assert!(styles.contains("<b/>"));
    assert!(styles.contains(r#"formatCode="yyyy-mm-dd hh:mm:ss.000""#));
}

#[test]
fn overlong_cells_are_cut_with_a_visible_marker() {
    let mut e = sample_entry(0);
    e.description = "é".repeat(40_000);
    e.actor.name = Some("🚀".repeat(20_000)); // two UTF-16 units each
    e.channel = "x".repeat(MAX_CELL_CHARS); // exactly at the limit: kept whole
    let (_, rows) = sheets(&export(&[e.clone()])).remove(0);
    for cell in [&rows[0][7], &rows[0][11]] {
        let t = text(cell);
        assert!(t.ends_with(TRUNCATION_MARKER));
        assert!(t.encode_utf16().count() <= MAX_CELL_CHARS);
        assert!(t.encode_utf16().count() > MAX_CELL_CHARS - 2 - TRUNCATION_MARKER.len());
    }
    assert!(text(&rows[0][7]).starts_with("éééé"));
    assert_eq!(text(&rows[0][3]), e.channel);
    assert_eq!(truncated("short"), "short");
}

#[test]
fn a_full_sheet_continues_on_the_next() {
    let entries: Vec<Entry> = (0..8).map(sample_entry).collect();
    let sheets = sheets(&export_with(&entries, 3));
    let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Audit log", "Audit log (2)", "Audit log (3)"]);
    let counts: Vec<usize> = sheets.iter().map(|(_, r)| r.len()).collect();
    assert_eq!(counts, [3, 3, 2]);
    assert_eq!(ids(&sheets), ids_of(&entries));
}

#[test]
fn an_empty_export_is_a_workbook_with_a_header() {
    let sheets = sheets(&export(&[]));
    assert_eq!(sheets.len(), 1);
    assert!(sheets[0].1.is_empty());
}

#[test]
fn serial_dates_match_excel_and_out_of_range_times_become_text() {
    assert_eq!(excel_serial(Timestamp(0)), Some(25_569.0));
    let at = Timestamp::parse_rfc3339("2026-11-18T12:00:00.000Z").unwrap();
    assert_eq!(excel_serial(at), Some(46_344.5));
    assert_eq!(excel_serial(Timestamp(-2_300_000_000_000)), None); // 1897
    let mut e = sample_entry(0);
    e.occurred_at = Timestamp(-2_300_000_000_000);
    let (_, rows) = sheets(&export(&[e.clone()])).remove(0);
    assert_eq!(text(&rows[0][2]), e.occurred_at.to_rfc3339());
}

#[test]
fn the_boxed_encoder_writes_a_workbook() {
    let entries: Vec<Entry> = (0..3).map(sample_entry).collect();
    let mut enc = crate::encoder(
        crate::Format::Xlsx,
        Vec::new(),
        Timestamp(0),
        "acme",
        &serde_json::Value::Null,
    )
    .unwrap();
    for e in &entries {
        enc.write_entry(e).unwrap();
    }
    let bytes = enc.finish().unwrap();
    assert_eq!(sheets(&bytes), sheets(&export(&entries)));
}

/// openpyxl is what many auditors' scripts use; it must see the same workbook Excel does.
#[test]
fn openpyxl_reads_the_workbook() {
    let probe = &mut Command::new("python3");
    probe.args(["-c", "import openpyxl"]);
    if !external_checker(probe, "python3 with openpyxl", "pip install openpyxl") {
        return;
    }
    let mut entries: Vec<Entry> = (0..4).map(sample_entry).collect();
    entries[2].actor.name = Some("مرحبا Zoë".into());
    let file = tempfile::Builder::new().suffix(".xlsx").tempfile().unwrap();
    std::fs::write(file.path(), export_with(&entries, 3)).unwrap();
    let script = r#"
import sys, datetime, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
assert wb.sheetnames == ["Audit log", "Audit log (2)"], wb.sheetnames
ws = wb["Audit log"]
assert ws.freeze_panes == "A2", ws.freeze_panes
assert ws["A1"].value == "entry_id" and ws["A1"].font.b
assert ws.max_row == 4, ws.max_row
assert ws.column_dimensions["H"].width > 50
b2 = ws["B2"]
assert b2.is_date and b2.number_format == "yyyy-mm-dd hh:mm:ss.000", b2.number_format
assert b2.value == datetime.datetime(2026, 11, 18, 11, 6, 40), b2.value
assert ws["H2"].value.startswith("Zoë changed role #0"), ws["H2"].value
assert ws["L4"].value == "مرحبا Zoë", ws["L4"].value
assert wb["Audit log (2)"].max_row == 2
print("OK")
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_text_round_trips(texts in proptest::collection::vec(any::<String>(), 1..6)) {
        let entries: Vec<Entry> = (0u64..)
            .zip(&texts)
            .map(|(i, t)| {
                let mut e = sample_entry(i);
                e.description = t.clone();
                e
            })
            .collect();
        let (_, rows) = sheets(&export(&entries)).remove(0);
        for (row, t) in rows.iter().zip(&texts) {
            prop_assert_eq!(text(&row[7]), t.as_str());
        }
    }
}

/// A million-plus rows: two sheets, and memory that does not grow with the row count (ignored
/// by default: `cargo test -p sealtrail-export --release -- --ignored xlsx_at_scale`).
#[test]
#[ignore = "slow; measures memory at scale"]
fn xlsx_at_scale_streams_in_constant_memory() {
    let n: u64 = std::env::var("XLSX_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_100_000);
    let mut w = XlsxWriter::new(tempfile::tempfile().unwrap(), "acme").unwrap();
    let mut rss_at_10k = 0;
    for seq in 0..n {
        w.write_entry(&sample_entry(seq)).unwrap();
        if seq == 10_000 {
            rss_at_10k = crate::testutil::peak_rss_kib();
        }
    }
    let rss_written = crate::testutil::peak_rss_kib();
    let mut file = w.finish().unwrap();
    let size = file.seek(SeekFrom::End(0)).unwrap();
    eprintln!(
        "xlsx of {n} entries: {size} bytes; peak RSS {rss_at_10k} KiB after 10k rows, \
         {rss_written} KiB after all rows, {} KiB after finish",
        crate::testutil::peak_rss_kib()
    );
    assert!(
        rss_written < rss_at_10k + 64 * 1024,
        "memory grew with the rows"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    /// Rows encoded in runs on other threads (as an export does) and handed over in order
    /// make the same workbook as rows written one at a time, wherever the runs and the sheet
    /// boundaries fall.
    #[test]
    fn runs_make_the_same_workbook_across_sheets(
        n in 0usize..14,
        cuts in proptest::collection::vec(0usize..14, 0..4),
        per_sheet in 1u32..5,
    ) {
        let entries: Vec<Entry> = (0..n as u64).map(sample_entry).collect();
        let one_by_one = export_with(&entries, per_sheet);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(n)).collect();
        cuts.extend([0, n]);
        cuts.sort_unstable();
        let mut by_runs = XlsxWriter::with_rows_per_sheet(Vec::new(), "acme", per_sheet).unwrap();
        for run in cuts.windows(2) {
            let (mut bytes, mut ends) = (Vec::new(), Vec::new());
            for (i, e) in entries[run[0]..run[1]].iter().enumerate() {
                let view = EntryView::of(e).unwrap();
                let first = run[0] + i == 0;
                RowSink::encoder(&by_runs).encode_row(&view, first, &mut bytes).unwrap();
                ends.push(bytes.len());
            }
            RowSink::write_encoded(&mut by_runs, &bytes, &ends).unwrap();
        }
        prop_assert_eq!(RowSink::rows_written(&by_runs), n as u64);
        let by_runs = by_runs.finish().unwrap();
        prop_assert_eq!(sheets(&by_runs), sheets(&one_by_one));
        let expected_sheets = n.div_ceil(per_sheet as usize).max(1);
        prop_assert_eq!(sheets(&by_runs).len(), expected_sheets);
    }
}

/// A sheet is cut before its XML reaches the byte limit (in production, well under the
/// 4 GiB plain ZIP describes), with every row kept in order.
#[test]
fn a_sheet_is_cut_before_its_xml_passes_the_byte_limit() {
    let entries: Vec<Entry> = (0..12).map(sample_entry).collect();
    let limit = 5_000;
    let mut w =
        XlsxWriter::with_limits(Vec::new(), "acme", MAX_DATA_ROWS, limit, PACKAGE_BYTES).unwrap();
    for e in &entries {
        w.write_entry(e).unwrap();
    }
    let bytes = w.finish().unwrap();
    let sheets = sheets(&bytes);
    assert!(sheets.len() > 2, "{} sheets", sheets.len());
    for n in 1..=sheets.len() {
        let xml = part(&bytes, &format!("xl/worksheets/sheet{n}.xml")).unwrap();
        assert!(xml.len() as u64 <= limit, "sheet {n}: {} bytes", xml.len());
    }
    assert_eq!(ids(&sheets), ids_of(&entries));
}

/// An output the test can still read after the workbook writing to it is gone.
#[derive(Clone, Default)]
struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The ZIP end-of-central-directory signature: what makes a download look complete.
const END_OF_ZIP: &[u8] = b"PK\x05\x06";

fn has_end(bytes: &[u8]) -> bool {
    bytes.windows(END_OF_ZIP.len()).any(|w| w == END_OF_ZIP)
}

/// A workbook dropped unfinished (a failed export, a client gone) sends no ZIP ending after
/// its rows; a finished one does.
#[test]
fn an_abandoned_workbook_sends_no_ending() {
    let out = Shared::default();
    let mut w = XlsxWriter::new(out.clone(), "acme").unwrap();
    for e in (0..3).map(sample_entry) {
        w.write_entry(&e).unwrap();
    }
    drop(w);
    assert!(!has_end(&out.0.borrow()));
    let done = Shared::default();
    let mut w = XlsxWriter::new(done.clone(), "acme").unwrap();
    w.write_entry(&sample_entry(0)).unwrap();
    w.finish().unwrap();
    assert!(has_end(&done.0.borrow()));
}

/// Past the compressed size plain ZIP can place, the export fails saying what to do, and
/// never writes the ZIP64 parts Excel refuses.
#[test]
fn a_workbook_past_its_size_fails_with_advice() {
    // A limit the package's opening parts and its first sheet's header just fit in.
    let opening = XlsxWriter::new(Vec::new(), "acme").unwrap().gate.written();
    let out = Shared::default();
    let mut w = XlsxWriter::with_limits(out.clone(), "acme", 2, SHEET_BYTES, opening).unwrap();
    let failure = (0..6)
        .map(sample_entry)
        .map(|e| w.write_entry(&e))
        .find_map(Result::err)
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(failure.contains("use CSV or NDJSON"), "{failure}");
    drop(w);
    assert!(!has_end(&out.0.borrow()));
}

/// The package opens with its content types and relationships, as Excel writes it: tools
/// that recognise a workbook by its first entries (libmagic, upload filters) see one.
#[test]
fn the_package_opens_as_excel_orders_it() {
    let bytes = export_with(&(0..4).map(sample_entry).collect::<Vec<_>>(), 2);
    let zip = zip::ZipArchive::new(Cursor::new(bytes.clone())).unwrap();
    let names: Vec<&str> = zip.file_names().collect();
    let mut in_order: Vec<String> = (0..zip.len())
        .map(|i| zip.name_for_index(i).unwrap_or_default().to_string())
        .collect();
    assert_eq!(in_order.len(), names.len());
    assert_eq!(
        &in_order[..3],
        [
            "[Content_Types].xml",
            "_rels/.rels",
            "xl/worksheets/sheet1.xml"
        ]
    );
    in_order.sort();
    assert!(in_order.contains(&"xl/worksheets/sheet2.xml".to_string()));
    let file = tempfile::Builder::new().suffix(".xlsx").tempfile().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    let probe = &mut Command::new("file");
    probe.arg("--version");
    if external_checker(probe, "file (libmagic)", "apt-get install file") {
        let out = Command::new("file")
            .arg("-b")
            .arg(file.path())
            .output()
            .unwrap();
        let kind = String::from_utf8_lossy(&out.stdout);
        assert!(kind.contains("Microsoft Excel 2007+"), "{kind}");
    }
}
