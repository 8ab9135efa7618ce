//! SQL text both baselines share, so the two engines answer exactly the same question for a
//! filter and differ only where their dialects do (placeholders, `LIKE` vs `ILIKE`).

use super::{RawCursor, RawFilter};

/// The stored columns in table and export order (the export selects them in this order and
/// writes these names as the CSV header). `properties` is cast to text so both engines hand
/// back the JSON as a string (PostgreSQL stores `jsonb`).
pub(crate) const COLUMNS: [&str; 20] = [
    "tenant",
    "seq",
    "id",
    "recorded_at",
    "occurred_at",
    "action",
    "channel",
    "result",
    "actor_type",
    "actor_id",
    "actor_email",
    "actor_name",
    "description",
    "target_type",
    "target_id",
    "target_name",
    "ip",
    "user_agent",
    "properties",
    "idempotency_key",
];

/// The export's `SELECT` list: [`COLUMNS`] with `properties` as text.
pub(crate) fn export_select() -> String {
    let cells: Vec<String> = COLUMNS
        .iter()
        .map(|c| match *c {
            "properties" => "CAST(properties AS TEXT)".to_string(),
            other => other.to_string(),
        })
        .collect();
    cells.join(", ")
}

/// One bound value of a built query; each engine lends these to its driver as its own
/// parameter type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param<'a> {
    /// An integer column or `LIMIT`.
    Int(i64),
    /// A text column or pattern.
    Text(&'a str),
}

/// A `WHERE` clause and its parameters, numbered from 1 in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Conditions<'a> {
    /// `tenant = ?1 AND …`, without the `WHERE`.
    pub(crate) sql: String,
    /// The values of the placeholders, in order.
    pub(crate) params: Vec<Param<'a>>,
}

impl<'a> Conditions<'a> {
    /// A count's conditions: the tenant and every field of `filter` that is set. `mark(n)`
    /// renders placeholder `n` in the engine's dialect.
    pub(crate) fn matching(tenant: u32, filter: &'a RawFilter, mark: fn(usize) -> String) -> Self {
        let mut c = Conditions::tenant(tenant, mark);
        c.filter(filter, mark);
        c
    }

    /// A list page's conditions: [`Conditions::matching`], strictly older than `after` when
    /// given, then the limit, whose placeholder is returned for a trailing `LIMIT`.
    pub(crate) fn page(
        tenant: u32,
        filter: &'a RawFilter,
        after: Option<&RawCursor>,
        limit: i64,
        mark: fn(usize) -> String,
    ) -> (Self, String) {
        let mut c = Conditions::matching(tenant, filter, mark);
        if let Some(cursor) = after {
            c.after(cursor, mark);
        }
        let limit = c.limit(limit, mark);
        (c, limit)
    }

    /// `tenant = <1>`.
    fn tenant(tenant: u32, mark: fn(usize) -> String) -> Self {
        Conditions {
            sql: format!("tenant = {}", mark(1)),
            params: vec![Param::Int(i64::from(tenant))],
        }
    }

    /// Adds `AND <column> <op> <placeholder>` bound to `value`.
    fn and(&mut self, column: &str, op: &str, value: Param<'a>, mark: fn(usize) -> String) {
        self.params.push(value);
        let n = self.params.len();
        self.sql
            .push_str(&format!(" AND {column} {op} {}", mark(n)));
    }

    /// Adds every field of `filter` that is set.
    fn filter(&mut self, filter: &'a RawFilter, mark: fn(usize) -> String) {
        let text = [
            ("action", &filter.action),
            ("result", &filter.result),
            ("actor_id", &filter.actor_id),
        ];
        for (column, value) in text {
            if let Some(value) = value {
                self.and(column, "=", Param::Text(value), mark);
            }
        }
        if let Some(since) = filter.since {
            self.and("recorded_at", ">=", Param::Int(since), mark);
        }
    }

    /// Adds the keyset condition: rows strictly older than the cursor's in page order. Row-value
    /// comparison, which both engines turn into one range of the `(tenant, recorded_at, seq)`
    /// index.
    fn after(&mut self, cursor: &RawCursor, mark: fn(usize) -> String) {
        self.params.push(Param::Int(cursor.recorded_at));
        self.params.push(Param::Int(cursor.seq));
        let n = self.params.len();
        let (a, b) = (mark(n - 1), mark(n));
        self.sql
            .push_str(&format!(" AND (recorded_at, seq) < ({a}, {b})"));
    }

    /// Adds the limit parameter and returns its placeholder, for a trailing `LIMIT`.
    fn limit(&mut self, limit: i64, mark: fn(usize) -> String) -> String {
        self.params.push(Param::Int(limit));
        mark(self.params.len())
    }
}

/// The `LIKE` pattern matching `needle` anywhere, with `\`, `%` and `_` escaped by `\` so they
/// match themselves (use with `ESCAPE '\'`): a user searching for "50%" means the characters.
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: usize) -> String {
        format!("?{n}")
    }

    #[test]
    fn conditions_number_placeholders_in_binding_order() {
        let filter = RawFilter {
            action: Some("a".into()),
            result: None,
            actor_id: Some("u1".into()),
            since: Some(5),
        };
        let cursor = RawCursor {
            recorded_at: 9,
            seq: 3,
        };
        let (c, limit) = Conditions::page(7, &filter, Some(&cursor), 50, q);
        assert_eq!(
            c.sql,
            "tenant = ?1 AND action = ?2 AND actor_id = ?3 AND recorded_at >= ?4 \
             AND (recorded_at, seq) < (?5, ?6)"
        );
        assert_eq!(limit, "?7");
        use Param::{Int, Text};
        let expected = [
            Int(7),
            Text("a"),
            Text("u1"),
            Int(5),
            Int(9),
            Int(3),
            Int(50),
        ];
        assert_eq!(c.params, expected);
    }

    #[test]
    fn patterns_escape_like_metacharacters() {
        assert_eq!(contains_pattern("ssigned"), "%ssigned%");
        assert_eq!(contains_pattern(r"50%_a\b"), r"%50\%\_a\\b%");
    }

    #[test]
    fn the_export_selects_every_column_with_properties_as_text() {
        let select = export_select();
        assert!(select.starts_with("tenant, seq, id, recorded_at"));
        assert!(select.contains("CAST(properties AS TEXT), idempotency_key"));
        assert_eq!(select.split(", ").count(), COLUMNS.len());
    }
}
