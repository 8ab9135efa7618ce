//! Sealtrail's own actions (key and tenant changes, later exports, prunes and erasures) are
//! written to the same log as everything else, so pulling or changing the trail is part of it.

use sealtrail_core::entry::{Actor, Changes, Context, NewEntry, Outcome, Target};
use sealtrail_core::redact;
use serde_json::{Map, Value};

/// The `properties` of a self-audit entry from literal pairs.
pub fn props(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Describes one of Sealtrail's own actions; [`SelfAudit::into_entry`] makes it a log entry.
#[derive(Debug, Clone)]
pub struct SelfAudit {
    /// Log channel, e.g. `security`.
    pub channel: &'static str,
    /// Dotted verb, e.g. `api_key.created`.
    pub action: &'static str,
    /// Badge kind: `created`, `updated`, `deleted` or `other`.
    pub event: &'static str,
    /// Human summary shown in the Description column.
    pub description: String,
    /// Who did it.
    pub actor: Actor,
    /// What it was done to.
    pub target: Option<Target>,
    /// Extra detail (never secrets: redaction runs regardless).
    pub properties: Map<String, Value>,
}

impl SelfAudit {
    /// The entry to append. Redaction still runs, as a second line of defence.
    pub fn into_entry(self) -> NewEntry {
        self.into_entry_with(Outcome::Success, Context::default(), None)
    }

    /// The entry with an outcome other than success (a refused sign-in), the request's
    /// context (where it came from) and before/after values, so the page can show them.
    pub fn into_entry_with(
        self,
        result: Outcome,
        context: Context,
        changes: Option<Changes>,
    ) -> NewEntry {
        let mut entry = NewEntry {
            occurred_at: None,
            channel: self.channel.to_string(),
            action: self.action.to_string(),
            event: self.event.to_string(),
            category: Some("Security Events".to_string()),
            description: self.description,
            result,
            actor: self.actor,
            targets: self.target.into_iter().collect(),
            context,
            changes,
            properties: self.properties,
            redacted: Vec::new(),
            idempotency_key: None,
        };
        redact::redact_entry(&mut entry);
        entry
    }
}
