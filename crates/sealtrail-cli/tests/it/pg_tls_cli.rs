//! `--database-ca` as an operator uses it: against a real PostgreSQL with TLS on, the CLI
//! connects when given the CA that issued the server's certificate, and names the certificate
//! problem when not.

use crate::common::{text, BIN};
use sealtrail_testkit::pg_harness::PgServer;
use std::process::Command;

#[test]
fn the_database_ca_option_verifies_the_servers_certificate() {
    let server = PgServer::start().expect("start a private PostgreSQL");
    let ca = server.enable_tls().expect("turn TLS on");
    let url = format!(
        "{}?sslmode=require",
        server.create_database().expect("a database")
    );
    let dir = tempfile::tempdir().unwrap();

    let create = Command::new(BIN)
        .args([
            "tenants",
            "create",
            "acme",
            "--database",
            &url,
            "--database-ca",
        ])
        .arg(&ca)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(create.status.success(), "{}", text(&create.stderr));

    let refused = Command::new(BIN)
        .args(["tenants", "list", "--database", &url, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "an unknown CA must not be trusted"
    );
    let message = text(&refused.stderr).to_lowercase();
    assert!(message.contains("certificate"), "{message}");
    assert!(
        !message.contains(&server_password(&url)),
        "no password in messages: {message}"
    );
}

/// The password part of a `postgres://user:password@…` URL.
fn server_password(url: &str) -> String {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split('@').next())
        .and_then(|credentials| credentials.split(':').nth(1))
        .unwrap_or("never-empty")
        .to_string()
}
