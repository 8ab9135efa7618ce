//! Slows password guessing without letting a stranger lock a real person out — with the same
//! counts on every node, so alternating nodes gains an attacker nothing.
//!
//! Every attempt is charged when it *starts* (checked and recorded in one store transaction,
//! [`sealtrail_store::SignInAttempts`]), so guesses sent all at once, to one node or to many,
//! cannot slip under a limit before the first slow password check ends; a successful
//! sign-in, or an attempt that was never checked, is refunded. Three limits apply:
//!
//! * **per (account, address)**: [`PER_PAIR`] failures in [`WINDOW`], then that address waits —
//!   only that address, so a guesser elsewhere cannot lock the real user out;
//! * **per address**: [`PER_ADDRESS`] attempts in [`WINDOW`] across all accounts (an office
//!   sharing one address signs in fine: successes are refunded);
//! * **per account, from unfamiliar addresses**: after [`ACCOUNT_FREE`] failures in [`WINDOW`]
//!   from anywhere, each further attempt must wait a delay that doubles with every failure (1 s,
//!   2 s, 4 s, … up to [`MAX_DELAY`]) — this caps a distributed guesser at a few guesses an hour.
//!   Addresses the account signed in from in the last [`KNOWN_FOR`] are exempt, so its owner
//!   keeps signing in from their usual places during such an attack.
//!
//! The counters are named by keyed hashes of the account and address (a key derived from the
//! deployment's pseudonym key), so the database holds no e-mail or address for them. Cost per
//! attempt: one store transaction (on PostgreSQL three advisory locks, three counts and up to
//! three inserts — about a millisecond, against the tens of milliseconds of the Argon2id check
//! it guards), plus one more on success or refund.

use sealtrail_core::Timestamp;
use sealtrail_store::{AttemptRequest, AttemptRule, KeyWindow, PseudonymKey, Store, StoreError};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Failures allowed per (account, address) within [`WINDOW`].
pub const PER_PAIR: u64 = 5;
/// Attempts allowed per client address within [`WINDOW`], across accounts.
pub const PER_ADDRESS: u64 = 30;
/// Failures on one account (from any address) before the growing delay starts.
pub const ACCOUNT_FREE: u64 = 5;
/// The longest delay between attempts on an account under attack.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// How far back attempts count.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long an address stays familiar after a successful sign-in from it.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// The purpose the counters' hashing key is derived for from the pseudonym key.
const KEY_PURPOSE: &str = "sealtrail sign-in throttle v1";

/// The counters' order in every request: what [`decide`] reads.
const ADDRESS: usize = 0;
const PAIR: usize = 1;
const ACCOUNT: usize = 2;

/// Why an attempt may not even be checked, and when it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// How long until an attempt would be accepted.
    pub retry_after: Duration,
    /// Which limit refused it.
    pub limit: Limit,
}

/// The limit behind a [`Refusal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Too many failures for this account from this address.
    AccountAtAddress,
    /// Too many attempts from this address.
    Address,
    /// The account is under attack from unfamiliar addresses: the growing delay.
    AccountDelay,
}

/// An attempt that was let through; report how it ended with [`SignInThrottle::succeeded`]
/// or [`SignInThrottle::refund`] (a failure needs no report: it stays charged).
#[derive(Debug)]
#[must_use]
pub struct Attempt {
    token: [u8; 16],
    pair: Vec<u8>,
    account: Vec<u8>,
    familiar: Vec<u8>,
}

/// Sign-in attempt counts (see the module documentation).
pub struct SignInThrottle {
    store: Arc<dyn Store>,
    key: PseudonymKey,
}

/// The delay an account with `failures` recent failures imposes on unfamiliar addresses.
pub fn account_delay(failures: u64) -> Duration {
    if failures < ACCOUNT_FREE {
        return Duration::ZERO;
    }
    let doublings = (failures - ACCOUNT_FREE).min(20) as u32;
    Duration::from_secs(1u64 << doublings).min(MAX_DELAY)
}

/// Milliseconds between two times, as a duration (zero when `to` is not later).
fn between(from: Timestamp, to: Timestamp) -> Duration {
    Duration::from_millis(u64::try_from(to.0.saturating_sub(from.0)).unwrap_or(0))
}

