//! A borrowed reading of an entry: the fields a tabular export shows, read straight from the
//! envelope and vault bytes. Opening an [`Entry`] allocates every string and builds the
//! properties as a JSON map that the CSV export then writes back out as text; for a million
//! entries that was most of an export's time (BENCHMARKS.md, issue #20). A view borrows each
//! string that needs no unescaping and keeps the properties as their stored compact JSON,
//! which is byte for byte what serialising the opened map writes (canonical JSON is
//! serde_json's own output, keys sorted, and maps keep their order).

use super::{decode_fields, EnvelopeError, Part, Slot};
use crate::entry::{ActorType, Changes, Entry, Outcome};
use crate::timestamp::Timestamp;
use serde::de::{Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::marker::PhantomData;
use uuid::Uuid;

/// The shown fields of one entry, borrowed from its stored bytes or from an opened [`Entry`].
#[derive(Debug, Clone, PartialEq)]
pub struct EntryView<'a> {
    /// The entry's id.
    pub id: Uuid,
    /// When the log recorded it.
    pub recorded_at: Timestamp,
    /// When the producer says it happened.
    pub occurred_at: Timestamp,
    /// Its channel.
    pub channel: Cow<'a, str>,
    /// Its action.
    pub action: Cow<'a, str>,
    /// Its event type.
    pub event: Cow<'a, str>,
    /// Its category, when it has one.
    pub category: Option<Cow<'a, str>>,
    /// Its description.
    pub description: Cow<'a, str>,
    /// Its outcome.
    pub result: Outcome,
    /// Who acted: the kind (user, api, system).
    pub actor_kind: ActorType,
    /// Who acted: id, name, e-mail, and the intermediary.
    pub actor_id: Option<Cow<'a, str>>,
    /// The actor's name.
    pub actor_name: Option<Cow<'a, str>>,
    /// The actor's e-mail.
    pub actor_email: Option<Cow<'a, str>>,
    /// Through what the actor acted.
    pub actor_via: Option<Cow<'a, str>>,
    /// The primary (first) target, the only one a row has columns for.
    pub target: Option<TargetView<'a>>,
    /// The client address.
    pub ip: Option<Cow<'a, str>>,
    /// The client's user agent.
    pub user_agent: Option<Cow<'a, str>>,
    /// The properties as compact JSON; empty when there are none.
    pub properties: Cow<'a, str>,
    /// The before/after values of an edit.
    pub changes: Option<Cow<'a, Changes>>,
}

/// The primary target of an [`EntryView`].
#[derive(Debug, Clone, PartialEq)]
pub struct TargetView<'a> {
    /// What kind of record.
    pub kind: Cow<'a, str>,
    /// Its id.
    pub id: Option<Cow<'a, str>>,
    /// Its name.
    pub name: Option<Cow<'a, str>>,
}

impl<'a> EntryView<'a> {
    /// The view of an opened entry (its properties serialised, as the export always did).
    pub fn of(e: &'a Entry) -> Result<Self, serde_json::Error> {
        let text = |s: &'a String| Cow::Borrowed(s.as_str());
        let opt = |s: &'a Option<String>| s.as_deref().map(Cow::Borrowed);
        Ok(EntryView {
            id: e.id,
            recorded_at: e.recorded_at,
            occurred_at: e.occurred_at,
            channel: text(&e.channel),
            action: text(&e.action),
            event: text(&e.event),
            category: opt(&e.category),
            description: text(&e.description),
            result: e.result,
            actor_kind: e.actor.kind,
            actor_id: opt(&e.actor.id),
            actor_name: opt(&e.actor.name),
            actor_email: opt(&e.actor.email),
            actor_via: opt(&e.actor.via),
            target: e.primary_target().map(|t| TargetView {
                kind: text(&t.kind),
                id: opt(&t.id),
                name: opt(&t.name),
            }),
            ip: opt(&e.context.ip),
            user_agent: opt(&e.context.user_agent),
            properties: if e.properties.is_empty() {
                Cow::Borrowed("")
            } else {
                Cow::Owned(serde_json::to_string(&e.properties)?)
            },
            changes: e.changes.as_ref().map(Cow::Borrowed),
        })
    }
}

