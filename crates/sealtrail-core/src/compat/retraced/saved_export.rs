//! The embedded viewer's saved exports: Retraced's `POST …/project/{id}/export`,
//! `GET …/exports` and `GET …/export/{id}/rendered`.
//!
//! A saved export is an entry of the tenant's own log (action [`SAVED_EXPORT_ACTION`]):
//! saving an export is an action the trail should hold anyway, and the log already keeps it
//! durably, on every node, for the tenant's retention. Listing the saved exports is then a
//! filtered query of the log, and rendering one re-runs its search as a CSV export, within
//! the viewer's scope, exactly as Retraced renders a saved export when it is downloaded.

use super::search::search_params;
use super::viewer::ViewerScope;
use super::{GROUP_PROPERTY, PROPERTY};
use crate::entry::{Entry, NewEntry};
use crate::ingest::{validate_event, FieldError, Limits};
use crate::Timestamp;
use serde_json::{json, Map, Value};

/// The action a saved export is recorded under.
pub const SAVED_EXPORT_ACTION: &str = "audit_log.export_saved";

/// Longest export name kept (Retraced's form field has no limit; a name is a label).
pub const MAX_NAME_CHARS: usize = 200;

/// What a viewer asked to export, as the logs-viewer sends it:
/// `{"name", "exportBody": {"searchQuery", "showCreate", "showRead", "showUpdate",
/// "showDelete", "version": 1, "startTime"?, "endTime"?}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedExport {
    /// The name the viewer gave it.
    pub name: String,
    /// The export body as sent (kept, and answered back, as Retraced does).
    pub body: Map<String, Value>,
}

/// Why a saved export was refused, naming the member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{member}`: {message}")]
pub struct ExportRefusal {
    /// The member at fault (`name`, `exportBody.startTime`, …).
    pub member: String,
    /// What is wrong with it.
    pub message: String,
}

fn refuse(member: &str, message: impl Into<String>) -> ExportRefusal {
    ExportRefusal {
        member: member.to_string(),
        message: message.into(),
    }
}

/// Reads the request of `POST …/export`, checking that its search would run.
pub fn parse_request(body: &Value) -> Result<SavedExport, ExportRefusal> {
    let Some(object) = body.as_object() else {
        return Err(refuse("", "the body must be a JSON object"));
    };
    if let Some(other) = object
        .keys()
        .find(|k| !["name", "exportBody"].contains(&k.as_str()))
    {
        return Err(refuse(other, "unknown member; allowed: name, exportBody"));
    }
    let name = match object.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
        _ => return Err(refuse("name", "is required: a non-empty string")),
    };
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(refuse(
            "name",
            format!("at most {MAX_NAME_CHARS} characters, none of them control characters"),
        ));
    }
    let Some(Value::Object(export_body)) = object.get("exportBody") else {
        return Err(refuse("exportBody", "is required: an object"));
    };
    let saved = SavedExport {
        name,
        body: export_body.clone(),
    };
    search_of(&saved.body)?;
    Ok(saved)
}

/// The list parameters of a saved export's search: its query text, the kinds its `show*`
/// flags select, and its time range. The viewer's scope is added by [`scoped_params`].
fn search_of(body: &Map<String, Value>) -> Result<Vec<(String, String)>, ExportRefusal> {
    const MEMBERS: [&str; 8] = [
        "searchQuery",
        "showCreate",
        "showRead",
        "showUpdate",
        "showDelete",
        "version",
        "startTime",
        "endTime",
    ];
    if let Some(other) = body.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(refuse(
            &format!("exportBody.{other}"),
            format!("unknown member; allowed: {}", MEMBERS.join(", ")),
        ));
    }
    let text = match body.get("searchQuery") {
        None | Some(Value::Null) => "",
        Some(Value::String(text)) => text.as_str(),
        Some(_) => return Err(refuse("exportBody.searchQuery", "must be a string")),
    };
    let mut params = search_params(text).map_err(|e| refuse("exportBody.searchQuery", e.0))?;
    // The viewer's checkboxes: none ticked (or none sent) means every kind, as in Retraced.
    let mut kinds = Vec::new();
    for (flag, kind) in [
        ("showCreate", "created"),
        ("showRead", "read"),
        ("showUpdate", "updated"),
        ("showDelete", "deleted"),
    ] {
        match body.get(flag) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => kinds.push(kind),
            Some(_) => {
                return Err(refuse(
                    &format!("exportBody.{flag}"),
                    "must be true or false",
                ))
            }
        }
    }
    if kinds.len() < 4 {
        params.retain(|(k, _)| k != "event");
        params.extend(
            kinds
                .into_iter()
                .map(|k| ("event".to_string(), k.to_string())),
        );
    }
    for (member, param) in [("startTime", "from"), ("endTime", "to")] {
        if let Some(at) = instant(body.get(member), member)? {
            params.retain(|(k, _)| k != param);
            params.push((param.to_string(), at.to_rfc3339()));
        }
    }
    Ok(params)
}

