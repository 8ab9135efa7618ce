//! `GET /v1/export` over real HTTP: each format re-read by an independent parser, exactly the
//! filtered rows, the evidence bundle verified offline, and every export audited.

use crate::common::{event, expect_error, TestServer};
use reqwest::StatusCode;
use sealtrail_core::keys::Scope;
use sealtrail_testkit::contract::fixtures::{dense_and_sparse_batches, DENSE_AND_SPARSE_MATCHES};
use serde_json::{json, Value};

async fn seed(s: &TestServer, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let events: Vec<Value> = chunk
            .iter()
            .map(|i| {
                let mut e = event(
                    if i % 4 == 0 {
                        "user.deleted"
                    } else {
                        "doc.updated"
                    },
                    &format!("u{}", i % 7),
                );
                e["description"] = json!(if i % 10 == 0 {
                    "=HYPERLINK(\"http://evil\")"
                } else {
                    "Zoë edited, \"quoted\"\nline"
                });
                e
            })
            .collect();
        let r = s
            .post_events(&s.admin_key, &json!({ "events": events }))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
}

async fn download(s: &TestServer, key: &str, query: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let r = s.get(key, &format!("/v1/export?{query}")).await;
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    let headers = r.headers().clone();
    (headers, r.bytes().await.unwrap().to_vec())
}

async fn total(s: &TestServer, query: &str) -> u64 {
    s.get_json(&s.admin_key, &format!("/v1/events?{query}&limit=1"))
        .await["total"]
        .as_u64()
        .unwrap()
}

/// Every entry `GET /v1/events?{query}` lists, newest first, page after page.
async fn listed(s: &TestServer, query: &str) -> Vec<Value> {
    let first = format!("/v1/events?{query}&limit=1000&count=false");
    let mut entries = Vec::new();
    let mut path = first.clone();
    loop {
        let page = s.get_json(&s.admin_key, &path).await;
        entries.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("{first}&cursor={c}"),
            None => return entries,
        }
    }
}

/// The `audit_log.exported` entries once there is one: an export is audited when its stream
/// ends, so the writer is given a moment.
async fn export_audit(s: &TestServer) -> Value {
    let mut audit = Value::Null;
    for _ in 0..500 {
        audit = s
            .get_json(&s.admin_key, "/v1/events?action=audit_log.exported")
            .await;
        // The page and its total are two reads: the entry can land between them.
        if audit["total"] == 1 && audit["entries"].as_array().is_some_and(|e| e.len() == 1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    audit
}

#[tokio::test]
async fn csv_export_has_a_bom_every_filtered_row_and_neutralised_formulas() {
    let s = TestServer::start().await;
    seed(&s, 2500).await;
    for filter in [
        "action=user.deleted",
        "actor=u3",
        "event=updated&actor=u1",
        "range=24h&channel=hardware",
    ] {
        let (headers, body) = download(&s, &s.admin_key, &format!("format=csv&{filter}")).await;
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\"audit-log-")
                && disposition.ends_with(".csv\"")
        );
        assert!(body.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM");
        let mut reader = csv::Reader::from_reader(&body[3..]);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len() as u64, total(&s, filter).await, "{filter}");
        for row in &rows {
            for cell in row.iter() {
                assert!(!cell.starts_with('='), "formula cell survived: {cell}");
            }
        }
    }
}

#[tokio::test]
async fn json_and_ndjson_exports_parse_and_match_the_query() {
    let s = TestServer::start().await;
    seed(&s, 300).await;
    let (headers, body) = download(&s, &s.admin_key, "format=json&action=user.deleted").await;
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["filters"], json!({ "action": "user.deleted" }));
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, total(&s, "action=user.deleted").await);
    assert!(entries
        .iter()
        .all(|e| e["action"] == "user.deleted" && e["actor"]["id"].is_string()));
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first");

    let (_, body) = download(&s, &s.admin_key, "format=ndjson&actor=u2").await;
    let lines: Vec<Value> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, total(&s, "actor=u2").await);
}

