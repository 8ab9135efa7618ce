//! The body of one group-commit transaction on PostgreSQL. The log heads of the group's tenants
//! are locked first (`FOR UPDATE`, in tenant order, so two nodes' groups never deadlock on
//! them); from then on this node alone appends to those tenants until COMMIT, so seq, time,
//! idempotency are decided by the same [`crate::sequencer`] as on SQLite. A group takes four round
//! trips however large it is: the locked heads, the Merkle frontiers of all its tenants, the
//! stored idempotency keys it names, and one statement that writes every row (arrays bound as
//! parameters and `unnest`ed, one `WITH` clause per table), then COMMIT.

use super::facets::{upsert_actors_sql, upsert_values_sql, ActorColumns, ValueColumns};
use super::pool::{Conn, PgError, PgResult};
use super::search::lexemes;
use super::tree::{self, Fetched};
use crate::facets::FacetDeltas;
use crate::group_commit::{GroupOutcome, RequestRef};
use crate::index_terms::{props_column, targets_column};
use crate::sequencer::{AppendTarget, LogHead, Sequencer};
use crate::{Clock, StoreError};
use postgres::types::Type;
use postgres::IsolationLevel;
use sealtrail_core::entry::{Appended, Entry};
use sealtrail_core::envelope::Sealed;
use sealtrail_core::merkle::{self, Hash, NodeSource, ProofError};
use sealtrail_core::{TenantId, Timestamp};
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;
use uuid::Uuid;

/// One vault part's column pair: salts and values, one per entry.
#[derive(Default)]
struct VaultColumns {
    salts: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
}

/// Tree nodes created by a group, column by column.
#[derive(Default)]
struct NodeColumns {
    tenants: Vec<i64>,
    levels: Vec<i32>,
    indexes: Vec<i64>,
    hashes: Vec<Vec<u8>>,
}

/// The rows a group writes, column by column.
#[derive(Default)]
struct Rows {
    tenant: Vec<i64>,
    seq: Vec<i64>,
    recorded_at: Vec<i64>,
    id: Vec<Uuid>,
    occurred_at: Vec<i64>,
    channel: Vec<String>,
    action: Vec<String>,
    event: Vec<String>,
    category: Vec<Option<String>>,
    result: Vec<String>,
    actor_type: Vec<String>,
    actor_id: Vec<Option<String>>,
    actor_email: Vec<Option<String>>,
    ip: Vec<Option<String>>,
    idempotency_key: Vec<Option<String>>,
    props: Vec<Option<String>>,
    targets: Vec<Option<String>>,
    words: Vec<Option<String>>,
    envelope: Vec<Vec<u8>>,
    /// Salt and value per part, in `Part::ALL` order.
    vault: [VaultColumns; 3],
    /// Tree nodes created.
    nodes: NodeColumns,
}

impl Rows {
    fn push(&mut self, tenant: TenantId, entry: &Entry, envelope: Vec<u8>, words: Vec<String>) {
        self.tenant.push(tenant.0);
        self.seq.push(entry.seq as i64);
        self.recorded_at.push(entry.recorded_at.millis());
        self.id.push(entry.id);
        self.occurred_at.push(entry.occurred_at.millis());
        self.channel.push(entry.channel.clone());
        self.action.push(entry.action.clone());
        self.event.push(entry.event.clone());
        self.category.push(entry.category.clone());
        self.result.push(entry.result.as_str().to_string());
        self.actor_type.push(entry.actor.kind.as_str().to_string());
        self.actor_id.push(entry.actor.id.clone());
        self.actor_email.push(entry.actor.email.clone());
        self.ip.push(entry.context.ip.clone());
        self.idempotency_key.push(entry.idempotency_key.clone());
        self.props.push(props_column(&entry.properties));
        self.targets.push(targets_column(entry));
        self.words
            .push((!words.is_empty()).then(|| words.join(" ")));
        self.envelope.push(envelope);
    }
}

/// The PostgreSQL side of a group: the heads locked and the keys read before any entry is
/// placed, each tenant's known tree nodes, and the rows staged for the one write statement.
#[derive(Default)]
struct Target {
    /// Heads locked `FOR UPDATE`, handed to the sequencer on first use.
    locked: HashMap<i64, LogHead>,
    /// Tree nodes readable as left siblings, per tenant: the frontier at lock time plus nodes
    /// created since.
    nodes: HashMap<i64, Fetched>,
    /// Idempotency keys stored before this group.
    stored_keys: HashMap<(i64, String), Appended>,
    facets: FacetDeltas,
    rows: Rows,
}

