//! The seeded audit workload every benchmark runs on.
//!
//! Real audit logs are skewed everywhere, and the skew is what makes an index choice right or
//! wrong: a few tenants hold most events, a few people in each tenant do most things, a few
//! actions dominate, and a handful of words appear in most descriptions while most words are
//! rare. The generator reproduces those shapes with Zipf distributions so one run exercises
//! the large-tenant, small-tenant, common-term and rare-term paths alike. The same seed always
//! gives the same events, so figures from two runs (or two backends) are comparable.

use crate::rng::{SplitMix64, Zipf};
use sealtrail_core::Timestamp;
use serde_json::{json, Map, Value};

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    /// Seed of every random choice: same seed, same events.
    pub seed: u64,
    /// How many events (duplicate submissions included).
    pub events: u64,
    /// How many tenants share the events, Zipf(1.0) by rank (tenant 0 is the largest).
    pub tenants: u32,
    /// The newest event's time; events spread over `span_days` before it.
    pub end: Timestamp,
    /// How far back the first event is.
    pub span_days: u32,
    /// Share of submissions that repeat an earlier event with the same idempotency key (a
    /// client retrying after a lost answer).
    pub duplicate_rate: f64,
}

impl WorkloadSpec {
    /// The standard workload: 1,000 tenants over one year, 0.1% duplicates.
    pub fn standard(seed: u64, events: u64, end: Timestamp) -> Self {
        WorkloadSpec {
            seed,
            events,
            tenants: 1_000,
            end,
            span_days: 365,
            duplicate_rate: 0.001,
        }
    }

    /// The time of the first event.
    pub fn start(&self) -> Timestamp {
        Timestamp(self.end.millis() - i64::from(self.span_days) * DAY_MS)
    }
}

/// One audit event as a producing application would send it.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchEvent {
    /// When it happened (and, when loading history, when it is recorded).
    pub at: Timestamp,
    /// One of the 48 actions, Zipf(1.1) (most often "session.login").
    pub action: &'static str,
    /// "web" 55%, "api" 30%, "system" 10% or "cli" 5%.
    pub channel: &'static str,
    /// "success" 94%, "failure" 5% or "denied" 1%.
    pub result: &'static str,
    /// "user" (web, cli), "api" (api channel) or "system" (a scheduled job).
    pub actor_type: &'static str,
    /// `u<n>` for person n of the tenant's Zipf(1.2) pool (`u0` most active), `job-<n>` for jobs.
    pub actor_id: String,
    /// The person's address; `None` for system jobs.
    pub actor_email: Option<String>,
    /// Display name, e.g. "Alice Martin"; also the start of the description.
    pub actor_name: String,
    /// Name, verb, resource and object, then 8 Zipf(1.0) vocabulary words: what S1 searches.
    pub description: String,
    /// The action's resource, shortened as producers send it (`api_key` becomes `key`).
    pub target_type: &'static str,
    /// Object number, 0–49,999, also in the description and `properties.path`.
    pub target_id: String,
    /// `<resource> <object>`, e.g. "invoice 1234".
    pub target_name: String,
    /// `203.0.<tenant>.<person>` for people, `10.0.0.2` for system jobs.
    pub ip: String,
    /// One of four fixed user agents (two browsers, an SDK, curl), uniformly.
    pub user_agent: &'static str,
    /// About 250 bytes of application-specific properties.
    pub properties: Map<String, Value>,
    /// Unique per event; a duplicate submission carries its original's key.
    pub idempotency_key: String,
}

impl BenchEvent {
    /// The event as the ingest API takes it.
    pub fn to_json(&self) -> Value {
        let mut actor =
            json!({"type": self.actor_type, "id": self.actor_id, "name": self.actor_name});
        if let Some(email) = &self.actor_email {
            actor["email"] = json!(email);
        }
        json!({
            "action": self.action,
            "channel": self.channel,
            "description": self.description,
            "result": self.result,
            "actor": actor,
            "targets": [{"type": self.target_type, "id": self.target_id, "name": self.target_name}],
            "context": {"ip": self.ip, "user_agent": self.user_agent},
            "properties": self.properties,
            "occurred_at": self.at.to_rfc3339(),
            "idempotency_key": self.idempotency_key,
        })
    }
}