#[tokio::test]
async fn the_evidence_bundle_verifies_offline() {
    let s = TestServer::start().await;
    seed(&s, 120).await;
    let (headers, body) = download(&s, &s.admin_key, "format=bundle&actor=u5").await;
    assert_eq!(headers["content-type"], "application/x-tar");
    let report = sealtrail_export::bundle::verify_bundle(&body[..], |_| {}).unwrap();
    assert!(report.is_ok(), "{:?}", report.first_problem);
    assert_eq!(report.entries, total(&s, "actor=u5").await);
    assert!(!report.whole_log);

    let (_, whole) = download(&s, &s.admin_key, "format=bundle").await;
    let report = sealtrail_export::bundle::verify_bundle(&whole[..], |_| {}).unwrap();
    assert!(report.is_ok() && report.whole_log, "{report:?}");
}

#[tokio::test]
async fn every_export_is_audited_with_format_filters_and_rows() {
    let s = TestServer::start().await;
    seed(&s, 40).await;
    let exporter = s.key(&[Scope::Export, Scope::Read]).await;
    let expected = total(&s, "action=user.deleted").await;
    download(&s, &exporter, "format=csv&action=user.deleted").await;
    let audit = export_audit(&s).await;
    assert_eq!(audit["total"], 1, "{audit}");
    let entry = &audit["entries"][0];
    assert_eq!(entry["description"], "Audit log export downloaded");
    assert_eq!(entry["actor"]["type"], "api");
    assert_eq!(entry["properties"]["format"], "csv");
    assert_eq!(entry["properties"]["rows"], expected);
    assert_eq!(entry["properties"]["completed"], true);
    assert_eq!(
        entry["properties"]["filters"],
        json!({ "action": "user.deleted" })
    );
}

#[tokio::test]
async fn export_needs_the_export_scope_and_valid_parameters() {
    let s = TestServer::start().await;
    let read = s.key(&[Scope::Read]).await;
    expect_error(
        s.get(&read, "/v1/export").await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    expect_error(
        s.get(&s.admin_key, "/v1/export?format=docx").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_error(
        s.get(&s.admin_key, "/v1/export?acter=x").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    // Another tenant's export holds none of ours.
    seed(&s, 10).await;
    let (_, other) = s.tenant_with_key("other", &[Scope::Export]).await;
    let (_, body) = download(&s, &other, "format=ndjson").await;
    assert!(!String::from_utf8_lossy(&body).contains("doc.updated"));
}

#[tokio::test]
async fn xlsx_and_pdf_exports_hold_every_filtered_entry() {
    use calamine::Reader;
    let s = TestServer::start().await;
    seed(&s, 60).await;
    let expected = total(&s, "action=user.deleted").await;

    let (headers, body) = download(&s, &s.admin_key, "format=xlsx&action=user.deleted").await;
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(body)).unwrap();
    let sheet = book.worksheet_range("Audit log").unwrap();
    assert_eq!(sheet.rows().count() as u64, expected + 1, "header + rows");

    let (headers, body) = download(&s, &s.admin_key, "format=pdf&action=user.deleted").await;
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(body.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, &body).unwrap();
    match std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("Audit log report") && text.contains("Zoë"),
                "{text}"
            );
            assert!(text.contains("Page 1"));
        }
        _ => assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but pdftotext (poppler-utils) is missing"
        ),
    }
}

#[tokio::test]
async fn pythons_csv_module_reads_the_same_cells() {
    let s = TestServer::start().await;
    seed(&s, 50).await;
    let (_, body) = download(&s, &s.admin_key, "format=csv&channel=hardware").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    std::fs::write(&path, &body).unwrap();
    let script = r#"
import csv, json, sys
with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
    rows = list(csv.reader(f))
print(json.dumps({"rows": len(rows) - 1, "header0": rows[0][0], "cells": [c for r in rows[1:] for c in r]}))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["rows"].as_u64().unwrap(),
        total(&s, "channel=hardware").await
    );
    assert_eq!(
        v["header0"], "entry_id",
        "the BOM is not part of the first header cell"
    );
    let mut rust_cells = Vec::new();
    for row in csv::Reader::from_reader(&body[3..]).records() {
        rust_cells.extend(row.unwrap().iter().map(str::to_string));
    }
    assert_eq!(
        v["cells"],
        json!(rust_cells),
        "Python and Rust readers agree cell for cell"
    );
    for cell in v["cells"].as_array().unwrap() {
        let c = cell.as_str().unwrap();
        assert!(
            !c.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']),
            "unsafe cell {c:?}"
        );
    }
}

