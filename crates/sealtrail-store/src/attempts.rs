//! The [`SignInAttempts`] role: recent sign-in attempts counted where every node sees them,
//! so a limit on guesses holds for the deployment, not for each node.
//!
//! The store knows nothing of accounts or addresses: the caller names each counter by an
//! opaque key (a keyed hash, so the table holds no e-mail or address) and decides, with a
//! pure rule run inside the store's transaction, which counters an attempt is charged to.
//! Counting and charging happen under a lock on every key involved (SQLite: the one writer;
//! PostgreSQL: transaction-scoped advisory locks taken in key order), so attempts sent at
//! once to several nodes are counted one after another.

use crate::StoreError;
use async_trait::async_trait;
use sealtrail_core::Timestamp;
use std::sync::Arc;

/// One counter's recent attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyWindow {
    /// Attempts after the window's start.
    pub count: u64,
    /// The oldest of them.
    pub oldest: Option<Timestamp>,
    /// The newest of them.
    pub newest: Option<Timestamp>,
}

/// Decides, from each key's window (in the order the keys were given) and when the familiar
/// mark was last set, which keys (by index) an attempt is charged to; `None` refuses it.
pub type AttemptRule =
    Arc<dyn Fn(&[KeyWindow], Option<Timestamp>) -> Option<Vec<usize>> + Send + Sync>;

/// What [`SignInAttempts::begin_attempt`] saw and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCheck {
    /// Each key's window, as the rule saw it.
    pub windows: Vec<KeyWindow>,
    /// When the familiar mark was last set, if it was.
    pub familiar_at: Option<Timestamp>,
    /// Whether the attempt was admitted (and charged).
    pub admitted: bool,
}

/// An attempt to check, and the rule that admits it.
#[derive(Clone)]
pub struct AttemptRequest {
    /// The counters it may be charged to.
    pub keys: Vec<Vec<u8>>,
    /// The mark that makes the attempt familiar (an earlier success from the same place).
    pub familiar: Vec<u8>,
    /// Attempts at or before this no longer count (and are deleted).
    pub since: Timestamp,
    /// The attempt's time.
    pub now: Timestamp,
    /// Names this attempt's charges, for a later refund or success.
    pub token: [u8; 16],
    /// Which keys to charge.
    pub rule: AttemptRule,
}

impl std::fmt::Debug for AttemptRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttemptRequest")
            .field("keys", &self.keys.len())
            .field("since", &self.since)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// Sign-in attempts shared by every node (see the module documentation).
#[async_trait]
pub trait SignInAttempts: Send + Sync + 'static {
    /// Under a lock on every key: drops attempts at or before `since`, counts each key's
    /// attempts after it, reads the familiar mark, and charges the attempt to the keys the
    /// rule names (nothing when it refuses).
    async fn begin_attempt(&self, request: AttemptRequest) -> Result<AttemptCheck, StoreError>;

    /// Takes back every charge of the attempt `token` (it was never checked).
    async fn refund_attempt(&self, token: [u8; 16]) -> Result<(), StoreError>;

    /// The attempt `token` succeeded: takes back its charges, forgets every attempt under the
    /// `forgive` keys, sets the `familiar` mark to `now`, and forgets familiar marks set at or
    /// before `forget_familiar_before`.
    async fn attempt_succeeded(
        &self,
        token: [u8; 16],
        forgive: Vec<Vec<u8>>,
        familiar: Vec<u8>,
        now: Timestamp,
        forget_familiar_before: Timestamp,
    ) -> Result<(), StoreError>;
}
