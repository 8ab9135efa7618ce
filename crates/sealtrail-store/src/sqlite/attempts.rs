//! Sign-in attempts on SQLite: every check and charge is one transaction on the writer, which
//! is the lock [`crate::SignInAttempts`] asks for.

use super::{SqliteStore, WriteError};
use crate::{AttemptCheck, AttemptRequest, KeyWindow, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sealtrail_core::Timestamp;

fn begin(conn: &mut Connection, request: &AttemptRequest) -> Result<AttemptCheck, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "DELETE FROM sign_in_attempts WHERE at <= ?1",
        [request.since.millis()],
    )?;
    let mut windows = Vec::with_capacity(request.keys.len());
    for key in &request.keys {
        let (count, oldest, newest): (i64, Option<i64>, Option<i64>) = tx.query_row(
            "SELECT count(*), min(at), max(at) FROM sign_in_attempts WHERE key = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        windows.push(KeyWindow {
            count: count.max(0) as u64,
            oldest: oldest.map(Timestamp),
            newest: newest.map(Timestamp),
        });
    }
    let familiar_at: Option<Timestamp> = tx
        .query_row(
            "SELECT at FROM sign_in_familiar WHERE key = ?1",
            [&request.familiar],
            |r| r.get(0).map(Timestamp),
        )
        .optional()?;
    let charge = (request.rule)(&windows, familiar_at);
    if let Some(charge) = &charge {
        for key in charge.iter().filter_map(|i| request.keys.get(*i)) {
            tx.execute(
                "INSERT INTO sign_in_attempts (key, at, token) VALUES (?1, ?2, ?3)",
                params![key, request.now.millis(), &request.token[..]],
            )?;
        }
    }
    tx.commit()?;
    Ok(AttemptCheck {
        windows,
        familiar_at,
        admitted: charge.is_some(),
    })
}

fn succeeded(
    conn: &mut Connection,
    token: [u8; 16],
    forgive: &[Vec<u8>],
    familiar: &[u8],
    now: Timestamp,
    forget_familiar_before: Timestamp,
) -> Result<(), WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "DELETE FROM sign_in_attempts WHERE token = ?1",
        [&token[..]],
    )?;
    for key in forgive {
        tx.execute("DELETE FROM sign_in_attempts WHERE key = ?1", [key])?;
    }
    tx.execute(
        "INSERT INTO sign_in_familiar (key, at) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET at = excluded.at",
        params![familiar, now.millis()],
    )?;
    tx.execute(
        "DELETE FROM sign_in_familiar WHERE at <= ?1",
        [forget_familiar_before.millis()],
    )?;
    tx.commit()?;
    Ok(())
}

#[async_trait::async_trait]
impl crate::SignInAttempts for SqliteStore {
    async fn begin_attempt(&self, request: AttemptRequest) -> Result<AttemptCheck, StoreError> {
        self.writer.run_job(move |conn| begin(conn, &request)).await
    }

    async fn refund_attempt(&self, token: [u8; 16]) -> Result<(), StoreError> {
        self.writer
            .run_job(move |conn| {
                conn.execute(
                    "DELETE FROM sign_in_attempts WHERE token = ?1",
                    [&token[..]],
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
        self.writer
            .run_job(move |conn| {
                succeeded(
                    conn,
                    token,
                    &forgive,
                    &familiar,
                    now,
                    forget_familiar_before,
                )
            })
            .await
    }
}
