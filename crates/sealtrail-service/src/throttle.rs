//! Slows password guessing without letting a stranger lock a real person out.
//!
//! Every attempt is charged when it *starts* (checked and recorded under one lock), so guesses
//! sent all at once cannot slip under a limit before the first slow password check ends; a
//! successful sign-in, or an attempt that was never checked, is refunded. Three limits apply:
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
//! Counts live in this process's memory: with several nodes each node counts on its own.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Failures allowed per (account, address) within [`WINDOW`].
pub const PER_PAIR: usize = 5;
/// Attempts allowed per client address within [`WINDOW`], across accounts.
pub const PER_ADDRESS: usize = 30;
/// Failures on one account (from any address) before the growing delay starts.
pub const ACCOUNT_FREE: usize = 5;
/// The longest delay between attempts on an account under attack.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// How far back attempts count.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long an address stays familiar after a successful sign-in from it.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Most keys remembered per map; beyond it the stalest are forgotten, so a flood of made-up
/// e-mails or addresses cannot exhaust memory.
const MAX_KEYS: usize = 100_000;

/// What an attempt is counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Pair(String, IpAddr),
    Account(String),
}

#[derive(Debug, Default)]
struct State {
    /// Recent attempt times per key, oldest first.
    attempts: HashMap<Key, VecDeque<Instant>>,
    /// When each (account, address) last signed in successfully.
    known: HashMap<(String, IpAddr), Instant>,
}

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
    account: String,
    address: IpAddr,
    at: Instant,
    /// Whether the account's counter was charged (familiar addresses are not).
    charged_account: bool,
}

/// Sign-in attempt counts (see the module documentation).
#[derive(Debug, Default)]
pub struct SignInThrottle {
    state: Mutex<State>,
}

