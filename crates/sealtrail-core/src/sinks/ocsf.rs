//! An entry as an OCSF 1.8.0 API Activity event (class 6003): the shape SIEMs that speak OCSF
//! (Splunk's OCSF-CIM add-on, Amazon Security Lake, Sentinel…) read without a custom parser.
//!
//! The mapping, field by field, is in docs/streaming.md; it meets the class's required
//! attributes and constraints for every entry (`src_endpoint` gets a name when no IP was
//! recorded, a target with neither id nor name is named by its type), and keeps whatever OCSF
//! has no place for under `unmapped`, so nothing of the entry is lost.

use crate::entry::{ActorType, Entry, Outcome};
use serde_json::{json, Map, Value};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.8.0";

/// `entry` of the tenant named `tenant`, whose log's origin is `origin`, as an OCSF 6003
/// event.
pub fn api_activity(entry: &Entry, tenant: &str, origin: &str) -> Value {
    let (activity_id, activity_name) = activity(&entry.event);
    let (status_id, status) = status(entry.result);
    let mut event = Map::new();
    event.insert("class_uid".into(), json!(6003));
    event.insert("class_name".into(), json!("API Activity"));
    event.insert("category_uid".into(), json!(6));
    event.insert("category_name".into(), json!("Application Activity"));
    event.insert("activity_id".into(), json!(activity_id));
    event.insert("activity_name".into(), json!(activity_name));
    event.insert("type_uid".into(), json!(600300 + activity_id));
    event.insert(
        "type_name".into(),
        json!(format!("API Activity: {activity_name}")),
    );
    // Audit records are not incidents: detections raise severity, not the producer.
    event.insert("severity_id".into(), json!(1));
    event.insert("severity".into(), json!("Informational"));
    event.insert("status_id".into(), json!(status_id));
    event.insert("status".into(), json!(status));
    event.insert("status_detail".into(), json!(entry.result.as_str()));
    event.insert("time".into(), json!(entry.occurred_at.millis()));
    event.insert("message".into(), json!(entry.description));
    event.insert("actor".into(), actor(entry));
    event.insert("api".into(), api(entry));
    event.insert("src_endpoint".into(), src_endpoint(entry));
    event.insert("metadata".into(), metadata(entry, tenant, origin));
    if !entry.targets.is_empty() {
        event.insert("resources".into(), resources(entry));
    }
    if let Some(http) = http_request(entry) {
        event.insert("http_request".into(), http);
    }
    let observables = observables(entry);
    if !observables.is_empty() {
        event.insert("observables".into(), Value::Array(observables));
    }
    event.insert("unmapped".into(), unmapped(entry));
    Value::Object(event)
}

/// OCSF's activity for a Sealtrail event kind; anything but the four CRUD verbs is Other,
/// named by the kind itself.
fn activity(event: &str) -> (u32, String) {
    match event {
        "created" => (1, "Create".into()),
        "read" => (2, "Read".into()),
        "updated" => (3, "Update".into()),
        "deleted" => (4, "Delete".into()),
        other => (99, other.to_string()),
    }
}

fn status(result: Outcome) -> (u32, &'static str) {
    match result {
        Outcome::Success | Outcome::Approved | Outcome::Allowed => (1, "Success"),
        Outcome::Failure | Outcome::Denied => (2, "Failure"),
        Outcome::Warning => (99, "Other"),
    }
}

fn actor(entry: &Entry) -> Value {
    let a = &entry.actor;
    let (type_id, kind) = match a.kind {
        ActorType::User => (1, "User"),
        ActorType::System => (3, "System"),
        ActorType::Api => (4, "Service"),
        ActorType::Integration => (99, "Integration"),
    };
    let mut user = Map::new();
    if let Some(id) = &a.id {
        user.insert("uid".into(), json!(id));
    }
    // `user` needs one of account, name or uid: an actor with neither is named by its type.
    let name = a
        .name
        .clone()
        .or_else(|| a.id.is_none().then(|| a.kind.as_str().to_string()));
    if let Some(name) = name {
        user.insert("name".into(), json!(name));
    }
    if let Some(email) = &a.email {
        user.insert("email_addr".into(), json!(email));
    }
    user.insert("type_id".into(), json!(type_id));
    user.insert("type".into(), json!(kind));
    let mut actor = Map::new();
    actor.insert("user".into(), Value::Object(user));
    if let Some(via) = &a.via {
        actor.insert("invoked_by".into(), json!(via));
    }
    Value::Object(actor)
}

fn api(entry: &Entry) -> Value {
    let mut api = json!({
        "operation": entry.action,
        "service": { "name": entry.channel },
    });
    // `api.request.uid` is required once `api.request` is there: only with a key.
    if let Some(key) = &entry.idempotency_key {
        api["request"] = json!({ "uid": key });
    }
    if matches!(entry.result, Outcome::Failure | Outcome::Denied) {
        api["response"] = json!({
            "error": entry.result.as_str(),
            "error_message": entry.description,
        });
    }
    api
}