/// Writes every request in one transaction and commits it. Nothing is acknowledged by this
/// function; the caller replies only after it returns `Ok`, i.e. after COMMIT.
pub(crate) fn write_group(
    conn: &mut Conn,
    clock: &Clock,
    requests: &[RequestRef<'_>],
) -> PgResult<GroupOutcome> {
    let mut tx = conn.begin(IsolationLevel::ReadCommitted, false)?;
    let tenants: Vec<i64> = requests
        .iter()
        .map(|r| r.tenant.0)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut target = Target::default();
    let heads = tx.query(
        "SELECT h.tenant, h.next_seq, h.last_recorded_at, t.log_origin
         FROM log_heads AS h JOIN tenants AS t ON t.id = h.tenant
         WHERE h.tenant = ANY($1)
         ORDER BY h.tenant
         FOR UPDATE OF h",
        &[&tenants],
    )?;
    let sizes = heads
        .iter()
        .map(|row| {
            Ok((
                TenantId(row.try_get(0)?),
                row.try_get::<_, i64>(1)?.max(0) as u64,
            ))
        })
        .collect::<PgResult<Vec<(TenantId, u64)>>>()?;
    target.nodes = tree::fetch_frontiers(&mut tx, &sizes)?;
    for row in heads {
        let head = LogHead::new(row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        target.locked.insert(row.try_get(0)?, head);
    }
    // Taken after the locks are held, so time only moves forward across nodes too.
    let now = clock.now().millis();
    load_known_keys(&mut tx, requests, &mut target)?;

    let mut sequencer = Sequencer::default();
    let outcome = sequencer.append_group(&mut target, now, requests)?;
    write_rows(&mut tx, &target, &sequencer)?;
    tx.commit()?;
    Ok(outcome)
}

/// Reads the stored originals of every idempotency key in the group, in one query.
fn load_known_keys(
    tx: &mut super::pool::Tx<'_>,
    requests: &[RequestRef<'_>],
    target: &mut Target,
) -> PgResult<()> {
    let (mut tenants, mut keys) = (Vec::new(), Vec::new());
    for request in requests {
        for key in request
            .entries
            .iter()
            .filter_map(|e| e.entry().idempotency_key.as_ref())
        {
            tenants.push(request.tenant.0);
            keys.push(key.clone());
        }
    }
    if keys.is_empty() {
        return Ok(());
    }
    // Planned afresh on every call (an unnamed statement, still one round trip), not cached:
    // a cached plan made while the table was small joins by scanning it, and kept doing so as
    // the table grew until the next ANALYZE (this lookup averaged 115 µs per key while a fresh
    // log filled; an index probe takes a few).
    let rows = tx.inner().query_typed(
        "SELECT k.tenant, k.key, k.id, k.seq, k.recorded_at
         FROM unnest($1::bigint[], $2::text[]) AS q(tenant, key)
         JOIN idempotency_keys AS k ON k.tenant = q.tenant AND k.key = q.key",
        &[(&tenants, Type::INT8_ARRAY), (&keys, Type::TEXT_ARRAY)],
    )?;
    for row in rows {
        target.stored_keys.insert(
            (row.try_get(0)?, row.try_get(1)?),
            Appended {
                id: row.try_get(2)?,
                seq: row.try_get::<_, i64>(3)?.max(0) as u64,
                recorded_at: Timestamp(row.try_get(4)?),
                duplicate: true,
            },
        );
    }
    Ok(())
}

impl AppendTarget for Target {
    type Error = PgError;

    fn load_head(&mut self, tenant: TenantId) -> PgResult<Option<LogHead>> {
        Ok(self.locked.remove(&tenant.0))
    }

    fn seq_limit(&self) -> i64 {
        i64::MAX
    }

    fn stored_original(&mut self, tenant: TenantId, key: &str) -> PgResult<Option<Appended>> {
        Ok(self.stored_keys.get(&(tenant.0, key.to_string())).cloned())
    }

    fn write(
        &mut self,
        tenant: TenantId,
        entry: Entry,
        sealed: Sealed,
        _head: &LogHead,
    ) -> PgResult<()> {
        let nodes = self.nodes.entry(tenant.0).or_default();
        add_leaf(nodes, &mut self.rows, tenant, entry.seq, sealed.leaf_hash)?;
        for (i, value) in sealed.vault.iter().enumerate() {
            self.rows.vault[i].salts.push(value.salt.to_vec());
            self.rows.vault[i].values.push(value.value.clone());
        }
        self.facets.add(tenant, &entry, 1);
        let words = lexemes(tenant, &entry);
        self.rows.push(tenant, &entry, sealed.envelope, words);
        Ok(())
    }
}

/// Adds leaf `seq` and every subtree it completes to the rows, reading left siblings from the
/// tenant's known nodes.
fn add_leaf(
    nodes: &mut Fetched,
    rows: &mut Rows,
    tenant: TenantId,
    seq: u64,
    leaf: Hash,
) -> PgResult<()> {
    let created =
        merkle::nodes_completed_by_append(seq, leaf, |level, index| nodes.node(level, index))
            .map_err(|e: ProofError| {
                StoreError::Corrupt(format!("appending leaf {seq} of tenant {}: {e}", tenant.0))
            })?;
    for (level, index, hash) in created {
        rows.nodes.tenants.push(tenant.0);
        rows.nodes.levels.push(level as i32);
        rows.nodes.indexes.push(index as i64);
        rows.nodes.hashes.push(hash.to_vec());
        nodes.0.insert((level, index), hash);
    }
    Ok(())
}

/// Every row a group writes, in one statement of data-modifying `WITH` clauses: the entries,
/// their idempotency keys, the tree nodes, both facet-count upserts and the log heads. They
/// were six statements, and a group's time on PostgreSQL is mostly round trips (the node used
/// well under a core while groups waited). The clauses touch different tables and none reads
/// another's rows, so running them in one statement changes nothing else; PostgreSQL runs
/// every clause to completion whether or not the outer statement reads it.
static WRITE_GROUP_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH entry_rows AS (
           INSERT INTO entries (tenant, seq, recorded_at, id, occurred_at, channel, action,
               event, category, result, actor_type, actor_id, actor_email, ip,
               idempotency_key, props, targets, words, envelope, actor_salt, actor_value,
               context_salt, context_value, payload_salt, payload_value)
           SELECT tenant, seq, recorded_at, id, occurred_at, channel, action, event, category,
               result, actor_type, actor_id, actor_email, ip, idempotency_key, props::jsonb,
               targets::jsonb, array_to_tsvector(string_to_array(words, ' ')), envelope,
               actor_salt, actor_value, context_salt, context_value, payload_salt,
               payload_value
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::uuid[], $5::bigint[],
               $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
               $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
               $18::text[], $19::bytea[], $20::bytea[], $21::bytea[], $22::bytea[],
               $23::bytea[], $24::bytea[], $25::bytea[])
             AS u(tenant, seq, recorded_at, id, occurred_at, channel, action, event,
               category, result, actor_type, actor_id, actor_email, ip, idempotency_key,
               props, targets, words, envelope, actor_salt, actor_value, context_salt,
               context_value, payload_salt, payload_value)
         ), key_rows AS (
           INSERT INTO idempotency_keys (tenant, key, seq, id, recorded_at)
           SELECT tenant, key, seq, id, recorded_at
           FROM unnest($1::bigint[], $15::text[], $2::bigint[], $4::uuid[], $3::bigint[])
             AS u(tenant, key, seq, id, recorded_at)
           WHERE key IS NOT NULL
         ), node_rows AS (
           INSERT INTO tree_nodes (tenant, level, idx, hash)
           SELECT * FROM unnest($26::bigint[], $27::int[], $28::bigint[], $29::bytea[])
         ), value_rows AS ({values}
         ), actor_rows AS ({actors}
         )
         UPDATE log_heads AS h SET next_seq = u.next_seq, last_recorded_at = u.last
         FROM unnest($41::bigint[], $42::bigint[], $43::bigint[]) AS u(tenant, next_seq, last)
         WHERE h.tenant = u.tenant",
        values = upsert_values_sql(30),
        actors = upsert_actors_sql(34),
    )
});

