//! Writing facet-count deltas to PostgreSQL. What the deltas are (and how appends, pruning and
//! erasure accumulate them) is shared by every backend in [`crate::facets`]; only the SQL is
//! here. Each table takes two statements however many values changed (arrays unnested
//! server-side), so a large group commit does not pay one round trip per distinct value.
//!
//! Callers hold the log-head lock of every tenant whose counts they change, so two
//! transactions never update the same facet rows at once, and no deadlock can form here.

use super::pool::{PgResult, Tx};
use crate::facets::FacetDeltas;

/// Writes the deltas. Rows whose count reaches zero are deleted, so a pruned or erased
/// actor's identity does not linger in the facet table.
pub(crate) fn flush(tx: &mut Tx<'_>, deltas: &FacetDeltas) -> PgResult<()> {
    flush_values(tx, deltas)?;
    flush_actors(tx, deltas)
}

/// `facet_values`: upsert every change, then delete the decreased rows that reached zero.
fn flush_values(tx: &mut Tx<'_>, deltas: &FacetDeltas) -> PgResult<()> {
    let (mut tenants, mut kinds, mut values, mut counts) = (vec![], vec![], vec![], vec![]);
    for v in deltas.values() {
        tenants.push(v.tenant);
        kinds.push(v.kind);
        values.push(v.value);
        counts.push(v.delta);
    }
    if tenants.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO facet_values (tenant, kind, value, count)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])
         ON CONFLICT (tenant, kind, value)
         DO UPDATE SET count = facet_values.count + excluded.count",
        &[&tenants, &kinds, &values, &counts],
    )?;
    if counts.iter().any(|n| *n < 0) {
        tx.execute(
            "DELETE FROM facet_values AS f
             USING unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])
                 AS d(tenant, kind, value, delta)
             WHERE d.delta < 0 AND f.tenant = d.tenant AND f.kind = d.kind
               AND f.value = d.value AND f.count <= 0",
            &[&tenants, &kinds, &values, &counts],
        )?;
    }
    Ok(())
}

/// `facet_actors`: upsert every change, then delete the decreased rows that reached zero.
fn flush_actors(tx: &mut Tx<'_>, deltas: &FacetDeltas) -> PgResult<()> {
    let mut tenants = vec![];
    let mut keys = vec![];
    let (mut kinds, mut ids, mut names, mut emails) = (vec![], vec![], vec![], vec![]);
    let mut counts = vec![];
    for a in deltas.actors() {
        tenants.push(a.tenant);
        keys.push(a.key);
        kinds.push(a.actor.kind);
        ids.push(a.actor.id.as_deref());
        names.push(a.actor.name.as_deref());
        emails.push(a.actor.email.as_deref());
        counts.push(a.delta);
    }
    if tenants.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO facet_actors (tenant, key, type, id, name, email, count)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::text[], $7::bigint[])
         ON CONFLICT (tenant, key) DO UPDATE SET count = facet_actors.count + excluded.count",
        &[&tenants, &keys, &kinds, &ids, &names, &emails, &counts],
    )?;
    if counts.iter().any(|n| *n < 0) {
        tx.execute(
            "DELETE FROM facet_actors AS f
             USING unnest($1::bigint[], $2::text[], $3::bigint[]) AS d(tenant, key, delta)
             WHERE d.delta < 0 AND f.tenant = d.tenant AND f.key = d.key AND f.count <= 0",
            &[&tenants, &keys, &counts],
        )?;
    }
    Ok(())
}
