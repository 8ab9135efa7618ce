//! A minimal browser for page tests (no redirects followed, one session cookie kept by hand,
//! optional `X-Forwarded-For`, optional local address) and the set-up and audit helpers the
//! web tests share.

#![allow(dead_code)]

use super::TestServer;
use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::{Client, Method, StatusCode};
use sealtrail_core::entry::Actor;
use sealtrail_core::users::{Role, User};
use sealtrail_core::TenantId;
use sealtrail_service::users::{self, Acting};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// A minimal browser: no redirects, one session cookie, optional X-Forwarded-For.
// ---------------------------------------------------------------------------------------------

/// One HTTP response, read completely.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookie(&self) -> Option<&str> {
        self.headers.get(SET_COOKIE).and_then(|v| v.to_str().ok())
    }

    /// Seconds of the `Retry-After` header of a refused sign-in.
    pub fn retry_after(&self) -> u64 {
        self.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        attr_after(&self.body, r#"name="csrf" value=""#)
            .unwrap_or_else(|| panic!("no csrf field in page:\n{}", self.body))
    }

    /// The text of the element with `id` (up to its closing tag), unescaped.
    pub fn text_of(&self, id: &str) -> Option<String> {
        let start = self.body.find(&format!("id=\"{id}\""))?;
        let open_end = start + self.body[start..].find('>')? + 1;
        let close = open_end + self.body[open_end..].find("</")?;
        Some(unescape(&self.body[open_end..close]))
    }

    /// The error banner of the settings, sign-in or audit page.
    pub fn error(&self) -> String {
        ["settings-error", "signin-error", "filter-error"]
            .iter()
            .find_map(|id| self.text_of(id))
            .unwrap_or_default()
    }

    /// The `<option>` values of `<select id=…>` (without the "All …" empty option).
    pub fn options(&self, select_id: &str) -> Vec<String> {
        let start = self
            .body
            .find(&format!("<select id=\"{select_id}\""))
            .unwrap_or_else(|| panic!("no select {select_id}"));
        let end = start + self.body[start..].find("</select>").unwrap();
        let mut values = Vec::new();
        let mut rest = &self.body[start..end];
        while let Some(i) = rest.find("<option value=\"") {
            rest = &rest[i + "<option value=\"".len()..];
            let v = &rest[..rest.find('"').unwrap()];
            if !v.is_empty() {
                values.push(unescape(v));
            }
        }
        values
    }

    /// The entry ids of the table rows, top to bottom.
    pub fn row_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find("<tr class=\"entry\"") {
            rest = &rest[i..];
            ids.push(attr_after(rest, "data-id=\"").unwrap());
            rest = &rest[1..];
        }
        ids
    }

    /// The href of the link with `id`, unescaped.
    pub fn link(&self, id: &str) -> Option<String> {
        let start = self.body.find(&format!("id=\"{id}\""))?;
        let tag_start = self.body[..start].rfind('<')?;
        attr_after(&self.body[tag_start..], "href=\"")
    }
}

/// The (unescaped) attribute value following `prefix` (which ends with the opening quote).
pub fn attr_after(html: &str, prefix: &str) -> Option<String> {
    let start = html.find(prefix)? + prefix.len();
    let end = start + html[start..].find('"')?;
    Some(unescape(&html[start..end]))
}

/// Decodes the character references the template engine writes (`&lt;`, `&#38;`, `&#x27;`…).
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let decoded = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Clone)]
pub struct Browser {
    pub base: String,
    pub client: Client,
    pub cookie: Option<String>,
    pub forwarded_for: Option<String>,
}

impl Browser {
    pub fn new(s: &TestServer) -> Self {
        Browser {
            base: s.url.clone(),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
            forwarded_for: None,
        }
    }

    /// A browser whose connections come from 127.0.0.`last`, one of several real client
    /// addresses on loopback.
    pub fn at_loopback(s: &TestServer, last: u8) -> Self {
        Browser::from_address(s, std::net::IpAddr::from([127, 0, 0, last]))
    }

    /// A browser whose connections come from `local` (any 127.x.y.z address is loopback on
    /// Linux), so tests can sign in from several real client addresses.
    pub fn from_address(s: &TestServer, local: std::net::IpAddr) -> Self {
        Browser {
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(local)
                .build()
                .unwrap(),
            ..Browser::new(s)
        }
    }

    pub fn forwarded_for(&self, ip: Option<&str>) -> Self {
        Browser {
            forwarded_for: ip.map(str::to_string),
            ..self.clone()
        }
    }

    pub fn with_cookie(&self, cookie: Option<String>) -> Self {
        Browser {
            cookie,
            ..self.clone()
        }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(c) = &self.cookie {
            r = r.header("cookie", format!("sealtrail_session={c}"));
        }
        if let Some(ip) = &self.forwarded_for {
            r = r.header("x-forwarded-for", ip);
        }
        r
    }

