//! The tenant's export exclusions: property keys whose content an auditor must not receive (a
//! conversation's `dialogue`). A key left out of `properties` but shown in the entry's
//! `changes` (`before`/`after`, the same record as it was and became) would hand over the very
//! content withheld, so a key is left out of both, wherever an export writes the entry.

use sealtrail_core::envelope::{canonical_json, Part, Slot};
use sealtrail_core::Entry;
use serde_json::{Map, Value};

/// Removes the excluded keys from `object` when it is a JSON object; true if any was there.
fn drop_keys(object: &mut Value, excluded: &[String]) -> bool {
    match object {
        Value::Object(map) => drop_from_map(map, excluded),
        _ => false,
    }
}

/// Removes the excluded keys from `map`; true if any was there.
fn drop_from_map(map: &mut Map<String, Value>, excluded: &[String]) -> bool {
    let before = map.len();
    map.retain(|k, _| !excluded.contains(k));
    map.len() != before
}

/// The entry without the tenant's excluded keys, in its properties and in its changes.
pub(super) fn without_excluded(mut entry: Entry, excluded: &[String]) -> Entry {
    if excluded.is_empty() {
        return entry;
    }
    drop_from_map(&mut entry.properties, excluded);
    if let Some(changes) = &mut entry.changes {
        for side in [&mut changes.before, &mut changes.after]
            .into_iter()
            .flatten()
        {
            drop_keys(side, excluded);
        }
    }
    entry
}

/// In a bundle, a payload holding an excluded key cannot ship as committed (its bytes would
/// carry the content): it ships as a stand-in without those keys, marked like an erased value,
/// so the bundle still verifies and says plainly that this value is not the committed one.
pub(super) fn withhold_excluded(slots: Vec<Slot>, excluded: &[String]) -> Vec<Slot> {
    if excluded.is_empty() {
        return slots;
    }
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Committed(v) if v.part == Part::Payload => {
                let Ok(mut payload) = serde_json::from_slice::<Value>(&v.value) else {
                    return Slot::Committed(v);
                };
                if !withhold_in_payload(&mut payload, excluded) {
                    return Slot::Committed(v);
                }
                Slot::Erased {
                    part: Part::Payload,
                    replacement: canonical_json(&payload),
                }
            }
            other => other,
        })
        .collect()
}

/// Removes the excluded keys from a payload's `properties` and `changes`; true if any was
/// there.
fn withhold_in_payload(payload: &mut Value, excluded: &[String]) -> bool {
    let mut changed = payload
        .get_mut("properties")
        .is_some_and(|properties| drop_keys(properties, excluded));
    if let Some(changes) = payload.get_mut("changes") {
        for side in ["before", "after"] {
            if let Some(value) = changes.get_mut(side) {
                changed |= drop_keys(value, excluded);
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_core::envelope::VaultValue;
    use serde_json::json;

    fn excluded() -> Vec<String> {
        vec!["dialogue".to_string()]
    }

    #[test]
    fn an_excluded_key_leaves_properties_and_both_sides_of_changes() {
        let entry = Entry {
            id: uuid::Uuid::nil(),
            seq: 0,
            recorded_at: sealtrail_core::Timestamp(0),
            occurred_at: sealtrail_core::Timestamp(0),
            channel: "web".into(),
            action: "chat.reviewed".into(),
            event: "updated".into(),
            category: None,
            description: "A chat was reviewed".into(),
            result: sealtrail_core::Outcome::Success,
            actor: sealtrail_core::Actor::system("Test"),
            targets: Vec::new(),
            context: sealtrail_core::Context::default(),
            changes: Some(sealtrail_core::Changes {
                before: Some(json!({"dialogue": "before", "status": "open"})),
                after: Some(json!({"dialogue": "after", "status": "closed"})),
            }),
            properties: serde_json::from_value(json!({"dialogue": "secret", "n": 1})).unwrap(),
            redacted: Vec::new(),
            idempotency_key: None,
        };
        let out = without_excluded(entry, &excluded());
        assert_eq!(
            serde_json::to_value(&out.properties).unwrap(),
            json!({"n": 1})
        );
        let changes = out.changes.unwrap();
        assert_eq!(changes.before, Some(json!({"status": "open"})));
        assert_eq!(changes.after, Some(json!({"status": "closed"})));
    }

    #[test]
    fn a_bundle_payload_is_withheld_when_only_its_changes_hold_the_key() {
        let payload = json!({
            "properties": {"n": 1},
            "changes": {"before": null, "after": {"dialogue": "after"}},
        });
        let slot = Slot::Committed(VaultValue {
            part: Part::Payload,
            salt: [0; 16],
            value: canonical_json(&payload),
        });
        match withhold_excluded(vec![slot], &excluded()).pop() {
            Some(Slot::Erased { replacement, .. }) => {
                let shipped: Value = serde_json::from_slice(&replacement).unwrap();
                assert_eq!(shipped["changes"]["after"], json!({}));
                assert_eq!(shipped["properties"], json!({"n": 1}));
            }
            other => panic!("shipped as committed: {other:?}"),
        }
        let clean = Slot::Committed(VaultValue {
            part: Part::Payload,
            salt: [0; 16],
            value: canonical_json(&json!({"properties": {"n": 1}})),
        });
        assert!(matches!(
            withhold_excluded(vec![clean], &excluded()).pop(),
            Some(Slot::Committed(_))
        ));
    }
}