/// One submission of the workload: which tenant sends which event.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// Position in the workload, from 0.
    pub index: u64,
    /// Tenant rank, 0 = largest.
    pub tenant: u32,
    /// A retry of an earlier submission (same event, same idempotency key): stored once.
    pub duplicate: bool,
    /// The event; a duplicate repeats its original's exactly, time and idempotency key included.
    pub event: BenchEvent,
}

/// The name of the tenant of rank `rank` (0 = largest).
pub fn tenant_name(rank: u32) -> String {
    format!("bench-{:04}", rank + 1)
}

/// The 48 actions of twelve resources, ordered so Zipf rank 1 is the most common
/// ("session.login").
#[rustfmt::skip]
const ACTIONS: [&str; 48] = [
        "session.login", "document.viewed", "user.updated", "invoice.created", "project.viewed",
        "report.viewed", "session.logout", "document.updated", "user.login_failed",
        "invoice.viewed", "project.updated", "comment.created", "document.created",
        "report.exported", "user.created", "payment.created", "role.assigned", "api_key.used",
        "webhook.delivered", "setting.updated", "document.deleted", "invoice.approved",
        "project.created", "comment.deleted", "user.deleted", "payment.refunded",
        "api_key.created", "role.revoked", "report.created", "document.shared",
        "invoice.voided", "project.archived", "user.invited", "setting.viewed",
        "webhook.created", "api_key.revoked", "payment.failed", "comment.updated",
        "document.downloaded", "user.password_changed", "user.mfa_enabled", "project.deleted",
        "role.created", "report.deleted", "webhook.deleted", "invoice.deleted",
        "setting.deleted", "user.exported",
];

/// The action names, most common first.
pub fn action_names() -> &'static [&'static str] {
    &ACTIONS
}

const CHANNELS: [(&str, f64); 4] = [
    ("web", 0.55),
    ("api", 0.30),
    ("cli", 0.05),
    ("system", 0.10),
];
const RESULTS: [(&str, f64); 3] = [("success", 0.94), ("failure", 0.05), ("denied", 0.01)];
const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36",
    "sealtrail-sdk-go/1.4.2",
    "curl/8.5.0",
];
const FIRST: [&str; 16] = [
    "Alice", "Bruno", "Chloé", "Dmitri", "Emma", "Farid", "Greta", "Hiro", "Inès", "Jonas", "Kofi",
    "Lena", "Mateo", "Nadia", "Oskar", "Priya",
];
const LAST: [&str; 16] = [
    "Martin", "Schmidt", "Rossi", "Novak", "Dubois", "Silva", "Kowalski", "Jensen", "Moreau",
    "Tanaka", "Okafor", "Larsen", "Costa", "Weber", "Haddad", "Nguyen",
];
const REGIONS: [&str; 5] = [
    "eu-central-1",
    "eu-west-1",
    "us-east-1",
    "us-west-2",
    "ap-south-1",
];
const PLANS: [&str; 3] = ["team", "business", "enterprise"];

/// Words per description drawn from the vocabulary.
pub const DESCRIPTION_WORDS: usize = 8;
/// Vocabulary size: with Zipf(1.0) over 7,500 words and 8 draws, the top word is in ~59% of
/// descriptions.
pub const VOCABULARY: usize = 7_500;

