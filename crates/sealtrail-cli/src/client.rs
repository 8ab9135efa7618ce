//! The HTTP side shared by `ingest` and `query`: where the server is, the key, and turning the
//! server's JSON errors into messages a person can act on.

use anyhow::Context as _;
use clap::Args;
use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Where the server is and which key to use.
#[derive(Debug, Args)]
pub struct Connection {
    /// Base URL of the Sealtrail server.
    #[arg(long, env = "SEALTRAIL_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key (printed by the first `serve`, or made with `keys create`).
    #[arg(long, env = "SEALTRAIL_KEY", hide_env_values = true)]
    pub key: String,
}

impl Connection {
    /// The full URL of an API path, tolerating a trailing slash on `--url`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.url.trim_end_matches('/'), path)
    }
}

/// A client with sane timeouts; the CLI never hangs forever on a dead server.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(120))
        .user_agent(concat!("sealtrail-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

/// The server's `{"error": {...}}` body, rendered as "code: message (field ...)".
pub fn describe_error(status: StatusCode, body: &Value) -> String {
    let error = &body["error"];
    let code = error["code"].as_str().unwrap_or("error");
    let message = error["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string());
    let mut text = format!("{} {code}: {message}", status.as_u16());
    if let Some(field) = error["field"].as_str().filter(|f| !f.is_empty()) {
        text.push_str(&format!(" (field `{field}`)"));
    }
    text
}

/// Reads a JSON body, failing with the server's own error message on a non-2xx status.
pub async fn json_or_error(response: Response) -> anyhow::Result<Value> {
    let status = response.status();
    let bytes = response.bytes().await.context("reading the response")?;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        Value::String(String::from_utf8_lossy(&bytes).chars().take(500).collect())
    });
    if status.is_success() {
        Ok(body)
    } else {
        anyhow::bail!("server answered {}", describe_error(status, &body))
    }
}
