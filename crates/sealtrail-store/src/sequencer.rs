//! The per-event decisions of a group commit, shared by every backend: which seq an entry
//! gets, its `recorded_at`, its id, and whether an idempotency key makes it a duplicate.
//!
//! Each backend's group transaction first makes its tenants' log heads its own (SQLite: the
//! write lock of `BEGIN IMMEDIATE`; PostgreSQL: the head rows locked `FOR UPDATE`) and only then
//! reads the clock, so from here on the decisions are pure: the backend supplies the heads and
//! the stored originals of idempotency keys, and writes what [`Sequencer::append_request`]
//! places, with its own SQL ([`AppendTarget`]).
//!
//! Invariants decided here, for both backends:
//! - seq is gapless per tenant: the head's `next_seq`, advanced once per stored entry;
//! - `recorded_at` never decreases along seq: `max(now, the head's last recorded_at)`, so a
//!   clock stepped back (or another node's clock behind ours) cannot reorder the log's time;
//! - one idempotency key, one entry: a key seen earlier in the same group, or stored before,
//!   answers with the original (`duplicate: true`) and stores nothing.

use crate::group_commit::{GroupOutcome, RequestRef};
use crate::StoreError;
use sealtrail_core::entry::{Appended, Entry};
use sealtrail_core::envelope::Sealed;
use sealtrail_core::{TenantId, Timestamp};
use std::collections::HashMap;
use uuid::Uuid;

/// A tenant's log head as read inside the group's transaction and advanced in memory.
#[derive(Debug, Clone)]
pub(crate) struct LogHead {
    /// The seq the next entry gets.
    pub next_seq: i64,
    /// The newest `recorded_at` in the log (epoch milliseconds).
    pub last_recorded_at: i64,
    /// The log's origin, named in every envelope.
    pub origin: String,
    /// True once this group has placed an entry: the head must be written back.
    pub dirty: bool,
}

impl LogHead {
    /// A head as read from storage.
    pub(crate) fn new(next_seq: i64, last_recorded_at: i64, origin: String) -> LogHead {
        LogHead {
            next_seq,
            last_recorded_at,
            origin,
            dirty: false,
        }
    }
}

/// What a backend supplies to, and does for, the sequencer inside its group transaction.
pub(crate) trait AppendTarget {
    /// The backend's own error (an SQL failure fails the whole group).
    type Error: From<StoreError>;

    /// The tenant's head, read once per group; `None` when the tenant does not exist.
    fn load_head(&mut self, tenant: TenantId) -> Result<Option<LogHead>, Self::Error>;

    /// One more than the largest seq this backend can store for a tenant.
    fn seq_limit(&self) -> i64;