#[tokio::test]
async fn excluded_properties_never_leave_in_any_export_but_stay_in_the_log() {
    let s = TestServer::start().await;
    let mut e = event("chat.reviewed", "ada");
    e["properties"] = json!({ "dialogue": "SECRET-CONVERSATION", "verdict": "ok" });
    // The same key in the change the event records: withheld there too.
    e["changes"] = json!({
        "before": { "dialogue": "SECRET-CONVERSATION-BEFORE", "status": "open" },
        "after": { "dialogue": "SECRET-CONVERSATION-AFTER", "status": "closed" },
    });
    s.post_events(&s.admin_key, &e).await;
    let r = s
        .client
        .put(format!("{}/v1/settings/export-exclusions", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({ "properties": ["dialogue"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["export_excluded_properties"],
        json!(["dialogue"])
    );
    // Uncompressed formats: a byte search of the whole file.
    for format in ["csv", "json", "ndjson", "bundle"] {
        let (_, body) = download(
            &s,
            &s.admin_key,
            &format!("format={format}&action=chat.reviewed"),
        )
        .await;
        let needle = b"SECRET-CONVERSATION";
        assert!(
            !body.windows(needle.len()).any(|w| w == needle),
            "{format} leaked the excluded property"
        );
    }
    // The workbook is zipped: search its cells.
    {
        use calamine::Reader;
        let (_, body) = download(&s, &s.admin_key, "format=xlsx&action=chat.reviewed").await;
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(body)).unwrap();
        let sheet = book.worksheet_range("Audit log").unwrap();
        let cells: Vec<String> = sheet
            .rows()
            .flat_map(|r| r.iter().map(|c| c.to_string()))
            .collect();
        assert!(cells.iter().any(|c| c.contains("verdict")), "{cells:?}");
        assert!(
            !cells.iter().any(|c| c.contains("SECRET-CONVERSATION")),
            "xlsx leaked it"
        );
    }
    let (_, body) = download(&s, &s.admin_key, "format=json&action=chat.reviewed").await;
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["entries"][0]["properties"], json!({ "verdict": "ok" }));
    assert_eq!(
        doc["entries"][0]["changes"],
        json!({ "before": { "status": "open" }, "after": { "status": "closed" } })
    );
    let (_, bundle) = download(&s, &s.admin_key, "format=bundle&action=chat.reviewed").await;
    let report = sealtrail_export::bundle::verify_bundle(&bundle[..], |_| {}).unwrap();
    assert!(report.is_ok() && report.erased_values == 1, "{report:?}");
    let stored = s
        .get_json(&s.admin_key, "/v1/events?action=chat.reviewed")
        .await;
    assert_eq!(
        stored["entries"][0]["properties"]["dialogue"],
        "SECRET-CONVERSATION"
    );
    assert_eq!(
        s.get_json(&s.admin_key, "/v1/events?action=export_exclusions.changed")
            .await["total"],
        1
    );
}

#[tokio::test]
async fn oldest_first_exports_cover_the_log_from_seq_zero_in_order() {
    let s = TestServer::start().await;
    seed(&s, 2300).await;
    for filter in ["", "&action=user.deleted", "&actor=u4"] {
        let (_, body) = download(
            &s,
            &s.admin_key,
            &format!("format=ndjson&order=oldest{filter}"),
        )
        .await;
        let seqs: Vec<u64> = body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::from_slice::<Value>(l).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "ascending, no repeats ({filter})"
        );
        let expected = s
            .get_json(&s.admin_key, &format!("/v1/events?limit=1{filter}"))
            .await["total"]
            .as_u64()
            .unwrap();
        // The unfiltered count also sees the audit entries of earlier exports in this loop.
        if filter.is_empty() {
            assert_eq!(
                seqs.first(),
                Some(&0),
                "the tenant's first entry is included"
            );
            assert!(seqs.len() as u64 >= 2302 && seqs.len() as u64 <= expected);
        } else {
            assert_eq!(seqs.len() as u64, expected, "{filter}");
        }
    }
    expect_error(
        s.get(&s.admin_key, "/v1/export?order=sideways").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
}

/// Seed 001 and 002: the before/after change (owner null → Zoë Martin, status in_stock →
/// in_use) reaches the CSV and the workbook as a filterable and a readable column, and the PDF
/// report prints it with the entry's fields; each file is read back by an independent reader.
#[tokio::test]
async fn changes_and_fields_reach_csv_xlsx_and_pdf() {
    use calamine::Reader;
    let s = TestServer::start().await;
    let assigned = json!({
        "action": "laptop.assigned", "channel": "hardware",
        "actor": { "id": "u_1", "name": "Ada Admin" },
        "targets": [{ "type": "laptop", "id": "142" }],
        "changes": {
            "before": { "owner": null, "status": "in_stock", "model": "X1" },
            "after": { "owner": "Zoë Martin", "status": "in_use", "model": "X1" }
        },
        "properties": { "reason": "Signed waiver for the field trip" }
    });
    assert_eq!(
        s.post_events(&s.admin_key, &assigned).await.status(),
        StatusCode::CREATED
    );
    let readable = "owner: null → Zoë Martin\nstatus: in_stock → in_use";

    let (_, body) = download(&s, &s.admin_key, "format=csv&channel=hardware").await;
    let mut reader = csv::Reader::from_reader(&body[3..]);
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[at("changed_fields")], "owner, status");
    assert_eq!(&row[at("changes")], readable);

    let (_, body) = download(&s, &s.admin_key, "format=xlsx&channel=hardware").await;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(body)).unwrap();
    let sheet = book.worksheet_range("Audit log").unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let col = rows[0].iter().position(|h| h == "changes").unwrap();
    assert_eq!(rows[1][col], readable);

    let (_, body) = download(&s, &s.admin_key, "format=pdf&channel=hardware").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, &body).unwrap();
    match std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("Changes — owner: null → Zoë Martin; status: in_stock → in_use"),
                "{text}"
            );
            assert!(
                text.contains("reason: Signed waiver for the field trip"),
                "{text}"
            );
        }
        _ => assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but pdftotext (poppler-utils) is missing"
        ),
    }
}

