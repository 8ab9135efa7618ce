//! Reading one Retraced event: every field type-checked and Retraced's own rules applied
//! (required `action` and `crud`, sub-object ids, string-only `fields` and `metadata`,
//! unknown keys), every violation collected as Retraced reports them, with the values
//! borrowed from the received JSON for the hash and the map onto Sealtrail's shape.

use super::{Violation, GROUP_PROPERTY, PROPERTY};
use crate::ingest::join;
use serde_json::{Map, Value};

/// Top-level keys of a Retraced event (`displayTitle` is deprecated but still accepted).
const EVENT_KEYS: &[&str] = &[
    "action",
    "crud",
    "group",
    "displayTitle",
    "created",
    "actor",
    "target",
    "source_ip",
    "description",
    "is_anonymous",
    "is_failure",
    "fields",
    "component",
    "version",
    "external_id",
    "metadata",
];
/// Keys of `group`.
const GROUP_KEYS: &[&str] = &["id", "name"];
/// Keys of `actor`.
const ACTOR_KEYS: &[&str] = &["id", "name", "href", "fields"];
/// Keys of `target`.
const TARGET_KEYS: &[&str] = &["id", "name", "href", "type", "fields"];

/// A string-to-string map (`fields`, `metadata`) as received.
pub(super) type StringMap<'a> = Vec<(&'a str, &'a str)>;

/// The fields of one Retraced event, type-checked, borrowed from the received JSON.
#[derive(Default)]
pub(super) struct RetracedFields<'a> {
    pub(super) action: &'a str,
    pub(super) crud: &'a str,
    pub(super) group: Option<&'a Map<String, Value>>,
    pub(super) display_title: Option<&'a str>,
    pub(super) created: Option<&'a str>,
    pub(super) actor: Option<&'a Map<String, Value>>,
    pub(super) target: Option<&'a Map<String, Value>>,
    pub(super) source_ip: Option<&'a str>,
    pub(super) description: Option<&'a str>,
    pub(super) is_anonymous: bool,
    pub(super) is_failure: bool,
    pub(super) fields: Option<StringMap<'a>>,
    pub(super) component: Option<&'a str>,
    pub(super) version: Option<&'a str>,
    pub(super) external_id: Option<&'a str>,
    pub(super) metadata: Option<StringMap<'a>>,
}

/// Reads one object's fields, collecting every violation rather than stopping at the first,
/// as Retraced reports them.
struct Reader<'a> {
    object: &'a Map<String, Value>,
    path: &'static str,
    violations: Vec<Violation>,
}

impl<'a> Reader<'a> {
    fn new(object: &'a Map<String, Value>, path: &'static str, allowed: &[&str]) -> Self {
        let violations = object
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| {
                let field = join(path, k);
                Violation::new(
                    field.clone(),
                    "unknown",
                    format!(
                        "Unknown field '{field}'; allowed here: {}",
                        allowed.join(", ")
                    ),
                )
            })
            .collect();
        Reader {
            object,
            path,
            violations,
        }
    }

    /// The value of `key`, `None` when absent or JSON `null` (Retraced treats both alike).
    fn value(&self, key: &str) -> Option<&'a Value> {
        self.object.get(key).filter(|v| !v.is_null())
    }

    fn string(&mut self, key: &str) -> Option<&'a str> {
        match self.value(key)? {
            Value::String(s) => Some(s),
            other => {
                let field = join(self.path, key);
                self.violations.push(
                    Violation::new(
                        field.clone(),
                        "invalid",
                        format!("'{field}' must be a string"),
                    )
                    .received(other),
                );
                None
            }
        }
    }

    fn boolean(&mut self, key: &str) -> bool {
        match self.value(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                let field = join(self.path, key);
                self.violations.push(
                    Violation::new(
                        field.clone(),
                        "invalid",
                        format!("'{field}' must be a boolean"),
                    )
                    .received(other),
                );
                false
            }
        }
    }

    fn object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        match self.value(key)? {
            Value::Object(map) => Some(map),
            other => {
                let field = join(self.path, key);
                self.violations.push(
                    Violation::new(
                        field.clone(),
                        "invalid",
                        format!("'{field}' must be an object"),
                    )
                    .received(other),
                );
                None
            }
        }
    }

    /// An object whose values must all be strings (`fields`, `metadata`).
    fn strings(&mut self, key: &str) -> Option<StringMap<'a>> {
        let map = self.object(key)?;
        let mut pairs = Vec::with_capacity(map.len());
        for (name, value) in map {
            match value {
                Value::String(s) => pairs.push((name.as_str(), s.as_str())),
                other => {
                    let field = format!("{}.{name}", join(self.path, key));
                    self.violations.push(
                        Violation::new(
                            field.clone(),
                            "invalid",
                            format!("'{field}' must be a string: `{key}` holds strings only"),
                        )
                        .received(other),
                    );
                }
            }
        }
        Some(pairs)
    }
}

