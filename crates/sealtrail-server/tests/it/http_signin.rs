//! The sign-in throttle against guessers at several real client addresses (127.x.y.z are all
//! loopback): a guesser is stopped at their own address, the real user keeps signing in from
//! theirs, and an account attacked from many addresses makes strangers wait a growing delay.

use crate::common::web::*;
use crate::common::TestServer;
use reqwest::StatusCode;
use sealtrail_core::users::Role;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guesser_elsewhere_cannot_lock_the_real_user_out() {
    let s = TestServer::start().await;
    let (zoe, zoe_pw) = make_user(&s, Role::Admin, "zoe@example.com").await;
    // Zoë works from 127.0.0.3.
    let mut home = Browser::at_loopback(&s, 3);
    let page = home.sign_in("default", &zoe.email, &zoe_pw).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // A guesser at 127.0.0.2 gets five tries, then waits — only there.
    let mut guesser = Browser::at_loopback(&s, 2);
    for i in 0..5 {
        let page = guesser
            .sign_in("default", &zoe.email, &format!("guess {i}"))
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let page = guesser.sign_in("default", &zoe.email, &zoe_pw).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.error().contains("Too many failed sign-ins"));
    assert!(page.retry_after() > 60, "the guesser waits for the window");

    // Zoë, from her usual address, signs in at once.
    let mut home = Browser::at_loopback(&s, 3);
    let page = home.sign_in("default", &zoe.email, &zoe_pw).await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "locked out: {}",
        page.body
    );
    assert_eq!(audited(&s, "auth.sign_in_failed").await.len(), 5);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_from_many_addresses_meet_a_growing_delay_that_passes() {
    let s = TestServer::start().await;
    let (sam, sam_pw) = make_user(&s, Role::Admin, "sam@example.com").await;
    // Five addresses, one guess each: each is under its own limit.
    for last in 10..15 {
        let mut b = Browser::at_loopback(&s, last);
        let page = b.sign_in("default", &sam.email, "not the password").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    // The account now makes unfamiliar addresses wait, and the wait doubles per failure.
    let mut sixth = Browser::at_loopback(&s, 15);
    let page = sixth.sign_in("default", &sam.email, "still guessing").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    let first_wait = page.retry_after();
    assert!((1..=2).contains(&first_wait), "{first_wait}");
    tokio::time::sleep(Duration::from_secs(first_wait)).await;
    let page = sixth.sign_in("default", &sam.email, "still guessing").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    let mut seventh = Browser::at_loopback(&s, 16);
    let page = seventh.sign_in("default", &sam.email, "again").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.retry_after() >= 2, "the delay grew");

    // Sam, from a new address, waits the short delay — minutes, never a lockout — and is in.
    let mut new_place = Browser::at_loopback(&s, 20);
    let wait = new_place
        .sign_in("default", &sam.email, &sam_pw)
        .await
        .retry_after();
    assert!(wait <= 4, "{wait}");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let page = new_place.sign_in("default", &sam.email, &sam_pw).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    // Success forgets the failures: the next stranger starts from nothing.
    let mut later = Browser::at_loopback(&s, 21);
    let page = later.sign_in("default", &sam.email, "wrong").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    s.stop().await;
}