/// Seed 004: an export names the organisation it belongs to, in every format, so a file
/// forwarded out of context still says whose log it is.
#[tokio::test]
async fn every_export_names_its_tenant() {
    use calamine::Reader;
    let s = TestServer::start().await;
    seed(&s, 3).await;
    let tenant = s.get_json(&s.admin_key, "/v1/tenant").await["name"]
        .as_str()
        .unwrap()
        .to_string();

    let (_, body) = download(&s, &s.admin_key, "format=csv").await;
    let mut reader = csv::Reader::from_reader(&body[3..]);
    let at = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "tenant")
        .unwrap();
    for row in reader.records() {
        assert_eq!(&row.unwrap()[at], tenant);
    }

    let (_, body) = download(&s, &s.admin_key, "format=json").await;
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["tenant"], tenant.as_str());

    let (_, body) = download(&s, &s.admin_key, "format=ndjson").await;
    for line in String::from_utf8(body).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["tenant"], tenant.as_str(), "{line}");
    }

    let (_, body) = download(&s, &s.admin_key, "format=xlsx").await;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(body)).unwrap();
    let sheet = book.worksheet_range("Audit log").unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let col = rows[0].iter().position(|h| h == "tenant").unwrap();
    assert!(rows[1..].iter().all(|r| r[col] == tenant));
}

