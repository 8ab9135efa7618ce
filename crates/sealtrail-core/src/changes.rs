//! An entry's before/after change lined up field by field, the one reading of `changes` that
//! the page (a side-by-side table), the spreadsheets (a readable column and the changed field
//! names) and the PDF report all show, so they never disagree about what changed.

use crate::entry::Changes;
use serde_json::{Map, Value};

/// One field of a before/after change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// Field name (`value` when the change is not an object).
    pub field: String,
    /// Rendered value before ("—" if absent).
    pub before: String,
    /// Rendered value after ("—" if absent).
    pub after: String,
    /// The two differ; fields sent unchanged are context, not a change.
    pub changed: bool,
}

impl FieldChange {
    /// `field: before → after`, the change as one line a person reads.
    pub fn line(&self) -> String {
        format!("{}: {} → {}", self.field, self.before, self.after)
    }
}

/// Lines up before and after field by field when both are objects (or absent), in the order
/// the fields first appear (before's, then after's new ones); anything else is one `value` row.
pub fn field_changes(changes: &Changes) -> Vec<FieldChange> {
    let (before, after) = (changes.before.as_ref(), changes.after.as_ref());
    match (before, after) {
        (None, None) => Vec::new(),
        (b @ (None | Some(Value::Object(_))), a @ (None | Some(Value::Object(_)))) => {
            let empty = Map::new();
            let b = b.and_then(Value::as_object).unwrap_or(&empty);
            let a = a.and_then(Value::as_object).unwrap_or(&empty);
            let mut fields: Vec<&String> = b.keys().collect();
            fields.extend(a.keys().filter(|k| !b.contains_key(*k)));
            fields
                .into_iter()
                .map(|f| FieldChange {
                    field: f.clone(),
                    before: shown(b.get(f)),
                    after: shown(a.get(f)),
                    changed: b.get(f) != a.get(f),
                })
                .collect()
        }
        (b, a) => vec![FieldChange {
            field: "value".into(),
            before: shown(b),
            after: shown(a),
            changed: b != a,
        }],
    }
}

/// The changed fields as one line each, `field: before → after`, for a cell or a report line
/// that a person reads (unchanged context fields are left out).
pub fn change_lines(changes: &Changes) -> Vec<String> {
    field_changes(changes)
        .into_iter()
        .filter(|c| c.changed)
        .map(|c| c.line())
        .collect()
}

/// A JSON value as a person reads it: strings without quotes, everything else compact JSON.
fn shown(value: Option<&Value>) -> String {
    match value {
        None => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn changes(before: Option<Value>, after: Option<Value>) -> Changes {
        Changes { before, after }
    }

    #[test]
    fn objects_line_up_field_by_field() {
        let rows = field_changes(&changes(
            Some(json!({"role": "member", "name": "Ada"})),
            Some(json!({"role": "admin", "name": "Ada", "team": 7})),
        ));
        let view: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.field.as_str(),
                    r.before.as_str(),
                    r.after.as_str(),
                    r.changed,
                )
            })
            .collect();
        assert_eq!(
            view,
            [
                ("role", "member", "admin", true),
                ("name", "Ada", "Ada", false),
                ("team", "—", "7", true),
            ]
        );
        let scalar = field_changes(&changes(Some(json!(1)), Some(json!("two"))));
        assert_eq!(
            (scalar[0].before.as_str(), scalar[0].after.as_str()),
            ("1", "two")
        );
        assert!(field_changes(&changes(None, None)).is_empty());
    }

    #[test]
    fn lines_name_only_what_changed() {
        // Seed 001: a laptop assigned to Zoë Martin.
        let c = changes(
            Some(json!({"owner": null, "status": "in_stock", "model": "X1"})),
            Some(json!({"owner": "Zoë Martin", "status": "in_use", "model": "X1"})),
        );
        assert_eq!(
            change_lines(&c),
            ["owner: null → Zoë Martin", "status: in_stock → in_use"]
        );
        let created = changes(None, Some(json!({"name": "Ada"})));
        assert_eq!(change_lines(&created), ["name: — → Ada"]);
    }
}