    /// The stored entry holding `key` in `tenant`'s log, if one was stored before this group.
    fn stored_original(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<Appended>, Self::Error>;

    /// Writes (or stages for the group's write) a placed entry: its row, its leaf and the
    /// tree nodes it completes, and whatever indexes the backend derives from it.
    fn write(
        &mut self,
        tenant: TenantId,
        entry: Entry,
        sealed: Sealed,
        head: &LogHead,
    ) -> Result<(), Self::Error>;
}

/// A group's heads and idempotency answers, kept across its requests.
#[derive(Default)]
pub(crate) struct Sequencer {
    heads: HashMap<i64, Option<LogHead>>,
    keys: HashMap<(i64, String), Appended>,
}

/// A request's answer: its entries (new or originals) and how many were stored; or a refusal
/// of this request alone, which then stored nothing.
pub(crate) type RequestOutcome = Result<(Vec<Appended>, u64), StoreError>;

impl Sequencer {
    /// Places every request of a group in order ([`Sequencer::append_request`]): one answer
    /// per request, and how many entries the group stores. A backend error fails the group.
    pub(crate) fn append_group<T: AppendTarget>(
        &mut self,
        target: &mut T,
        now: i64,
        requests: &[RequestRef<'_>],
    ) -> Result<GroupOutcome, T::Error> {
        let mut results = Vec::with_capacity(requests.len());
        let mut stored = 0u64;
        for request in requests {
            match self.append_request(target, now, request)? {
                Ok((appended, n)) => {
                    stored += n;
                    results.push(Ok(appended));
                }
                Err(refused) => results.push(Err(refused)),
            }
        }
        Ok(GroupOutcome { results, stored })
    }

    /// Places every entry of `request` (module docs) and hands each new one to `target`. The
    /// outer `Result` fails the whole group (a backend error); the inner one refuses only this
    /// request (unknown tenant, full log), before anything of it was written.
    pub(crate) fn append_request<T: AppendTarget>(
        &mut self,
        target: &mut T,
        now: i64,
        request: &RequestRef<'_>,
    ) -> Result<RequestOutcome, T::Error> {
        let tenant = request.tenant;
        let next_seq = match self.heads.get(&tenant.0) {
            Some(head) => head.as_ref().map(|h| h.next_seq),
            None => {
                let head = target.load_head(tenant)?;
                let next_seq = head.as_ref().map(|h| h.next_seq);
                self.heads.insert(tenant.0, head);
                next_seq
            }
        };
        let Some(next_seq) = next_seq else {
            return Ok(Err(unknown_tenant(tenant)));
        };
        if next_seq.saturating_add(request.entries.len() as i64) > target.seq_limit() {
            return Ok(Err(StoreError::Backend(format!(
                "tenant {} has reached the maximum log size",
                tenant.0
            ))));
        }

        let mut out = Vec::with_capacity(request.entries.len());
        let mut stored = 0;
        for presealed in request.entries {
            let key = presealed.entry().idempotency_key.as_deref();
            if let Some(key) = key {
                if let Some(original) = self.original(target, tenant, key)? {
                    out.push(original);
                    continue;
                }
            }
            let Some(Some(head)) = self.heads.get_mut(&tenant.0) else {
                return Ok(Err(unknown_tenant(tenant)));
            };
            let seq = head.next_seq;
            let recorded_at = now.max(head.last_recorded_at);
            head.next_seq += 1;
            head.last_recorded_at = recorded_at;
            head.dirty = true;

            let id = Uuid::now_v7();
            let (entry, sealed) =
                presealed.place(id, seq as u64, Timestamp(recorded_at), &head.origin);
            target.write(tenant, entry, sealed, head)?;
            let appended = Appended {
                id,
                seq: seq as u64,
                recorded_at: Timestamp(recorded_at),
                duplicate: false,
            };
            if let Some(key) = key {
                self.keys.insert(
                    (tenant.0, key.to_string()),
                    Appended {
                        duplicate: true,
                        ..appended.clone()
                    },
                );
            }
            out.push(appended);
            stored += 1;
        }
        Ok(Ok((out, stored)))
    }

    /// The heads this group advanced, to be written back before COMMIT.
    pub(crate) fn dirty_heads(&self) -> impl Iterator<Item = (TenantId, &LogHead)> {
        self.heads.iter().filter_map(|(tenant, head)| {
            head.as_ref()
                .filter(|h| h.dirty)
                .map(|h| (TenantId(*tenant), h))
        })
    }

    /// The original entry for an idempotency key: from this group, else from the store.
    fn original<T: AppendTarget>(
        &mut self,
        target: &mut T,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<Appended>, T::Error> {
        if let Some(original) = self.keys.get(&(tenant.0, key.to_string())) {
            return Ok(Some(original.clone()));
        }
        target.stored_original(tenant, key)
    }
}

fn unknown_tenant(tenant: TenantId) -> StoreError {
    StoreError::NotFound(format!("tenant {}", tenant.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_core::envelope::Presealed;
    use sealtrail_testkit::contract::fixtures::event;

    /// A backend in memory: one tenant (id 1), what was written, and keys stored earlier.
    #[derive(Default)]
    struct Memory {
        written: Vec<(TenantId, Entry)>,
        stored_keys: HashMap<String, Appended>,
        head_reads: usize,
    }

    impl AppendTarget for Memory {
        type Error = StoreError;
        fn load_head(&mut self, tenant: TenantId) -> Result<Option<LogHead>, StoreError> {
            self.head_reads += 1;
            Ok((tenant.0 == 1).then(|| LogHead::new(5, 1_000, "origin".into())))
        }
        fn seq_limit(&self) -> i64 {
            8
        }
        fn stored_original(
            &mut self,
            _tenant: TenantId,
            key: &str,
        ) -> Result<Option<Appended>, StoreError> {
            Ok(self.stored_keys.get(key).cloned())
        }
        fn write(
            &mut self,
            tenant: TenantId,
            entry: Entry,
            _sealed: Sealed,
            head: &LogHead,
        ) -> Result<(), StoreError> {
            assert_eq!(
                head.next_seq,
                entry.seq as i64 + 1,
                "the head is advanced first"
            );
            self.written.push((tenant, entry));
            Ok(())
        }
    }

    fn presealed(key: Option<&str>) -> Presealed {
        let mut new = event("doc.created", "u1");
        new.idempotency_key = key.map(str::to_string);
        Presealed::new(new, [[7; 16]; 3])
    }

    #[test]
    fn seqs_are_gapless_time_never_goes_back_and_keys_answer_with_the_original() {
        let mut target = Memory::default();
        target.stored_keys.insert(
            "old".into(),
            Appended {
                id: Uuid::nil(),
                seq: 2,
                recorded_at: Timestamp(500),
                duplicate: true,
            },
        );
        let mut sequencer = Sequencer::default();
        let first = [
            presealed(Some("k")),
            presealed(None),
            presealed(Some("old")),
        ];
        let request = RequestRef {
            tenant: TenantId(1),
            entries: &first,
        };
        // The clock reads 900, behind the log's newest time (1,000): time is clamped.
        let (answers, stored) = sequencer
            .append_request(&mut target, 900, &request)
            .unwrap()
            .unwrap();
        assert_eq!(stored, 2);
        let seqs: Vec<u64> = answers.iter().map(|a| a.seq).collect();
        assert_eq!(seqs, [5, 6, 2]);
        assert!(answers[..2]
            .iter()
            .all(|a| a.recorded_at == Timestamp(1_000)));
        assert!(answers[2].duplicate && !answers[0].duplicate);

        // Key "k" again in a second request of the same group: the original, nothing stored.
        let again = [presealed(Some("k"))];
        let request = RequestRef {
            tenant: TenantId(1),
            entries: &again,
        };
        let (answers, stored) = sequencer
            .append_request(&mut target, 2_000, &request)
            .unwrap()
            .unwrap();
        assert_eq!((stored, answers[0].seq, answers[0].duplicate), (0, 5, true));
        assert_eq!(target.head_reads, 1, "a head is read once per group");
        let dirty: Vec<i64> = sequencer.dirty_heads().map(|(_, h)| h.next_seq).collect();
        assert_eq!(dirty, [7]);
    }

    #[test]
    fn an_unknown_tenant_or_a_full_log_refuses_only_that_request() {
        let mut target = Memory::default();
        let mut sequencer = Sequencer::default();
        let one = [presealed(None)];
        let unknown = RequestRef {
            tenant: TenantId(2),
            entries: &one,
        };
        let refused = sequencer.append_request(&mut target, 0, &unknown).unwrap();
        assert!(matches!(refused, Err(StoreError::NotFound(_))));
        // Seqs 5..8 fit the limit of 8; a fourth entry would not, so the request is refused whole.
        let four = [
            presealed(None),
            presealed(None),
            presealed(None),
            presealed(None),
        ];
        let full = RequestRef {
            tenant: TenantId(1),
            entries: &four,
        };
        let refused = sequencer.append_request(&mut target, 0, &full).unwrap();
        assert!(matches!(refused, Err(StoreError::Backend(m)) if m.contains("maximum log size")));
        assert!(target.written.is_empty());
        assert_eq!(sequencer.dirty_heads().count(), 0);
    }
}
