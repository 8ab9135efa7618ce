//! One JSON document per export: `{"exported_at", "tenant", "filters", "entries": [...]}`.
//!
//! Streamed: the prefix is written first, then each entry as it comes (one per line, so the
//! file stays greppable), then the closing `]}` — never the whole array in memory.

use crate::rows::{RowEncoder, RowFormat, RowWriter};
use crate::ExportError;
use sealtrail_core::envelope::EntryView;
use sealtrail_core::Timestamp;
use serde_json::Value;
use std::io::Write;

/// One array element per entry, on its own line.
struct JsonRows;

impl RowEncoder for JsonRows {
    fn encode_row(
        &self,
        view: &EntryView<'_>,
        first: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ExportError> {
        out.extend_from_slice(if first { b"\n" } else { b",\n" });
        serde_json::to_writer(&mut *out, view).map_err(std::io::Error::from)?;
        Ok(())
    }
}

/// The JSON document as rows: its prefix holds the export time, the tenant whose log it is,
/// and the caller's description of the filters; the entries follow; `]}` closes it.
pub fn format(
    exported_at: Timestamp,
    tenant: &str,
    filters: &Value,
) -> Result<RowFormat, ExportError> {
    let mut preamble = b"{\"exported_at\":".to_vec();
    serde_json::to_writer(&mut preamble, &exported_at).map_err(std::io::Error::from)?;
    preamble.extend_from_slice(b",\"tenant\":");
    serde_json::to_writer(&mut preamble, tenant).map_err(std::io::Error::from)?;
    preamble.extend_from_slice(b",\"filters\":");
    serde_json::to_writer(&mut preamble, filters).map_err(std::io::Error::from)?;
    preamble.extend_from_slice(b",\"entries\":[");
    Ok(RowFormat {
        preamble,
        rows: std::sync::Arc::new(JsonRows),
        epilogue: b"\n]}\n",
    })
}

/// A streaming JSON writer: the prefix now, an element per [`RowWriter::write_entry`], the
/// closing `]}` on [`RowWriter::finish`].
pub fn writer<W: Write>(
    out: W,
    exported_at: Timestamp,
    tenant: &str,
    filters: &Value,
) -> Result<RowWriter<W>, ExportError> {
    RowWriter::new(out, format(exported_at, tenant, filters)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::sample_entry;
    use proptest::prelude::*;
    use sealtrail_core::Entry;
    use serde_json::json;

    fn export(entries: &[Entry]) -> Vec<u8> {
        let at = Timestamp::parse_rfc3339("2026-11-23T10:15:00Z").unwrap();
        let mut w = writer(Vec::new(), at, "acme", &json!({"channel": "auth"})).unwrap();
        for e in entries {
            w.write_entry(e).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn the_document_has_metadata_and_every_entry() {
        let entries: Vec<Entry> = (0..5).map(sample_entry).collect();
        let doc: Value = serde_json::from_slice(&export(&entries)).unwrap();
        assert_eq!(doc["exported_at"], json!("2026-11-23T10:15:00.000Z"));
        assert_eq!(doc["filters"], json!({"channel": "auth"}));
        let back: Vec<Entry> = serde_json::from_value(doc["entries"].clone()).unwrap();
        assert_eq!(back, entries);
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["exported_at", "tenant", "filters", "entries"]);
        assert_eq!(doc["tenant"], "acme");
    }

    #[test]
    fn an_empty_export_is_valid_json() {
        let text = String::from_utf8(export(&[])).unwrap();
        assert_eq!(
            text,
            "{\"exported_at\":\"2026-11-23T10:15:00.000Z\",\"tenant\":\"acme\",\"filters\":{\"channel\":\"auth\"},\"entries\":[\n]}\n"
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["entries"], json!([]));
    }

    #[test]
    fn entries_are_one_per_line() {
        let text = String::from_utf8(export(&[sample_entry(0), sample_entry(1)])).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[1].starts_with("{\"id\":\"0193a0b0-0000-7000-8000-000000000000\""));
        assert!(lines[1].ends_with("},"));
        assert!(lines[2].starts_with("{\"id\":\"0193a0b0-0000-7000-8000-000000000001\""));
        assert_eq!(lines[3], "]}");
    }

    proptest! {
        #[test]
        fn any_text_round_trips(texts in proptest::collection::vec(any::<String>(), 0..20)) {
            let entries: Vec<Entry> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let mut e = sample_entry(i as u64);
                    e.description = t.clone();
                    e.actor.name = Some(t.clone());
                    e.properties.insert(t.clone(), json!(t));
                    e
                })
                .collect();
            let doc: Value = serde_json::from_slice(&export(&entries)).unwrap();
            let back: Vec<Entry> = serde_json::from_value(doc["entries"].clone()).unwrap();
            prop_assert_eq!(back, entries);
        }
    }
}
