//! Phase 1 of an erasure: who the subject is. The backend's prefilters hand over candidate
//! actors and targets; the predicates here decide, identically for every backend, and gather
//! the identifiers specific enough to replace inside free text (see [`crate::erasure`]).

use crate::scrub::{is_email, pseudonym, same_email, specific, Identifiers, Kind, PseudonymKey};
use crate::StoreError;
use serde_json::Value;
use std::collections::BTreeSet;

/// A string field of a JSON object.
fn text<'v>(value: &'v Value, field: &str) -> Option<&'v str> {
    value.get(field).and_then(Value::as_str)
}

/// True when this actor value (vault JSON) is the subject.
pub(super) fn is_own_actor(actor: &Value, subject: &str) -> bool {
    text(actor, "id") == Some(subject)
        || text(actor, "email").is_some_and(|e| same_email(e, subject))
}

/// True when a target with this id and name is the subject: its id is one of `ids`, or its
/// id or name is one of `emails` (lowercased) ignoring ASCII case.
fn is_subject_target(
    id: Option<&str>,
    name: Option<&str>,
    ids: &BTreeSet<String>,
    emails: &BTreeSet<String>,
) -> bool {
    let email = |v: Option<&str>| v.is_some_and(|v| emails.contains(&v.to_ascii_lowercase()));
    id.is_some_and(|id| ids.contains(id)) || email(id) || email(name)
}

/// Phase 1: who the subject is, gathered from what the backend's prefilters found. Actors
/// first ([`SubjectIdentifiers::add_actor`]); their ids and e-mail addresses then say which
/// targets to look for ([`SubjectIdentifiers::target_ids`], [`SubjectIdentifiers::target_emails`]).
#[derive(Debug)]
pub(crate) struct SubjectIdentifiers {
    /// The actor id or e-mail being erased.
    subject: String,
    /// Targets with one of these ids are the subject: the subject and its actors' ids.
    target_ids: BTreeSet<String>,
    /// Targets whose id or name is one of these (lowercased) are the subject: the subject and
    /// its actors' e-mail addresses.
    emails: BTreeSet<String>,
    /// Identifiers specific enough to replace inside free text.
    text: BTreeSet<String>,
    /// Whether any actor or target was the subject.
    found: bool,
}

impl SubjectIdentifiers {
    /// Starts from the subject string alone.
    pub(crate) fn new(subject: &str) -> Self {
        let emails = if is_email(subject) {
            BTreeSet::from([subject.to_ascii_lowercase()])
        } else {
            BTreeSet::new()
        };
        SubjectIdentifiers {
            subject: subject.to_string(),
            target_ids: BTreeSet::from([subject.to_string()]),
            emails,
            text: BTreeSet::new(),
            found: false,
        }
    }

    /// Keeps `value` for free text if it is specific enough as a `kind`.
    fn keep(&mut self, kind: Kind, value: Option<&str>) {
        if let Some(v) = value.map(str::trim).filter(|v| specific(kind, v)) {
            self.text.insert(v.to_string());
        }
    }

    /// Takes this actor value (vault bytes) if it is the subject.
    pub(crate) fn add_actor(&mut self, actor: &[u8]) {
        let Ok(actor) = serde_json::from_slice::<Value>(actor) else {
            return;
        };
        if !is_own_actor(&actor, &self.subject) {
            return;
        }
        self.found = true;
        let (id, email) = (text(&actor, "id"), text(&actor, "email"));
        if let Some(id) = id {
            self.target_ids.insert(id.to_string());
        }
        if let Some(email) = email.filter(|e| is_email(e)) {
            self.emails.insert(email.to_ascii_lowercase());
        }
        self.keep(Kind::Id, id);
        self.keep(Kind::Email, email);
        self.keep(Kind::Name, text(&actor, "name"));
    }

    /// The target ids the target prefilter looks up exactly (after every actor was added).
    pub(crate) fn target_ids(&self) -> Vec<String> {
        self.target_ids.iter().cloned().collect()
    }

    /// The e-mail addresses the target prefilter looks up, as target id or name, ignoring
    /// ASCII case (after every actor was added).
    pub(crate) fn target_emails(&self) -> Vec<String> {
        self.emails.iter().cloned().collect()
    }

    /// Takes a target (its id and name as the backend's copy holds them) if it is the subject.
    pub(crate) fn add_target(&mut self, id: Option<&str>, name: Option<&str>) {
        if is_subject_target(id, name, &self.target_ids, &self.emails) {
            self.found = true;
            self.keep(Kind::Id, id);
            self.keep(Kind::Name, name);
        }
    }

    /// The plan for erasing the subject from the log named `log_origin`, its pseudonym keyed
    /// with the deployment's `key`, or `NotFound` when
    /// no actor and no target is the subject (nothing may then be written or audited).
    pub(crate) fn finish(
        mut self,
        log_origin: &str,
        key: &PseudonymKey,
    ) -> Result<Plan, StoreError> {
        if !self.found {
            return Err(StoreError::NotFound(format!(
                "no actor or target in this log is identified by `{}`",
                self.subject
            )));
        }
        let subject = self.subject.clone();
        self.keep(Kind::Id, Some(&subject));
        Ok(Plan {
            pseudonym: pseudonym(key, log_origin, &subject),
            subject,
            target_ids: self.target_ids,
            emails: self.emails,
            text: Identifiers::new(self.text.iter().map(String::as_str)),
        })
    }
}

/// Everything a scrub step needs, computed once per erasure by [`SubjectIdentifiers::finish`].
#[derive(Debug)]
pub(crate) struct Plan {
    /// The actor id or e-mail being erased.
    pub subject: String,
    /// Its stand-in (depends on the log too, so it is never comparable across logs).
    pub pseudonym: String,
    /// Targets with one of these ids are the subject.
    target_ids: BTreeSet<String>,
    /// Targets whose id or name is one of these (lowercased) are the subject.
    emails: BTreeSet<String>,
    /// What to replace inside free text.
    pub(super) text: Identifiers,
}

impl Plan {
    /// True when `value`, a whole string, names the subject: the subject itself, one of its
    /// actors' ids, or one of their e-mail addresses (ignoring ASCII case). Used where a
    /// string is an identity field as a whole, such as a filter value, so short ids count.
    pub(super) fn names_subject(&self, value: &str) -> bool {
        value == self.subject
            || self.target_ids.contains(value)
            || self.emails.contains(&value.to_ascii_lowercase())
    }

    /// True when this target object (payload JSON) is the subject.
    pub(super) fn is_subject_target(&self, target: &Value) -> bool {
        is_subject_target(
            text(target, "id"),
            text(target, "name"),
            &self.target_ids,
            &self.emails,
        )
    }
}
