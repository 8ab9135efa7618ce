//! Facet counts maintained incrementally, the part every backend shares: appends add an
//! entry's values, pruning subtracts them, erasure moves an actor from its old identity to its
//! pseudonym. Deltas accumulate here over one transaction; each backend writes them once per
//! distinct value with its own SQL (`sqlite::facets::flush`, `pg::facets::flush`).

use crate::tallies;
use sealtrail_core::filter::{actor_search_text, FacetActor, FacetValue, Facets};
use sealtrail_core::{Entry, TenantId};
use std::collections::HashMap;

/// The identity a facet actor row stands for: its columns `type`, `id`, `name`, `email`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActorIdentity {
    /// Actor type.
    pub kind: &'static str,
    /// Actor id.
    pub id: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
}

/// The net change of one `facet_values` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueDelta<'a> {
    /// Tenant id.
    pub tenant: i64,
    /// Which facet: one of [`LISTED_KINDS`], or the timeline's day rollup.
    pub kind: &'static str,
    /// The value counted.
    pub value: &'a str,
    /// Signed change of its count (never zero).
    pub delta: i64,
}

/// The net change of one `facet_actors` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActorDelta<'a> {
    /// Tenant id.
    pub tenant: i64,
    /// The row key: the identity as JSON, so a missing field stays distinct from an empty one.
    pub key: &'a str,
    /// The identity's columns.
    pub actor: &'a ActorIdentity,
    /// Signed change of its count (never zero).
    pub delta: i64,
}

/// Signed count changes accumulated over one transaction.
#[derive(Debug, Default)]
pub(crate) struct FacetDeltas {
    /// `(tenant, kind, value)` → change of its count.
    values: HashMap<(i64, &'static str, String), i64>,
    /// `(tenant, key)` → the identity and the change of its count.
    actors: HashMap<(i64, String), (ActorIdentity, i64)>,
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
        // The timeline's day rollup ([`crate::tallies`]), never listed as a facet.
        bump(
            tallies::DAY_KIND,
            &tallies::day_value(entry.occurred_at, entry.result),
        );
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
                let identity = ActorIdentity {
                    kind: actor.kind.as_str(),
                    id: actor.id.clone(),
                    name: actor.name.clone(),
                    email: actor.email.clone(),
                };
                (identity, 0)
            })
            .1 += sign;
    }

    /// The value rows whose count changes, so a backend writes only those.
    pub(crate) fn values(&self) -> impl Iterator<Item = ValueDelta<'_>> {
        self.values
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|((tenant, kind, value), n)| ValueDelta {
                tenant: *tenant,
                kind,
                value,
                delta: *n,
            })
    }

    /// The actor rows whose count changes, so a backend writes only those.
    pub(crate) fn actors(&self) -> impl Iterator<Item = ActorDelta<'_>> {
        self.actors
            .iter()
            .filter(|(_, (_, n))| *n != 0)
            .map(|((tenant, key), (actor, n))| ActorDelta {
                tenant: *tenant,
                key,
                actor,
                delta: *n,
            })
    }
}

/// The `facet_values` kinds the dropdowns list; the readers ask for exactly these, so the day
/// rollup's many rows are never read with them.
pub(crate) const LISTED_KINDS: [&str; 6] = [
    "channel",
    "action",
    "event",
    "category",
    "result",
    "target_type",
];

/// `kind IN ('channel', …)`: the listed kinds as an SQL condition (constants, not input).
pub(crate) fn listed_kinds_condition() -> String {
    let kinds: Vec<String> = LISTED_KINDS.iter().map(|k| format!("'{k}'")).collect();
    format!("kind IN ({})", kinds.join(", "))
}

/// Files one stored `facet_values` row under its facet, as both backends read them. A kind a
/// newer build added has no field in this build's [`Facets`] and is skipped; a count that
/// went negative through a bug reads as zero rather than wrapping.
pub(crate) fn add_stored_value(facets: &mut Facets, kind: &str, value: String, count: i64) {
    let list = match kind {
        "channel" => &mut facets.channels,
        "action" => &mut facets.actions,
        "event" => &mut facets.events,
        "category" => &mut facets.categories,
        "result" => &mut facets.results,
        "target_type" => &mut facets.target_types,
        _ => return,
    };
    list.push(FacetValue {
        value,
        count: count.max(0) as u64,
    });
}