/// The search vocabulary, most frequent first; the same for every seed so terms are stable.
pub fn vocabulary() -> Vec<String> {
    const ONSETS: [&str; 16] = [
        "b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "st",
    ];
    const NUCLEI: [&str; 6] = ["a", "e", "i", "o", "u", "ei"];
    const CODAS: [&str; 6] = ["", "n", "r", "s", "l", "x"];
    let mut rng = SplitMix64::new(0x5ea1_7a11);
    let mut seen = std::collections::HashSet::new();
    let mut words = Vec::with_capacity(VOCABULARY);
    while words.len() < VOCABULARY {
        let syllables = 2 + rng.below(3) as usize;
        let mut word = String::new();
        for _ in 0..syllables {
            word.push_str(ONSETS[rng.below(16) as usize]);
            word.push_str(NUCLEI[rng.below(6) as usize]);
            word.push_str(CODAS[rng.below(6) as usize]);
        }
        if seen.insert(word.clone()) {
            words.push(word);
        }
    }
    words
}

/// How likely a description is to contain the word of Zipf rank `rank` (0-based).
pub fn expected_term_share(rank: usize) -> f64 {
    let harmonic: f64 = (1..=VOCABULARY).map(|k| 1.0 / k as f64).sum();
    let p = 1.0 / ((rank + 1) as f64 * harmonic);
    1.0 - (1.0 - p).powi(DESCRIPTION_WORDS as i32)
}

/// The vocabulary rank whose expected share of descriptions is closest to `share`.
pub fn rank_for_share(share: f64) -> usize {
    (0..VOCABULARY)
        .min_by(|&a, &b| {
            let da = (expected_term_share(a) - share).abs();
            let db = (expected_term_share(b) - share).abs();
            da.total_cmp(&db)
        })
        .unwrap_or(0)
}

/// Search terms at the three frequencies the benchmarks name.
#[derive(Debug, Clone, PartialEq)]
pub struct Terms {
    /// In ~59% of events.
    pub common: String,
    /// In ~0.3% of events.
    pub mid: String,
    /// In ~0.02% of events.
    pub rare: String,
}

/// The common, mid and rare terms of the vocabulary.
pub fn terms() -> Terms {
    let words = vocabulary();
    let pick = |share| words[rank_for_share(share)].clone();
    Terms {
        common: words[0].clone(),
        mid: pick(0.003),
        rare: pick(0.0002),
    }
}

/// Per-tenant state: its actors, sized by the tenant's share of events.
struct TenantActors {
    zipf: Zipf,
}

/// The generator: an iterator over [`Submission`]s in time order.
pub struct Workload {
    spec: WorkloadSpec,
    rng: SplitMix64,
    tenants: Zipf,
    actors: Vec<Option<TenantActors>>,
    actions: Zipf,
    words: Zipf,
    vocabulary: Vec<String>,
    /// Recent submissions, for duplicates to repeat.
    recent: Vec<Submission>,
    next: u64,
}

impl Workload {
    /// A generator for `spec`.
    pub fn new(spec: WorkloadSpec) -> Self {
        let tenants = Zipf::new(spec.tenants.max(1) as usize, 1.0);
        let actors = (0..spec.tenants.max(1)).map(|_| None).collect();
        Workload {
            rng: SplitMix64::new(spec.seed),
            tenants,
            actors,
            actions: Zipf::new(ACTIONS.len(), 1.1),
            words: Zipf::new(VOCABULARY, 1.0),
            vocabulary: vocabulary(),
            recent: Vec::new(),
            next: 0,
            spec,
        }
    }

    /// The expected number of events of tenant `rank`.
    pub fn expected_events(&self, rank: u32) -> f64 {
        self.tenants.probability(rank as usize) * self.spec.events as f64
    }

    /// Picks the person of `tenant` who acts next; the tenant's pool is built on first use.
    fn person(&mut self, tenant: u32) -> u32 {
        let expected = self.expected_events(tenant);
        let actors = self.actors[tenant as usize].get_or_insert_with(|| {
            // Roughly one person per 200 events, at least 3: small tenants are small teams.
            let pool = ((expected / 200.0) as u32).clamp(3, 20_000);
            TenantActors {
                zipf: Zipf::new(pool as usize, 1.2),
            }
        });
        actors.zipf.sample(&mut self.rng) as u32
    }