/// A sub-object (`group`, `actor`, `target`): unknown keys refused, and when it is not empty
/// (lodash's `isEmpty`, which is what the client hashes by) its `id` must be a non-empty
/// string.
fn sub_object<'a>(
    object: Option<&'a Map<String, Value>>,
    path: &'static str,
    allowed: &[&str],
    violations: &mut Vec<Violation>,
) -> Option<&'a Map<String, Value>> {
    let object = object.filter(|o| !o.is_empty())?;
    let mut reader = Reader::new(object, path, allowed);
    let id = reader.string("id");
    for key in allowed.iter().filter(|k| !matches!(**k, "id" | "fields")) {
        reader.string(key);
    }
    if allowed.contains(&"fields") {
        reader.strings("fields");
    }
    if id.is_none_or(str::is_empty) && !reader.violations.iter().any(|v| v.field.ends_with(".id")) {
        reader.violations.push(Violation::new(
            format!("{path}.id"),
            "missing",
            format!("Field '{path}.id' is required if '{path}' is present"),
        ));
    }
    violations.append(&mut reader.violations);
    Some(object)
}

impl<'a> RetracedFields<'a> {
    /// Type-checks every field and applies Retraced's rules, reporting all violations.
    pub(super) fn read(event: &'a Map<String, Value>) -> Result<Self, Vec<Violation>> {
        let mut r = Reader::new(event, "", EVENT_KEYS);
        let action = r.string("action").unwrap_or_default();
        let crud = r.string("crud").unwrap_or_default();
        let group = r.object("group");
        let actor = r.object("actor");
        let target = r.object("target");
        let mut fields = RetracedFields {
            action,
            crud,
            display_title: r.string("displayTitle"),
            created: r.string("created").filter(|s| !s.is_empty()),
            source_ip: r.string("source_ip").filter(|s| !s.is_empty()),
            description: r.string("description").filter(|s| !s.is_empty()),
            is_anonymous: r.boolean("is_anonymous"),
            is_failure: r.boolean("is_failure"),
            fields: r.strings("fields"),
            component: r.string("component").filter(|s| !s.is_empty()),
            version: r.string("version").filter(|s| !s.is_empty()),
            external_id: r.string("external_id").filter(|s| !s.is_empty()),
            metadata: r.strings("metadata"),
            ..RetracedFields::default()
        };
        let mut violations = r.violations;
        for (name, value) in [("action", action), ("crud", crud)] {
            if value.is_empty() && !violations.iter().any(|v| v.field == name) {
                violations.push(Violation::new(
                    name,
                    "missing",
                    format!("Missing required field '{name}'"),
                ));
            }
        }
        if !crud.is_empty() && !matches!(crud, "c" | "r" | "u" | "d") {
            violations.push(
                Violation::new(
                    "crud",
                    "invalid",
                    format!("Invalid value for 'crud' field: {crud} (one of c, r, u, d)"),
                )
                .received(&Value::String(crud.to_string())),
            );
        }
        fields.group = sub_object(group, "group", GROUP_KEYS, &mut violations);
        fields.actor = sub_object(actor, "actor", ACTOR_KEYS, &mut violations);
        fields.target = sub_object(target, "target", TARGET_KEYS, &mut violations);
        if fields.actor.is_none()
            && !fields.is_anonymous
            && !violations.iter().any(|v| v.field == "actor")
        {
            violations.push(Violation::new(
                "actor",
                "missing",
                "Event is not marked anonymous, and missing required field 'actor'",
            ));
        }
        for reserved in [PROPERTY, GROUP_PROPERTY] {
            if fields
                .fields
                .as_ref()
                .is_some_and(|f| f.iter().any(|(k, _)| *k == reserved))
            {
                violations.push(Violation::new(
                    format!("fields.{reserved}"),
                    "reserved",
                    format!(
                        "'fields.{reserved}' is reserved: Sealtrail keeps Retraced's own values \
                         (group, metadata, external_id, ...) under `{PROPERTY}` and the group's \
                         id under `{GROUP_PROPERTY}`"
                    ),
                ));
            }
        }
        if violations.is_empty() {
            Ok(fields)
        } else {
            Err(violations)
        }
    }
}
