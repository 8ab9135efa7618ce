//! Two real `sealtrail serve` nodes on one real PostgreSQL database, reached through a
//! round-robin client as a load balancer would spread requests: export jobs and the sign-in
//! throttle behave exactly as on one node — any node answers a job's status, list and
//! download; a job whose node died (left behind in the database, or SIGKILLed mid-export) is
//! run by another; five wrong passwords are five across the deployment, not five per node.

use crate::common::{get_json, post_batch, Served};
use crate::pg_nodes::start_nodes;
use reqwest::{Client, Response, StatusCode};
use sealtrail_core::entry::Actor;
use sealtrail_export::Format;
use sealtrail_service::jobs::JobSpec;
use sealtrail_testkit::pg_harness;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Sends each request to the next node in turn.
struct RoundRobin {
    urls: Vec<String>,
    next: AtomicUsize,
    client: Client,
}

impl RoundRobin {
    fn new(nodes: &[Served]) -> Self {
        RoundRobin {
            urls: nodes.iter().map(|n| n.url.clone()).collect(),
            next: AtomicUsize::new(0),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    fn node(&self) -> &str {
        &self.urls[self.next.fetch_add(1, Ordering::SeqCst) % self.urls.len()]
    }

    async fn get(&self, key: &str, path: &str) -> Response {
        let url = format!("{}{path}", self.node());
        self.client.get(url).bearer_auth(key).send().await.unwrap()
    }

    async fn get_json(&self, key: &str, path: &str) -> Value {
        let r = self.get(key, path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    /// Queues an export of the `docs` channel through `node`; returns the job's id.
    async fn submit(&self, node: &str, key: &str, format: &str) -> String {
        let r = self
            .client
            .post(format!("{node}/v1/exports"))
            .bearer_auth(key)
            .json(&json!({ "format": format, "filters": { "channel": "docs" } }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn sign_in(&self, password: &str) -> Response {
        let node = self.node().to_string();
        self.client
            .post(format!("{node}/signin"))
            .header("origin", &node)
            .form(&[
                ("workspace", "default"),
                ("email", "admin@localhost"),
                ("password", password),
                ("next", ""),
            ])
            .send()
            .await
            .unwrap()
    }
}

/// Polls a job through the balancer until it is ready (every node asked in turn).
async fn wait_ready(lb: &RoundRobin, key: &str, id: &str, within: Duration) -> Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let job = lb.get_json(key, &format!("/v1/exports/{id}")).await;
        match job["state"].as_str() {
            Some("ready") => return job,
            Some("queued" | "running") => {}
            other => panic!("job {id} ended {other:?}: {job}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} not ready: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Downloads a job from every node; all must serve the same bytes.
async fn download_everywhere(lb: &RoundRobin, key: &str, id: &str) -> String {
    let mut bodies = Vec::new();
    for _ in 0..lb.urls.len() {
        let r = lb.get(key, &format!("/v1/exports/{id}/download")).await;
        assert_eq!(r.status(), StatusCode::OK);
        bodies.push(r.text().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every node serves the same file"
    );
    bodies.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn export_jobs_are_the_deployments_not_a_nodes() {
    let server = pg_harness::require_shared();
    let database = server.create_database().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (nodes, key) = start_nodes(&database, &[a.path(), b.path()], &[]);
    let lb = RoundRobin::new(&nodes);
    let events: Vec<Value> = (0..40)
        .map(|i| json!({ "action": "doc.updated", "channel": "docs", "description": format!("edit {i}"), "actor": { "id": format!("u{}", i % 3) } }))
        .collect();
    post_batch(&nodes[0].url, &key, events).await;

    // Submitted through one node; every status, list and download goes through the balancer.
    let node = lb.node().to_string();
    let id = lb.submit(&node, &key, "csv").await;
    let job = wait_ready(&lb, &key, &id, Duration::from_secs(30)).await;
    assert_eq!(job["rows"], 40);
    for _ in 0..lb.urls.len() {
        let list = lb.get_json(&key, "/v1/exports").await;
        assert_eq!(list["jobs"][0]["id"], id.as_str(), "listed on every node");
    }
    let csv = download_everywhere(&lb, &key, &id).await;
    assert_eq!(csv.lines().count(), 41, "header and 40 rows");

    // A node died while it ran a job a minute ago, leaving half a file: the job must not stay
    // "running" — a live node takes it over and runs it whole.
    let spec = JobSpec {
        name: "orphaned".into(),
        format: Format::Csv,
        filters: json!({ "channel": "docs" }),
        params: vec![("channel".into(), "docs".into())],
        file_name: "audit-log-orphaned.csv".into(),
        actor: Actor::system("test"),
    };
    let orphan = sealtrail_service::jobs::JobId::new().to_string();
    let (url, id_, spec) = (database.clone(), orphan.clone(), spec.to_json());
    tokio::task::spawn_blocking(move || {
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let now = sealtrail_core::Timestamp::now().millis();
    db.execute(
        "INSERT INTO export_jobs (tenant, id, state, spec, node, attempt, heartbeat_at,
                                  row_count, byte_count, created_at, started_at)
         SELECT id, $1, 'running', $2, 'dead-node', 1, $3, 7, 9, $3, $3 FROM tenants WHERE name = 'default'",
        &[&id_, &spec, &(now - 60_000)],
    )
    .unwrap();
    db.execute(
        "INSERT INTO export_files (tenant, job, start, data)
         SELECT id, $1, 0, 'half a fi'::bytea FROM tenants WHERE name = 'default'",
        &[&id_],
    )
    .unwrap();
    })
    .await
    .unwrap();
    let job = wait_ready(&lb, &key, &orphan, Duration::from_secs(40)).await;
    assert_eq!(job["rows"], 40, "{job}");
    let csv = download_everywhere(&lb, &key, &orphan).await;
    assert!(!csv.contains("half a fi"));
    assert_eq!(csv.lines().count(), 41);
    let (url, id_) = (database.clone(), orphan.clone());
    let (attempt, node) = tokio::task::spawn_blocking(move || {
        let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let row = db
            .query_one(
                "SELECT attempt, node FROM export_jobs WHERE id = $1",
                &[&id_],
            )
            .unwrap();
        (row.get::<_, i32>(0), row.get::<_, Option<String>>(1))
    })
    .await
    .unwrap();
    assert_eq!(attempt, 2, "run again, once");
    assert_eq!(node, None);
    for node in nodes {
        node.stop_cleanly();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_wrong_passwords_are_five_across_the_deployment() {
    let server = pg_harness::require_shared();
    let database = server.create_database().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (nodes, _key) = start_nodes(&database, &[a.path(), b.path()], &[]);
    let password = nodes[0].owner_password.clone().unwrap();
    let lb = RoundRobin::new(&nodes);

    for i in 0..5 {
        let r = lb.sign_in(&format!("guess {i}")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    // Whichever node answers next, the limit is already reached — even for the right
    // password, as on one node: the address must wait for the window.
    for _ in 0..lb.urls.len() {
        let r = lb.sign_in(&password).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait > 60, "waits for the window: {wait} s");
    }
    for node in nodes {
        node.stop_cleanly();
    }
}

/// The state and node of a job, read from the database as an operator would.
async fn job_row(database: &str, id: &str) -> (String, Option<String>, i32) {
    let (url, id) = (database.to_string(), id.to_string());
    tokio::task::spawn_blocking(move || {
        let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let row = db
            .query_one(
                "SELECT state, node, attempt FROM export_jobs WHERE id = $1",
                &[&id],
            )
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_whose_node_is_killed_mid_export_is_finished_by_another() {
    let server = pg_harness::require_shared();
    let database = server.create_database().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut nodes, key) = start_nodes(&database, &[a.path(), b.path()], &[]);
    // Enough entries that a PDF report of them takes seconds, so the kill lands mid-export.
    for batch in 0..60 {
        let events: Vec<Value> = (0..500)
            .map(|i| json!({ "action": "doc.updated", "channel": "docs", "description": format!("edit {batch}-{i}"), "actor": { "id": format!("u{}", i % 50) } }))
            .collect();
        post_batch(&nodes[batch % 2].url, &key, events).await;
    }
    let lb = RoundRobin::new(&nodes);
    let id = lb.submit(&nodes[0].url, &key, "pdf").await;

    // Whichever node took it, kill that node while it runs.
    let runner = loop {
        match job_row(&database, &id).await {
            (state, Some(node), _) if state == "running" => break node,
            (state, _, _) if state == "queued" => {}
            other => panic!("the job ended before it could be interrupted: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let ids = [a.path(), b.path()].map(|dir| {
        std::fs::read_to_string(dir.join(sealtrail_service::node_id::FILE_NAME))
            .unwrap()
            .trim()
            .to_string()
    });
    let killed = ids.iter().position(|n| *n == runner).unwrap();
    nodes.remove(killed).sigkill();
    let survivor = nodes.remove(0);

    // The survivor's sweep finds it silent and runs it again, whole.
    let client = Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let job = loop {
        let job = get_json(&survivor.url, &key, &format!("/v1/exports/{id}")).await;
        if job["state"] == "ready" {
            break job;
        }
        assert!(
            job["state"] == "queued" || job["state"] == "running",
            "{job}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "never finished: {job}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(job["rows"], 30_000, "{job}");
    let (_, node, attempt) = job_row(&database, &id).await;
    assert_eq!((node, attempt), (None, 2), "taken over once");
    let pdf = client
        .get(format!("{}/v1/exports/{id}/download", survivor.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF") && pdf.trim_ascii_end().ends_with(b"%%EOF"));
    assert_eq!(pdf.len() as u64, job["bytes"].as_u64().unwrap());
    survivor.stop_cleanly();
}
