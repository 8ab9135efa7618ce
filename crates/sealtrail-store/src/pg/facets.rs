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

/// The `facet_values` deltas as the columns of one `unnest`.
pub(crate) struct ValueColumns<'a> {
    pub(crate) tenants: Vec<i64>,
    pub(crate) kinds: Vec<&'static str>,
    pub(crate) values: Vec<&'a str>,
    pub(crate) counts: Vec<i64>,
}

impl<'a> ValueColumns<'a> {
    /// The columns of every value delta.
    pub(crate) fn of(deltas: &'a FacetDeltas) -> Self {
        let mut c = ValueColumns {
            tenants: vec![],
            kinds: vec![],
            values: vec![],
            counts: vec![],
        };
        for v in deltas.values() {
            c.tenants.push(v.tenant);
            c.kinds.push(v.kind);
            c.values.push(v.value);
            c.counts.push(v.delta);
        }
        c
    }
}

/// The `facet_actors` deltas as the columns of one `unnest`.
pub(crate) struct ActorColumns<'a> {
    pub(crate) tenants: Vec<i64>,
    pub(crate) keys: Vec<&'a str>,
    pub(crate) kinds: Vec<&'static str>,
    pub(crate) ids: Vec<Option<&'a str>>,
    pub(crate) names: Vec<Option<&'a str>>,
    pub(crate) emails: Vec<Option<&'a str>>,
    pub(crate) counts: Vec<i64>,
}

impl<'a> ActorColumns<'a> {
    /// The columns of every actor delta.
    pub(crate) fn of(deltas: &'a FacetDeltas) -> Self {
        let mut c = ActorColumns {
            tenants: vec![],
            keys: vec![],
            kinds: vec![],
            ids: vec![],
            names: vec![],
            emails: vec![],
            counts: vec![],
        };
        for a in deltas.actors() {
            c.tenants.push(a.tenant);
            c.keys.push(a.key);
            c.kinds.push(a.actor.kind);
            c.ids.push(a.actor.id.as_deref());
            c.names.push(a.actor.name.as_deref());
            c.emails.push(a.actor.email.as_deref());
            c.counts.push(a.delta);
        }
        c
    }
}

/// The upsert of [`ValueColumns`] bound as parameters `$first` to `$first + 3`; the append
/// path embeds it in its single statement, so it is written once here.
pub(crate) fn upsert_values_sql(first: usize) -> String {
    let [t, k, v, n] = [first, first + 1, first + 2, first + 3];
    format!(
        "INSERT INTO facet_values (tenant, kind, value, count)
         SELECT * FROM unnest(${t}::bigint[], ${k}::text[], ${v}::text[], ${n}::bigint[])
         ON CONFLICT (tenant, kind, value)
         DO UPDATE SET count = facet_values.count + excluded.count"
    )
}

/// The upsert of [`ActorColumns`] bound as parameters `$first` to `$first + 6`.
pub(crate) fn upsert_actors_sql(first: usize) -> String {
    let [t, key, kind, id, name, email, n] = [0, 1, 2, 3, 4, 5, 6].map(|i| first + i);
    format!(
        "INSERT INTO facet_actors (tenant, key, type, id, name, email, count)
         SELECT * FROM unnest(${t}::bigint[], ${key}::text[], ${kind}::text[], ${id}::text[],
                              ${name}::text[], ${email}::text[], ${n}::bigint[])
         ON CONFLICT (tenant, key) DO UPDATE SET count = facet_actors.count + excluded.count"
    )
}

/// `facet_values`: upsert every change, then delete the decreased rows that reached zero.
fn flush_values(tx: &mut Tx<'_>, deltas: &FacetDeltas) -> PgResult<()> {
    let ValueColumns {
        tenants,
        kinds,
        values,
        counts,
    } = ValueColumns::of(deltas);
    if tenants.is_empty() {
        return Ok(());
    }
    tx.execute(&upsert_values_sql(1), &[&tenants, &kinds, &values, &counts])?;
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
    let ActorColumns {
        tenants,
        keys,
        kinds,
        ids,
        names,
        emails,
        counts,
    } = ActorColumns::of(deltas);
    if tenants.is_empty() {
        return Ok(());
    }
    tx.execute(
        &upsert_actors_sql(1),
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
