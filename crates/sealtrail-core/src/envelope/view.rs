//! A borrowed reading of an entry, read straight from its envelope and vault bytes, that
//! serialises exactly as the opened [`Entry`] does. Opening an entry allocates every string
//! and builds its properties (and before/after values) as JSON trees that an export or a page
//! then writes straight back out as text; for a million entries that was most of an export's
//! time (BENCHMARKS.md, issue #20). A view borrows each string that needs no unescaping and
//! keeps the free-form JSON as its stored bytes: canonical JSON is serde_json's own output
//! with keys sorted, and an opened map keeps that order, so the bytes written are the same.
//! The field names and skip rules mirror [`Entry`]'s; a property test holds the two equal.

use super::{
    decode_fields, vault_part, DecodedEnvelope, EnvelopeError, EnvelopeFields, Part, Slot,
};
use crate::entry::{ActorType, Changes, Entry, Outcome};
use crate::timestamp::Timestamp;
use serde::de::{Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::{to_raw_value, RawValue};
use std::borrow::Cow;
use std::marker::PhantomData;
use uuid::Uuid;

/// Free-form JSON kept as text: borrowed from stored bytes, or owned when made from an entry.
pub type Json<'a> = Cow<'a, RawValue>;

/// An entry as [`Entry`] serialises it, borrowed from stored bytes where it can be.
#[derive(Debug, Clone, Serialize)]
pub struct EntryView<'a> {
    /// The entry's id.
    pub id: Uuid,
    /// Its place in the tenant's log.
    pub seq: u64,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Cow<'a, str>>,
    /// Its description.
    pub description: Cow<'a, str>,
    /// Its outcome.
    pub result: Outcome,
    /// Who acted.
    pub actor: ActorView<'a>,
    /// What it acted on, the primary target first.
    pub targets: Vec<TargetView<'a>>,
    /// Where the action came from.
    #[serde(skip_serializing_if = "ContextView::is_empty")]
    pub context: ContextView<'a>,
    /// The before/after values of an edit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangesView<'a>>,
    /// The properties as a JSON object; `None` when the stored payload has none (written `{}`).
    #[serde(serialize_with = "object_or_empty")]
    pub properties: Option<Json<'a>>,
    /// The paths redacted at ingest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<Cow<'a, str>>,
    /// The idempotency key it was sent with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<Cow<'a, str>>,
}

/// [`crate::entry::Actor`], borrowed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ActorView<'a> {
    /// The kind of actor (set from the envelope, never from the vault value).
    #[serde(rename = "type", skip_deserializing)]
    pub kind: ActorType,
    /// Its id.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub id: Option<Text<'a>>,
    /// Its name.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text<'a>>,
    /// Its e-mail.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub email: Option<Text<'a>>,
    /// Through what it acted.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub via: Option<Text<'a>>,
}

/// [`crate::entry::Target`], borrowed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetView<'a> {
    /// What kind of record.
    #[serde(rename = "type", borrow)]
    pub kind: Text<'a>,
    /// Its id.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub id: Option<Text<'a>>,
    /// Its name.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text<'a>>,
}

/// [`crate::entry::Context`], borrowed (the request comes from the payload part).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContextView<'a> {
    /// The client address.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Text<'a>>,
    /// The client's user agent.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<Text<'a>>,
    /// Where the client was.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub location: Option<Text<'a>>,
    /// The HTTP request behind the action.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestView<'a>>,
}

impl ContextView<'_> {
    /// As [`crate::entry::Context::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.ip.is_none()
            && self.user_agent.is_none()
            && self.location.is_none()
            && self.request.is_none()
    }
}

/// [`crate::entry::RequestInfo`], borrowed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestView<'a> {
    /// The method.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub method: Option<Text<'a>>,
    /// The path.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub path: Option<Text<'a>>,
    /// The body, as JSON.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub body: Option<Json<'a>>,
    /// The response, as JSON.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub response: Option<Json<'a>>,
}

/// [`Changes`], borrowed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChangesView<'a> {
    /// The value before the edit.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub before: Option<Json<'a>>,
    /// The value after the edit.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub after: Option<Json<'a>>,
}

impl ChangesView<'_> {
    /// The before/after values as [`Changes`], for what compares them field by field.
    pub fn parse(&self) -> Result<Changes, serde_json::Error> {
        let value = |v: &Option<Json<'_>>| {
            v.as_ref()
                .map(|raw| serde_json::from_str(raw.get()))
                .transpose()
        };
        Ok(Changes {
            before: value(&self.before)?,
            after: value(&self.after)?,
        })
    }
}

/// A string borrowed from the input when it holds no escape, owned otherwise. (serde borrows
/// a `Cow<str>` field only when it is not inside an `Option`, and most of these are.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Text<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

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

/// The payload part as the view reads it: the description is required, as when opening.
#[derive(Deserialize)]
struct PayloadView<'a> {
    #[serde(borrow)]
    description: Text<'a>,
    #[serde(default, borrow)]
    targets: Vec<TargetView<'a>>,
    #[serde(default, borrow)]
    changes: Option<ChangesView<'a>>,
    #[serde(default, borrow)]
    properties: Option<&'a RawValue>,
    #[serde(default, borrow)]
    request: Option<RequestView<'a>>,
}