/// A `startTime`/`endTime`: milliseconds since the epoch (as Retraced stores them) or an RFC
/// 3339 instant (as a JavaScript `Date` serialises).
fn instant(value: Option<&Value>, member: &str) -> Result<Option<Timestamp>, ExportRefusal> {
    let wrong = || {
        refuse(
            &format!("exportBody.{member}"),
            "must be milliseconds since 1970 or an RFC 3339 instant",
        )
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|ms| (0..=253_402_300_799_999).contains(ms))
            .map(|ms| Some(Timestamp(ms)))
            .ok_or_else(wrong),
        Some(Value::String(text)) => Timestamp::parse_rfc3339(text)
            .map(Some)
            .map_err(|_| wrong()),
        Some(_) => Err(wrong()),
    }
}

/// The entry that records (and keeps) a saved export, made by the viewing actor.
pub fn saved_entry(
    scope: &ViewerScope,
    saved: &SavedExport,
    ip: Option<&str>,
    now: Timestamp,
) -> Result<NewEntry, FieldError> {
    let mut properties = Map::new();
    let mut retraced = Map::new();
    if let Some(group) = &scope.group_id {
        properties.insert(GROUP_PROPERTY.into(), json!(group));
        retraced.insert("group".into(), json!({ "id": group }));
    }
    if let Some(target) = &scope.target_id {
        retraced.insert("target_id".into(), json!(target));
    }
    retraced.insert("export_name".into(), json!(saved.name));
    retraced.insert("export_body".into(), Value::Object(saved.body.clone()));
    properties.insert(PROPERTY.into(), Value::Object(retraced));
    let mut event = json!({
        "action": SAVED_EXPORT_ACTION,
        "channel": "security",
        "event": "created",
        "description": format!("Saved the export \"{}\" in the embedded viewer", saved.name),
        "actor": {"type": "user", "id": scope.actor_id, "via": "Retraced viewer"},
        "properties": properties,
    });
    if let Some(ip) = ip {
        event["context"] = json!({ "ip": ip });
    }
    validate_event(event, &Limits::default(), now)
}

/// The saved export an entry records, if it is one the viewer of `scope` may use: a saved
/// export of the same group and target, never one of another group.
pub fn saved_in_scope(entry: &Entry, scope: &ViewerScope) -> Option<SavedExport> {
    if entry.action != SAVED_EXPORT_ACTION {
        return None;
    }
    let group = entry.properties.get(GROUP_PROPERTY).and_then(Value::as_str);
    if group != scope.group_id.as_deref() {
        return None;
    }
    let retraced = entry.properties.get(PROPERTY)?.as_object()?;
    let target = retraced.get("target_id").and_then(Value::as_str);
    if target != scope.target_id.as_deref() {
        return None;
    }
    Some(SavedExport {
        name: retraced.get("export_name")?.as_str()?.to_string(),
        body: retraced.get("export_body")?.as_object()?.clone(),
    })
}

/// A saved export as the viewer lists it (`{id, name, body, created}`).
pub fn listed(entry: &Entry, saved: &SavedExport) -> Value {
    json!({
        "id": entry.id.to_string(),
        "name": saved.name,
        "body": saved.body,
        "created": entry.recorded_at,
    })
}

/// The list parameters that render `saved` for the viewer of `scope`: its search, narrowed to
/// the viewer's group and target (added as filters of their own, so no query text can widen
/// them: a second group only narrows, a second target is refused).
pub fn scoped_params(
    saved: &SavedExport,
    scope: &ViewerScope,
) -> Result<Vec<(String, String)>, ExportRefusal> {
    let mut params = search_of(&saved.body)?;
    let group_param = format!("properties.{GROUP_PROPERTY}");
    params.retain(|(k, _)| *k != group_param);
    if let Some(group) = &scope.group_id {
        params.push((group_param, group.clone()));
    }
    if let Some(target) = &scope.target_id {
        params.retain(|(k, _)| k != "target_id");
        params.push(("target_id".to_string(), target.clone()));
    }
    Ok(params)
}

