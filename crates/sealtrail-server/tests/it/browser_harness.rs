//! The browser harness against a tiny axum app: typing, a GET form, an attachment download that
//! must land on disk byte for byte, a screenshot, a phone-sized window, and what Chromium does
//! with a `Secure` cookie on plain http://127.0.0.1.

use crate::browser::Browser;
use axum::extract::Query;
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;

const CSV: &[u8] = b"id,action\n1,user.created\n2,\"quoted, comma\"\n";
const COOKIE: &str = "t=1; HttpOnly; Secure; SameSite=Lax; Path=/";
/// An empty icon, so Chromium's `/favicon.ico` request leaves no 404 in the console.
const HEAD: &str = r#"<!doctype html><link rel="icon" href="data:,">"#;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn form() -> impl IntoResponse {
    let page = format!(
        r#"{HEAD}<title>form</title>
        <form action="/result" method="get">
          <input id="q" name="q" type="text"><button id="go" type="submit">Go</button>
        </form>
        <a id="csv" href="/x.csv">CSV</a>"#
    );
    ([(header::SET_COOKIE, COOKIE)], Html(page))
}

async fn result(Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Html<String> {
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let sent = if cookie.split("; ").any(|c| c == "t=1") {
        "sent"
    } else {
        "absent"
    };
    let value = escape(q.get("q").map(String::as_str).unwrap_or(""));
    Html(format!(
        r#"{HEAD}<title>result</title><p id="value">{value}</p><p id="cookie">{sent}</p>"#
    ))
}

async fn csv() -> impl IntoResponse {
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (
            header::CONTENT_DISPOSITION,
            r#"attachment; filename="x.csv""#,
        ),
    ];
    (headers, CSV)
}

/// Serves the app on a free loopback port and returns its base URL, e.g. `http://127.0.0.1:1234`.
async fn serve() -> String {
    let app = Router::new()
        .route("/", get(form))
        .route("/result", get(result))
        .route("/x.csv", get(csv));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn form_download_screenshot_and_secure_cookie() {
    let base = serve().await;
    let browser = Browser::launch().await;
    browser.goto(&format!("{base}/")).await;

    let typed = r#"a<b>&"c" d"#;
    browser.wait_for("#q").await.send_keys(typed).await.unwrap();
    browser.wait_for("#go").await.click().await.unwrap();
    let shown = browser.wait_for("#value").await;
    let url = browser.current_url().await;
    let parsed = url.parse::<reqwest::Url>().unwrap();
    assert_eq!(parsed.path(), "/result", "{url}");
    let q: Vec<_> = parsed
        .query_pairs()
        .filter(|(k, _)| k == "q")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(q, [typed], "{url}");
    assert_eq!(
        shown.text().await.unwrap(),
        typed,
        "the value is shown as text"
    );
    let markup = browser
        .client()
        .find_all(fantoccini::Locator::Css("#value *"))
        .await
        .unwrap();
    assert!(markup.is_empty(), "the value was rendered as markup");

    // Chromium treats 127.0.0.1 as a secure context: a `Secure` cookie set over plain http is
    // stored and sent back, so a session cookie may carry `Secure` even on a loopback test server.
    let cookie = browser.wait_for("#cookie").await.text().await.unwrap();
    assert_eq!(
        cookie, "sent",
        "Chromium dropped the Secure cookie on http://127.0.0.1"
    );
    let script = browser
        .client()
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert_eq!(script, "", "an HttpOnly cookie is invisible to scripts");

    browser.goto(&format!("{base}/")).await;
    browser.wait_for("#csv").await.click().await.unwrap();
    let file = browser.wait_for_download("csv").await;
    assert_eq!(file.file_name().unwrap(), "x.csv");
    assert!(file.starts_with(browser.download_dir()));
    assert_eq!(std::fs::read(&file).unwrap(), CSV);
    assert_eq!(browser.console_errors().await, Vec::<String>::new());

    let png = browser.screenshot("browser-harness-form").await;
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        png.display()
    );
    browser.close().await;
}

#[tokio::test]
async fn narrow_window_for_phone_checks() {
    let base = serve().await;
    let browser = Browser::launch().await;
    browser.set_window_size(390, 844).await;
    browser.goto(&format!("{base}/")).await;
    browser
        .wait_until("the viewport is phone-sized", async |client| {
            let width = client
                .execute("return window.innerWidth", vec![])
                .await
                .unwrap();
            width.as_u64().is_some_and(|w| w <= 400)
        })
        .await;
    browser.close().await;
}
