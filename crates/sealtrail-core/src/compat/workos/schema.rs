//! WorkOS's action schemas (`createSchema`: the target types an action may name and the
//! types of its actor, target and root metadata) as Sealtrail per-action JSON Schemas over
//! the stored entry ([`crate::schemas`]), and back into WorkOS's schema object for its list
//! calls.
//!
//! The translation checks what an entry keeps of a WorkOS event: each target's `type` is one
//! of the listed types, root `metadata` keys (stored as `properties.<key>`) and actor metadata
//! (`properties.workos.actor_metadata.<key>`) have the listed JSON types. Per-target-type
//! metadata is kept in the WorkOS form but not enforced: the entry keeps target metadata in
//! a list beside the targets, which a JSON Schema cannot pair with each target's type.

use super::{invalid, Invalid, PROPERTY};
use serde_json::{json, Map, Value};

/// The JSON Schema a `createSchema` body stands for (module docs), or why the body is not
/// one: `targets` is a non-empty list of `{type, metadata?}`; each metadata is
/// `{"type": "object", "properties": {key: {"type": "string" | "number" | "boolean"}}}`.
pub fn to_json_schema(body: &Value) -> Result<Value, Invalid> {
    let Value::Object(body) = body else {
        return Err(invalid("", "the body must be an object with `targets`"));
    };
    if let Some(key) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "actor" | "targets" | "metadata"))
    {
        return Err(invalid(
            format!("/{key}"),
            "unknown property; allowed: actor, targets, metadata",
        ));
    }
    let targets = match body.get("targets") {
        Some(Value::Array(t)) if !t.is_empty() => t,
        _ => {
            return Err(invalid(
                "/targets",
                "is required: a non-empty list of {type}",
            ))
        }
    };
    let mut types = Vec::with_capacity(targets.len());
    for (i, target) in targets.iter().enumerate() {
        let path = format!("/targets/{i}");
        let Value::Object(target) = target else {
            return Err(invalid(&path, "must be an object with `type`"));
        };
        match target.get("type") {
            Some(Value::String(t)) if !t.is_empty() => types.push(t.clone()),
            _ => return Err(invalid(format!("{path}/type"), "is required: a string")),
        }
        metadata_properties(target.get("metadata"), &format!("{path}/metadata"))?;
        if let Some(key) = target
            .keys()
            .find(|k| !matches!(k.as_str(), "type" | "metadata"))
        {
            return Err(invalid(format!("{path}/{key}"), "unknown property"));
        }
    }
    let actor_metadata = match body.get("actor") {
        None | Some(Value::Null) => None,
        Some(Value::Object(actor)) => {
            if let Some(key) = actor.keys().find(|k| *k != "metadata") {
                return Err(invalid(format!("/actor/{key}"), "unknown property"));
            }
            metadata_properties(actor.get("metadata"), "/actor/metadata")?
        }
        Some(_) => return Err(invalid("/actor", "must be an object with `metadata`")),
    };
    let mut properties =
        metadata_properties(body.get("metadata"), "/metadata")?.unwrap_or_default();
    if let Some(actor) = actor_metadata {
        properties.insert(
            PROPERTY.into(),
            json!({"type": "object", "properties": {
                "actor_metadata": {"type": "object", "properties": actor}
            }}),
        );
    }
    Ok(json!({
        "type": "object",
        "properties": {
            "targets": {
                "type": "array",
                "items": {"type": "object", "properties": {"type": {"enum": types}}}
            },
            "properties": {"type": "object", "properties": properties}
        }
    }))
}

/// A metadata schema's `properties`, checked.
fn metadata_properties(
    value: Option<&Value>,
    path: &str,
) -> Result<Option<Map<String, Value>>, Invalid> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let shape = || {
        invalid(
            path,
            "must be {\"type\": \"object\", \"properties\": {key: {\"type\": \"string\" | \"number\" | \"boolean\"}}}",
        )
    };
    let Value::Object(object) = value else {
        return Err(shape());
    };
    // Anything else (such as the Node SDK's `{key: "number"}` shorthand sent as is) would
    // constrain nothing while looking as if it did: refused.
    let unknown = object
        .keys()
        .any(|k| !matches!(k.as_str(), "type" | "properties"));
    if unknown || object.get("type").is_some_and(|t| t != "object") {
        return Err(shape());
    }
    let properties = match object.get("properties") {
        None => return Ok(Some(Map::new())),
        Some(Value::Object(p)) => p,
        Some(_) => return Err(shape()),
    };
    for (key, schema) in properties {
        let kind = schema.get("type").and_then(Value::as_str);
        if !matches!(kind, Some("string" | "number" | "boolean")) {
            return Err(invalid(
                format!("{path}/properties/{key}/type"),
                "must be \"string\", \"number\" or \"boolean\"",
            ));
        }
    }
    Ok(Some(properties.clone()))
}

