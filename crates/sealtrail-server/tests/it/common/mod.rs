//! A real server on a loopback port over a real SQLite file, for HTTP-level tests.

#![allow(dead_code)]

pub mod web;

use reqwest::{Client, Response, StatusCode};
use sealtrail_core::entry::Actor;
use sealtrail_core::keys::Scope;
use sealtrail_core::TenantId;
use sealtrail_server::{start_with_store, RunningServer, ServerConfig};
use sealtrail_service::stores::open_embedded as open_store;
use sealtrail_service::tenants;
use sealtrail_store::Store;
use serde_json::{json, Value};
use std::sync::Arc;

/// One running server with its data dir, store handle and the bootstrap admin key.
pub struct TestServer {
    pub url: String,
    pub admin_key: String,
    /// E-mail of the owner first start created (`admin@localhost`), who signs in to the page.
    pub owner_email: String,
    /// That owner's generated password.
    pub owner_password: String,
    pub store: Arc<dyn Store>,
    pub client: Client,
    server: Option<RunningServer>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        // No nightly prune: a test running across 03:00 UTC would see its `retention.pruned`
        // entry land among the entries it counts (tests prune explicitly).
        config.prune_at = None;
        configure(&mut config);
        let store = open_store(dir.path()).unwrap();
        let server = start_with_store(config, store.clone()).await.unwrap();
        let bootstrap = server.bootstrap().expect("fresh dir bootstraps").clone();
        TestServer {
            url: server.url(),
            admin_key: bootstrap.admin_key,
            owner_email: bootstrap.owner_email,
            owner_password: bootstrap.owner_password,
            store,
            client: Client::new(),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Starts a server on a store a test prepared (and bootstrapped) in `dir`, as a restart
    /// would find it; the owner's password is not known to such a test.
    pub async fn start_on(
        dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        admin_key: String,
    ) -> Self {
        let mut config =
            ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        config.prune_at = None;
        let server = start_with_store(config, store.clone()).await.unwrap();
        TestServer {
            url: server.url(),
            admin_key,
            owner_email: String::new(),
            owner_password: String::new(),
            store,
            client: Client::new(),
            server: Some(server),
            _dir: dir,
        }
    }

    /// The directory holding the server's database and files.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Lifts the default tenant's rate limits, for tests that load the server on purpose (call
    /// before the first request: the server caches limits for a few seconds).
    pub async fn lift_limits(&self) {
        let tenant = self.store.tenant_by_name("default").await.unwrap().unwrap();
        self.store
            .set_limits(tenant.id, sealtrail_store::TenantLimits::UNLIMITED)
            .await
            .unwrap();
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }

    /// Creates another tenant with a key holding `scopes`; returns (tenant id, key).
    pub async fn tenant_with_key(&self, name: &str, scopes: &[Scope]) -> (TenantId, String) {
        let actor = Actor::system("test");
        let tenant = match self.store.tenant_by_name(name).await.unwrap() {
            Some(t) => t,
            None => tenants::create_tenant(self.store.as_ref(), name, &actor)
                .await
                .unwrap(),
        };
        let key =
            tenants::create_api_key(self.store.as_ref(), tenant.id, "test key", scopes, &actor)
                .await
                .unwrap();
        (tenant.id, key.plaintext)
    }

    /// A key for the default tenant with exactly `scopes`.
    pub async fn key(&self, scopes: &[Scope]) -> String {
        self.tenant_with_key("default", scopes).await.1
    }

    pub async fn post_events(&self, key: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}/v1/events", self.url))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_raw(&self, key: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(format!("{}/v1/events", self.url))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// A `POST /v1/events` by the admin key that announces `content_length` bytes and sends
    /// only the first: the request stays in progress (holding whatever it reserved) until the
    /// stream is dropped.
    pub async fn ingest_in_progress(&self, content_length: u64) -> tokio::net::TcpStream {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(self.url.trim_start_matches("http://"))
            .await
            .unwrap();
        let head = format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n{{",
            self.admin_key
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream
    }

    pub async fn get(&self, key: &str, path_and_query: &str) -> Response {
        self.client
            .get(format!("{}{}", self.url, path_and_query))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// The `/metrics` exposition as text (answered 200).
    pub async fn metrics_text(&self) -> String {
        let answer = self
            .client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::OK);
        answer.text().await.unwrap()
    }

    pub async fn get_json(&self, key: &str, path_and_query: &str) -> Value {
        let r = self.get(key, path_and_query).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path_and_query}");
        r.json().await.unwrap()
    }
}

/// A minimal valid event.
pub fn event(action: &str, actor: &str) -> Value {
    json!({
        "action": action,
        "channel": "hardware",
        "description": format!("{actor} did {action}"),
        "actor": { "id": actor, "name": actor, "email": format!("{actor}@example.com") },
        "targets": [{ "type": "hardware", "id": "142", "name": "Laptop 142" }],
    })
}

/// Asserts a 4xx JSON error with the given status and code, returning its `error` object.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "errors are RFC 9457 problem documents"
    );
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    // The problem members say the same as the earlier `error` object.
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], status.as_u16(), "body: {body}");
    assert_eq!(body["detail"], body["error"]["message"], "body: {body}");
    assert_eq!(body["type"], "about:blank");
    assert!(body["title"].is_string());
    body["error"].clone()
}