/// The list parameters that find the saved exports of the viewer's group, newest first.
pub fn listing_params(scope: &ViewerScope, limit: usize) -> Vec<(String, String)> {
    let mut params = vec![
        ("action".to_string(), SAVED_EXPORT_ACTION.to_string()),
        ("limit".to_string(), limit.to_string()),
    ];
    if let Some(group) = &scope.group_id {
        params.push((format!("properties.{GROUP_PROPERTY}"), group.clone()));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse_query;

    fn scope(group: &str, target: Option<&str>) -> ViewerScope {
        ViewerScope {
            tenant: 1,
            project: "acme".into(),
            group_id: Some(group.into()),
            actor_id: "viewer@example.com".into(),
            is_admin: false,
            target_id: target.map(str::to_string),
            view_log_action: "audit.log.view".into(),
        }
    }

    fn request(body: Value) -> Value {
        json!({"name": "Q3 review", "exportBody": body})
    }

    #[test]
    fn the_viewers_request_becomes_its_search() {
        let saved = parse_request(&request(json!({
            "searchQuery": "action:\"user.*\" invoice",
            "showCreate": true, "showRead": false, "showUpdate": true, "showDelete": false,
            "version": 1,
            "startTime": 1_767_225_600_000_i64,
            "endTime": "2026-02-01T00:00:00Z",
        })))
        .unwrap();
        let params = scoped_params(&saved, &scope("team-a", None)).unwrap();
        let query = parse_query(&params, Timestamp::now(), &[]).unwrap();
        assert_eq!(query.filter.event, vec!["created", "updated"]);
        assert_eq!(query.filter.text.as_deref(), Some("invoice"));
        assert_eq!(query.filter.from, Some(Timestamp(1_767_225_600_000)));
        assert!(query.filter.until.is_some());
        assert_eq!(
            query.filter.properties,
            vec![(GROUP_PROPERTY.to_string(), "team-a".to_string())]
        );
    }

    #[test]
    fn no_kind_ticked_exports_every_kind() {
        let saved = parse_request(&request(json!({"searchQuery": ""}))).unwrap();
        let params = scoped_params(&saved, &scope("team-a", None)).unwrap();
        assert!(params.iter().all(|(k, _)| k != "event"));
    }

    #[test]
    fn no_query_text_widens_the_viewers_scope() {
        let saved = parse_request(&request(json!({
            "searchQuery": "target.id:other-doc",
        })))
        .unwrap();
        let params = scoped_params(&saved, &scope("team-a", Some("doc-1"))).unwrap();
        let query = parse_query(&params, Timestamp::now(), &[]).unwrap();
        assert_eq!(query.filter.target_id.as_deref(), Some("doc-1"));
        assert_eq!(
            query.filter.properties,
            vec![(GROUP_PROPERTY.to_string(), "team-a".to_string())]
        );
    }

    #[test]
    fn a_saved_export_serves_only_its_own_group_and_target() {
        let saved = parse_request(&request(json!({"searchQuery": "crud:d"}))).unwrap();
        let viewer = scope("team-a", None);
        let new = saved_entry(&viewer, &saved, Some("192.0.2.1"), Timestamp::now()).unwrap();
        let entry = Entry {
            id: uuid::Uuid::nil(),
            seq: 0,
            recorded_at: Timestamp::now(),
            occurred_at: Timestamp::now(),
            channel: new.channel.clone(),
            action: new.action.clone(),
            event: new.event.clone(),
            category: None,
            description: new.description.clone(),
            result: new.result,
            actor: new.actor.clone(),
            targets: vec![],
            context: new.context.clone(),
            changes: None,
            properties: new.properties.clone(),
            redacted: vec![],
            idempotency_key: None,
        };
        assert_eq!(saved_in_scope(&entry, &viewer), Some(saved.clone()));
        assert_eq!(saved_in_scope(&entry, &scope("team-b", None)), None);
        assert_eq!(
            saved_in_scope(&entry, &scope("team-a", Some("doc-1"))),
            None
        );
        let listed = listed(&entry, &saved);
        assert_eq!(listed["name"], "Q3 review");
    }

    #[test]
    fn unusable_requests_are_refused_by_member() {
        for (body, member) in [
            (json!({"exportBody": {}}), "name"),
            (json!({"name": "x"}), "exportBody"),
            (json!({"name": "x", "exportBody": {}, "extra": 1}), "extra"),
            (
                request(json!({"showCreate": "yes"})),
                "exportBody.showCreate",
            ),
            (
                request(json!({"startTime": "yesterday"})),
                "exportBody.startTime",
            ),
            (
                request(json!({"searchQuery": "crud:x"})),
                "exportBody.searchQuery",
            ),
            (request(json!({"columns": []})), "exportBody.columns"),
        ] {
            assert_eq!(parse_request(&body).unwrap_err().member, member, "{body}");
        }
    }
}