/// Writes what the group decided ([`WRITE_GROUP_SQL`]); nothing when every event was a
/// duplicate.
fn write_rows(
    tx: &mut super::pool::Tx<'_>,
    target: &Target,
    sequencer: &Sequencer,
) -> PgResult<()> {
    let rows = &target.rows;
    if rows.seq.is_empty() {
        return Ok(());
    }
    let [actor, context, payload] = &rows.vault;
    let nodes = &rows.nodes;
    let values = ValueColumns::of(&target.facets);
    let actors = ActorColumns::of(&target.facets);
    let (mut heads, mut next, mut last) = (Vec::new(), Vec::new(), Vec::new());
    for (tenant, head) in sequencer.dirty_heads() {
        heads.push(tenant.0);
        next.push(head.next_seq);
        last.push(head.last_recorded_at);
    }
    tx.execute(
        &WRITE_GROUP_SQL,
        &[
            &rows.tenant,
            &rows.seq,
            &rows.recorded_at,
            &rows.id,
            &rows.occurred_at,
            &rows.channel,
            &rows.action,
            &rows.event,
            &rows.category,
            &rows.result,
            &rows.actor_type,
            &rows.actor_id,
            &rows.actor_email,
            &rows.ip,
            &rows.idempotency_key,
            &rows.props,
            &rows.targets,
            &rows.words,
            &rows.envelope,
            &actor.salts,
            &actor.values,
            &context.salts,
            &context.values,
            &payload.salts,
            &payload.values,
            &nodes.tenants,
            &nodes.levels,
            &nodes.indexes,
            &nodes.hashes,
            &values.tenants,
            &values.kinds,
            &values.values,
            &values.counts,
            &actors.tenants,
            &actors.keys,
            &actors.kinds,
            &actors.ids,
            &actors.names,
            &actors.emails,
            &actors.counts,
            &heads,
            &next,
            &last,
        ],
    )?;
    Ok(())
}
