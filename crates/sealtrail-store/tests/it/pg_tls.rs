//! Encrypted connections to a real PostgreSQL with TLS on (certificate from a throwaway CA):
//! with the CA given, the store connects encrypted and verified; without it the unknown issuer
//! is refused rather than trusted; plain text only when the URL asks for it.

use sealtrail_store::pg::{PgOptions, PgStore};
use sealtrail_store::{Directory, EventLog};
use sealtrail_store::{Store, StoreError};
use sealtrail_testkit::pg_harness::PgServer;
use std::process::Command;

/// How many of the server's client connections are encrypted, asked through `psql`.
fn encrypted_connections(server: &PgServer, url: &str) -> u64 {
    let out = Command::new("psql")
        .args([
            url,
            "-At",
            "-c",
            "SELECT count(*) FROM pg_stat_ssl WHERE ssl AND pid <> pg_backend_pid()",
        ])
        .env("PGSSLMODE", "disable")
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = server;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_encrypted_and_the_certificate_verified() {
    let server = PgServer::start().expect("start a private PostgreSQL");
    let ca = server.enable_tls().expect("turn TLS on");
    let url = server.create_database().expect("create a database");

    let verified = PgStore::connect(
        &format!("{url}?sslmode=require"),
        PgOptions {
            ca_file: Some(ca.clone()),
            ..PgOptions::default()
        },
    )
    .await
    .expect("connect over verified TLS");
    let t = verified
        .create_tenant("acme")
        .await
        .expect("a write over TLS");
    assert!(verified.health().await.is_ok());
    assert!(verified.log_size(t.id).await.is_ok());
    let plain_url = format!("{url}?sslmode=disable");
    assert!(
        encrypted_connections(&server, &plain_url) >= 2,
        "the writer and the pool connect encrypted"
    );
    drop(verified);

    // Mozilla's roots do not include the test CA: the certificate is refused, not trusted.
    let unverified =
        PgStore::connect(&format!("{url}?sslmode=require"), PgOptions::default()).await;
    match unverified {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.to_lowercase().contains("certificate"), "{message}")
        }
        Err(other) => panic!("expected a certificate refusal, got {other}"),
        Ok(_) => panic!("a certificate from an unknown CA was trusted"),
    }

    // Plain text only when the URL says so.
    let plain = PgStore::connect(&plain_url, PgOptions::default()).await;
    assert!(plain.is_ok(), "sslmode=disable connects in plain text");
}
