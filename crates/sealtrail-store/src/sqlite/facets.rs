//! Facet counts maintained incrementally: appends add an entry's values, pruning subtracts
//! them, erasure moves an actor from its old identity to its pseudonym. Deltas accumulate over
//! a transaction and are written once per distinct value.

use rusqlite::{params, Connection};
use sealtrail_core::{Entry, TenantId};
use std::collections::HashMap;

/// The identity a facet actor row stands for: type, id, name, e-mail.
struct ActorKey(&'static str, Option<String>, Option<String>, Option<String>);

/// Signed count changes accumulated over one transaction.
#[derive(Default)]
pub(crate) struct FacetDeltas {
    values: HashMap<(i64, &'static str, String), i64>,
    actors: HashMap<(i64, String), (ActorKey, i64)>,
}

impl FacetDeltas {
    /// Adds (`sign = 1`) or removes (`sign = -1`) one entry's values. A target type counts
    /// once per entry, however many targets of that type the entry has.
    pub(crate) fn add(&mut self, tenant: TenantId, entry: &Entry, sign: i64) {
        let t = tenant.0;
        let mut bump = |kind: &'static str, value: &str| {
            *self.values.entry((t, kind, value.to_string())).or_insert(0) += sign;
        };
        bump("channel", &entry.channel);
        bump("action", &entry.action);
        bump("event", &entry.event);
        if let Some(category) = &entry.category {
            bump("category", category);
        }
        bump("result", entry.result.as_str());
        let mut types: Vec<&str> = entry.targets.iter().map(|t| t.kind.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        for kind in types {
            bump("target_type", kind);
        }
        let actor = &entry.actor;
        // JSON keeps a missing field (null) distinct from an empty one ("").
        let key =
            serde_json::json!([actor.kind.as_str(), actor.id, actor.name, actor.email]).to_string();
        self.actors
            .entry((t, key))
            .or_insert_with(|| {
                let identity = ActorKey(
                    actor.kind.as_str(),
                    actor.id.clone(),
                    actor.name.clone(),
                    actor.email.clone(),
                );
                (identity, 0)
            })
            .1 += sign;
    }

    /// Writes the deltas. Rows whose count reaches zero are deleted, so a pruned or erased
    /// actor's identity does not linger in the facet table.
    pub(crate) fn flush(&self, tx: &Connection) -> rusqlite::Result<()> {
        let mut values = tx.prepare_cached(
            "INSERT INTO facet_values (tenant, kind, value, count) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant, kind, value) DO UPDATE SET count = count + excluded.count",
        )?;
        let mut drop_value = tx.prepare_cached(
            "DELETE FROM facet_values WHERE tenant = ?1 AND kind = ?2 AND value = ?3 AND count <= 0",
        )?;
        for ((tenant, kind, value), n) in self.values.iter().filter(|(_, n)| **n != 0) {
            values.execute(params![tenant, kind, value, n])?;
            if *n < 0 {
                drop_value.execute(params![tenant, kind, value])?;
            }
        }
        let mut actors = tx.prepare_cached(
            "INSERT INTO facet_actors (tenant, key, type, id, name, email, count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (tenant, key) DO UPDATE SET count = count + excluded.count",
        )?;
        let mut drop_actor = tx.prepare_cached(
            "DELETE FROM facet_actors WHERE tenant = ?1 AND key = ?2 AND count <= 0",
        )?;
        for ((tenant, key), (actor, n)) in self.actors.iter().filter(|(_, (_, n))| *n != 0) {
            actors.execute(params![tenant, key, actor.0, actor.1, actor.2, actor.3, n])?;
            if *n < 0 {
                drop_actor.execute(params![tenant, key])?;
            }
        }
        Ok(())
    }
}