/// Required by the class: the IP when one was recorded, else a name (the integration the
/// actor came through, `system`, or `unknown`).
fn src_endpoint(entry: &Entry) -> Value {
    if let Some(ip) = &entry.context.ip {
        return json!({ "ip": ip });
    }
    let name = match (&entry.actor.via, entry.actor.kind) {
        (Some(via), _) => via.as_str(),
        (None, ActorType::System) => "system",
        (None, _) => "unknown",
    };
    json!({ "name": name })
}

fn metadata(entry: &Entry, tenant: &str, origin: &str) -> Value {
    json!({
        "version": OCSF_VERSION,
        "product": {
            "name": "Sealtrail",
            "vendor_name": "Sealtrail",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "uid": entry.id.to_string(),
        "original_event_uid": entry.id.to_string(),
        "sequence": entry.seq,
        "tenant_uid": tenant,
        "log_provider": "Sealtrail",
        "log_source": origin,
        "event_code": entry.action,
        "logged_time": entry.recorded_at.millis(),
        "original_time": entry.occurred_at.to_rfc3339(),
    })
}

fn resources(entry: &Entry) -> Value {
    entry
        .targets
        .iter()
        .map(|t| {
            let mut r = Map::new();
            r.insert("type".into(), json!(t.kind));
            if let Some(id) = &t.id {
                r.insert("uid".into(), json!(id));
            }
            // `_entity` needs a name or a uid.
            match (&t.name, &t.id) {
                (Some(name), _) => {
                    r.insert("name".into(), json!(name));
                }
                (None, None) => {
                    r.insert("name".into(), json!(t.kind));
                }
                (None, Some(_)) => {}
            }
            r.insert("role_id".into(), json!(1));
            r.insert("role".into(), json!("Target"));
            Value::Object(r)
        })
        .collect()
}

fn http_request(entry: &Entry) -> Option<Value> {
    let mut http = Map::new();
    if let Some(agent) = &entry.context.user_agent {
        http.insert("user_agent".into(), json!(agent));
    }
    if let Some(request) = &entry.context.request {
        if let Some(method) = &request.method {
            http.insert("http_method".into(), json!(method.to_ascii_uppercase()));
        }
        if let Some(path) = &request.path {
            http.insert("url".into(), json!({ "path": path }));
        }
    }
    (!http.is_empty()).then_some(Value::Object(http))
}

fn observables(entry: &Entry) -> Vec<Value> {
    let observable = |name: &str, type_id: u32, kind: &str, value: &str| json!({ "name": name, "type_id": type_id, "type": kind, "value": value });
    let mut list = Vec::new();
    if let Some(ip) = &entry.context.ip {
        list.push(observable("src_endpoint.ip", 2, "IP Address", ip));
    }
    if let Some(email) = &entry.actor.email {
        list.push(observable(
            "actor.user.email_addr",
            5,
            "Email Address",
            email,
        ));
    }
    if let Some(name) = &entry.actor.name {
        list.push(observable("actor.user.name", 4, "User Name", name));
    }
    if let Some(agent) = &entry.context.user_agent {
        list.push(observable(
            "http_request.user_agent",
            16,
            "HTTP User-Agent",
            agent,
        ));
    }
    list
}

/// What OCSF has no attribute for, kept so nothing of the entry is lost.
fn unmapped(entry: &Entry) -> Value {
    let mut rest = Map::new();
    rest.insert("channel".into(), json!(entry.channel));
    rest.insert("event".into(), json!(entry.event));
    rest.insert("result".into(), json!(entry.result.as_str()));
    if let Some(category) = &entry.category {
        rest.insert("category".into(), json!(category));
    }
    if let Some(location) = &entry.context.location {
        // Free text cannot meet `location`'s constraint (a city, country, region or code).
        rest.insert("location".into(), json!(location));
    }
    if !entry.properties.is_empty() {
        rest.insert("properties".into(), Value::Object(entry.properties.clone()));
    }
    if let Some(changes) = &entry.changes {
        rest.insert("changes".into(), json!(changes));
    }
    if !entry.redacted.is_empty() {
        rest.insert("redacted".into(), json!(entry.redacted));
    }
    if let Some(request) = &entry.context.request {
        let mut kept = Map::new();
        if let Some(body) = &request.body {
            kept.insert("body".into(), body.clone());
        }
        if let Some(response) = &request.response {
            kept.insert("response".into(), response.clone());
        }
        if !kept.is_empty() {
            rest.insert("request".into(), Value::Object(kept));
        }
    }
    Value::Object(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The README's example entry, as stored.
    fn readme_entry() -> Entry {
        serde_json::from_value(json!({
            "id": "01a23adf-544d-71ae-ae1f-eba60744ea34",
            "seq": 3304,
            "recorded_at": "2026-12-03T07:47:24.365Z",
            "occurred_at": "2026-12-03T07:00:00.000Z",
            "channel": "hardware",
            "action": "hardware.updated",
            "event": "updated",
            "category": "Asset Changes",
            "description": "Laptop 142 assigned to Zoë Martin",
            "result": "success",
            "actor": {"type": "user", "id": "u_17", "name": "Ada Admin",
                      "email": "ada@example.com", "via": "API (Billing)"},
            "targets": [{"type": "hardware", "id": "142", "name": "Laptop 142"}],
            "context": {"ip": "203.0.113.7", "user_agent": "curl/8", "location": "Berlin, DE",
                        "request": {"method": "patch", "path": "/hardware/142",
                                    "response": {"status": 200}}},
            "changes": {"before": {"owner": null}, "after": {"owner": "zoe"}},
            "properties": {"site": "Berlin"},
            "idempotency_key": "demo-1"
        }))
        .unwrap()
    }

    #[test]
    fn the_readme_entry_maps_as_the_specification_shows() {
        let event = api_activity(&readme_entry(), "default", "sealtrail/0ee0de84/default");
        let mut expected = json!({"class_uid":6003,"class_name":"API Activity","category_uid":6,"category_name":"Application Activity",
         "activity_id":3,"activity_name":"Update","type_uid":600303,"type_name":"API Activity: Update",
         "severity_id":1,"severity":"Informational","status_id":1,"status":"Success","status_detail":"success",
         "time":1796281200000_i64,"message":"Laptop 142 assigned to Zoë Martin",
         "actor":{"user":{"uid":"u_17","name":"Ada Admin","email_addr":"ada@example.com","type_id":1,"type":"User"},"invoked_by":"API (Billing)"},
         "api":{"operation":"hardware.updated","service":{"name":"hardware"},"request":{"uid":"demo-1"}},
         "src_endpoint":{"ip":"203.0.113.7"},
         "metadata":{"version":"1.8.0","product":{"name":"Sealtrail","vendor_name":"Sealtrail","version":"0.1.0"},
           "uid":"01a23adf-544d-71ae-ae1f-eba60744ea34","original_event_uid":"01a23adf-544d-71ae-ae1f-eba60744ea34",
           "sequence":3304,"tenant_uid":"default","log_provider":"Sealtrail","event_code":"hardware.updated",
           "logged_time":1796284044365_i64,"original_time":"2026-12-03T07:00:00.000Z","log_source":"sealtrail/0ee0de84/default"},
         "resources":[{"type":"hardware","uid":"142","name":"Laptop 142","role_id":1,"role":"Target"}],
         "http_request":{"user_agent":"curl/8","http_method":"PATCH","url":{"path":"/hardware/142"}},
         "observables":[{"name":"src_endpoint.ip","type_id":2,"type":"IP Address","value":"203.0.113.7"},
           {"name":"actor.user.email_addr","type_id":5,"type":"Email Address","value":"ada@example.com"},
           {"name":"actor.user.name","type_id":4,"type":"User Name","value":"Ada Admin"},
           {"name":"http_request.user_agent","type_id":16,"type":"HTTP User-Agent","value":"curl/8"}],
         "unmapped":{"channel":"hardware","event":"updated","result":"success","location":"Berlin, DE","category":"Asset Changes",
           "properties":{"site":"Berlin"},"changes":{"before":{"owner":null},"after":{"owner":"zoe"}},"request":{"response":{"status":200}}}});
        expected["metadata"]["product"]["version"] = json!(env!("CARGO_PKG_VERSION"));
        assert_eq!(event, expected);
    }

    #[test]
    fn a_bare_system_entry_still_meets_the_class_constraints() {
        let entry: Entry = serde_json::from_value(json!({
            "id": "01a23adf-544d-71ae-ae1f-eba60744ea35", "seq": 0,
            "recorded_at": "2026-12-03T07:47:24.365Z", "occurred_at": "2026-12-03T07:47:24.365Z",
            "channel": "default", "action": "retention.pruned", "event": "other",
            "description": "", "result": "denied",
            "actor": {"type": "system"},
            "targets": [{"type": "log"}]
        }))
        .unwrap();
        let event = api_activity(&entry, "acme", "o");
        assert_eq!(event["activity_id"], 99);
        assert_eq!(event["activity_name"], "other");
        assert_eq!(event["type_uid"], 600399);
        assert_eq!(event["status_id"], 2);
        assert_eq!(event["api"]["response"]["error"], "denied");
        assert!(
            event["api"].get("request").is_none(),
            "no key, no api.request"
        );
        assert_eq!(event["src_endpoint"], json!({"name": "system"}));
        assert_eq!(event["actor"]["user"]["name"], "system");
        assert_eq!(event["actor"]["user"]["type_id"], 3);
        assert_eq!(event["resources"][0]["name"], "log");
        assert!(event.get("http_request").is_none());
        assert!(event.get("observables").is_none());
    }
}
