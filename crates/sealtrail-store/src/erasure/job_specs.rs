//! Export job records after an erasure. A job's spec keeps what was asked for — the
//! requester, a label, the filters — for days after the job ends, and the job list shows it:
//! a filter `actor=zoe@example.com`, a label "Access review Zoë Martin" or Zoë herself as the
//! requester would outlive her erasure there. So an erasure rewrites every spec of the
//! tenant the way it rewrites entries: the requester who is the subject becomes the
//! pseudonymous actor, any string that is one of the subject's identifiers as a whole (a
//! filter value, however short the id) becomes the pseudonym, and specific identifiers inside
//! free text are replaced as whole tokens ([`crate::scrub`]). A job sent back to the queue by
//! the erasure then exports the subject's pseudonymised entries, which its filters now name.
//!
//! The spec is the service's JSON; only its `actor` key (who asked) is read by name here.

use super::subject::is_own_actor;
use super::Plan;
use crate::scrub::{erased_actor_value, TextScrub};
use serde_json::Value;

/// The key of the spec naming who asked for the job.
const REQUESTER: &str = "actor";

/// `spec` after erasure of `plan`'s subject, or `None` when nothing in it names the subject
/// (or it is not JSON, which the store never writes: it is left for the job to report).
pub(crate) fn scrub_spec(spec: &str, plan: &Plan) -> Option<String> {
    let mut value = serde_json::from_str::<Value>(spec).ok()?;
    let mut walk = TextScrub::new(&plan.text, &plan.pseudonym);
    let mut changed = false;
    if let Value::Object(map) = &mut value {
        if let Some(requester) = map.get_mut(REQUESTER) {
            if is_own_actor(requester, &plan.subject) {
                *requester = stand_in_requester(requester, &plan.pseudonym);
                changed = true;
            }
        }
    }
    changed |= replace_whole(&mut value, plan);
    walk.text(&mut value);
    (changed || !walk.changed.is_empty()).then(|| value.to_string())
}

/// The pseudonymous actor entries show for the subject, keeping the requester's type.
fn stand_in_requester(requester: &Value, pseudonym: &str) -> Value {
    let mut stand_in = erased_actor_value(pseudonym);
    if let (Value::Object(map), Some(kind)) = (&mut stand_in, requester.get("type")) {
        map.insert("type".into(), kind.clone());
    }
    stand_in
}

/// Replaces every string below `value` that names the subject as a whole; true if any did.
fn replace_whole(value: &mut Value, plan: &Plan) -> bool {
    match value {
        Value::String(s) if plan.names_subject(s) => {
            *s = plan.pseudonym.clone();
            true
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| replace_whole(item, plan) | changed),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |changed, item| replace_whole(item, plan) | changed),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::erasure::SubjectIdentifiers;
    use crate::scrub::PseudonymKey;
    use serde_json::json;

    /// The plan for erasing `u-1042`, an actor also known as zoe@example.com / Zoë Martin.
    fn plan() -> Plan {
        let mut who = SubjectIdentifiers::new("u-1042");
        who.add_actor(br#"{"id":"u-1042","email":"Zoe@Example.com","name":"Zo\u00eb Martin"}"#);
        who.finish("log.example/acme", &PseudonymKey::from_bytes([7; 32]))
            .expect("the actor makes the subject found")
    }

    fn spec(requester: Value, name: &str, filters: Value, params: Value) -> String {
        json!({
            "name": name,
            "format": "csv",
            "filters": filters,
            "params": params,
            "file_name": "audit-log-20261206T000000Z.csv",
            "actor": requester,
        })
        .to_string()
    }

    #[test]
    fn a_spec_naming_the_subject_anywhere_is_rewritten() {
        let plan = plan();
        let before = spec(
            json!({"type": "user", "id": "u-1042", "email": "zoe@example.com", "name": "Zoë Martin"}),
            "Access review for Zoë Martin",
            json!({"actor": "ZOE@example.com", "target_id": "u-1042"}),
            json!([["actor", "ZOE@example.com"], ["target_id", "u-1042"]]),
        );
        let after: Value =
            serde_json::from_str(&scrub_spec(&before, &plan).expect("it names the subject"))
                .expect("JSON");
        let p = plan.pseudonym.as_str();
        assert_eq!(after["actor"]["id"], p);
        assert_eq!(after["actor"]["type"], "user");
        assert_eq!(after["actor"]["email"], Value::Null);
        assert_eq!(after["name"], format!("Access review for {p}"));
        assert_eq!(after["filters"], json!({"actor": p, "target_id": p}));
        assert_eq!(after["params"], json!([["actor", p], ["target_id", p]]));
        assert_eq!(after["format"], "csv");
        let text = after.to_string().to_lowercase();
        for gone in ["u-1042", "zoe@example.com", "zoë martin"] {
            assert!(!text.contains(gone), "{gone} left in {text}");
        }
        // The requester still reads as an actor.
        let requester: sealtrail_core::entry::Actor =
            serde_json::from_value(after["actor"].clone()).expect("an actor");
        assert_eq!(requester.id.as_deref(), Some(p));
    }

    #[test]
    fn a_spec_of_someone_else_stays_as_it_is() {
        let plan = plan();
        let other = spec(
            json!({"type": "user", "id": "u-7", "email": "auditor@example.com"}),
            "Quarterly review u-10420",
            json!({"actor": "u-10", "q": "zoe@example.com.au"}),
            json!([["actor", "u-10"], ["q", "zoe@example.com.au"]]),
        );
        assert_eq!(scrub_spec(&other, &plan), None);
        assert_eq!(scrub_spec("not json", &plan), None);
    }

    #[test]
    fn a_short_id_is_replaced_only_as_a_whole_value() {
        let mut who = SubjectIdentifiers::new("u1");
        who.add_actor(br#"{"id":"u1"}"#);
        let plan = who
            .finish("log.example/acme", &PseudonymKey::from_bytes([7; 32]))
            .expect("found");
        let before = spec(
            json!({"type": "user", "id": "u-7"}),
            "u1 and u10",
            json!({"actor": "u1"}),
            json!([["actor", "u1"]]),
        );
        let after: Value =
            serde_json::from_str(&scrub_spec(&before, &plan).expect("the filter names u1"))
                .expect("JSON");
        assert_eq!(after["filters"]["actor"], plan.pseudonym.as_str());
        assert_eq!(
            after["name"], "u1 and u10",
            "a short id is not specific inside text"
        );
        assert_eq!(after["actor"]["id"], "u-7");
    }
}