    fn event(&mut self, index: u64, tenant: u32) -> BenchEvent {
        let span = i64::from(self.spec.span_days) * DAY_MS;
        let events = self.spec.events.max(1) as i64;
        let step = (span / events).max(1);
        let jitter = self.rng.below(step as u64) as i64;
        let at = Timestamp(self.spec.start().millis() + index as i64 * span / events + jitter);

        let channel = pick_weighted(&mut self.rng, &CHANNELS);
        let result = pick_weighted(&mut self.rng, &RESULTS);
        let action = ACTIONS[self.actions.sample(&mut self.rng)];
        let (actor_type, actor_id, actor_email, actor_name, ip) = if channel == "system" {
            let job = self.rng.below(4);
            (
                "system",
                format!("job-{job}"),
                None,
                format!("Scheduled job {job}"),
                "10.0.0.2".to_string(),
            )
        } else {
            let person = self.person(tenant);
            let first = FIRST[(person % 16) as usize];
            let last = LAST[((person / 16 + tenant) % 16) as usize];
            let kind = if channel == "api" { "api" } else { "user" };
            (
                kind,
                format!("u{person}"),
                Some(format!(
                    "{}.{}{person}@t{tenant}.example.com",
                    first.to_lowercase(),
                    last.to_lowercase()
                )),
                format!("{first} {last}"),
                format!("203.0.{}.{}", tenant % 256, person % 250 + 1),
            )
        };
        let (resource, verb) = action.split_once('.').unwrap_or((action, ""));
        let object = self.rng.below(50_000);
        let mut description = format!("{actor_name} {verb} {resource} {object}:");
        for _ in 0..DESCRIPTION_WORDS {
            description.push(' ');
            description.push_str(&self.vocabulary[self.words.sample(&mut self.rng)]);
        }
        let mut properties = Map::new();
        properties.insert(
            "request_id".into(),
            json!(format!("{:016x}", self.rng.next_u64())),
        );
        properties.insert(
            "session_id".into(),
            json!(format!("{:016x}", self.rng.next_u64())),
        );
        properties.insert("region".into(), json!(REGIONS[self.rng.below(5) as usize]));
        properties.insert("plan".into(), json!(PLANS[(tenant % 3) as usize]));
        properties.insert("duration_ms".into(), json!(self.rng.below(2_000)));
        properties.insert(
            "path".into(),
            json!(format!("/api/v2/{resource}s/{object}/{verb}")),
        );
        properties.insert(
            "feature_flags".into(),
            json!(["new-nav", "audit-v2", "sso"]),
        );
        properties.insert(
            "client_version".into(),
            json!(format!("4.{}.{}", self.rng.below(20), self.rng.below(10))),
        );
        BenchEvent {
            at,
            action,
            channel,
            result,
            actor_type,
            actor_id,
            actor_email,
            actor_name,
            description,
            target_type: resource_type(resource),
            target_id: object.to_string(),
            target_name: format!("{resource} {object}"),
            ip,
            user_agent: USER_AGENTS[self.rng.below(4) as usize],
            properties,
            idempotency_key: format!("bench-{}-{index}", self.spec.seed),
        }
    }
}