/// Drops attempts older than the window.
fn expire(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

/// The delay an account with `failures` recent failures imposes on unfamiliar addresses.
pub fn account_delay(failures: usize) -> Duration {
    if failures < ACCOUNT_FREE {
        return Duration::ZERO;
    }
    let doublings = (failures - ACCOUNT_FREE).min(20) as u32;
    Duration::from_secs(1u64 << doublings).min(MAX_DELAY)
}

impl State {
    fn recent(&mut self, key: &Key, now: Instant) -> &VecDeque<Instant> {
        let times = self.attempts.entry(key.clone()).or_default();
        expire(times, now);
        times
    }

    fn bound(&mut self, now: Instant) {
        if self.attempts.len() >= MAX_KEYS {
            self.attempts.retain(|_, times| {
                expire(times, now);
                !times.is_empty()
            });
        }
        if self.attempts.len() >= MAX_KEYS {
            // Still full of fresh keys: forget the half whose latest attempt is oldest.
            let mut latest: Vec<Instant> = self
                .attempts
                .values()
                .filter_map(|t| t.back().copied())
                .collect();
            latest.sort_unstable();
            if let Some(cut) = latest.get(latest.len() / 2).copied() {
                self.attempts
                    .retain(|_, t| t.back().is_some_and(|last| *last > cut));
            }
        }
        if self.known.len() >= MAX_KEYS {
            self.known
                .retain(|_, at| now.duration_since(*at) < KNOWN_FOR);
            if self.known.len() >= MAX_KEYS {
                self.known.clear();
            }
        }
    }

    fn remove_one(&mut self, key: &Key, at: Instant) {
        if let Some(times) = self.attempts.get_mut(key) {
            if let Some(i) = times.iter().rposition(|t| *t == at) {
                times.remove(i);
            }
            if times.is_empty() {
                self.attempts.remove(key);
            }
        }
    }
}

impl SignInThrottle {
    fn lock(&self) -> MutexGuard<'_, State> {
        crate::lock(&self.state)
    }

    /// Lets an attempt on `account` from `address` start, charging it to every counter, or
    /// says which limit refuses it and for how long.
    pub fn begin(&self, account: &str, address: IpAddr, now: Instant) -> Result<Attempt, Refusal> {
        let mut state = self.lock();
        state.bound(now);
        let until_window_frees = |times: &VecDeque<Instant>| {
            times
                .front()
                .map(|oldest| WINDOW.saturating_sub(now.duration_since(*oldest)))
                .unwrap_or(Duration::ZERO)
        };
        let address_key = Key::Address(address);
        let times = state.recent(&address_key, now);
        if times.len() >= PER_ADDRESS {
            return Err(Refusal {
                retry_after: until_window_frees(times),
                limit: Limit::Address,
            });
        }
        let pair_key = Key::Pair(account.to_string(), address);
        let times = state.recent(&pair_key, now);
        if times.len() >= PER_PAIR {
            return Err(Refusal {
                retry_after: until_window_frees(times),
                limit: Limit::AccountAtAddress,
            });
        }
        let familiar = state
            .known
            .get(&(account.to_string(), address))
            .is_some_and(|at| now.duration_since(*at) < KNOWN_FOR);
        let account_key = Key::Account(account.to_string());
        if !familiar {
            let times = state.recent(&account_key, now);
            let delay = account_delay(times.len());
            if let Some(last) = times.back() {
                let ready = *last + delay;
                if delay > Duration::ZERO && now < ready {
                    return Err(Refusal {
                        retry_after: ready - now,
                        limit: Limit::AccountDelay,
                    });
                }
            }
        }
        let mut charge = vec![address_key, pair_key];
        if !familiar {
            charge.push(account_key);
        }
        for key in charge {
            state.attempts.entry(key).or_default().push_back(now);
        }
        Ok(Attempt {
            account: account.to_string(),
            address,
            at: now,
            charged_account: !familiar,
        })
    }

    /// The password was right: the attempt was no guess. Refunds it, forgets the account's
    /// failures (here and from elsewhere) and remembers the address as familiar.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut state = self.lock();
        state.remove_one(&Key::Address(attempt.address), attempt.at);
        state
            .attempts
            .remove(&Key::Pair(attempt.account.clone(), attempt.address));
        state
            .attempts
            .remove(&Key::Account(attempt.account.clone()));
        state
            .known
            .insert((attempt.account, attempt.address), attempt.at);
    }

    /// The attempt was never checked (the server was too busy): it counts nowhere.
    pub fn refund(&self, attempt: Attempt) {
        let mut state = self.lock();
        state.remove_one(&Key::Address(attempt.address), attempt.at);
        state.remove_one(
            &Key::Pair(attempt.account.clone(), attempt.address),
            attempt.at,
        );
        if attempt.charged_account {
            state.remove_one(&Key::Account(attempt.account), attempt.at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, last])
    }

    #[test]
    fn an_address_is_limited_on_an_account_without_locking_out_others() {
        let t = SignInThrottle::default();
        let start = Instant::now();
        // The real user signed in from home before.
        t.succeeded(t.begin("acme:zoe", ip(9), start).unwrap());
        let mut now = start;
        for _ in 0..PER_PAIR {
            now += Duration::from_secs(1);
            // Failures stay charged.
            let _ = t.begin("acme:zoe", ip(1), now).unwrap();
        }
        let refused = t.begin("acme:zoe", ip(1), now).unwrap_err();
        assert_eq!(refused.limit, Limit::AccountAtAddress);
        assert_eq!(refused.retry_after, WINDOW - Duration::from_secs(4));
        // The real user, from the address she always uses, is not locked out.
        let from_home = t.begin("acme:zoe", ip(9), now).unwrap();
        t.succeeded(from_home);
        // Once the window passes, the guessing address may try again.
        assert!(t
            .begin("acme:zoe", ip(1), start + WINDOW + Duration::from_secs(5))
            .is_ok());
    }

    #[test]
    fn unfamiliar_addresses_wait_a_doubling_delay_after_the_free_failures() {
        let t = SignInThrottle::default();
        let mut now = Instant::now();
        t.succeeded(t.begin("acme:zoe", ip(200), now).unwrap());
        for i in 0..ACCOUNT_FREE as u8 {
            let _ = t.begin("acme:zoe", ip(i), now).unwrap();
        }
        let refused = t.begin("acme:zoe", ip(50), now).unwrap_err();
        assert_eq!(refused.limit, Limit::AccountDelay);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        now += Duration::from_secs(1);
        let _ = t.begin("acme:zoe", ip(50), now).unwrap();
        assert_eq!(
            t.begin("acme:zoe", ip(51), now).unwrap_err().retry_after,
            Duration::from_secs(2)
        );
        // The owner's familiar address is never delayed.
        t.succeeded(t.begin("acme:zoe", ip(200), now).unwrap());
        assert_eq!(account_delay(ACCOUNT_FREE + 40), MAX_DELAY);
    }

    #[test]
    fn concurrent_attempts_are_charged_as_they_start_and_refunds_undo_them() {
        let t = SignInThrottle::default();
        let now = Instant::now();
        let mut started = Vec::new();
        for _ in 0..PER_ADDRESS * 5 {
            if let Ok(a) = t.begin(&format!("acme:user{}", started.len()), ip(7), now) {
                started.push(a);
            }
        }
        assert_eq!(
            started.len(),
            PER_ADDRESS,
            "the rest are refused before any check"
        );
        for a in started {
            t.refund(a);
        }
        assert!(t.begin("acme:someone", ip(7), now).is_ok());
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_keys() {
        let t = SignInThrottle::default();
        let now = Instant::now();
        for i in 0..(MAX_KEYS as u32) {
            let address = IpAddr::from(i.to_be_bytes());
            let _ = t.begin(&format!("acme:user{i}"), address, now);
        }
        assert!(t.lock().attempts.len() <= MAX_KEYS + 3);
    }
}
