//! `/metrics` as an operator's Prometheus reads it: after real traffic, the exposition passes
//! `promtool check metrics` (Debian's `prometheus` package, installed by `.ci/run`), every
//! family has `# HELP`, latencies are histograms; the shipped alert rules pass `promtool check
//! rules`, and the shipped Grafana dashboard asks only for metrics the server exposes.

use crate::common::{event, TestServer};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn promtool() -> &'static str {
    assert!(
        Path::new("/usr/bin/promtool").exists(),
        "promtool is not installed: apt-get install prometheus (.ci/run does)"
    );
    "/usr/bin/promtool"
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the workspace root")
}

#[tokio::test]
async fn metrics_pass_promtool_with_help_and_histograms() {
    let s = TestServer::start().await;
    s.post_events(&s.admin_key, &event("a.created", "u")).await;
    s.get_json(&s.admin_key, "/v1/events?limit=5").await;
    // A checkpoint tick has run, so the signing metrics are there too.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let text = s.metrics_text().await;
    let mut check = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for family in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let name = family.split_whitespace().next().unwrap();
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no # HELP"
        );
        assert!(
            !family.ends_with(" summary"),
            "{family}: a summary cannot be summed across nodes"
        );
    }
    for expected in [
        "# TYPE sealtrail_http_request_seconds histogram",
        "# TYPE sealtrail_commit_seconds histogram",
        "sealtrail_build_info{",
        "sealtrail_checkpoint_age_seconds{",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "sealtrail_sinks{state=\"dead_letter\"} 0",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    s.stop().await;
}

#[test]
fn the_shipped_alert_rules_pass_promtool() {
    let rules = repo().join("deploy/prometheus/alerts.yml");
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `sealtrail_…`/`process_…` name in the dashboard's queries is a metric the catalog
/// has (a histogram's `_bucket` series included), so no panel stays empty.
#[test]
fn the_shipped_dashboard_asks_for_metrics_that_exist() {
    let text =
        std::fs::read_to_string(repo().join("deploy/grafana/sealtrail-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !(word.starts_with("sealtrail_") || word.starts_with("process_")) {
                    continue;
                }
                let base = word.strip_suffix("_bucket").unwrap_or(word);
                assert!(
                    sealtrail_service::metrics_catalog::find(base).is_some(),
                    "the dashboard asks for {word}, which the server does not expose"
                );
                queried += 1;
            }
        }
    }
    assert!(queried > 10);
}

/// docs/operations.md lists every metric, so the page an operator reads cannot drift from
/// what the server exposes.
#[test]
fn the_operations_guide_lists_every_metric() {
    let guide = std::fs::read_to_string(repo().join("docs/operations.md")).unwrap();
    for metric in sealtrail_service::metrics_catalog::ALL {
        assert!(
            guide.contains(&format!("| `{}` |", metric.name)),
            "docs/operations.md does not list {}",
            metric.name
        );
    }
}