/// A string borrowed from the input when it holds no escape, owned otherwise. (serde borrows
/// a `Cow<str>` field only when it is not inside an `Option`, and these mostly are.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor(PhantomData))
    }
}

/// [`Text`] or none.
fn text(t: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    t.map(|t| t.0)
}

/// The actor part as the view reads it (the same fields as the opened entry's).
#[derive(Default, Deserialize)]
struct ActorPart<'a> {
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    email: Option<Text<'a>>,
    #[serde(default, borrow)]
    via: Option<Text<'a>>,
}

/// The context part as the view reads it.
#[derive(Default, Deserialize)]
struct ContextPart<'a> {
    #[serde(default, borrow)]
    ip: Option<Text<'a>>,
    #[serde(default, borrow)]
    user_agent: Option<Text<'a>>,
}

/// One target as the view reads it.
#[derive(Deserialize)]
struct TargetPart<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
}

/// The payload part as the view reads it: the description is required, as when opening.
#[derive(Deserialize)]
struct PayloadPart<'a> {
    #[serde(borrow)]
    description: Text<'a>,
    #[serde(default, borrow)]
    targets: Vec<TargetPart<'a>>,
    #[serde(default)]
    changes: Option<Changes>,
    #[serde(default, borrow)]
    properties: Option<&'a RawValue>,
}

impl Default for PayloadPart<'_> {
    fn default() -> Self {
        PayloadPart {
            description: Text(Cow::Borrowed("")),
            targets: Vec::new(),
            changes: None,
            properties: None,
        }
    }
}

/// The view of a stored entry: what [`super::open`] followed by [`EntryView::of`] gives, read
/// without building the entry.
pub fn view<'a>(envelope: &'a [u8], slots: &'a [Slot]) -> Result<EntryView<'a>, EnvelopeError> {
    let f = decode_fields(envelope)?;
    let find = |part: Part| slots.iter().find(|s| s.part() == part).map(Slot::bytes);
    let decode_err = |part: Part| {
        move |e: serde_json::Error| EnvelopeError::Vault {
            part: part.as_str(),
            message: e.to_string(),
        }
    };
    let actor: ActorPart<'a> = match find(Part::Actor) {
        Some(b) => serde_json::from_slice(b).map_err(decode_err(Part::Actor))?,
        None => ActorPart::default(),
    };
    let context: ContextPart<'a> = match find(Part::Context) {
        Some(b) => serde_json::from_slice(b).map_err(decode_err(Part::Context))?,
        None => ContextPart::default(),
    };
    let payload: PayloadPart<'a> = match find(Part::Payload) {
        Some(b) => serde_json::from_slice(b).map_err(decode_err(Part::Payload))?,
        None => PayloadPart::default(),
    };
    let properties = match payload.properties.map(RawValue::get) {
        // The opened entry's properties are a map: anything else would not have opened.
        Some(raw) if !raw.starts_with('{') => {
            return Err(EnvelopeError::Vault {
                part: Part::Payload.as_str(),
                message: "properties are not an object".into(),
            })
        }
        Some("{}") | None => "",
        Some(raw) => raw,
    };
    Ok(EntryView {
        id: f.id,
        recorded_at: f.recorded_at,
        occurred_at: f.occurred_at,
        channel: f.channel,
        action: f.action,
        event: f.event,
        category: f.category,
        description: payload.description.0,
        result: f.result,
        actor_kind: f.actor_type,
        actor_id: text(actor.id),
        actor_name: text(actor.name),
        actor_email: text(actor.email),
        actor_via: text(actor.via),
        target: payload.targets.into_iter().next().map(|t| TargetView {
            kind: t.kind.0,
            id: text(t.id),
            name: text(t.name),
        }),
        ip: text(context.ip),
        user_agent: text(context.user_agent),
        properties: Cow::Borrowed(properties),
        changes: payload.changes.map(Cow::Owned),
    })
}
