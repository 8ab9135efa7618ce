//! CORS in a real headless Chromium: a page on another origin fetching the log with a read key
//! is blocked by the browser until the tenant names that origin, then reads it, and can also
//! record an event; the same page with another tenant's key stays blocked.

use crate::browser::Browser;
use crate::common::TestServer;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use sealtrail_core::keys::Scope;
use serde_json::json;

/// Serves a page that records an event on `host` with `key`, then fetches the newest entries,
/// and writes what happened into `#out`; returns the page's URL.
async fn serve_widget(host: String, key: String) -> String {
    let config = json!({ "host": host, "key": key }).to_string();
    let page = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
        <title>Customer portal</title></head><body><pre id="out">waiting</pre>
        <script>
        const c = {config};
        const out = document.getElementById("out");
        const auth = {{ "Authorization": "Bearer " + c.key }};
        fetch(c.host + "/v1/events", {{ method: "POST", headers: {{ ...auth, "Content-Type": "application/json" }},
            body: JSON.stringify({{ action: "portal.viewed", actor: {{ id: "customer-1" }} }}) }})
          .then(r => r.status)
          .catch(() => "blocked")
          .then(posted => fetch(c.host + "/v1/events?limit=5", {{ headers: auth }})
            .then(r => r.json())
            .then(j => out.textContent = "read " + j.entries.length + " posted " + posted + " first " + j.entries[0].action)
            .catch(() => out.textContent = "blocked posted " + posted));
        </script></body></html>"#
    );
    let app = Router::new().route("/", get(move || async move { Html(page) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn outcome(browser: &Browser) -> String {
    let mut shown = String::new();
    browser
        .wait_until("the page's fetches end", async |c| {
            shown = c
                .execute("return document.getElementById('out').textContent", vec![])
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            shown != "waiting"
        })
        .await;
    shown
}

#[tokio::test]
async fn a_page_on_another_origin_reads_the_log_only_once_the_tenant_names_it() {
    let s = TestServer::start().await;
    let key = s.key(&[Scope::Ingest, Scope::Read]).await;
    let page = serve_widget(s.url.clone(), key.clone()).await;
    let origin = page.trim_end_matches('/').to_string();
    let browser = Browser::launch().await;

    browser.goto(&page).await;
    assert_eq!(
        outcome(&browser).await,
        "blocked posted blocked",
        "no origin allowed yet"
    );

    let r = s
        .client
        .put(format!("{}/v1/settings/cors", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({ "origins": [origin] }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    browser.goto(&page).await;
    let shown = outcome(&browser).await;
    assert!(
        shown.starts_with("read ")
            && shown.contains("posted 201")
            && shown.ends_with("first portal.viewed"),
        "{shown}"
    );

    // Another tenant's key from the same page: that tenant named no origin.
    let (_, other) = s
        .tenant_with_key("other", &[Scope::Ingest, Scope::Read])
        .await;
    let elsewhere = serve_widget(s.url.clone(), other).await;
    // Same origin as allowed? No: another port, so name it for the first tenant too, to show
    // it is the key's tenant that decides.
    let second_origin = elsewhere.trim_end_matches('/').to_string();
    let r = s
        .client
        .put(format!("{}/v1/settings/cors", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({ "origins": [origin, second_origin] }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    browser.goto(&elsewhere).await;
    assert_eq!(
        outcome(&browser).await,
        "blocked posted blocked",
        "the other tenant named no origin, so its answers are not labelled for the page"
    );
    browser.close().await;
    s.stop().await;
}
