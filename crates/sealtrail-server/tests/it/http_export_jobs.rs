//! `/v1/exports` background export jobs over real HTTP: a job runs to a file holding exactly
//! the filtered rows, reports progress, is audited, stays inside its tenant, never survives a
//! restart half-written (another attempt runs it whole), and expires.

use crate::common::{event, expect_error, TestServer};
use reqwest::{Response, StatusCode};
use sealtrail_core::entry::Actor;
use sealtrail_core::keys::Scope;
use sealtrail_core::TenantId;
use sealtrail_core::Timestamp;
use sealtrail_export::Format;
use sealtrail_service::jobs::{JobId, JobSpec};
use sealtrail_service::stores::open_embedded as open_store;
use sealtrail_service::tenants;
use sealtrail_store::{JobAttempt, JobEnd, StoredJob};
use serde_json::{json, Value};
use std::time::Duration;

async fn seed(s: &TestServer, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let events: Vec<Value> = chunk
            .iter()
            .map(|i| {
                let action = if i % 4 == 0 {
                    "user.deleted"
                } else {
                    "doc.updated"
                };
                event(action, &format!("u{}", i % 7))
            })
            .collect();
        let r = s
            .post_events(&s.admin_key, &json!({ "events": events }))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
}

async fn total(s: &TestServer, query: &str) -> u64 {
    s.get_json(&s.admin_key, &format!("/v1/events?{query}&limit=1"))
        .await["total"]
        .as_u64()
        .unwrap()
}

async fn post_job(s: &TestServer, key: &str, body: impl Into<reqwest::Body>) -> Response {
    s.client
        .post(format!("{}/v1/exports", s.url))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn create(s: &TestServer, key: &str, body: Value) -> Value {
    let r = post_job(s, key, body.to_string()).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let job: Value = r.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/exports/{}", job["id"].as_str().unwrap())
    );
    job
}