/// Properties as stored, or `{}` for none (as an opened entry's empty map serialises).
fn object_or_empty<S: serde::Serializer>(
    properties: &Option<Json<'_>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match properties {
        Some(raw) => raw.serialize(serializer),
        None => serde_json::Map::new().serialize(serializer),
    }
}

impl<'a> EntryView<'a> {
    /// The view of an opened entry; its free-form JSON is written out as text here.
    pub fn of(e: &'a Entry) -> Result<Self, serde_json::Error> {
        let text = |s: &'a String| Cow::Borrowed(s.as_str());
        let opt = |s: &'a Option<String>| s.as_deref().map(|s| Text(Cow::Borrowed(s)));
        let json = |v: &Option<serde_json::Value>| -> Result<Option<Json<'a>>, serde_json::Error> {
            v.as_ref()
                .map(|v| to_raw_value(v).map(Cow::Owned))
                .transpose()
        };
        Ok(EntryView {
            id: e.id,
            seq: e.seq,
            recorded_at: e.recorded_at,
            occurred_at: e.occurred_at,
            channel: text(&e.channel),
            action: text(&e.action),
            event: text(&e.event),
            category: e.category.as_deref().map(Cow::Borrowed),
            description: text(&e.description),
            result: e.result,
            actor: ActorView {
                kind: e.actor.kind,
                id: opt(&e.actor.id),
                name: opt(&e.actor.name),
                email: opt(&e.actor.email),
                via: opt(&e.actor.via),
            },
            targets: e
                .targets
                .iter()
                .map(|t| TargetView {
                    kind: Text(text(&t.kind)),
                    id: opt(&t.id),
                    name: opt(&t.name),
                })
                .collect(),
            context: ContextView {
                ip: opt(&e.context.ip),
                user_agent: opt(&e.context.user_agent),
                location: opt(&e.context.location),
                request: match &e.context.request {
                    Some(r) => Some(RequestView {
                        method: opt(&r.method),
                        path: opt(&r.path),
                        body: json(&r.body)?,
                        response: json(&r.response)?,
                    }),
                    None => None,
                },
            },
            changes: match &e.changes {
                Some(c) => Some(ChangesView {
                    before: json(&c.before)?,
                    after: json(&c.after)?,
                }),
                None => None,
            },
            properties: Some(Cow::Owned(to_raw_value(&e.properties)?)),
            redacted: e.redacted.iter().map(text).collect(),
            idempotency_key: e.idempotency_key.as_deref().map(Cow::Borrowed),
        })
    }

    /// The primary (first) target, the only one a table row has columns for.
    pub fn primary_target(&self) -> Option<&TargetView<'a>> {
        self.targets.first()
    }

    /// The properties as compact JSON, empty when there are none (a table's cell).
    pub fn properties_text(&self) -> &str {
        match self.properties.as_deref().map(RawValue::get) {
            None | Some("{}") => "",
            Some(raw) => raw,
        }
    }
}

/// The view of a stored entry: what [`super::open`] gives, as [`EntryView::of`] would show
/// it, read without building the entry. `idempotency_key` is the row's, which the envelope
/// does not hold.
pub fn view<'a>(
    envelope: &'a [u8],
    slots: &'a [Slot],
    idempotency_key: Option<&'a str>,
) -> Result<EntryView<'a>, EnvelopeError> {
    view_decoded(decode_fields(envelope)?, slots, idempotency_key)
}

impl<'a> DecodedEnvelope<'a> {
    /// The entry's view from an envelope already decoded for its claims and commitments
    /// ([`view`] without decoding it twice): what verification compares the stored copies
    /// with, since building the whole entry for each of a million rows was a fifth of its
    /// time and the copies are only ever compared with text.
    pub fn view(self, slots: &'a [Slot]) -> Result<EntryView<'a>, EnvelopeError> {
        view_decoded(self.0, slots, None)
    }
}

/// [`view`] of decoded envelope fields.
fn view_decoded<'a>(
    f: EnvelopeFields<'a>,
    slots: &'a [Slot],
    idempotency_key: Option<&'a str>,
) -> Result<EntryView<'a>, EnvelopeError> {
    let mut actor: ActorView<'a> = vault_part(slots, Part::Actor)?.unwrap_or_default();
    actor.kind = f.actor_type;
    let mut context: ContextView<'a> = vault_part(slots, Part::Context)?.unwrap_or_default();
    let payload: PayloadView<'a> =
        vault_part(slots, Part::Payload)?.unwrap_or_else(|| PayloadView {
            description: Text(Cow::Borrowed("")),
            targets: Vec::new(),
            changes: None,
            properties: None,
            request: None,
        });
    context.request = payload.request;
    let properties = match payload.properties {
        // The opened entry's properties are a map: anything else would not have opened.
        Some(raw) if !raw.get().starts_with('{') => {
            return Err(EnvelopeError::Vault {
                part: Part::Payload.as_str(),
                message: "properties are not an object".into(),
            })
        }
        Some(raw) => Some(Cow::Borrowed(raw)),
        None => None,
    };
    Ok(EntryView {
        id: f.id,
        seq: f.seq,
        recorded_at: f.recorded_at,
        occurred_at: f.occurred_at,
        channel: f.channel,
        action: f.action,
        event: f.event,
        category: f.category,
        description: payload.description.0,
        result: f.result,
        actor,
        targets: payload.targets,
        context,
        changes: payload.changes,
        properties,
        redacted: f.redacted.into_iter().map(Cow::Owned).collect(),
        idempotency_key: idempotency_key.map(Cow::Borrowed),
    })
}
