//! 150 simultaneous guesses from one address: the throttle refuses all but a few before any
//! password is checked, and people elsewhere still sign in. Its own test binary because the
//! password work is process-wide (one bound per process, as in production): a burst here would
//! otherwise answer "busy" to the sign-ins of the other throttle tests running beside it.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_from_one_address_is_refused_before_any_password_is_checked() {
    let s = TestServer::start().await;
    let (zoe, _) = make_user(&s, Role::Admin, "zoe@example.com").await;
    let pages = join_all((0..150).map(|i| {
        let mut b = Browser::at_loopback(&s, 40);
        let email = if i % 2 == 0 {
            zoe.email.clone()
        } else {
            format!("nobody{i}@example.com")
        };
        async move { b.sign_in("default", &email, &format!("guess {i}")).await }
    }))
    .await;
    let checked = pages
        .iter()
        .filter(|p| p.status == StatusCode::UNAUTHORIZED)
        .count();
    let refused: Vec<&Page> = pages
        .iter()
        .filter(|p| p.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(checked + refused.len(), 150);
    assert!(
        checked <= 30,
        "{checked} guesses from one address were checked"
    );
    assert!(refused.iter().all(|p| p.retry_after() >= 1));
    assert_eq!(audited(&s, "auth.sign_in_failed").await.len(), checked);
    // The server is fine, and people elsewhere still sign in.
    Browser::signed_in(&s, &s.owner_email, &s.owner_password).await;
    s.stop().await;
}
