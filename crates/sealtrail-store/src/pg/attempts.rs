//! Sign-in attempts on PostgreSQL: a check takes a transaction-scoped advisory lock on each
//! of its keys, in key order (so two checks never deadlock), then counts and charges; checks
//! of unrelated accounts and addresses never wait for each other.

use super::pool::{PgResult, Tx};
use super::PgStore;
use crate::{AttemptCheck, AttemptRequest, KeyWindow, StoreError};
use sealtrail_core::Timestamp;

/// The advisory lock a key takes: its first eight bytes (keys are keyed hashes, so these are
/// as good as random).
fn lock_id(key: &[u8]) -> i64 {
    let mut bytes = [0u8; 8];
    for (b, k) in bytes.iter_mut().zip(key) {
        *b = *k;
    }
    i64::from_be_bytes(bytes)
}

fn begin(tx: &mut Tx<'_>, request: &AttemptRequest) -> PgResult<AttemptCheck> {
    let mut locks: Vec<i64> = request.keys.iter().map(|k| lock_id(k)).collect();
    locks.sort_unstable();
    locks.dedup();
    for lock in locks {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])?;
    }
    let mut windows = Vec::with_capacity(request.keys.len());
    for key in &request.keys {
        let row = tx.query_one(
            "SELECT count(*), min(at), max(at) FROM sign_in_attempts WHERE key = $1 AND at > $2",
            &[key, &request.since.millis()],
        )?;
        let count: i64 = row.try_get(0)?;
        windows.push(KeyWindow {
            count: count.max(0) as u64,
            oldest: row.try_get::<_, Option<i64>>(1)?.map(Timestamp),
            newest: row.try_get::<_, Option<i64>>(2)?.map(Timestamp),
        });
    }
    let familiar_at = tx
        .query_opt(
            "SELECT at FROM sign_in_familiar WHERE key = $1",
            &[&request.familiar],
        )?
        .map(|row| row.try_get::<_, i64>(0).map(Timestamp))
        .transpose()?;
    let charge = (request.rule)(&windows, familiar_at);
    if let Some(charge) = &charge {
        for key in charge.iter().filter_map(|i| request.keys.get(*i)) {
            tx.execute(
                "INSERT INTO sign_in_attempts (key, at, token) VALUES ($1, $2, $3)",
                &[key, &request.now.millis(), &&request.token[..]],
            )?;
        }
    }
    // Attempts that no longer count, of any key: a bounded batch not locked by another
    // check, so checks never wait for each other here and abandoned keys still go.
    tx.execute(
        "DELETE FROM sign_in_attempts WHERE ctid IN (
             SELECT ctid FROM sign_in_attempts WHERE at <= $1 LIMIT 100 FOR UPDATE SKIP LOCKED)",
        &[&request.since.millis()],
    )?;
    Ok(AttemptCheck {
        windows,
        familiar_at,
        admitted: charge.is_some(),
    })
}

fn succeeded(
    tx: &mut Tx<'_>,
    token: &[u8],
    forgive: &[Vec<u8>],
    familiar: &[u8],
    now: Timestamp,
    forget_familiar_before: Timestamp,
) -> PgResult<()> {
    let mut locks: Vec<i64> = forgive.iter().map(|k| lock_id(k)).collect();
    locks.sort_unstable();
    locks.dedup();
    for lock in locks {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])?;
    }
    tx.execute("DELETE FROM sign_in_attempts WHERE token = $1", &[&token])?;
    for key in forgive {
        tx.execute("DELETE FROM sign_in_attempts WHERE key = $1", &[key])?;
    }
    tx.execute(
        "INSERT INTO sign_in_familiar (key, at) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET at = excluded.at",
        &[&familiar, &now.millis()],
    )?;
    tx.execute(
        "DELETE FROM sign_in_familiar WHERE at <= $1",
        &[&forget_familiar_before.millis()],
    )?;
    Ok(())
}

#[async_trait::async_trait]
impl crate::SignInAttempts for PgStore {
    async fn begin_attempt(&self, request: AttemptRequest) -> Result<AttemptCheck, StoreError> {
        self.pool
            .write("checking a sign-in attempt", move |tx| begin(tx, &request))
            .await
    }

    async fn refund_attempt(&self, token: [u8; 16]) -> Result<(), StoreError> {
        self.pool
            .write("refunding a sign-in attempt", move |tx| {
                tx.execute(
                    "DELETE FROM sign_in_attempts WHERE token = $1",
                    &[&&token[..]],
                )?;
                Ok(())
            })
            .await
    }

    async fn attempt_succeeded(
        &self,
        token: [u8; 16],
        forgive: Vec<Vec<u8>>,
        familiar: Vec<u8>,
        now: Timestamp,
        forget_familiar_before: Timestamp,
    ) -> Result<(), StoreError> {
        self.pool
            .write("recording a sign-in", move |tx| {
                succeeded(tx, &token, &forgive, &familiar, now, forget_familiar_before)
            })
            .await
    }
}
