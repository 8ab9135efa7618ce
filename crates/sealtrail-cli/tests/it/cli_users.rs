//! `sealtrail users` as an operator runs it: the real binary on the data directory of a running
//! `serve`, and the real `/signin` form proving what the commands did to who can sign in.

use crate::common::{text, Served, BIN};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const OWNER: &str = "admin@localhost";

/// Runs `sealtrail users …` (or any command) on the data directory, with optional stdin.
fn sealtrail(args: &[&str], dir: &Path, stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("SEALTRAIL_DATA_DIR", dir)
        .env_remove("SEALTRAIL_URL")
        .env_remove("SEALTRAIL_KEY")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

/// Runs a command expected to succeed and returns its stdout.
fn ok(args: &[&str], dir: &Path, stdin: Option<&str>) -> String {
    let out = sealtrail(args, dir, stdin);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs a command expected to fail (exit 1, an `error:` line, no panic) and returns its stderr.
fn fails(args: &[&str], dir: &Path, stdin: Option<&str>) -> String {
    let out = sealtrail(args, dir, stdin);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("stack backtrace"),
        "{args:?}: {err}"
    );
    assert!(text(&out.stdout).is_empty(), "{args:?}: nothing on stdout");
    err
}

/// Starts `serve` on a fresh directory, returning it with the admin key and the owner's
/// first password from the first-start lines.
fn start() -> (tempfile::TempDir, Served, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path());
    let key = served.read_first_key();
    let owner_password = served
        .owner_password
        .clone()
        .expect("the first start prints the owner's password");
    (dir, served, key, owner_password)
}

fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// POSTs the web page's sign-in form; returns the status and whether a session cookie was set.
fn sign_in(url: &str, email: &str, password: &str) -> (u16, bool) {
    let authority = url.strip_prefix("http://").unwrap();
    let body = format!(
        "workspace=default&email={}&password={}",
        form_encode(email),
        form_encode(password)
    );
    let mut stream = TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "POST /signin HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = text(&response);
    let head = response.split("\r\n\r\n").next().unwrap_or("");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let cookie = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("set-cookie: sealtrail_session=")
            .is_some_and(|v| !v.starts_with(';'))
    });
    (status, cookie)
}

fn assert_signs_in(url: &str, email: &str, password: &str) {
    assert_eq!(
        sign_in(url, email, password),
        (303, true),
        "{email} should sign in"
    );
}

fn assert_refused(url: &str, email: &str, password: &str) {
    assert_eq!(
        sign_in(url, email, password),
        (401, false),
        "{email} should not sign in"
    );
}

/// The tenant's audit entries with this action, through `sealtrail query` and the admin key.
fn audit(served: &Served, key: &str, action: &str) -> Vec<serde_json::Value> {
    let out = Command::new(BIN)
        .args(["query", "--format", "json", "--action", action])
        .env("SEALTRAIL_URL", &served.url)
        .env("SEALTRAIL_KEY", key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["entries"].as_array().unwrap().clone()
}

/// The entries of `action` about `email`, each checked to be attributed to the CLI operator.
fn cli_audit(served: &Served, key: &str, action: &str, email: &str) -> Vec<serde_json::Value> {
    let entries: Vec<_> = audit(served, key, action)
        .into_iter()
        .filter(|e| e["targets"][0]["name"] == email)
        .collect();
    for e in &entries {
        assert_eq!(e["channel"], "security", "{e}");
        assert_eq!(e["actor"]["id"], "cli", "{e}");
        assert_eq!(e["actor"]["name"], "Sealtrail CLI", "{e}");
        assert!(
            e["actor"]["via"]
                .as_str()
                .unwrap()
                .starts_with("CLI (OS user"),
            "{e}"
        );
    }
    entries
}

fn has_secret_field(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
            let k = k.to_ascii_lowercase();
            k.contains("password") || k.contains("hash") || has_secret_field(v)
        }),
        serde_json::Value::Array(items) => items.iter().any(has_secret_field),
        _ => false,
    }
}

