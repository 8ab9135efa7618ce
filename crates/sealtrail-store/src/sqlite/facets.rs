//! Writing facet-count deltas to SQLite. What the deltas are (and how appends, pruning and
//! erasure accumulate them) is shared by every backend in [`crate::facets`]; only the SQL is
//! here.

use crate::facets::FacetDeltas;
use rusqlite::{params, Connection};

/// Writes the deltas. Rows whose count reaches zero are deleted, so a pruned or erased
/// actor's identity does not linger in the facet table.
pub(crate) fn flush(tx: &Connection, deltas: &FacetDeltas) -> rusqlite::Result<()> {
    let mut values = tx.prepare_cached(
        "INSERT INTO facet_values (tenant, kind, value, count) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant, kind, value) DO UPDATE SET count = count + excluded.count",
    )?;
    let mut drop_value = tx.prepare_cached(
        "DELETE FROM facet_values WHERE tenant = ?1 AND kind = ?2 AND value = ?3 AND count <= 0",
    )?;
    for v in deltas.values() {
        values.execute(params![v.tenant, v.kind, v.value, v.delta])?;
        if v.delta < 0 {
            drop_value.execute(params![v.tenant, v.kind, v.value])?;
        }
    }
    let mut actors = tx.prepare_cached(
        "INSERT INTO facet_actors (tenant, key, type, id, name, email, count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (tenant, key) DO UPDATE SET count = count + excluded.count",
    )?;
    let mut drop_actor = tx
        .prepare_cached("DELETE FROM facet_actors WHERE tenant = ?1 AND key = ?2 AND count <= 0")?;
    for a in deltas.actors() {
        let who = a.actor;
        actors.execute(params![
            a.tenant, a.key, who.kind, who.id, who.name, who.email, a.delta
        ])?;
        if a.delta < 0 {
            drop_actor.execute(params![a.tenant, a.key])?;
        }
    }
    Ok(())
}
