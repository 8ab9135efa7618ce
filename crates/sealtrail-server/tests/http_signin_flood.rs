//! 150 simultaneous wrong passwords from 150 addresses for 150 accounts (no throttle limit
//! applies): password
//! checks are capped, the overflow is answered 429 before any hashing, and the process does not
//! grow by Argon2's 19 MiB per guess. Its own test binary, so the peak memory it reads is this
//! test's alone.

// Tests may unwrap: a failing unwrap is a failing test (the workspace denies it elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Its own process: sign-in work (Argon2) is limited per process, and these tests measure
// exactly those limits, which tests running beside them in one binary would share.
#[path = "it/common/mod.rs"]
mod common;

use common::web::*;
use common::TestServer;
use futures::future::join_all;
use reqwest::StatusCode;
use sealtrail_core::users::Role;
use std::net::IpAddr;

/// This process's peak resident memory so far, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_sign_ins_neither_exhausts_memory_nor_stops_the_server() {
    let s = TestServer::start().await;
    let (zoe, zoe_pw) = make_user(&s, Role::Admin, "zoe@example.com").await;
    // Warm up: checks against a real and a missing account (its decoy hash is made once), so
    // the slots' memory exists before the baseline.
    Browser::signed_in(&s, &zoe.email, &zoe_pw).await;
    let mut b = Browser::new(&s);
    b.sign_in("default", "warm-up@example.com", "x").await;
    let before = peak_rss_mib();

    let pages = join_all((0..150u8).map(|i| {
        let mut b = Browser::from_address(&s, IpAddr::from([127, 0, 1, i + 1]));
        // Distinct accounts and addresses: no throttle limit applies, only the check cap.
        let email = format!("user{i}@example.com");
        async move { b.sign_in("default", &email, &format!("guess {i}")).await }
    }))
    .await;
    let grown = peak_rss_mib().saturating_sub(before);
    eprintln!("peak RSS grew by {grown} MiB");

    let checked = pages
        .iter()
        .filter(|p| p.status == StatusCode::UNAUTHORIZED)
        .count();
    let busy: Vec<&Page> = pages
        .iter()
        .filter(|p| p.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(checked + busy.len(), 150, "every guess was answered");
    assert!(!busy.is_empty(), "nothing was refused before hashing");
    assert!(busy.iter().all(|p| p.headers.contains_key("retry-after")));
    // Without the cap this was 150 × 19 MiB (and kept); with it, a few slots' worth at most.
    assert!(
        grown < 120,
        "the process grew by {grown} MiB during the flood"
    );
    assert_eq!(audited(&s, "auth.sign_in_failed").await.len(), checked + 1);
    // Still serving, and the owner still signs in.
    Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    s.stop().await;
}
