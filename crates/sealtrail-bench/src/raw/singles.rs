//! The raw baseline of I1: single events from N concurrent clients, each waiting for its own
//! durable acknowledgement, group-committed into the raw table.
//!
//! This is what a competent server on the plain table would do with single events: one writer
//! takes the first queued event, drains whatever else is queued behind it, inserts them all in
//! one transaction (any tenants mixed), commits, and only then answers each client. Without it
//! the single-event ratio would compare Sealtrail's group commit against the raw engine's
//! batches of 100, which says little about what single events cost.

use super::{RawEngine, RawError, RawInsert};
use crate::stats::Latency;
use crate::workload::BenchEvent;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the raw group-commit phase measured.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RawSingleFigures {
    /// Events acknowledged per second.
    pub events_per_s: f64,
    /// Acknowledgement latency of each event.
    pub latency: Latency,
    /// Mean events per committed transaction.
    pub mean_group: f64,
}

/// One event waiting for the writer.
struct Pending {
    index: usize,
    round: u64,
    sent: Instant,
    reply: SyncSender<Result<Duration, String>>,
}

/// Sends `events` (tenant, event; round-robin, with a fresh idempotency key on every reuse)
/// from `clients` threads for `duration`, group-committing on this thread. `next_seq` hands
/// out each tenant's next seq, so the rows continue the logs already loaded; `handed_out`
/// counts the events sent by earlier phases, so a later phase continues the round-robin
/// instead of resending keys the table already holds.
pub fn group_committed(
    engine: &mut dyn RawEngine,
    events: &[(u32, BenchEvent)],
    clients: usize,
    duration: Duration,
    handed_out: &mut u64,
    next_seq: &mut dyn FnMut(u32) -> i64,
) -> Result<RawSingleFigures, RawError> {
    if events.is_empty() {
        return Err(RawError::Setup {
            engine: engine.name(),
            detail: "no events to send".into(),
        });
    }
    let (queue, incoming) = mpsc::sync_channel::<Pending>(clients.max(1) * 2);
    let counter = Arc::new(AtomicU64::new(*handed_out));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + duration;
    std::thread::scope(|scope| {
        let mut threads = Vec::with_capacity(clients);
        for _ in 0..clients.max(1) {
            let (queue, counter, stop) = (queue.clone(), counter.clone(), stop.clone());
            threads.push(scope.spawn(move || {
                let mut latencies = Vec::new();
                while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    // A channel per event, whose only sender travels with it: an event the
                    // writer drops unanswered (it stopped) ends the wait with an error.
                    let (reply, answer) = mpsc::sync_channel(1);
                    let pending = Pending {
                        index: (n % events.len() as u64) as usize,
                        round: n / events.len() as u64,
                        sent: Instant::now(),
                        reply,
                    };
                    if queue.send(pending).is_err() {
                        break;
                    }
                    match answer.recv() {
                        Ok(Ok(latency)) => latencies.push(latency),
                        Ok(Err(_)) | Err(_) => break,
                    }
                }
                latencies
            }));
        }
        drop(queue);
        // The writer owns the receiving end, so when it stops (an error) every client blocked
        // on a full queue gets an error instead of waiting forever.
        let committed = write_groups(engine, events, incoming, next_seq);
        if committed.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        // The writer returns once every client has hung up (their deadline passed).
        let mut latencies = Vec::new();
        for thread in threads {
            latencies.extend(thread.join().unwrap_or_default());
        }
        *handed_out = counter.load(Ordering::Relaxed);
        let (events_done, groups) = committed?;
        let seconds = started.elapsed().as_secs_f64();
        Ok(RawSingleFigures {
            events_per_s: events_done as f64 / seconds,
            latency: Latency::of(&mut latencies),
            mean_group: events_done as f64 / groups.max(1) as f64,
        })
    })
}

/// The writer: commits whatever is queued as one transaction until every client has gone.
/// Returns (events committed, transactions).
fn write_groups(
    engine: &mut dyn RawEngine,
    events: &[(u32, BenchEvent)],
    incoming: Receiver<Pending>,
    next_seq: &mut dyn FnMut(u32) -> i64,
) -> Result<(u64, u64), RawError> {
    let mut done = (0u64, 0u64);
    let mut renamed: HashMap<(usize, u64), BenchEvent> = HashMap::new();
    // `recv` fails only once every client has hung up and the queue is empty.
    while let Ok(first) = incoming.recv() {
        let mut group = vec![first];
        while let Ok(more) = incoming.try_recv() {
            group.push(more);
        }
        // A reused event needs a key its tenant has not seen (a retry would be refused).
        renamed.clear();
        for pending in group.iter().filter(|p| p.round > 0) {
            let mut event = events[pending.index].1.clone();
            event.idempotency_key = format!("{}-r{}", event.idempotency_key, pending.round);
            renamed.insert((pending.index, pending.round), event);
        }
        let rows: Vec<RawInsert<'_>> = group
            .iter()
            .map(|p| {
                let (tenant, event) = &events[p.index];
                RawInsert {
                    tenant: *tenant,
                    seq: next_seq(*tenant),
                    event: renamed.get(&(p.index, p.round)).unwrap_or(event),
                }
            })
            .collect();
        let result = engine.insert_rows(&rows);
        let answer = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
        for pending in &group {
            let _ = pending
                .reply
                .send(answer.clone().map(|_| pending.sent.elapsed()));
        }
        result?;
        done.0 += group.len() as u64;
        done.1 += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::sqlite::RawSqlite;
    use crate::workload::{Workload, WorkloadSpec};
    use sealtrail_core::Timestamp;

    fn events(n: u64) -> Vec<(u32, BenchEvent)> {
        Workload::new(WorkloadSpec::standard(7, n, Timestamp::now()))
            .filter(|s| !s.duplicate)
            .map(|s| (s.tenant, s.event))
            .collect()
    }

    #[test]
    fn consecutive_phases_continue_the_round_robin_without_reusing_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = RawSqlite::create(&dir.path().join("raw.db")).unwrap();
        // Few events, so both phases wrap around them several times.
        let events = events(50);
        let mut seqs: HashMap<u32, i64> = HashMap::new();
        let mut next_seq = |tenant: u32| {
            let seq = seqs.entry(tenant).or_insert(0);
            *seq += 1;
            *seq - 1
        };
        let mut sent = 0;
        for clients in [1, 16] {
            let figures = group_committed(
                &mut engine,
                &events,
                clients,
                Duration::from_millis(300),
                &mut sent,
                &mut next_seq,
            )
            .unwrap();
            assert!(figures.events_per_s > 0.0);
            assert!(figures.mean_group >= 1.0);
        }
        assert!(
            sent > events.len() as u64,
            "the phases wrapped around the events"
        );
    }

    #[test]
    fn a_failing_writer_ends_the_phase_instead_of_leaving_clients_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = RawSqlite::create(&dir.path().join("raw.db")).unwrap();
        let events = events(20);
        // Every event gets seq 0, so the second row of any tenant conflicts.
        let started = Instant::now();
        let result = group_committed(
            &mut engine,
            &events,
            64,
            Duration::from_secs(30),
            &mut 0,
            &mut |_| 0,
        );
        assert!(
            matches!(result, Err(RawError::Conflict { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