/// `api_key` is a resource of type `key` and so on: short target types, as producers send.
fn resource_type(resource: &'static str) -> &'static str {
    match resource {
        "api_key" => "key",
        other => other,
    }
}

fn pick_weighted(rng: &mut SplitMix64, choices: &[(&'static str, f64)]) -> &'static str {
    let mut x = rng.unit();
    for (name, weight) in choices {
        if x < *weight {
            return name;
        }
        x -= weight;
    }
    choices.last().map_or("", |(name, _)| name)
}

impl Iterator for Workload {
    type Item = Submission;

    fn next(&mut self) -> Option<Submission> {
        if self.next >= self.spec.events {
            return None;
        }
        let index = self.next;
        self.next += 1;
        if !self.recent.is_empty() && self.rng.unit() < self.spec.duplicate_rate {
            let original = &self.recent[self.rng.below(self.recent.len() as u64) as usize];
            return Some(Submission {
                index,
                duplicate: true,
                ..original.clone()
            });
        }
        let tenant = self.tenants.sample(&mut self.rng) as u32;
        let event = self.event(index, tenant);
        let submission = Submission {
            index,
            tenant,
            duplicate: false,
            event,
        };
        // A retry follows its original closely: keep the last 64 submissions.
        if self.recent.len() == 64 {
            self.recent.remove(0);
        }
        self.recent.push(submission.clone());
        Some(submission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_core::ingest::{parse_body, Limits};

    const END: Timestamp = Timestamp(1_795_000_000_000);

    fn generate(seed: u64, events: u64) -> Vec<Submission> {
        Workload::new(WorkloadSpec::standard(seed, events, END)).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_events_and_another_seed_others() {
        assert_eq!(generate(7, 500), generate(7, 500));
        assert_ne!(generate(7, 500), generate(8, 500));
    }

    #[test]
    fn shares_match_the_specified_shapes() {
        let subs = generate(1, 100_000);
        let share = |pred: &dyn Fn(&Submission) -> bool| {
            subs.iter().filter(|s| pred(s)).count() as f64 / subs.len() as f64
        };
        let terms = terms();
        let has = |word: &str, s: &Submission| s.event.description.split(' ').any(|w| w == word);
        let common = share(&|s| has(&terms.common, s));
        assert!((0.55..0.63).contains(&common), "common term in {common}");
        let mid = share(&|s| has(&terms.mid, s));
        assert!((0.0015..0.0045).contains(&mid), "mid term in {mid}");
        let failure = share(&|s| s.event.result == "failure");
        assert!((0.045..0.055).contains(&failure), "failures {failure}");
        let denied = share(&|s| s.event.result == "denied");
        assert!((0.007..0.013).contains(&denied), "denied {denied}");
        let largest = share(&|s| s.tenant == 0);
        assert!((0.12..0.15).contains(&largest), "largest tenant {largest}");
        let duplicates = share(&|s| s.duplicate);
        assert!(
            (0.0005..0.0015).contains(&duplicates),
            "duplicates {duplicates}"
        );
        let top_action = share(&|s| s.event.action == "session.login");
        assert!(top_action > 0.15, "top action {top_action}");
    }

    #[test]
    fn events_span_the_year_in_order_and_duplicates_repeat_their_original() {
        let subs = generate(3, 20_000);
        let first = subs[0].event.at.millis();
        let last = subs[subs.len() - 1].event.at.millis();
        assert!(first >= END.millis() - 365 * DAY_MS && last <= END.millis());
        assert!(last - first > 360 * DAY_MS);
        for s in subs.iter().filter(|s| s.duplicate) {
            let original = subs
                .iter()
                .find(|o| !o.duplicate && o.event.idempotency_key == s.event.idempotency_key)
                .expect("a duplicate repeats an earlier submission");
            assert_eq!((original.tenant, &original.event), (s.tenant, &s.event));
        }
    }

    #[test]
    fn every_event_passes_ingest_validation_at_about_250_bytes_of_properties() {
        let subs = generate(5, 2_000);
        let mut property_bytes = 0;
        for s in &subs {
            let body = serde_json::to_vec(&s.event.to_json()).unwrap();
            let parsed = parse_body(&body, &Limits::default(), END).unwrap();
            assert!(parsed.items[0].is_ok(), "{:?}", parsed.items[0]);
            property_bytes += serde_json::to_vec(&s.event.properties).unwrap().len();
        }
        let mean = property_bytes / subs.len();
        assert!(
            (200..300).contains(&mean),
            "properties average {mean} bytes"
        );
    }
}
