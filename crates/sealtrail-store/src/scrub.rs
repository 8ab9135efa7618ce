//! The text side of erasure, with no I/O: the subject's pseudonym and stand-ins, which of the
//! subject's identifiers are specific enough to be replaced inside free text, and replacing
//! them there — as whole tokens only, so erasing actor `100` never touches "Invoice 1005".
//!
//! **Specificity** ([`specific`]): an e-mail address always counts; a name only with at least
//! two words ("Zoë Martin", never "Zoë" or "Berlin"); an id only when it is long enough to be
//! unique — at least [`MIXED_ID_MIN`] letters and digits mixing both (`u-1042`), at least
//! [`LETTER_ID_MIN`] letters (`zoemartin`) or at least [`NUMBER_ID_MIN`] digits. Shorter ids
//! (`100`, `u1`, `42`) are replaced only where they are the identity field of the subject's
//! actor or target, which [`crate::erasure`] decides structurally.
//!
//! **Tokens** ([`Identifiers::scrub_str`]): matching ignores case (per character, Unicode
//! simple lowercase) and lets any run of whitespace stand for a space inside a name. A match
//! must not continue a word on either side: the neighbouring character must not be a letter
//! or digit, nor a joiner (`.` `-` `_` `@` `+`) followed by one. So `1005` and `3100` do not
//! contain the token `100`, `zoe@example.com.au` and `zoe.martin@x.io` do not contain
//! `zoe@example.com` and `martin@x.io`, while "…to zoe@example.com." and "(Zoë Martin)" do.

use sealtrail_core::envelope::canonical_json;
use serde_json::{json, Map, Value};
use sha2::Sha256;
use std::collections::BTreeSet;

/// Letters and digits an id mixing both needs before it is replaced inside text.
pub(crate) const MIXED_ID_MIN: usize = 5;
/// Letters an id of letters only needs before it is replaced inside text.
pub(crate) const LETTER_ID_MIN: usize = 8;
/// Digits an id of digits only needs before it is replaced inside text: shorter numbers are
/// amounts, invoice numbers and years as often as they are someone's id.
pub(crate) const NUMBER_ID_MIN: usize = 10;

/// What an erased actor or target is called.
pub(crate) const ERASED_NAME: &str = "Erased subject";

/// The deployment's secret for pseudonyms. A pseudonym must not be reversible by guessing: an
/// unkeyed hash of a public log origin and an e-mail address can be confirmed for any guessed
/// address. The key lives in a file beside the signing key, never in the database (a database
/// copy alone cannot reverse a pseudonym), and is the same on every node, so a subject erased
/// twice, or on another node, gets the same pseudonym.
#[derive(Clone, PartialEq, Eq)]
pub struct PseudonymKey([u8; 32]);

impl PseudonymKey {
    /// A fresh random key, from the operating system's generator.
    pub fn generate() -> PseudonymKey {
        let salts = sealtrail_core::envelope::random_salts();
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&salts[0]);
        key[16..].copy_from_slice(&salts[1]);
        PseudonymKey(key)
    }

    /// A key from its bytes (tests pin one to get stable pseudonyms).
    pub fn from_bytes(bytes: [u8; 32]) -> PseudonymKey {
        PseudonymKey(bytes)
    }

    /// Parses the key file's text: 64 hex digits.
    pub fn from_hex(text: &str) -> Result<PseudonymKey, String> {
        let bytes = hex::decode(text.trim()).map_err(|e| format!("not hex: {e}"))?;
        let key = <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| format!("{} bytes, a key has 32", bytes.len()))?;
        Ok(PseudonymKey(key))
    }

    /// A key for another purpose, derived from this one (HMAC-SHA256 over `purpose`): every
    /// node of a deployment shares the pseudonym key file, so a key derived from it is the
    /// same on every node without another file to distribute, and knowing a derived key
    /// reveals nothing of the pseudonym key. Used to sign Retraced viewer tokens.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::Mac as _;
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        let mut mac = <hmac::Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The key file's text.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for PseudonymKey {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

/// The subject's stable stand-in: `erased-` and 12 hex digits of
/// `HMAC-SHA256(key, log_origin || 0x00 || lowercase(subject))`. Stable per deployment, log and
/// subject, so repeated erasures and later entries agree; not comparable across logs; and,
/// without the key, not to be confirmed by guessing the subject.
pub(crate) fn pseudonym(key: &PseudonymKey, log_origin: &str, subject: &str) -> String {
    use hmac::Mac as _;
    // HMAC pads a key shorter than the hash's 64-byte block with zeros (RFC 2104), so the
    // padded block is the same key, passed in the one form that cannot fail.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(&key.0);
    let mut mac = <hmac::Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
    mac.update(log_origin.as_bytes());
    mac.update(&[0u8]);
    mac.update(subject.to_lowercase().as_bytes());
    let digest = hex::encode(mac.finalize().into_bytes());
    format!("erased-{}", &digest[..12])
}