#[test]
fn created_users_are_listed_and_their_passwords_sign_in() {
    let (dir, served, key, owner_password) = start();
    let d = dir.path();
    let url = served.url.clone();
    assert_signs_in(&url, OWNER, &owner_password);

    let created = sealtrail(
        &[
            "users",
            "create",
            "--email",
            "Ada@Example.com",
            "--name",
            "Ada Lovelace",
            "--role",
            "admin",
        ],
        d,
        None,
    );
    let err = text(&created.stderr);
    assert!(created.status.success(), "{err}");
    let password = text(&created.stdout).trim().to_string();
    assert_eq!(
        text(&created.stdout).lines().count(),
        1,
        "only the password on stdout"
    );
    assert!(password.chars().count() >= 12, "{password}");
    assert!(
        err.contains("ada@example.com") && err.contains("admin") && err.contains("shown only now"),
        "{err}"
    );
    assert!(err.contains("/signin?workspace=default"), "{err}");

    let table = ok(&["users", "list"], d, None);
    let header = table.lines().next().unwrap();
    for column in ["EMAIL", "NAME", "ROLE", "STATUS", "CREATED"] {
        assert!(header.contains(column), "{table}");
    }
    let row = table
        .lines()
        .find(|l| l.starts_with("ada@example.com"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("Ada Lovelace") && row.contains(" admin ") && row.contains(" active "),
        "{row}"
    );
    assert!(
        table.contains(OWNER) && table.contains(" owner "),
        "{table}"
    );
    assert!(
        !table.contains(&password) && !table.contains("$argon2"),
        "{table}"
    );

    let json = ok(&["users", "list", "--json"], d, None);
    let users: serde_json::Value = serde_json::from_str(&json).unwrap();
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 2, "{json}");
    assert!(
        !has_secret_field(&serde_json::Value::from(users.clone())),
        "{json}"
    );
    assert!(
        !json.contains("$argon2") && !json.contains(&password),
        "{json}"
    );
    let ada = users
        .iter()
        .find(|u| u["email"] == "ada@example.com")
        .unwrap();
    assert_eq!(ada["name"], "Ada Lovelace");
    assert_eq!(ada["role"], "admin");
    assert_eq!(ada["status"], "active");
    assert!(ada["id"].as_str().is_some_and(|s| !s.is_empty()), "{ada}");
    assert!(ada["created_at"].as_str().is_some(), "{ada}");

    assert_signs_in(&url, "ada@example.com", &password);
    assert_refused(&url, "ada@example.com", "not-the-right-password");

    // A chosen password from stdin: the 12-character rule, then a good one.
    let short = fails(
        &[
            "users",
            "create",
            "--email",
            "bob@example.com",
            "--role",
            "member",
            "--password-stdin",
        ],
        d,
        Some("short-pw\n"),
    );
    assert!(short.contains("at least 12 characters"), "{short}");
    assert!(
        !ok(&["users", "list"], d, None).contains("bob@example.com"),
        "nothing created"
    );
    let chosen = "correct horse battery staple";
    let bob = sealtrail(
        &[
            "users",
            "create",
            "--email",
            "bob@example.com",
            "--role",
            "member",
            "--password-stdin",
        ],
        d,
        Some(&format!("{chosen}\r\n")),
    );
    assert!(bob.status.success(), "{}", text(&bob.stderr));
    assert!(
        text(&bob.stdout).is_empty(),
        "no password printed when chosen"
    );
    assert!(!text(&bob.stderr).contains(chosen));
    assert_signs_in(&url, "bob@example.com", chosen);

    // Refusals: duplicate e-mail, unknown tenant, bad role, empty stdin.
    let dup = fails(
        &[
            "users",
            "create",
            "--email",
            "ADA@example.com",
            "--role",
            "hr",
        ],
        d,
        None,
    );
    assert!(dup.contains("already exists"), "{dup}");
    let no_tenant = fails(&["users", "list", "--tenant", "nope"], d, None);
    assert!(no_tenant.contains("no tenant named `nope`"), "{no_tenant}");
    let bad_role = fails(
        &[
            "users",
            "create",
            "--email",
            "c@example.com",
            "--role",
            "boss",
        ],
        d,
        None,
    );
    assert!(bad_role.contains("unknown role `boss`"), "{bad_role}");
    let empty = fails(
        &[
            "users",
            "create",
            "--email",
            "c@example.com",
            "--role",
            "hr",
            "--password-stdin",
        ],
        d,
        Some(""),
    );
    assert!(empty.contains("stdin"), "{empty}");

    let created = cli_audit(&served, &key, "user.created", "ada@example.com");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["properties"]["role"], "admin");
    assert_eq!(
        cli_audit(&served, &key, "user.created", "bob@example.com").len(),
        1
    );
    assert_eq!(
        audit(&served, &key, "user.created").len(),
        3,
        "the first owner, ada and bob; no entry for refused attempts"
    );
    served.stop_cleanly();
}