/// A registered version as WorkOS's schema object: the WorkOS form it was registered in, or
/// for a schema registered through Sealtrail's own API, no targets and the JSON Schema as
/// `schema`.
pub fn schema_object(
    version: u32,
    source: Option<&str>,
    document: &str,
    created_at: &str,
) -> Value {
    let source: Option<Value> = source.and_then(|s| serde_json::from_str(s).ok());
    let mut object = json!({
        "object": "audit_log_schema",
        "version": version,
        "created_at": created_at,
    });
    match source {
        Some(Value::Object(source)) => {
            for (key, value) in source {
                object[key] = value;
            }
        }
        _ => {
            object["targets"] = json!([]);
            object["schema"] = serde_json::from_str(document).unwrap_or(Value::Null);
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{validate_event, Limits};
    use crate::schemas::ActionSchemas;
    use crate::timestamp::Timestamp;

    fn body() -> Value {
        json!({
            "actor": {"metadata": {"type": "object", "properties": {"role": {"type": "string"}}}},
            "targets": [{"type": "document", "metadata": {"type": "object", "properties": {"pages": {"type": "number"}}}}],
            "metadata": {"type": "object", "properties": {"amount": {"type": "number"}}}
        })
    }

    fn check(document: &Value, event: Value) -> Result<(), String> {
        let text = document.to_string();
        let schemas = ActionSchemas::compile([("doc.shared", 1, text.as_str())]);
        let entry =
            validate_event(event, &Limits::default(), Timestamp(1_795_000_000_000)).unwrap();
        schemas.check(&entry, None).map_err(|e| e.field)
    }

    #[test]
    fn a_workos_schema_checks_target_types_and_metadata_types() {
        let document = to_json_schema(&body()).unwrap();
        let event = |target: &str, amount: Value, role: Value| {
            json!({"action": "doc.shared", "actor": {"id": "u"},
                "targets": [{"type": target, "id": "d1"}],
                "properties": {"amount": amount, "workos": {"actor_metadata": {"role": role}}}})
        };
        assert_eq!(
            check(&document, event("document", json!(3), json!("admin"))),
            Ok(())
        );
        assert_eq!(
            check(&document, event("folder", json!(3), json!("admin"))),
            Err("targets[0].type".into())
        );
        assert_eq!(
            check(&document, event("document", json!("3"), json!("admin"))),
            Err("properties.amount".into())
        );
        assert_eq!(
            check(&document, event("document", json!(3), json!(1))),
            Err("properties.workos.actor_metadata.role".into())
        );
    }

    #[test]
    fn malformed_workos_schemas_are_refused_with_their_path() {
        for (body, path) in [
            (json!({}), "/targets"),
            (json!({"targets": []}), "/targets"),
            (json!({"targets": [{}]}), "/targets/0/type"),
            (json!({"targets": [{"type": "t"}], "extra": 1}), "/extra"),
            (
                json!({"targets": [{"type": "t"}], "metadata": {"type": "object", "properties": {"k": {"type": "array"}}}}),
                "/metadata/properties/k/type",
            ),
            (
                json!({"targets": [{"type": "t"}], "actor": {"metadata": 5}}),
                "/actor/metadata",
            ),
        ] {
            assert_eq!(
                to_json_schema(&body).unwrap_err().instance_path,
                path,
                "{body}"
            );
        }
    }

    #[test]
    fn the_schema_object_shows_the_form_it_was_registered_in() {
        let object = schema_object(
            2,
            Some(&body().to_string()),
            "{}",
            "2026-12-05T00:00:00.000Z",
        );
        assert_eq!(object["object"], "audit_log_schema");
        assert_eq!(object["version"], 2);
        assert_eq!(object["targets"][0]["type"], "document");
        let native = schema_object(1, None, r#"{"type":"object"}"#, "t");
        assert_eq!(native["targets"], json!([]));
        assert_eq!(native["schema"], json!({"type": "object"}));
    }
}