/// An actor search as both backends run it: the rows of the tenant's `facet_actors` are
/// streamed through [`ActorSearch::wants`] (one matching rule, [`FacetActor::matches`], not
/// each database's collation) and the most frequent `limit` matches kept.
#[derive(Clone)]
pub(crate) struct ActorSearch {
    needle: String,
    limit: usize,
    found: Vec<FacetActor>,
}

impl ActorSearch {
    /// A search for `text`; `None` when it holds nothing to look for or nothing is wanted.
    pub(crate) fn new(text: &str, limit: usize) -> Option<Self> {
        let needle = actor_search_text(text)?;
        (limit > 0).then(|| ActorSearch {
            needle,
            limit,
            found: Vec::new(),
        })
    }

    /// True when an actor with these fields matches (checked before the row is copied out).
    pub(crate) fn wants(&self, id: Option<&str>, name: Option<&str>, email: Option<&str>) -> bool {
        FacetActor::matches(&self.needle, id, name, email)
    }

    /// Keeps a matching actor; memory stays a small multiple of `limit` however many match.
    pub(crate) fn add(&mut self, actor: FacetActor) {
        self.found.push(actor);
        if self.found.len() >= 4 * self.limit.max(64) {
            self.keep_first();
        }
    }

    fn keep_first(&mut self) {
        self.found.sort_by(facet_order);
        self.found.truncate(self.limit);
    }

    /// The most frequent matches, in facet order.
    pub(crate) fn finish(mut self) -> Vec<FacetActor> {
        self.keep_first();
        self.found
    }
}

/// The order of actor facets on both backends: most entries first, then by id, e-mail, name
/// and type in byte order, a missing field first (SQLite's `ORDER BY count DESC, id, email,
/// name, type`; PostgreSQL's with `COLLATE "C" NULLS FIRST`).
fn facet_order(a: &FacetActor, b: &FacetActor) -> std::cmp::Ordering {
    b.count
        .cmp(&a.count)
        .then_with(|| a.id.cmp(&b.id))
        .then_with(|| a.email.cmp(&b.email))
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| a.kind.cmp(&b.kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(action: &str, actor: &str) -> Entry {
        let value = json!({
            "id": uuid::Uuid::nil(), "seq": 0,
            "recorded_at": "1970-01-01T00:00:00Z", "occurred_at": "1970-01-01T00:00:00Z",
            "channel": "web", "action": action, "event": action, "description": "",
            "result": "success", "actor": { "type": "user", "id": actor },
            "targets": [{ "type": "user" }, { "type": "user" }],
        });
        match serde_json::from_value(value) {
            Ok(entry) => entry,
            Err(e) => panic!("test entry: {e}"),
        }
    }

    #[test]
    fn opposite_changes_cancel_and_types_count_once_per_entry() {
        let mut deltas = FacetDeltas::default();
        deltas.add(TenantId(1), &entry("a.created", "u1"), 1);
        deltas.add(TenantId(1), &entry("a.created", "u2"), 1);
        deltas.add(TenantId(1), &entry("a.created", "u1"), -1);
        let mut values: Vec<(&str, &str, i64)> = deltas
            .values()
            .map(|v| (v.kind, v.value, v.delta))
            .collect();
        values.sort();
        assert!(values.contains(&("target_type", "user", 1)), "{values:?}");
        assert!(values.contains(&("action", "a.created", 1)), "{values:?}");
        assert!(
            values.contains(&("day", "0000000/success", 1)),
            "{values:?}"
        );
        let actors: Vec<(Option<&str>, i64)> = deltas
            .actors()
            .map(|a| (a.actor.id.as_deref(), a.delta))
            .collect();
        assert_eq!(actors, [(Some("u2"), 1)], "u1 cancelled out");
    }
}