/// The policy: which counters an attempt at `now` is charged to (address and pair always;
/// the account unless the address is familiar), or which limit refuses it. Pure, so the store
/// can run it inside its transaction and the caller can run it again to explain a refusal.
pub fn decide(
    windows: &[KeyWindow],
    familiar_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<Vec<usize>, Refusal> {
    let window = |i: usize| windows.get(i).copied().unwrap_or_default();
    let until_window_frees = |w: KeyWindow| {
        w.oldest
            .map(|oldest| between(now, oldest.plus(WINDOW)))
            .unwrap_or(Duration::ZERO)
    };
    if window(ADDRESS).count >= PER_ADDRESS {
        return Err(Refusal {
            retry_after: until_window_frees(window(ADDRESS)),
            limit: Limit::Address,
        });
    }
    if window(PAIR).count >= PER_PAIR {
        return Err(Refusal {
            retry_after: until_window_frees(window(PAIR)),
            limit: Limit::AccountAtAddress,
        });
    }
    let familiar = familiar_at.is_some_and(|at| between(at, now) < KNOWN_FOR);
    if familiar {
        return Ok(vec![ADDRESS, PAIR]);
    }
    let account = window(ACCOUNT);
    let delay = account_delay(account.count);
    if let Some(last) = account.newest {
        let ready = last.plus(delay);
        if delay > Duration::ZERO && now < ready {
            return Err(Refusal {
                retry_after: between(now, ready),
                limit: Limit::AccountDelay,
            });
        }
    }
    Ok(vec![ADDRESS, PAIR, ACCOUNT])
}

impl SignInThrottle {
    /// Counts in `store`, naming counters with a key derived from the deployment's pseudonym
    /// key (the same on every node).
    pub fn new(store: Arc<dyn Store>, pseudonym_key: &PseudonymKey) -> Self {
        SignInThrottle {
            store,
            key: PseudonymKey::from_bytes(pseudonym_key.derive(KEY_PURPOSE)),
        }
    }

    fn counter(&self, kind: &str, parts: &[&str]) -> Vec<u8> {
        self.key
            .derive(&format!("{kind}\n{}", parts.join("\n")))
            .to_vec()
    }

    /// Lets an attempt on `account` from `address` start, charging it to every counter, or
    /// says which limit refuses it and for how long.
    pub async fn begin(
        &self,
        account: &str,
        address: IpAddr,
        now: Timestamp,
    ) -> Result<Result<Attempt, Refusal>, StoreError> {
        let ip = address.to_string();
        let keys = vec![
            self.counter("address", &[&ip]),
            self.counter("pair", &[account, &ip]),
            self.counter("account", &[account]),
        ];
        let familiar = self.counter("familiar", &[account, &ip]);
        let token: [u8; 16] = rand::random();
        let rule: AttemptRule =
            Arc::new(move |windows, familiar_at| decide(windows, familiar_at, now).ok());
        let check = self
            .store
            .begin_attempt(AttemptRequest {
                keys: keys.clone(),
                familiar: familiar.clone(),
                since: now.minus(WINDOW),
                now,
                token,
                rule,
            })
            .await?;
        if !check.admitted {
            let refusal = match decide(&check.windows, check.familiar_at, now) {
                Err(refusal) => refusal,
                // The rule refused, so the policy does too; never reached.
                Ok(_) => Refusal {
                    retry_after: Duration::from_secs(1),
                    limit: Limit::Address,
                },
            };
            return Ok(Err(refusal));
        }
        let [_, pair, account]: [Vec<u8>; 3] = keys.try_into().unwrap_or_default();
        Ok(Ok(Attempt {
            token,
            pair,
            account,
            familiar,
        }))
    }

    /// The password was right: the attempt was no guess. Refunds it, forgets the account's
    /// failures (here and from elsewhere) and remembers the address as familiar.
    pub async fn succeeded(&self, attempt: Attempt) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let forget_before = now.minus(KNOWN_FOR);
        self.store
            .attempt_succeeded(
                attempt.token,
                vec![attempt.pair, attempt.account],
                attempt.familiar,
                now,
                forget_before,
            )
            .await
    }

    /// The attempt was never checked (the server was too busy): it counts nowhere.
    pub async fn refund(&self, attempt: Attempt) -> Result<(), StoreError> {
        self.store.refund_attempt(attempt.token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, last])
    }

    fn throttle() -> (tempfile::TempDir, SignInThrottle) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::stores::open_embedded(dir.path()).unwrap();
        (dir, SignInThrottle::new(store, &PseudonymKey::generate()))
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp(1_800_000_000_000 + seconds * 1000)
    }

    #[tokio::test]
    async fn an_address_is_limited_on_an_account_without_locking_out_others() {
        let (_dir, t) = throttle();
        // The real user signed in from home before.
        let home = t.begin("acme:zoe", ip(9), at(0)).await.unwrap().unwrap();
        t.succeeded(home).await.unwrap();
        for i in 1..=PER_PAIR as i64 {
            // Failures stay charged.
            let _ = t.begin("acme:zoe", ip(1), at(i)).await.unwrap().unwrap();
        }
        let refused = t
            .begin("acme:zoe", ip(1), at(5))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.limit, Limit::AccountAtAddress);
        assert_eq!(refused.retry_after, WINDOW - Duration::from_secs(4));
        // The real user, from the address she always uses, is not locked out (the success
        // was recorded just now, so it is familiar).
        let from_home = t
            .begin("acme:zoe", ip(9), Timestamp::now())
            .await
            .unwrap()
            .unwrap();
        t.succeeded(from_home).await.unwrap();
    }

    #[test]
    fn unfamiliar_addresses_wait_a_doubling_delay_after_the_free_failures() {
        let now = at(100);
        let failing = |count, newest| KeyWindow {
            count,
            oldest: Some(at(0)),
            newest: Some(newest),
        };
        let none = KeyWindow::default();
        let refused = decide(&[none, none, failing(ACCOUNT_FREE, now)], None, now).unwrap_err();
        assert_eq!(refused.limit, Limit::AccountDelay);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        let later = at(101);
        assert_eq!(
            decide(&[none, none, failing(ACCOUNT_FREE, now)], None, later),
            Ok(vec![ADDRESS, PAIR, ACCOUNT])
        );
        let refused = decide(&[none, none, failing(ACCOUNT_FREE + 1, now)], None, now).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(2));
        // The owner's familiar address is never delayed, nor charged to the account.
        assert_eq!(
            decide(
                &[none, none, failing(ACCOUNT_FREE + 9, now)],
                Some(at(50)),
                now
            ),
            Ok(vec![ADDRESS, PAIR])
        );
        let stale = now.minus(KNOWN_FOR);
        assert!(decide(
            &[none, none, failing(ACCOUNT_FREE + 9, now)],
            Some(stale),
            now
        )
        .is_err());
        assert_eq!(account_delay(ACCOUNT_FREE + 40), MAX_DELAY);
    }

    #[tokio::test]
    async fn concurrent_attempts_are_charged_as_they_start_and_refunds_undo_them() {
        let (_dir, t) = throttle();
        let t = Arc::new(t);
        let now = at(0);
        let mut tasks = Vec::new();
        for i in 0..PER_ADDRESS * 2 {
            let t = t.clone();
            tasks.push(tokio::spawn(async move {
                t.begin(&format!("acme:user{i}"), ip(7), now)
                    .await
                    .unwrap()
                    .ok()
            }));
        }
        let mut started = Vec::new();
        for task in tasks {
            if let Some(a) = task.await.unwrap() {
                started.push(a);
            }
        }
        assert_eq!(
            started.len() as u64,
            PER_ADDRESS,
            "the rest are refused before any check"
        );
        let refused = t
            .begin("acme:someone", ip(7), now)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.limit, Limit::Address);
        for a in started {
            t.refund(a).await.unwrap();
        }
        assert!(t.begin("acme:someone", ip(7), now).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn the_store_holds_no_account_or_address() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::stores::open_embedded(dir.path()).unwrap();
        let t = SignInThrottle::new(store.clone(), &PseudonymKey::generate());
        let a = t
            .begin("acme:zoe@example.org", ip(9), at(0))
            .await
            .unwrap()
            .unwrap();
        t.succeeded(a).await.unwrap();
        drop((t, store));
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                bytes.extend(std::fs::read(path).unwrap());
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("zoe@example.org") && !text.contains("203.0.113.9"));
    }
}