/// Polls until the job has finished; returns every `rows` value seen on the way and the end.
async fn wait_finished(s: &TestServer, key: &str, id: &str) -> (Vec<u64>, Value) {
    let mut seen = Vec::new();
    for _ in 0..1500 {
        let job = s.get_json(key, &format!("/v1/exports/{id}")).await;
        seen.push(job["rows"].as_u64().unwrap());
        if job["state"] == "ready" || job["state"] == "failed" {
            return (seen, job);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job {id} did not finish in 30 s");
}

#[tokio::test]
async fn a_job_writes_exactly_the_filtered_rows_reports_progress_and_is_audited() {
    let s = TestServer::start().await;
    seed(&s, 2500).await;
    let filter = "action=user.deleted&range=7d";
    let expected = total(&s, filter).await;
    let job = create(
        &s,
        &s.admin_key,
        json!({
            "name": "Q3 deletions",
            "format": "csv",
            "filters": { "action": "user.deleted", "range": "7d" },
        }),
    )
    .await;
    assert_eq!(job["state"], "queued");
    assert_eq!(job["name"], "Q3 deletions");
    assert_eq!(job["format"], "csv");
    assert_eq!(job["rows"], 0);
    assert_eq!(
        job["filters"],
        json!({ "action": "user.deleted", "range": "7d" })
    );
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID");
    assert_eq!(job["download_url"], format!("/v1/exports/{id}/download"));

    let (seen, done) = wait_finished(&s, &s.admin_key, &id).await;
    assert_eq!(done["state"], "ready", "{done}");
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {seen:?}"
    );
    assert!(seen.iter().all(|r| *r <= expected));
    assert_eq!(done["rows"], expected);
    assert!(done["started_at"].is_string() && done["finished_at"].is_string());
    assert!(done["expires_at"].as_str().unwrap() > done["finished_at"].as_str().unwrap());
    assert!(done.get("error").is_none());

    let r = s
        .get(&s.admin_key, &format!("/v1/exports/{id}/download"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = r.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"audit-log-")
            && disposition.ends_with("Z.csv\""),
        "{disposition}"
    );
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len() as u64, done["bytes"].as_u64().unwrap());
    assert!(body.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM");
    let rows = csv::Reader::from_reader(&body[3..]).records().count() as u64;
    assert_eq!(rows, expected);

    let list = s.get_json(&s.admin_key, "/v1/exports").await;
    assert_eq!(list["jobs"][0]["id"], id.as_str());

    let audit = s
        .get_json(&s.admin_key, "/v1/events?action=audit_log.exported")
        .await;
    assert_eq!(audit["total"], 1, "{audit}");
    let props = &audit["entries"][0]["properties"];
    assert_eq!(props["job"], id.as_str());
    assert_eq!(props["format"], "csv");
    assert_eq!(props["rows"], expected);
    assert_eq!(props["completed"], true);
    assert_eq!(
        props["filters"],
        json!({ "action": "user.deleted", "range": "7d" })
    );
}

#[tokio::test]
async fn every_format_runs_as_a_job_and_the_list_is_newest_first() {
    let s = TestServer::start().await;
    seed(&s, 30).await;
    let mut ids = Vec::new();
    for format in ["json", "ndjson", "bundle"] {
        let job = create(
            &s,
            &s.admin_key,
            json!({ "format": format, "filters": { "actor": "u2" } }),
        )
        .await;
        assert!(
            job["name"].as_str().unwrap().starts_with("audit-log-"),
            "default name"
        );
        ids.push(job["id"].as_str().unwrap().to_string());
    }
    let expected = total(&s, "actor=u2").await;
    for id in &ids {
        let (_, done) = wait_finished(&s, &s.admin_key, id).await;
        assert_eq!(done["state"], "ready", "{done}");
        assert_eq!(done["rows"], expected, "{done}");
    }
    let r = s
        .get(&s.admin_key, &format!("/v1/exports/{}/download", ids[2]))
        .await;
    assert_eq!(r.headers()["content-type"], "application/x-tar");
    let body = r.bytes().await.unwrap();
    let report = sealtrail_export::bundle::verify_bundle(&body[..], |_| {}).unwrap();
    assert!(report.is_ok(), "{:?}", report.first_problem);
    assert_eq!(report.entries, expected);

    let list = s.get_json(&s.admin_key, "/v1/exports").await;
    let listed: Vec<&str> = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
}

#[tokio::test]
async fn bad_requests_name_the_format_or_filter_at_fault() {
    let s = TestServer::start().await;
    let read = s.key(&[Scope::Read]).await;
    expect_error(
        post_job(&s, &read, "{}").await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    expect_error(
        s.get(&read, "/v1/exports").await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    let cases = [
        (
            json!({ "format": "docx" }),
            StatusCode::BAD_REQUEST,
            "format",
        ),
        (
            json!({ "filters": { "acter": "x" } }),
            StatusCode::BAD_REQUEST,
            "filters.acter",
        ),
        (
            json!({ "filters": { "range": "1y" } }),
            StatusCode::BAD_REQUEST,
            "filters.range",
        ),
        (
            json!({ "filters": { "limit": 5 } }),
            StatusCode::BAD_REQUEST,
            "filters.limit",
        ),
        (
            json!({ "filters": { "format": "csv" } }),
            StatusCode::BAD_REQUEST,
            "filters.format",
        ),
    ];
    for (body, status, field) in cases {
        let error = expect_error(
            post_job(&s, &s.admin_key, body.to_string()).await,
            status,
            "invalid_parameter",
        )
        .await;
        assert_eq!(error["field"], field, "{body}");
    }
    let error = expect_error(
        post_job(
            &s,
            &s.admin_key,
            json!({ "filters": { "actor": { "id": 1 } } }).to_string(),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["field"], "filters.actor");
    expect_error(
        post_job(&s, &s.admin_key, json!({ "fromat": "csv" }).to_string()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        post_job(&s, &s.admin_key, "{\"format\": ").await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    // Numbers and booleans are accepted as their text.
    let job = create(&s, &s.admin_key, json!({ "filters": { "system": true } })).await;
    assert_eq!(job["filters"], json!({ "system": "true" }));
    // Several events or categories at once, as a list (seed 004's named export).
    let both = json!({ "filters": { "category": ["Policy Changes", "Agent Operations"] } });
    let job = create(&s, &s.admin_key, both).await;
    assert_eq!(
        job["filters"],
        json!({ "category": ["Policy Changes", "Agent Operations"] })
    );
    wait_finished(&s, &s.admin_key, job["id"].as_str().unwrap()).await;
    let nested = json!({ "filters": { "category": [["x"]] } });
    let r = post_job(&s, &s.admin_key, nested.to_string()).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let listed = json!({ "filters": { "channel": ["a", "b"] } });
    let r = post_job(&s, &s.admin_key, listed.to_string()).await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "only event and category repeat"
    );
    // Finished before the test ends: a job still running when the server is dropped would
    // recreate its files in the removed temporary data directory.
    wait_finished(&s, &s.admin_key, job["id"].as_str().unwrap()).await;
    for path in ["/v1/exports/nope", "/v1/exports/nope/download"] {
        expect_error(
            s.get(&s.admin_key, path).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let unknown = JobId::new();
    expect_error(
        s.get(&s.admin_key, &format!("/v1/exports/{unknown}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(
        s.get_json(&s.admin_key, "/v1/exports").await["jobs"]
            .as_array()
            .unwrap()
            .len()
            == 2
    );
}

#[tokio::test]
async fn another_tenants_job_is_not_found() {
    let s = TestServer::start().await;
    seed(&s, 10).await;
    let job = create(&s, &s.admin_key, json!({ "format": "ndjson" })).await;
    let id = job["id"].as_str().unwrap();
    wait_finished(&s, &s.admin_key, id).await;
    let (_, other) = s
        .tenant_with_key("other", &[Scope::Export, Scope::Read])
        .await;
    for path in [
        format!("/v1/exports/{id}"),
        format!("/v1/exports/{id}/download"),
    ] {
        expect_error(
            s.get(&other, &path).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    assert_eq!(s.get_json(&other, "/v1/exports").await["jobs"], json!([]));
    let mine = s
        .get(&s.admin_key, &format!("/v1/exports/{id}/download"))
        .await;
    assert_eq!(mine.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_download_answers_409_until_the_job_is_ready() {
    let s = TestServer::start_with(|c| c.export_job_concurrency = 1).await;
    seed(&s, 3000).await;
    // Two large bundles hold the only runner; the third job waits queued behind them.
    for _ in 0..2 {
        create(&s, &s.admin_key, json!({ "format": "bundle" })).await;
    }
    let job = create(&s, &s.admin_key, json!({ "format": "csv" })).await;
    let id = job["id"].as_str().unwrap();
    let r = s
        .get(&s.admin_key, &format!("/v1/exports/{id}/download"))
        .await;
    let state = s.get_json(&s.admin_key, &format!("/v1/exports/{id}")).await["state"].clone();
    if r.status() == StatusCode::OK {
        // Only possible on a machine fast enough to finish all three in between.
        assert_eq!(state, "ready");
    } else {
        let error = expect_error(r, StatusCode::CONFLICT, "not_ready").await;
        assert!(error["message"].as_str().unwrap().contains("ready"));
    }
    let (_, done) = wait_finished(&s, &s.admin_key, id).await;
    assert_eq!(done["state"], "ready");
}

/// A job as a node stores it at submission, with `params` as the API validated them.
fn stored_job(tenant: TenantId, name: &str, created_at: Timestamp) -> StoredJob {
    let spec = JobSpec {
        name: name.to_string(),
        format: Format::Csv,
        filters: json!({ "channel": "hardware" }),
        params: vec![("channel".into(), "hardware".into())],
        file_name: "audit-log-20260101T000000Z.csv".into(),
        actor: Actor::system("test"),
    };
    StoredJob::queued(tenant, JobId::new().uuid(), spec.to_json(), created_at)
}

#[tokio::test]
async fn a_restart_resumes_unfinished_jobs_and_keeps_finished_files() {
    let data = tempfile::tempdir().unwrap();
    let store = open_store(data.path()).unwrap();
    let key = tenants::bootstrap(store.as_ref())
        .await
        .unwrap()
        .unwrap()
        .admin_key;
    let tenant = store.tenant_by_name("default").await.unwrap().unwrap().id;
    let seeded = (0..12)
        .map(|i| sealtrail_testkit::contract::fixtures::event("doc.updated", &format!("u{i}")))
        .collect();
    store.append(tenant, seeded).await.unwrap();
    let now = Timestamp::now();
    // A job a node was running when it died a minute ago (it wrote half a file), one still
    // queued, and one that had finished.
    let at = |ago: i64| Timestamp(now.0 - ago);
    let ready = stored_job(tenant, "ready before the restart", at(3));
    let running = stored_job(tenant, "running before the restart", at(2));
    let queued = stored_job(tenant, "queued before the restart", at(1));
    for job in [&ready, &running, &queued] {
        assert!(store.add_job(job.clone(), 10).await.unwrap());
    }
    let minute_ago = Timestamp(now.0 - 60_000);
    let claimed = store
        .claim_job("old-node", minute_ago)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, ready.id);
    assert!(store
        .write_job_file(attempt(tenant, ready.id, 1), 0, b"whole".to_vec())
        .await
        .unwrap());
    let end = JobEnd::Ready {
        expires_at: Timestamp(now.0 + 3_600_000),
    };
    assert!(store
        .end_job(attempt(tenant, ready.id, 1), 1, 5, end, minute_ago)
        .await
        .unwrap());
    let claimed = store
        .claim_job("old-node", minute_ago)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, running.id);
    assert!(store
        .write_job_file(attempt(tenant, running.id, 1), 0, b"half a fi".to_vec())
        .await
        .unwrap());
    // The old per-node jobs directory of earlier versions.
    let legacy = data.path().join("exports").join(tenant.0.to_string());
    std::fs::create_dir_all(&legacy).unwrap();
    std::fs::write(legacy.join("old.export.csv"), b"erin@example.org").unwrap();

    let legacy_root = data.path().join("exports");
    let s = TestServer::start_on(data, store.clone(), key.clone()).await;
    assert!(!legacy_root.exists(), "the old directory is removed");
    let expected = total(&s, "channel=hardware").await;
    assert_eq!(expected, 12);
    for job in [&running, &queued] {
        let id = job.id.to_string();
        let (_, done) = wait_finished(&s, &key, &id).await;
        assert_eq!(done["state"], "ready", "{done}");
        assert_eq!(done["rows"], expected, "a fresh, whole export: {done}");
        let r = s.get(&key, &format!("/v1/exports/{id}/download")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let body = r.text().await.unwrap();
        assert!(!body.contains("half a fi"));
        assert_eq!(body.lines().count() as u64, expected + 1, "header and rows");
    }
    assert_eq!(
        store
            .job(tenant, running.id)
            .await
            .unwrap()
            .unwrap()
            .attempt,
        2
    );
    let r = s
        .get(&key, &format!("/v1/exports/{}/download", ready.id))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a finished job survives the restart"
    );
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"audit-log-20260101T000000Z.csv\""
    );
    assert_eq!(&r.bytes().await.unwrap()[..], b"whole");
    s.stop().await;
}

#[tokio::test]
async fn an_expired_job_loses_its_file_and_answers_410() {
    let s = TestServer::start_with(|c| c.export_retention = Duration::from_secs(1)).await;
    seed(&s, 20).await;
    let job = create(&s, &s.admin_key, json!({ "format": "csv" })).await;
    let id = job["id"].as_str().unwrap();
    let (_, done) = wait_finished(&s, &s.admin_key, id).await;
    assert_eq!(done["state"], "ready");
    let tenant = s.store.tenant_by_name("default").await.unwrap().unwrap().id;
    let file = s
        .data_dir()
        .join("export-files")
        .join(tenant.0.to_string())
        .join(format!("{id}.1"));
    assert!(file.exists());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Deleted by a sweep once the download grace has passed too (the store's contract
    // suite covers that); from the moment it expires, nothing serves it.
    let job = s.get_json(&s.admin_key, &format!("/v1/exports/{id}")).await;
    assert_eq!(job["state"], "expired");
    expect_error(
        s.get(&s.admin_key, &format!("/v1/exports/{id}/download"))
            .await,
        StatusCode::GONE,
        "gone",
    )
    .await;
    s.stop().await;
}

/// `serde` reads a struct from an array of its members in order; a body such as `[null,
/// null]` (or `[365, false]` for a retention) must be refused, never read as fields and acted
/// on. Found by the OpenAPI fuzzing run.
#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_rather_than_read_as_fields() {
    let s = TestServer::start().await;
    for (method, path, body, code) in [
        (
            reqwest::Method::POST,
            "/v1/exports",
            "[null, null]",
            "invalid_json",
        ),
        (
            reqwest::Method::PUT,
            "/v1/settings/retention",
            "[365, false]",
            "malformed_json",
        ),
        (
            reqwest::Method::PUT,
            "/v1/settings/legal-hold",
            "[true]",
            "malformed_json",
        ),
        (
            reqwest::Method::POST,
            "/v1/keys",
            r#"["k", ["read"]]"#,
            "malformed_json",
        ),
    ] {
        let answer = s
            .client
            .request(method.clone(), format!("{}{path}", s.url))
            .bearer_auth(&s.admin_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let error = expect_error(answer, StatusCode::BAD_REQUEST, code).await;
        assert!(
            error["message"].as_str().unwrap().contains("JSON object"),
            "{method} {path}: {error}"
        );
    }
    let jobs = s.get_json(&s.admin_key, "/v1/exports").await;
    assert_eq!(jobs["jobs"], json!([]), "no job was queued");
    let settings = s.get_json(&s.admin_key, "/v1/settings").await;
    assert_eq!(settings["legal_hold"], false);
}

/// Attempt `n` of a job.
fn attempt(tenant: TenantId, id: uuid::Uuid, n: u32) -> JobAttempt {
    JobAttempt {
        tenant,
        id,
        attempt: n,
    }
}

/// An auditor exports one person's trail, then that person is erased: the job list must not
/// keep naming them (its label and filters are shown for a week after), and the withdrawn
/// job's filters name the pseudonym the log now shows instead.
#[tokio::test]
async fn an_erasure_rewrites_the_subject_out_of_the_job_list() {
    let s = TestServer::start().await;
    let subject = "u-zoe-1042";
    let events: Vec<Value> = (0..6)
        .map(|i| event("doc.updated", if i % 2 == 0 { subject } else { "u-bob-77" }))
        .collect();
    let r = s
        .post_events(&s.admin_key, &json!({ "events": events }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let job = create(
        &s,
        &s.admin_key,
        json!({
            "name": format!("Access review {subject}"),
            "format": "csv",
            "filters": { "actor": subject },
        }),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    let (_, done) = wait_finished(&s, &s.admin_key, &id).await;
    assert_eq!(
        (done["state"].as_str(), done["rows"].as_u64()),
        (Some("ready"), Some(3))
    );

    let r = s
        .client
        .post(format!("{}/v1/subjects/{subject}/erase", s.url))
        .bearer_auth(&s.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let list = s.get_json(&s.admin_key, "/v1/exports").await;
    assert!(
        !list.to_string().contains(subject),
        "the job list still names the subject: {list}"
    );
    let job = s.get_json(&s.admin_key, &format!("/v1/exports/{id}")).await;
    let pseudonym = job["filters"]["actor"].as_str().unwrap().to_string();
    assert!(pseudonym.starts_with("erased-"), "{job}");
    assert_eq!(job["name"], format!("Access review {pseudonym}"));
    assert_eq!(job["state"], "expired", "withdrawn: {job}");
    let shown = s
        .get_json(&s.admin_key, &format!("/v1/events?actor={pseudonym}"))
        .await;
    assert_eq!(
        shown["total"], 3,
        "the filters now name the subject's entries"
    );
}