    pub async fn read(&mut self, r: reqwest::Response) -> Page {
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap();
        let page = Page {
            status,
            headers,
            body,
        };
        // Remember the session like a browser does (a cleared cookie forgets it).
        if let Some(set) = page.set_cookie() {
            if let Some(rest) = set.strip_prefix("sealtrail_session=") {
                let value = rest.split(';').next().unwrap_or("");
                self.cookie = (!value.is_empty()).then(|| value.to_string());
            }
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self.request(Method::GET, path).send().await.unwrap();
        self.read(r).await
    }

    pub async fn get_bytes(&self, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        let r = self.request(Method::GET, path).send().await.unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.bytes().await.unwrap().to_vec())
    }

    /// Posts a form as a browser on this site does: with a same-origin `Origin`.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let origin = self.base.clone();
        self.post_with(path, fields, &[("origin", &origin)]).await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        let mut r = self
            .request(Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.finish());
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let r = r.send().await.unwrap();
        self.read(r).await
    }

    pub async fn sign_in(&mut self, workspace: &str, email: &str, password: &str) -> Page {
        self.sign_in_to(workspace, email, password, "").await
    }

    pub async fn sign_in_to(
        &mut self,
        workspace: &str,
        email: &str,
        password: &str,
        next: &str,
    ) -> Page {
        self.post(
            "/signin",
            &[
                ("workspace", workspace),
                ("email", email),
                ("password", password),
                ("next", next),
            ],
        )
        .await
    }

    /// Signs in and asserts it worked.
    pub async fn signed_in(s: &TestServer, email: &str, password: &str) -> Browser {
        let mut b = Browser::new(s);
        let page = b.sign_in("default", email, password).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "sign-in as {email}: {}",
            page.body
        );
        assert_eq!(page.location(), "/audit");
        assert!(b.cookie.is_some(), "sign-in set no cookie");
        b
    }

    /// This session's CSRF token (from the account page, which every role may open).
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/account").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.csrf()
    }
}

// ---------------------------------------------------------------------------------------------
// Set-up and audit helpers.
// ---------------------------------------------------------------------------------------------

pub async fn tenant(s: &TestServer) -> TenantId {
    s.store.tenant_by_name("default").await.unwrap().unwrap().id
}

pub fn operator() -> Acting {
    Acting::operator(Actor::system("test set-up"))
}

/// Creates a user with a known password (one Argon2 hash).
pub async fn make_user(s: &TestServer, role: Role, email: &str) -> (User, String) {
    let password = format!("correct horse {email}");
    let created = users::create_user(
        s.store.as_ref(),
        tenant(s).await,
        email,
        Some(&format!("User {}", role.as_str())),
        role,
        Some(password.clone()),
        &operator(),
    )
    .await
    .unwrap();
    (created.user, password)
}

pub async fn owner(s: &TestServer) -> User {
    s.store
        .user_by_email(tenant(s).await, &s.owner_email)
        .await
        .unwrap()
        .unwrap()
}

pub async fn set_allowlist(s: &TestServer, entries: &[&str]) {
    users::set_ip_allowlist(
        s.store.as_ref(),
        tenant(s).await,
        entries.iter().map(|e| e.to_string()).collect(),
        None,
        &operator(),
    )
    .await
    .unwrap();
}

pub async fn allowlist(s: &TestServer) -> Vec<String> {
    s.store
        .settings(tenant(s).await)
        .await
        .unwrap()
        .ip_allowlist
}

/// The retention window in days (`null` = forever), read from the store so it works while the
/// API refuses this address.
pub async fn retention_days(s: &TestServer) -> Value {
    match s.store.settings(tenant(s).await).await.unwrap().retention {
        sealtrail_store::Retention::Days(d) => json!(d),
        sealtrail_store::Retention::Forever => Value::Null,
    }
}

/// The tenant's audit entries with `action`, newest first, read through the API.
pub async fn audited(s: &TestServer, action: &str) -> Vec<Value> {
    audited_from(s, action, None).await
}

/// [`audited`], as a client behind a trusted proxy forwarding for `forwarded_for`.
pub async fn audited_from(s: &TestServer, action: &str, forwarded_for: Option<&str>) -> Vec<Value> {
    let path = format!("/v1/events?action={action}&limit=1000");
    let (status, v) = api(s, Method::GET, &s.admin_key, &path, None, forwarded_for).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {v}");
    v["entries"].as_array().unwrap().clone()
}

/// Ingests events through the API and returns their ids.
pub async fn ingest(s: &TestServer, events: Vec<Value>) -> Vec<String> {
    let r = s
        .post_events(&s.admin_key, &json!({ "events": events }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// An API call with an optional `X-Forwarded-For`; returns the status and JSON body (or Null).
pub async fn api(
    s: &TestServer,
    method: Method,
    key: &str,
    path: &str,
    body: Option<Value>,
    forwarded_for: Option<&str>,
) -> (StatusCode, Value) {
    let mut r = s
        .client
        .request(method, format!("{}{}", s.url, path))
        .bearer_auth(key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    if let Some(ip) = forwarded_for {
        r = r.header("x-forwarded-for", ip);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let bytes = r.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