/// The actor part shown for the subject's own entries after erasure (canonical JSON).
pub(crate) fn erased_actor(pseudonym: &str) -> Vec<u8> {
    canonical_json(&erased_actor_value(pseudonym))
}

/// [`erased_actor`] as a JSON value, for places that hold the actor inside other JSON (an
/// export job's requester).
pub(crate) fn erased_actor_value(pseudonym: &str) -> Value {
    json!({
        "id": pseudonym,
        "name": ERASED_NAME,
        "email": null,
        "via": null,
    })
}

/// The context part shown for the subject's own entries after erasure: nothing.
pub(crate) fn erased_context() -> Vec<u8> {
    canonical_json(&json!({ "ip": null, "user_agent": null, "location": null }))
}

/// A target that was the subject: its type kept (it says what kind of thing was acted on),
/// its id the pseudonym and its name [`ERASED_NAME`].
pub(crate) fn erased_target(target: &Value, pseudonym: &str) -> Value {
    json!({
        "type": target.get("type").cloned().unwrap_or(Value::Null),
        "id": pseudonym,
        "name": ERASED_NAME,
    })
}

/// Where an identifier was found, which decides how specific it must be to count in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An actor or target id.
    Id,
    /// An actor's e-mail field (not always shaped like an address).
    Email,
    /// An actor or target name.
    Name,
}

/// True for something shaped like an e-mail address: text, `@`, text, no whitespace.
pub(crate) fn is_email(s: &str) -> bool {
    let s = s.trim();
    !s.chars().any(char::is_whitespace)
        && s.rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

/// True when two e-mail addresses are the same ignoring ASCII case: what both backends' SQL
/// (`LIKE`, `ILIKE`) can find through their indexes and copies, so they agree on who matches.
pub(crate) fn same_email(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// True when `s`, found as a `kind`, is specific enough to be the subject wherever it stands
/// as a whole token in free text (see the module documentation).
pub(crate) fn specific(kind: Kind, s: &str) -> bool {
    let s = s.trim();
    if is_email(s) {
        return true;
    }
    match kind {
        Kind::Name => {
            s.split_whitespace()
                .filter(|w| w.chars().any(char::is_alphabetic))
                .count()
                >= 2
        }
        Kind::Id | Kind::Email => {
            let letters = s.chars().filter(|c| c.is_alphabetic()).count();
            let digits = s.chars().filter(|c| c.is_numeric()).count();
            match (letters, digits) {
                (0, d) => d >= NUMBER_ID_MIN,
                (l, 0) => l >= LETTER_ID_MIN,
                (l, d) => l + d >= MIXED_ID_MIN,
            }
        }
    }
}

/// One character for comparison: its lowercase form when that is a single character.
fn fold(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// An identifier as matched: folded, trimmed, each whitespace run one space.
fn normalised(s: &str) -> Vec<char> {
    let mut out = Vec::new();
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().map(fold));
    }
    out
}

/// Characters that join two letters or digits into one token (`zoe.martin`, `u-10`, `a@b`).
fn joiner(c: char) -> bool {
    matches!(c, '.' | '-' | '_' | '@' | '+')
}

/// True when a token may start at `i`: the text before does not continue a word into it.
fn starts_token(text: &[char], i: usize) -> bool {
    let Some(before) = i.checked_sub(1).map(|p| text[p]) else {
        return true;
    };
    if before.is_alphanumeric() {
        return false;
    }
    !(joiner(before) && i >= 2 && text[i - 2].is_alphanumeric())
}

/// True when a token may end at `j`: the text after does not continue a word from it.
fn ends_token(text: &[char], j: usize) -> bool {
    match text.get(j) {
        None => true,
        Some(c) if c.is_alphanumeric() => false,
        Some(&c) => !(joiner(c) && text.get(j + 1).is_some_and(|n| n.is_alphanumeric())),
    }
}

/// Where `token` (normalised) matches the folded `text` from `i`, a space in it standing for
/// any run of whitespace: the end of the match.
fn match_at(text: &[char], mut i: usize, token: &[char]) -> Option<usize> {
    for &c in token {
        if c == ' ' {
            let start = i;
            while text.get(i).is_some_and(|t| t.is_whitespace()) {
                i += 1;
            }
            if i == start {
                return None;
            }
        } else if text.get(i) == Some(&c) {
            i += 1;
        } else {
            return None;
        }
    }
    Some(i)
}

/// The identifiers replaced inside free text, already judged specific by the caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identifiers {
    /// Normalised, longest first, so the longest identifier at a position wins.
    tokens: Vec<Vec<char>>,
}

