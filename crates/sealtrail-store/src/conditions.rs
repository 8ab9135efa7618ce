//! A filter as SQL conditions over `entries AS e`, built once for every backend.
//!
//! Which filter fields exist, that each value is bound as a parameter (never spliced into the
//! SQL), that an action ending in `*` matches the action itself and everything below it with
//! a dot, and that every given target field must hold for one and the same target: those are
//! decided here. What each engine spells differently — placeholders, a prefix match, where
//! targets and properties are stored, how an actor filter reaches its index — is its
//! [`Dialect`]. Free text is not here: each engine's search index drives its own query shape
//! (SQLite: FTS5 as the outer loop; PostgreSQL: a tsquery condition).

use crate::actor_columns::ActorColumns;
use crate::event_time;
use sealtrail_core::filter::{ActionMatch, Filter};
use sealtrail_core::TenantId;

/// How one engine writes the parts of a filter that differ between engines.
pub(crate) trait Dialect: Sized {
    /// A bound parameter as the engine's driver takes it.
    type Param;

    /// A text parameter.
    fn text(value: String) -> Self::Param;

    /// An integer parameter (a time in milliseconds).
    fn integer(value: i64) -> Self::Param;

    /// The placeholder of the conditions' `n`-th parameter (from 1).
    fn placeholder(n: usize) -> String;

    /// The actor filter, once the backend has probed which column(s) hold `actor`.
    fn actor(
        c: &mut Conditions<Self>,
        tenant: TenantId,
        columns: ActorColumns,
        actor: &str,
    ) -> String;

    /// `e.action` starts with `start` (character by character, any segment boundary).
    fn action_starts_with(c: &mut Conditions<Self>, start: &str) -> String;