#[test]
fn set_role_checks_roles_and_never_leaves_a_tenant_without_an_owner() {
    let (dir, served, key, _) = start();
    let d = dir.path();
    ok(
        &[
            "users",
            "create",
            "--email",
            "ada@example.com",
            "--role",
            "admin",
        ],
        d,
        None,
    );

    let unknown = fails(
        &["users", "set-role", "ada@example.com", "superuser"],
        d,
        None,
    );
    for role in [
        "owner",
        "super-admin",
        "admin",
        "it-admin",
        "manager",
        "reporter",
        "hr",
        "member",
    ] {
        assert!(unknown.contains(role), "{unknown}");
    }
    let nobody = fails(&["users", "set-role", "nobody@example.com", "hr"], d, None);
    assert!(
        nobody.contains("nobody@example.com") && nobody.contains("users list"),
        "{nobody}"
    );
    let no_tenant = fails(
        &["users", "set-role", OWNER, "admin", "--tenant", "acme"],
        d,
        None,
    );
    assert!(no_tenant.contains("no tenant named `acme`"), "{no_tenant}");

    let last = fails(&["users", "set-role", OWNER, "admin"], d, None);
    assert!(last.contains("last active owner"), "{last}");
    let last = fails(&["users", "deactivate", OWNER], d, None);
    assert!(last.contains("last active owner"), "{last}");
    assert!(
        audit(&served, &key, "user.role_changed").is_empty(),
        "a refused change leaves no entry"
    );

    // By e-mail (any case) and by id.
    let out = ok(&["users", "set-role", "ADA@example.com", "owner"], d, None);
    assert!(out.contains("now owner (was admin)"), "{out}");
    let users: serde_json::Value =
        serde_json::from_str(&ok(&["users", "list", "--json"], d, None)).unwrap();
    let owner_id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == OWNER)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ok(&["users", "set-role", &owner_id, "it_admin"], d, None);
    assert!(out.contains("now it-admin (was owner)"), "{out}");
    let same = ok(&["users", "set-role", OWNER, "it-admin"], d, None);
    assert!(same.contains("already has the role it-admin"), "{same}");
    let table = ok(&["users", "list"], d, None);
    let row = |email: &str| {
        table
            .lines()
            .find(|l| l.starts_with(email))
            .unwrap()
            .to_string()
    };
    assert!(row(OWNER).contains(" it-admin "), "{table}");
    assert!(row("ada@example.com").contains(" owner "), "{table}");
    // Ada is now the only owner, and is protected in turn.
    let last = fails(&["users", "set-role", "ada@example.com", "member"], d, None);
    assert!(last.contains("last active owner"), "{last}");

    let changes = cli_audit(&served, &key, "user.role_changed", "ada@example.com");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["changes"]["before"]["role"], "admin");
    assert_eq!(changes[0]["changes"]["after"]["role"], "owner");
    let changes = cli_audit(&served, &key, "user.role_changed", OWNER);
    assert_eq!(changes.len(), 1, "no entry for a role already held");
    assert_eq!(changes[0]["changes"]["after"]["role"], "it-admin");
    served.stop_cleanly();
}

#[test]
fn deactivated_users_and_replaced_passwords_no_longer_sign_in() {
    let (dir, served, key, owner_password) = start();
    let d = dir.path();
    let url = served.url.clone();
    let ada = ok(
        &[
            "users",
            "create",
            "--email",
            "ada@example.com",
            "--role",
            "reporter",
        ],
        d,
        None,
    )
    .trim()
    .to_string();
    let bob = ok(
        &[
            "users",
            "create",
            "--email",
            "bob@example.com",
            "--role",
            "member",
        ],
        d,
        None,
    )
    .trim()
    .to_string();
    assert_signs_in(&url, "ada@example.com", &ada);

    let out = ok(&["users", "deactivate", "ada@example.com"], d, None);
    assert!(out.contains("can no longer sign in"), "{out}");
    assert_refused(&url, "ada@example.com", &ada);
    let again = ok(&["users", "deactivate", "ada@example.com"], d, None);
    assert!(again.contains("already deactivated"), "{again}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["users", "list", "--json"], d, None)).unwrap();
    let entry = json
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ada@example.com")
        .unwrap()
        .clone();
    assert_eq!(entry["status"], "deactivated");
    assert!(entry["deactivated_at"].is_string(), "{entry}");
    assert!(ok(&["users", "list"], d, None)
        .lines()
        .any(|l| l.starts_with("ada@example.com") && l.contains(" deactivated ")));
    let deactivated = cli_audit(&served, &key, "user.deactivated", "ada@example.com");
    assert_eq!(deactivated.len(), 1, "deactivating twice audits once");

    // A generated new password: printed once on stdout; the old one stops working.
    let reset = sealtrail(&["users", "reset-password", "bob@example.com"], d, None);
    assert!(reset.status.success(), "{}", text(&reset.stderr));
    let new = text(&reset.stdout).trim().to_string();
    assert!(new.chars().count() >= 12 && new != bob, "{new}");
    assert!(text(&reset.stderr).contains("shown only now"));
    assert_refused(&url, "bob@example.com", &bob);
    assert_signs_in(&url, "bob@example.com", &new);

    // A chosen one from stdin, with the same rule as `create`.
    let short = fails(
        &["users", "reset-password", OWNER, "--password-stdin"],
        d,
        Some("2short\n"),
    );
    assert!(short.contains("at least 12 characters"), "{short}");
    assert_signs_in(&url, OWNER, &owner_password);
    let chosen = "a much better passphrase";
    let out = sealtrail(
        &["users", "reset-password", OWNER, "--password-stdin"],
        d,
        Some(&format!("{chosen}\n")),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).is_empty());
    assert_refused(&url, OWNER, &owner_password);
    assert_signs_in(&url, OWNER, chosen);

    let missing = fails(&["users", "reset-password", "carol@example.com"], d, None);
    assert!(missing.contains("carol@example.com"), "{missing}");
    let missing = fails(&["users", "deactivate", "carol@example.com"], d, None);
    assert!(missing.contains("carol@example.com"), "{missing}");

    assert_eq!(
        cli_audit(&served, &key, "user.password_changed", "bob@example.com").len(),
        1
    );
    assert_eq!(
        cli_audit(&served, &key, "user.password_changed", OWNER).len(),
        1,
        "the refused short password left no entry"
    );
    served.stop_cleanly();
}
