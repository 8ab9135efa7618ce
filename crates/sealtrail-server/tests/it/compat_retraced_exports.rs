//! The embedded viewer's saved exports over HTTP, as `@retracedhq/logs-viewer` 2.10.1 calls
//! them: save (`POST …/export`), list (`GET …/exports`), download (`GET
//! …/export/{id}/rendered`), each within the viewer session's group and target; and the
//! Enterprise API token buttons, refused.

use crate::common::TestServer;
use reqwest::StatusCode;
use sealtrail_core::keys::Scope;
use serde_json::{json, Value};

/// Publishes `count` entries for `group` through Retraced's API.
async fn publish(s: &TestServer, key: &str, group: &str, count: usize) {
    let events: Vec<Value> = (0..count)
        .map(|i| {
            json!({"action": "invoice.paid", "crud": "u", "group": {"id": group},
                "actor": {"id": format!("user{i}@{group}.example")},
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

/// A viewer session for `group`, as the viewer gets one: token from the application, then
/// exchanged.
async fn session(s: &TestServer, key: &str, group: &str) -> String {
    let token: Value = s
        .client
        .get(format!(
            "{}/publisher/v1/project/default/viewertoken?group_id={group}&actor_id=viewer%40{group}.example",
            s.url
        ))
        .header("Authorization", format!("token={key}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session: Value = s
        .client
        .post(format!("{}/viewer/v1/viewersession", s.url))
        .json(&json!({ "token": token["token"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    session["token"].as_str().unwrap().to_string()
}

fn viewer_url(s: &TestServer, path: &str) -> String {
    format!("{}/viewer/v1/project/default{path}", s.url)
}

#[tokio::test]
async fn the_viewers_saved_exports_stay_within_its_group() {
    let s = TestServer::start().await;
    let key = s.key(&[Scope::Ingest, Scope::Read]).await;
    publish(&s, &key, "org-a", 3).await;
    publish(&s, &key, "org-b", 2).await;
    let a = session(&s, &key, "org-a").await;
    let b = session(&s, &key, "org-b").await;

    // Saved as the viewer sends it: the query text without `crud:`, the kinds as flags, the
    // range in milliseconds.
    let saved = s
        .client
        .post(viewer_url(&s, "/export"))
        .header("Authorization", &a)
        .json(&json!({"name": "Paid invoices", "exportBody": {
            "searchQuery": "action:invoice.paid ", "showCreate": true, "showDelete": true,
            "showRead": false, "showUpdate": true, "version": 1,
            "startTime": 0, "endTime": 32_503_680_000_000_i64}}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::CREATED);
    let saved: Value = saved.json().await.unwrap();
    let id = saved["id"].as_str().unwrap().to_string();
    assert_eq!(saved["name"], "Paid invoices");
    assert_eq!(saved["body"]["showUpdate"], true);

    // Listed for its group, not for another.
    let listed: Value = s
        .client
        .get(viewer_url(&s, "/exports?limit="))
        .header("Authorization", &a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());
    let other: Value = s
        .client
        .get(viewer_url(&s, "/exports"))
        .header("Authorization", &b)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other, json!([]));

    // Rendered as CSV: exactly the group's paid invoices, with the name the viewer saves.
    let rendered = s
        .client
        .get(viewer_url(&s, &format!("/export/{id}/rendered")))
        .header("Authorization", &a)
        .header("Accept", "text/csv")
        .header("Origin", "http://vendor.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rendered.status(), StatusCode::OK);
    let disposition = rendered.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("filename="), "{disposition}");
    let exposed = rendered.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("content-disposition"), "{exposed}");
    let csv = rendered.text().await.unwrap();
    for i in 0..3 {
        assert!(csv.contains(&format!("org-a invoice {i} paid")), "{csv}");
    }
    assert!(!csv.contains("org-b"), "another group's entries: {csv}");

    // Another group's viewer cannot render it, whatever it knows of the id; nor can a
    // session sent to another project, or none.
    for (session, path, status) in [
        (
            b.as_str(),
            format!("/export/{id}/rendered"),
            StatusCode::NOT_FOUND,
        ),
        (
            a.as_str(),
            "/export/not-an-id/rendered".to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            "",
            format!("/export/{id}/rendered"),
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let r = s
            .client
            .get(viewer_url(&s, &path))
            .header("Authorization", session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{path}");
    }
    let elsewhere = s
        .client
        .get(format!("{}/viewer/v1/project/other/exports", s.url))
        .header("Authorization", &a)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);

    // Saving and downloading are both in the log, by the viewing user, in the group.
    let saves = s
        .get_json(&s.admin_key, "/v1/events?action=audit_log.export_saved")
        .await;
    assert_eq!(saves["total"], 1);
    assert_eq!(saves["entries"][0]["actor"]["id"], "viewer@org-a.example");
    assert_eq!(saves["entries"][0]["properties"]["retraced_group"], "org-a");
    let exports = s
        .get_json(&s.admin_key, "/v1/events?action=audit_log.exported")
        .await;
    assert_eq!(exports["total"], 1, "{exports}");
    assert_eq!(exports["entries"][0]["actor"]["id"], "viewer@org-a.example");
}

#[tokio::test]
async fn unusable_saved_exports_are_refused_by_member_and_tokens_are_not_issued() {
    let s = TestServer::start().await;
    let key = s.key(&[Scope::Ingest, Scope::Read]).await;
    let a = session(&s, &key, "org-a").await;
    for (body, member) in [
        (json!({"exportBody": {}}), "name"),
        (
            json!({"name": "x", "exportBody": {"searchQuery": "crud:z"}}),
            "exportBody.searchQuery",
        ),
        (
            json!({"name": "x", "exportBody": {"startTime": "soon"}}),
            "exportBody.startTime",
        ),
    ] {
        let r = s
            .client
            .post(viewer_url(&s, "/export"))
            .header("Authorization", &a)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = r.json().await.unwrap();
        assert!(error["error"].as_str().unwrap().contains(member), "{error}");
    }
    let saves = s
        .get_json(&s.admin_key, "/v1/events?action=audit_log.export_saved")
        .await;
    assert_eq!(saves["total"], 0, "nothing refused was saved");

    for (method, path) in [
        (reqwest::Method::GET, "/eitapi_tokens"),
        (reqwest::Method::POST, "/eitapi_token"),
        (reqwest::Method::PUT, "/eitapi_token/1"),
        (reqwest::Method::DELETE, "/eitapi_token/1"),
    ] {
        let r = s
            .client
            .request(method.clone(), viewer_url(&s, path))
            .header("Authorization", &a)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let error: Value = r.json().await.unwrap();
        assert!(
            error["error"].as_str().unwrap().contains("whole tenant"),
            "{error}"
        );
    }
}