    /// One target of the entry has every given `(field, value)`; fields are `type`, `id`
    /// and `name`.
    fn target(c: &mut Conditions<Self>, fields: &[(&'static str, &str)]) -> String;

    /// The entry's properties hold `key` with the scalar rendered as `value`.
    fn property(c: &mut Conditions<Self>, key: &str, value: &str) -> String;
}

/// `AND`-joined clauses over `entries AS e` and the parameters they refer to, in order.
pub(crate) struct Conditions<D: Dialect> {
    /// The clauses, each complete on its own.
    pub(crate) clauses: Vec<String>,
    /// The parameters the clauses' placeholders number, from 1.
    pub(crate) params: Vec<D::Param>,
}

impl<D: Dialect> Conditions<D> {
    /// Adds a parameter and returns its placeholder.
    pub(crate) fn bind(&mut self, param: D::Param) -> String {
        self.params.push(param);
        D::placeholder(self.params.len())
    }

    /// Adds a text parameter and returns its placeholder.
    pub(crate) fn bind_text(&mut self, value: impl Into<String>) -> String {
        self.bind(D::text(value.into()))
    }

    /// The conditions for every field of `filter` but free text and a receipt-time period
    /// (which is a seq range); an event-time period is a condition on `occurred_at` over the
    /// range [`crate::event_time`] computes. `actor` is where the filter's actor occurs (the
    /// backend probes it; `None` without an actor filter).
    pub(crate) fn of(tenant: TenantId, filter: &Filter, actor: Option<ActorColumns>) -> Self {
        let mut c = Conditions {
            clauses: Vec::new(),
            params: Vec::new(),
        };
        if event_time::filters_event_time(filter) {
            for (bound, op) in [(filter.from, ">="), (filter.until, "<")] {
                if let Some(at) = bound {
                    let p = c.bind(D::integer(at.millis()));
                    c.clauses.push(format!("e.occurred_at {op} {p}"));
                }
            }
        }
        if let (Some(value), Some(columns)) = (&filter.actor, actor) {
            let clause = D::actor(&mut c, tenant, columns, value);
            c.clauses.push(clause);
        }
        match &filter.action {
            Some(ActionMatch::Exact(a)) => {
                let p = c.bind_text(a.clone());
                c.clauses.push(format!("e.action = {p}"));
            }
            // The empty prefix (`action=*`) matches every action.
            Some(ActionMatch::Prefix(a)) if !a.is_empty() => {
                let exact = c.bind_text(a.clone());
                let below = D::action_starts_with(&mut c, &format!("{a}."));
                c.clauses.push(format!("(e.action = {exact} OR {below})"));
            }
            Some(ActionMatch::StartsWith(start)) if !start.is_empty() => {
                let clause = D::action_starts_with(&mut c, start);
                c.clauses.push(clause);
            }
            Some(ActionMatch::Prefix(_) | ActionMatch::StartsWith(_)) | None => {}
        }
        for (column, values) in [("event", &filter.event), ("category", &filter.category)] {
            match values.as_slice() {
                [] => {}
                [one] => {
                    let p = c.bind_text(one.clone());
                    c.clauses.push(format!("e.{column} = {p}"));
                }
                many => {
                    let ps: Vec<String> = many.iter().map(|v| c.bind_text(v.clone())).collect();
                    c.clauses.push(format!("e.{column} IN ({})", ps.join(", ")));
                }
            }
        }
        for (column, value) in [("channel", &filter.channel), ("ip", &filter.ip)] {
            if let Some(v) = value {
                let p = c.bind_text(v.clone());
                c.clauses.push(format!("e.{column} = {p}"));
            }
        }
        if let Some(result) = filter.result {
            let p = c.bind_text(result.as_str());
            c.clauses.push(format!("e.result = {p}"));
        }
        if filter.system_only {
            c.clauses.push("e.actor_type <> 'user'".into());
        }
        let target: Vec<(&'static str, &str)> = [
            ("type", &filter.target_type),
            ("id", &filter.target_id),
            ("name", &filter.target_name),
        ]
        .into_iter()
        .filter_map(|(field, value)| value.as_deref().map(|v| (field, v)))
        .collect();
        if !target.is_empty() {
            let clause = D::target(&mut c, &target);
            c.clauses.push(clause);
        }
        for (key, value) in &filter.properties {
            // Each pair on its own, so the same key twice with two values matches nothing.
            let clause = D::property(&mut c, key, value);
            c.clauses.push(clause);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_core::filter::parse_query;
    use sealtrail_core::Timestamp;

    /// A dialect that shows what was bound where.
    struct Plain;

    impl Dialect for Plain {
        type Param = String;
        fn text(value: String) -> String {
            value
        }
        fn integer(value: i64) -> String {
            value.to_string()
        }
        fn placeholder(n: usize) -> String {
            format!("#{n}")
        }
        fn actor(
            c: &mut Conditions<Self>,
            _tenant: TenantId,
            columns: ActorColumns,
            actor: &str,
        ) -> String {
            let p = c.bind_text(actor);
            columns.condition(&p)
        }
        fn action_starts_with(c: &mut Conditions<Self>, start: &str) -> String {
            let p = c.bind_text(start);
            format!("starts({p})")
        }
        fn target(c: &mut Conditions<Self>, fields: &[(&'static str, &str)]) -> String {
            let on: Vec<String> = fields
                .iter()
                .map(|(f, v)| format!("{f}={}", c.bind_text(*v)))
                .collect();
            format!("target({})", on.join(","))
        }
        fn property(c: &mut Conditions<Self>, key: &str, value: &str) -> String {
            let k = c.bind_text(key);
            let v = c.bind_text(value);
            format!("prop({k},{v})")
        }
    }

    fn conditions(params: &[(&str, &str)], actor: Option<ActorColumns>) -> Conditions<Plain> {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let query = parse_query(&params, Timestamp(0), &[]).unwrap();
        Conditions::of(TenantId(1), &query.filter, actor)
    }

    #[test]
    fn every_value_is_bound_and_each_field_is_one_clause() {
        let c = conditions(
            &[
                ("actor", "ann@example.com"),
                ("action", "invoice.*"),
                ("channel", "billing"),
                ("result", "failure"),
                ("target_type", "invoice"),
                ("target_id", "in_1"),
                ("properties.plan", "pro"),
            ],
            Some(ActorColumns::Email),
        );
        assert_eq!(
            c.clauses,
            [
                "e.actor_email = #1",
                "(e.action = #2 OR starts(#3))",
                "e.channel = #4",
                "e.result = #5",
                "target(type=#6,id=#7)",
                "prop(#8,#9)",
            ]
        );
        assert_eq!(
            c.params,
            [
                "ann@example.com",
                "invoice",
                "invoice.",
                "billing",
                "failure",
                "invoice",
                "in_1",
                "plan",
                "pro"
            ]
        );
    }

    #[test]
    fn the_empty_prefix_and_an_empty_filter_add_nothing() {
        for everything in ["*", ".*", "*.*"] {
            let c = conditions(&[("action", everything)], None);
            assert!(c.clauses.is_empty() && c.params.is_empty(), "{everything}");
        }
        let c = conditions(&[("action", "evidence.verdict_*")], None);
        assert_eq!(
            (c.clauses, c.params),
            (
                vec!["starts(#1)".to_string()],
                vec!["evidence.verdict_".to_string()]
            )
        );
        let c = conditions(&[("system", "true")], None);
        assert_eq!(c.clauses, ["e.actor_type <> 'user'"]);
    }

    #[test]
    fn an_event_time_period_is_a_condition_and_a_receipt_time_one_is_not() {
        let period = [("from", "2026-11-28"), ("to", "2026-11-28")];
        let c = conditions(&period, None);
        assert_eq!(c.clauses, ["e.occurred_at >= #1", "e.occurred_at < #2"]);
        assert_eq!(c.params, ["1795824000000", "1795910400000"]);
        let received = [period[0], period[1], ("time", "recorded")];
        assert!(conditions(&received, None).clauses.is_empty());
    }
}
