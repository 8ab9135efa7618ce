//! `sealtrail bench` as a user runs it: the real binary generating its workload and running
//! every scenario, tiny, against a server it starts itself and the raw SQLite baseline.

use crate::common::BIN;
use serde_json::Value;
use std::process::Command;

fn gen(seed: &str, end: &str) -> Vec<u8> {
    let out = Command::new(BIN)
        .args([
            "bench", "gen", "--events", "3000", "--seed", seed, "--end", end,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn gen_writes_the_same_workload_for_the_same_seed() {
    let end = "2026-11-23T00:00:00Z";
    let first = gen("7", end);
    assert_eq!(first, gen("7", end));
    assert_ne!(first, gen("8", end));
    let lines: Vec<Value> = first
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3000);
    assert!(lines
        .iter()
        .all(|l| l["tenant"].as_str().unwrap().starts_with("bench-")));
    let newest = lines.last().unwrap()["event"]["occurred_at"]
        .as_str()
        .unwrap();
    assert!(newest.starts_with("2026-11-2"), "{newest}");
    let refused = Command::new(BIN)
        .args(["bench", "gen", "--events", "1", "--end", "yesterday"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--end"));
}

#[test]
fn a_tiny_run_measures_every_scenario_and_writes_the_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.json");
    let out = Command::new(BIN)
        .args([
            "bench",
            "--events",
            "4000",
            "--bulk-events",
            "3000",
            "--phase-seconds",
            "0.5",
            "--clients",
            "1,4",
            "--reps",
            "3",
            "--overload-clients",
            "24",
            "--sink-outage-seconds",
            "1",
            "--json",
        ])
        .arg(&json)
        .arg("--work-dir")
        .arg(dir.path().join("work"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let table = String::from_utf8_lossy(&out.stdout);
    for heading in [
        "I1 single events, 4 clients",
        "I2 batches of 1000",
        "Q1 newest 50",
        "S1 search",
        "T1 timeline",
        "E1 export",
        "W1 `/audit` page",
        "V1 verify",
        "V2 evidence bundle",
        "P1 prune",
        "O1 overload: 24 clients",
        "K1 sink outage",
        "L1 visibility",
        "| target |",
    ] {
        assert!(table.contains(heading), "no {heading:?} in\n{table}");
    }

    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // Each scenario's figures were also written as it finished, so a run that fails later
    // keeps them; they are the report's own.
    let partial = std::fs::read_to_string(dir.path().join("results.partial.ndjson")).unwrap();
    let partial: Vec<Value> = partial
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let scenarios: Vec<&str> = partial
        .iter()
        .map(|l| l["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        scenarios,
        [
            "I1", "I1", "L1", "I2", "I2", "Q2", "T1", "S1", "Q1", "W1", "E1", "E1", "V1", "V2",
            "P1", "K1", "O1"
        ]
    );
    assert_eq!(partial[12]["figures"], report["verify"]);
    assert_eq!(partial[13]["figures"], report["bundle"]);
    assert_eq!(partial[14]["figures"], report["prune"]);
    // K1: the failing sinks' entries all arrived once the receiver was back.
    let k1 = &report["sink_outage"];
    assert_eq!(k1, &partial[15]["figures"]);
    assert!(k1["expected_entries"].as_u64().unwrap() > 0, "{k1}");
    assert_eq!(k1["delivered_entries"], k1["expected_entries"], "{k1}");
    assert!(k1["refused_attempts"].as_u64().unwrap() > 0, "{k1}");
    let w = &report["workload"];
    // Every submission was stored or answered as a duplicate, and the bulk log is whole.
    assert_eq!(
        w["stored"].as_u64().unwrap() + w["duplicates"].as_u64().unwrap(),
        4000 + 3000
    );
    assert_eq!(w["bulk_events"], 3000);
    assert!(w["raw_load_events_per_s"].as_f64().unwrap() > 0.0);
    let singles = report["ingest_single"].as_array().unwrap();
    assert_eq!(singles.len(), 2);
    assert!(singles.iter().all(|f| f["events"].as_u64().unwrap() > 0));
    // Each I1 phase has its raw single-event baseline, group-committed from as many clients.
    for single in singles {
        assert!(
            single["raw"]["events_per_s"].as_f64().unwrap() > 0.0,
            "{single}"
        );
        assert!(
            single["raw"]["mean_group"].as_f64().unwrap() >= 1.0,
            "{single}"
        );
        assert!(single["ratio"].as_f64().unwrap() > 0.0, "{single}");
    }
    for batch in report["ingest_batch"].as_array().unwrap() {
        assert!(batch["ratio"].as_f64().unwrap() > 0.0, "{batch}");
    }
    // W1: each view of the page was timed, signed in (a sign-in page is never timed: the
    // scenario stops on anything but the page itself), and its HTML holds the rows.
    let views = report["audit_page"].as_array().unwrap();
    assert_eq!(views.len(), 2);
    for view in views {
        assert_eq!(view["sealtrail"]["n"], 3, "{view}");
        assert!(view["bytes"].as_u64().unwrap() > 10_000, "{view}");
    }
    // 3 tenants x 4 filter sets; the unfiltered page of the large tenant is full.
    let pages = report["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 12);
    assert_eq!(pages[0]["rows"], 50);
    assert!(pages.iter().all(|p| p["raw"]["n"] == 3));
    let kinds: Vec<&str> = report["search"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "common",
            "mid",
            "rare",
            "common substring",
            "mid substring",
            "rare substring"
        ]
    );
    // Text inside words is found by Sealtrail, at least wherever the word itself is.
    let search = report["search"].as_array().unwrap();
    assert!(search[3]["matches"].as_u64().unwrap() >= search[0]["matches"].as_u64().unwrap());
    assert!(search.iter().all(|s| s["sealtrail"]["n"] == 3));
    // T1: the whole log, 90 days, and the three filtered sets, each against the raw GROUP BY.
    let timelines = report["timelines"].as_array().unwrap();
    assert_eq!(timelines.len(), 5);
    assert!(timelines
        .iter()
        .all(|t| t["bars"].as_u64().unwrap() > 0 && t["raw"]["n"] == 1));
    assert!(report["search"][0]["matches"].as_u64().unwrap() > 0);
    let exports = report["exports"].as_array().unwrap();
    assert_eq!(exports.len(), 2);
    assert!(exports
        .iter()
        .all(|e| e["bytes"].as_u64().unwrap() > 3000 * 100));
    // CSV against the raw engine in three interleaved pairs, the target on their median ratio.
    let pairs = exports[0]["pairs"].as_array().unwrap();
    assert_eq!(
        (exports[0]["format"].as_str(), pairs.len()),
        (Some("csv"), 3)
    );
    let ratios: Vec<f64> = pairs
        .iter()
        .map(|p| p[0].as_f64().unwrap() / p[1].as_f64().unwrap())
        .collect();
    assert!(
        ratios.contains(&exports[0]["ratio"].as_f64().unwrap()),
        "{ratios:?}"
    );
    assert!(exports[1]["pairs"].as_array().unwrap().is_empty());
    assert_eq!(report["verify"]["valid"], true);
    assert!(report["verify"]["entries"].as_u64().unwrap() >= 3000);
    // V2: the whole bulk log as a bundle, every line verified.
    assert_eq!(report["bundle"]["valid"], true);
    assert!(
        report["bundle"]["entries"].as_u64().unwrap()
            >= report["verify"]["entries"].as_u64().unwrap()
    );
    // Retention of 329 days over a year of history removes roughly the oldest tenth.
    let removed = report["prune"]["removed"].as_u64().unwrap();
    assert!((200..=400).contains(&removed), "prune removed {removed}");
    assert!(report["prune"]["during_prune"]["n"].as_u64().is_some());
    // O1: every answer was an acknowledgement or a 503 with Retry-After.
    let o = &report["overload"];
    assert_eq!(o["clients"], 24);
    assert_eq!(o["batch"], 1000);
    assert!(o["accepted"].as_u64().unwrap() > 0, "{o}");
    assert_eq!(o["other"], 0, "{o}");
    assert_eq!(o["refused"], o["refused_with_retry_after"], "{o}");
    assert!(o["rss_peak_mib"].as_f64().unwrap() > 0.0, "{o}");
    // L1: every probe was read back four ways, and no answer missed it.
    let v = &report["visibility"];
    assert_eq!(v["clients"], 64);
    let probes = v["probes"].as_u64().unwrap();
    assert!(probes > 0, "{v}");
    for read in ["by_id", "list", "search", "count_and_facets"] {
        assert_eq!(v[read]["n"].as_u64(), Some(probes), "{v}");
    }
    assert_eq!(v["misses"], 0, "{v}");
    assert!(report["targets"].as_array().unwrap().len() >= 7);
}
