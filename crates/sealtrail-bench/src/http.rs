//! The benchmark's HTTP client: keep-alive connections, one per simulated client, so latency
//! is the server's and the loopback's, never a connection handshake.

use crate::error::BenchError;
use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use std::time::{Duration, Instant};

/// One simulated client: its own connection pool holding one keep-alive connection.
#[derive(Clone)]
pub struct Api {
    base: String,
    client: Client,
}

impl Api {
    /// A client of the server at `base`.
    pub fn new(base: &str) -> Result<Api, BenchError> {
        let client = Client::builder()
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| BenchError::Http(format!("building the HTTP client: {e}")))?;
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            client,
        })
    }

    fn auth(key: &str) -> Result<HeaderValue, BenchError> {
        HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|e| BenchError::Http(format!("API key is not a header value: {e}")))
    }

    /// `POST /v1/events` with a prepared body; `Ok` only for a 2xx answer with nothing
    /// rejected, so a benchmark never counts refused events as ingested.
    pub async fn ingest(
        &self,
        key: &str,
        body: Bytes,
        idempotency_key: &str,
    ) -> Result<(), BenchError> {
        let answer = self.try_ingest(key, body, idempotency_key).await?;
        // 207 means some events were rejected: a failure for a benchmark.
        if answer.status != StatusCode::OK && answer.status != StatusCode::CREATED {
            return Err(BenchError::Http(format!(
                "POST /v1/events answered {}: {}",
                answer.status, answer.text
            )));
        }
        Ok(())
    }

    /// `POST /v1/events`, returning whatever the server answered (for scenarios where a
    /// refusal is an expected outcome, such as overload).
    pub async fn try_ingest(
        &self,
        key: &str,
        body: Bytes,
        idempotency_key: &str,
    ) -> Result<IngestAnswer, BenchError> {
        let response = self
            .client
            .post(format!("{}/v1/events", self.base))
            .header(AUTHORIZATION, Api::auth(key)?)
            .header(CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", idempotency_key)
            .body(body)
            .send()
            .await
            .map_err(|e| BenchError::Http(format!("POST /v1/events: {}", with_causes(&e))))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = response
            .text()
            .await
            .map_err(|e| BenchError::Http(format!("reading the ingest answer: {e}")))?;
        Ok(IngestAnswer {
            status,
            retry_after,
            text: text.chars().take(300).collect(),
        })
    }

    /// A GET answered with JSON.
    pub async fn get_json(&self, key: &str, path: &str) -> Result<Value, BenchError> {
        parse_json(path, &self.get_body(key, path).await?)
    }

    /// A GET's whole body, unparsed: what a latency figure times (a client's own decoding
    /// of the answer is not the server's latency; the raw baselines do not decode either).
    pub async fn get_body(&self, key: &str, path: &str) -> Result<bytes::Bytes, BenchError> {
        let response = self.get(key, path).await?;
        response
            .bytes()
            .await
            .map_err(|e| BenchError::Http(format!("GET {path}: reading the body: {e}")))
    }

    /// A DELETE, answered with any success.
    pub async fn delete(&self, key: &str, path: &str) -> Result<(), BenchError> {
        let response = self
            .client
            .delete(format!("{}{path}", self.base))
            .header(AUTHORIZATION, Api::auth(key)?)
            .send()
            .await
            .map_err(|e| BenchError::Http(format!("DELETE {path}: {e}")))?;
        success(response, &format!("DELETE {path}"))
            .await
            .map(|_| ())
    }

    /// A PUT or POST with a JSON body, answered with JSON.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        key: &str,
        path: &str,
        body: &Value,
    ) -> Result<Value, BenchError> {
        let response = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header(AUTHORIZATION, Api::auth(key)?)
            .json(body)
            .send()
            .await
            .map_err(|e| BenchError::Http(format!("{method} {path}: {e}")))?;
        let response = success(response, &format!("{method} {path}")).await?;
        response
            .json()
            .await
            .map_err(|e| BenchError::Http(format!("{method} {path}: reading JSON: {e}")))
    }

    /// Signs in on the web page as a person does (the form posted with a same-origin
    /// `Origin`) and returns the session cookie (`name=value`). The redirect that answers a
    /// sign-in carries the cookie, so it is read here rather than followed.
    pub async fn sign_in(
        &self,
        workspace: &str,
        email: &str,
        password: &str,
    ) -> Result<String, BenchError> {
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| BenchError::Http(format!("building the sign-in client: {e}")))?;
        let response = client
            .post(format!("{}/signin", self.base))
            .header(reqwest::header::ORIGIN, &self.base)
            .form(&[
                ("workspace", workspace),
                ("email", email),
                ("password", password),
                ("next", "/audit"),
            ])
            .send()
            .await
            .map_err(|e| BenchError::Http(format!("POST /signin: {e}")))?;
        let cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("sealtrail_session="))
            .and_then(|v| v.split(';').next())
            .map(str::to_string);
        match (response.status(), cookie) {
            (StatusCode::SEE_OTHER, Some(cookie)) => Ok(cookie),
            (status, _) => Err(BenchError::Http(format!(
                "POST /signin as {email} answered {status} without a session"
            ))),
        }
    }

    /// A page of the web UI with a session cookie, read to its end; `Ok` (the body's length)
    /// only for 200, so a sign-in redirect is never timed as a page.
    pub async fn page(&self, cookie: &str, path: &str) -> Result<usize, BenchError> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .map_err(|e| BenchError::Http(format!("GET {path}: {e}")))?;
        if response.status() != StatusCode::OK
            || response.url().path() != path.split('?').next().unwrap_or(path)
        {
            return Err(BenchError::Http(format!(
                "GET {path} answered {} at {}",
                response.status(),
                response.url().path()
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| BenchError::Http(format!("GET {path}: reading the page: {e}")))?;
        Ok(body.len())
    }

    /// A GET whose answer must be 2xx.
    pub async fn get(&self, key: &str, path: &str) -> Result<Response, BenchError> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(AUTHORIZATION, Api::auth(key)?)
            .send()
            .await
            .map_err(|e| BenchError::Http(format!("GET {path}: {e}")))?;
        success(response, &format!("GET {path}")).await
    }

    /// Streams a download to nowhere, returning (time to first byte, total time, bytes).
    pub async fn download(
        &self,
        key: &str,
        path: &str,
    ) -> Result<(Duration, Duration, u64), BenchError> {
        self.download_into(key, path, &mut std::io::sink()).await
    }

    /// Streams a download into `out`, returning (time to first byte, total time, bytes).
    pub async fn download_into(
        &self,
        key: &str,
        path: &str,
        out: &mut impl std::io::Write,
    ) -> Result<(Duration, Duration, u64), BenchError> {
        let started = Instant::now();
        let mut response = self.get(key, path).await?;
        let mut first_byte = None;
        let mut bytes = 0u64;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| BenchError::Http(format!("GET {path}: reading the body: {e}")))?
        {
            if first_byte.is_none() && !chunk.is_empty() {
                first_byte = Some(started.elapsed());
            }
            out.write_all(&chunk)
                .map_err(BenchError::io(format!("saving GET {path}")))?;
            bytes += chunk.len() as u64;
        }
        let total = started.elapsed();
        Ok((first_byte.unwrap_or(total), total, bytes))
    }
}

/// The response if it is 2xx, else an error quoting the start of its body.
async fn success(response: Response, what: &str) -> Result<Response, BenchError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    Err(BenchError::Http(format!(
        "{what} answered {status}: {}",
        text.chars().take(300).collect::<String>()
    )))
}

/// What `POST /v1/events` answered.
#[derive(Debug, Clone)]
pub struct IngestAnswer {
    /// The HTTP status.
    pub status: StatusCode,
    /// `Retry-After` in whole seconds, when sent.
    pub retry_after: Option<u64>,
    /// The start of the body, for error messages.
    pub text: String,
}

/// An error with its chain of causes ("error sending request" alone says nothing).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A body read by [`Api::get_body`], as JSON.
pub fn parse_json(path: &str, body: &[u8]) -> Result<Value, BenchError> {
    serde_json::from_slice(body)
        .map_err(|e| BenchError::Http(format!("GET {path}: reading JSON: {e}")))
}