/// Pages of an export are split into runs that are opened and encoded on several threads:
/// over several pages, every row format holds exactly the entries the API lists, in the same
/// order, each once, and JSON stays one valid document.
#[tokio::test]
async fn large_exports_hold_exactly_the_listed_entries_in_order() {
    let s = TestServer::start().await;
    seed(&s, 2600).await;
    let listed = listed(&s, "").await;
    assert!(listed.len() >= 2600);
    let without_tenant = |mut v: Value| {
        v.as_object_mut().unwrap().remove("tenant");
        v
    };

    // Exports are audited when they end, so each one is compared with the entries listed
    // before any export: an export's newest rows are then the earlier exports' audit entries.
    let oldest = |rows: &[Value]| rows[rows.len() - listed.len()..].to_vec();
    let (_, body) = download(&s, &s.admin_key, "format=ndjson").await;
    let lines: Vec<Value> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| without_tenant(serde_json::from_slice(l).unwrap()))
        .collect();
    assert_eq!(oldest(&lines), listed);

    let (_, body) = download(&s, &s.admin_key, "format=json").await;
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(oldest(doc["entries"].as_array().unwrap()), listed);

    let (_, body) = download(&s, &s.admin_key, "format=csv").await;
    let ids: Vec<Value> = csv::Reader::from_reader(&body[3..])
        .records()
        .map(|r| json!(r.unwrap()[0].to_string()))
        .collect();
    let listed_ids: Vec<Value> = listed.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(oldest(&ids), listed_ids);

    // A bundle of several pages (each proven in one store call, its lines checked and encoded
    // on every core) holds every entry of the log, oldest first, and verifies whole.
    let (_, body) = download(&s, &s.admin_key, "format=bundle").await;
    let report = sealtrail_export::bundle::verify_bundle(&body[..], |_| {}).unwrap();
    assert!(report.is_ok() && report.whole_log, "{report:?}");
    assert!(report.entries >= listed.len() as u64);
}

/// A bundle sends nothing until it is whole (its entries are spooled first), so a client that
/// leaves cannot be noticed by a failed write: the export must still stop at its next page
/// rather than spool the rest of the log for nobody, and is audited as not completed.
#[tokio::test]
async fn an_abandoned_bundle_download_stops_early_and_is_audited_as_incomplete() {
    let s = TestServer::start().await;
    seed(&s, 6000).await;
    let r = s.get(&s.admin_key, "/v1/export?format=bundle").await;
    assert_eq!(r.status(), StatusCode::OK);
    drop(r);
    let audit = export_audit(&s).await;
    assert_eq!(audit["total"], 1, "{audit}");
    let properties = &audit["entries"][0]["properties"];
    assert_eq!(properties["format"], "bundle");
    assert_eq!(properties["completed"], false);
    let rows = properties["rows"].as_u64().unwrap();
    assert!(rows < 6000, "the abandoned bundle went on to {rows} rows");
}

/// Newest first and oldest first, a filter that matches a dense run of entries and then every
/// other one gives exactly the entries the API lists, in order, across pages of both kinds (on
/// PostgreSQL, where pages are also read ahead while they are dense, the same case runs
/// against a real `serve`: `sealtrail-cli`'s `pg_export_read_ahead`).
#[tokio::test]
async fn exports_across_dense_and_sparse_pages_hold_exactly_the_listed_entries() {
    let s = TestServer::start().await;
    let batch = |actions: Vec<&str>| {
        let events: Vec<Value> = actions
            .iter()
            .enumerate()
            .map(|(i, action)| event(action, &format!("u{}", i % 5)))
            .collect();
        json!({ "events": events })
    };
    for actions in dense_and_sparse_batches() {
        assert_eq!(
            s.post_events(&s.admin_key, &batch(actions)).await.status(),
            StatusCode::OK
        );
    }
    let listed: Vec<Value> = listed(&s, "action=bulk.imported")
        .await
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(listed.len(), DENSE_AND_SPARSE_MATCHES);
    for (query, oldest_first) in [("", false), ("&order=oldest", true)] {
        let (_, body) = download(
            &s,
            &s.admin_key,
            &format!("format=ndjson&action=bulk.imported{query}"),
        )
        .await;
        let mut ids: Vec<Value> = body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice::<Value>(l).unwrap()["id"].clone())
            .collect();
        if oldest_first {
            ids.reverse();
        }
        assert_eq!(ids, listed, "{query}");
    }
}
