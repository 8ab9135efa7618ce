//! The real `@retracedhq/logs-viewer` (React, bundled by esbuild from `tests/clients`) in
//! headless Chromium, embedded in a page on another origin as a vendor embeds it, showing one
//! group's log from Sealtrail through the viewer's token, session and search.

use crate::browser::Browser;
use crate::common::TestServer;
use crate::compat_retraced::clients_dir;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use fantoccini::Locator;
use reqwest::StatusCode;
use sealtrail_core::keys::Scope;
use serde_json::{json, Value};
use std::process::Command;

/// Bundles the viewer page's script (the real component with React) into `out`.
fn bundle_viewer(out: &std::path::Path) {
    let dir = clients_dir();
    let status = Command::new("node")
        .arg(dir.join("build_logs_viewer.js"))
        .arg(out)
        .current_dir(&dir)
        .status()
        .expect("node runs esbuild");
    assert!(status.success(), "esbuild failed to bundle the viewer page");
}

/// Serves the vendor's page (the viewer pointed at `host` with `token`) on its own loopback
/// origin and returns its URL.
async fn serve_page(host: String, token: String, script: Vec<u8>) -> String {
    let config = json!({ "host": host, "token": token }).to_string();
    let page = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
        <title>Vendor app</title></head><body><div id="viewer"></div>
        <script>window.SEALTRAIL_VIEWER = {config};</script>
        <script src="/viewer.js"></script></body></html>"#
    );
    let app =
        Router::new()
            .route("/", get(move || async move { Html(page) }))
            .route(
                "/viewer.js",
                get(move || async move {
                    ([("content-type", "text/javascript")], script).into_response()
                }),
            );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn the_real_logs_viewer_shows_one_groups_log_in_chromium() {
    let s = TestServer::start().await;
    let key = s.key(&[Scope::Ingest, Scope::Read]).await;
    for (group, count) in [("org-a", 3), ("org-b", 2)] {
        let events: Vec<Value> = (0..count)
            .map(|i| {
                json!({"action": "invoice.paid", "crud": "u", "group": {"id": group, "name": group},
                    "actor": {"id": format!("user{i}@{group}.example"), "name": format!("User {i}")},
                    "target": {"id": format!("inv_{i}"), "type": "invoice"},
                    "description": format!("{group} invoice {i} paid")})
            })
            .collect();
        let r = s
            .client
            .post(format!("{}/publisher/v1/project/default/event/bulk", s.url))
            .header("Authorization", format!("token={key}"))
            .json(&json!({ "events": events }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let token: Value = s
        .client
        .get(format!(
            "{}/publisher/v1/project/default/viewertoken?group_id=org-a&actor_id=viewer%40org-a.example&is_admin=false",
            s.url
        ))
        .header("Authorization", format!("Token token={key}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();

    let dir = tempfile::tempdir().unwrap();
    let script_path = dir.path().join("viewer.js");
    tokio::task::spawn_blocking({
        let script_path = script_path.clone();
        move || bundle_viewer(&script_path)
    })
    .await
    .unwrap();
    let page = serve_page(
        format!("{}/viewer/v1", s.url),
        token,
        std::fs::read(&script_path).unwrap(),
    )
    .await;

    let browser = Browser::launch().await;
    browser.goto(&page).await;
    let text = async |c: &fantoccini::Client| -> String {
        c.execute("return document.body.innerText", vec![])
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    browser
        .wait_until("the viewer lists org-a's entries", async |c| {
            let shown = text(c).await;
            (0..3).all(|i| shown.contains(&format!("org-a invoice {i} paid")))
        })
        .await;
    let shown = text(browser.client()).await;
    assert!(
        !shown.contains("org-b"),
        "another group's entries leaked: {shown}"
    );
    browser.screenshot("retraced-logs-viewer").await;

    // The viewer's own export button: name the current search, save it, and download it.
    browser
        .wait_for(".u-csvExportIcon")
        .await
        .click()
        .await
        .unwrap();
    let button = async |label: &str| {
        browser
            .client()
            .wait()
            .for_element(Locator::XPath(&format!(
                "//button[normalize-space()='{label}']"
            )))
            .await
            .unwrap()
    };
    button("Export").await.click().await.unwrap();
    browser
        .wait_for("input[placeholder='Release 1.0.0']")
        .await
        .send_keys("org-a payments")
        .await
        .unwrap();
    button("Name & Save").await.click().await.unwrap();
    let csv = std::fs::read_to_string(browser.wait_for_download("csv").await).unwrap();
    for i in 0..3 {
        assert!(csv.contains(&format!("org-a invoice {i} paid")), "{csv}");
    }
    assert!(
        !csv.contains("org-b"),
        "another group's entries exported: {csv}"
    );
    let saved = s
        .get_json(&s.admin_key, "/v1/events?action=audit_log.export_saved")
        .await;
    assert_eq!(saved["total"], 1, "{saved}");
    assert_eq!(
        saved["entries"][0]["properties"]["retraced"]["export_name"],
        "org-a payments"
    );

    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "the viewer's calls all succeeded: {errors:?}"
    );
    browser.close().await;

    // The viewer's search was recorded in the log, as the viewing user, in org-a.
    let views = s
        .get_json(&s.admin_key, "/v1/events?action=audit.log.view")
        .await;
    assert!(views["total"].as_u64().unwrap() >= 1, "{views}");
    assert_eq!(views["entries"][0]["actor"]["id"], "viewer@org-a.example");
    assert_eq!(views["entries"][0]["properties"]["retraced_group"], "org-a");
}