impl Identifiers {
    /// Builds the matcher (empty identifiers are ignored).
    pub(crate) fn new<'a>(raw: impl IntoIterator<Item = &'a str>) -> Self {
        let mut tokens: Vec<Vec<char>> = raw
            .into_iter()
            .map(normalised)
            .filter(|t| !t.is_empty())
            .collect();
        tokens.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        tokens.dedup();
        Identifiers { tokens }
    }

    /// True when there is nothing to replace inside text (the subject has no specific
    /// identifier, e.g. only a short actor id), so walking a value can be skipped.
    pub(crate) fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// `s` with every whole-token occurrence of an identifier replaced by `pseudonym`, or
    /// `None` when it holds none.
    pub(crate) fn scrub_str(&self, s: &str, pseudonym: &str) -> Option<String> {
        if self.tokens.is_empty() {
            return None;
        }
        let chars: Vec<char> = s.chars().collect();
        let text: Vec<char> = chars.iter().copied().map(fold).collect();
        let mut out = String::new();
        let mut changed = false;
        let mut i = 0;
        while i < text.len() {
            let end = starts_token(&text, i)
                .then(|| {
                    self.tokens.iter().find_map(|token| {
                        match_at(&text, i, token).filter(|&end| ends_token(&text, end))
                    })
                })
                .flatten();
            match end {
                Some(end) => {
                    out.push_str(pseudonym);
                    changed = true;
                    i = end;
                }
                None => {
                    out.push(chars[i]);
                    i += 1;
                }
            }
        }
        changed.then_some(out)
    }
}

/// One step of a field path.
#[derive(Debug)]
enum Seg {
    /// An object key (as it reads after erasure).
    Key(String),
    /// An array index.
    Index(usize),
}

/// Replaces identifiers in free text inside one vault value and records which field paths
/// changed (`description`, `properties.note`, `targets[1].name`), as the erasure summary
/// shows them. Paths name keys as they read after erasure, so no summary repeats an erased
/// key.
#[derive(Debug)]
pub(crate) struct TextScrub<'a> {
    /// What to replace.
    ids: &'a Identifiers,
    /// What to replace it with.
    pseudonym: &'a str,
    /// Where the walk is.
    path: Vec<Seg>,
    /// Paths changed so far.
    pub changed: BTreeSet<String>,
}

impl<'a> TextScrub<'a> {
    /// A walk replacing `ids` with `pseudonym`.
    pub(crate) fn new(ids: &'a Identifiers, pseudonym: &'a str) -> Self {
        TextScrub {
            ids,
            pseudonym,
            path: Vec::new(),
            changed: BTreeSet::new(),
        }
    }

    /// The current path as text.
    fn render(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(k) if out.is_empty() => out.push_str(k),
                Seg::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    /// Records the current path as changed.
    pub(crate) fn mark(&mut self) {
        let path = self.render();
        self.changed.insert(path);
    }

    /// Runs `f` one level down, under `key`.
    pub(crate) fn key<R>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(Seg::Key(key.to_string()));
        let r = f(self);
        self.path.pop();
        r
    }

    /// Runs `f` one level down, at array index `i`.
    pub(crate) fn index<R>(&mut self, i: usize, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(Seg::Index(i));
        let r = f(self);
        self.path.pop();
        r
    }

    /// An object whose keys are structure (`before`/`after`, `method`/`path`, an actor's
    /// fields): the keys stay, the values are free text. Anything else is free text whole.
    pub(crate) fn fields(&mut self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    self.key(key, |w| w.text(v));
                }
            }
            other => self.text(other),
        }
    }

    /// Free text: every string, object key and number below `value`. A number is replaced
    /// only when it is an identifier as a whole (a long numeric id), and becomes the
    /// pseudonym's string.
    pub(crate) fn text(&mut self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Some(new) = self.ids.scrub_str(s, self.pseudonym) {
                    *s = new;
                    self.mark();
                }
            }
            Value::Number(n) => {
                if self
                    .ids
                    .scrub_str(&n.to_string(), self.pseudonym)
                    .as_deref()
                    == Some(self.pseudonym)
                {
                    *value = Value::String(self.pseudonym.to_string());
                    self.mark();
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.index(i, |w| w.text(item));
                }
            }
            Value::Object(map) => self.object(map),
            Value::Null | Value::Bool(_) => {}
        }
    }

    /// An object of free text: keys are replaced too. Two keys that become the same keep
    /// both values, the later one under a numbered key.
    fn object(&mut self, map: &mut Map<String, Value>) {
        let old = std::mem::take(map);
        for (key, mut v) in old {
            let (mut key, renamed) = match self.ids.scrub_str(&key, self.pseudonym) {
                Some(new) => (new, true),
                None => (key, false),
            };
            if renamed {
                let base = key.clone();
                let mut n = 2;
                while map.contains_key(&key) {
                    key = format!("{base}#{n}");
                    n += 1;
                }
            }
            self.path.push(Seg::Key(key));
            if renamed {
                self.mark();
            }
            self.text(&mut v);
            let Some(Seg::Key(key)) = self.path.pop() else {
                continue;
            };
            map.insert(key, v);
        }
    }
}

#[cfg(test)]
mod tests;
