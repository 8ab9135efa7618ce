//! Delivering every active sink: each pass reads the next batch after a sink's cursor, sends
//! it (a JSON batch, HMAC-signed), and moves the cursor only when the receiver answered 2xx.
//! A failing receiver is retried with exponential backoff and jitter, and after
//! [`DEAD_AFTER_FAILURES`] failures in a row the sink stops as a dead letter with the failing
//! answer kept for a person; nothing is skipped.
//!
//! Bounded by construction: one batch of at most [`MAX_BATCH`] entries in memory per sink
//! being delivered, nothing queued per entry, and ingest never waits on delivery (the log
//! is the queue). A sink that is down costs one failed request per backoff period.
//!
//! One node at a time: a node delivers only the sinks it holds a lease on in the database
//! ([`Store::claim_sinks`]), renewed every [`RENEW`] and lasting [`LEASE`]. With several nodes
//! on one PostgreSQL database each sink therefore has one sender, so batches reach the
//! receiver in order and are not sent twice over; when a node dies its leases run out and
//! another node takes its sinks over from their stored cursors. A node stops using a lease
//! [`LEASE_MARGIN`] before it runs out, so a slow request or a small clock difference between
//! nodes cannot make two senders; were it to happen anyway, the cursor's compare-and-set
//! keeps delivery at-least-once and in order, with the same entry ids.

use super::encode;
use super::secret;
use crate::lock;
use sealtrail_core::checkpoint::NoteVerifier;
use sealtrail_core::entry::Entry;
use sealtrail_core::filter::{Cursor, Direction, Query};
use sealtrail_core::sinks::archive::{self, ArchiveTarget};
use sealtrail_core::sinks::{
    self, SinkFormat, SinkKind, DEAD_AFTER_FAILURES, MAX_BATCH, SIGNATURE_HEADER,
};
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{PseudonymKey, SinkRecord, Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use uuid::Uuid;

/// How often the sinks are looked at when nothing wakes the loop sooner.
const PASS: Duration = Duration::from_millis(500);
/// How long one request to a receiver may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a failing receiver's answer kept for a person to read.
const ERROR_BYTES: usize = 512;
/// How long a lease lasts once claimed: how long a dead node's sinks wait for another node.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a node renews its leases and looks for free ones.
pub const RENEW: Duration = Duration::from_secs(10);
/// How long before a lease runs out its node stops delivering: room for one request
/// ([`REQUEST_TIMEOUT`]) and for clocks that differ a little between nodes.
pub const LEASE_MARGIN: Duration = Duration::from_secs(12);

/// The sinks this node holds, as of its last claim.
struct Leases {
    held: HashSet<Uuid>,
    /// Until when the held leases may be used.
    usable_until: Instant,
    /// When to claim again.
    renew_at: Instant,
}

/// Why a receiver did not take a batch.
struct Refused {
    /// What a person should read.
    error: String,
    /// Whether sending the same batch again cannot help (a Splunk collector that refused the
    /// token or the data): the sink stops at once as a dead letter for a person to fix.
    permanent: bool,
}

impl Refused {
    fn retry(error: String) -> Refused {
        Refused {
            error,
            permanent: false,
        }
    }
}

/// Why a deliverer could not be set up (a CA certificate the TLS clients refuse).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(String);

/// Where the deliverer may reach: the operator's choices, the same on every node.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Whether receivers on private networks (loopback, RFC 1918, link-local…) may be
    /// reached; off by default.
    pub private_networks: bool,
    /// CA certificates trusted beside Mozilla's roots, for receivers whose certificates a
    /// private CA issued (`serve --sink-ca`).
    pub extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Nothing was waiting.
    Idle,
    /// The receiver acknowledged this many entries.
    Delivered(usize),
    /// The receiver failed; the error as kept on the sink.
    Failed(String),
}

/// The node's deliverer: one loop over every active sink.
pub struct Deliverer {
    store: Arc<dyn Store>,
    /// This node's name in the sinks' leases.
    node: String,
    leases: Mutex<Leases>,
    /// Set when a sink was created, resumed or replayed here: claim at the next pass rather
    /// than at the next renewal.
    claim_soon: AtomicBool,
    key: Arc<PseudonymKey>,
    client: reqwest::Client,
    /// The object stores' client: the same rules, a longer timeout for large chunks.
    archive_client: reqwest::Client,
    /// The log's key: every archive chunk is checked with it before it leaves.
    verifier: NoteVerifier,
    /// The TLS client of syslog sinks.
    tls: tokio_rustls::TlsConnector,
    /// Whether receivers on private networks (loopback, RFC 1918, link-local…) may be
    /// reached: the operator's choice, off by default.
    private_networks: bool,
    /// When each failing sink may be tried again.
    backoff: Mutex<HashMap<Uuid, Instant>>,
    /// The sinks whose lag gauges this node set at its last pass: a sink deleted, paused or
    /// delivered by another node since then gets its gauges zeroed here, or the last lag it
    /// had would stay on this node's `/metrics` (and fire the lag alert) until a restart.
    gauged: Mutex<HashSet<Uuid>>,
    /// This machine's name, as Splunk's `host` field.
    host: String,
    wake: Notify,
}

impl Deliverer {
    /// A deliverer over `store` for the node named `node` (see [`crate::node_id`]), signing
    /// with secrets derived from `key` and checking archive chunks with the log's `verifier`;
    /// receivers on private networks are reached only when `reach` allows them, trusting its
    /// extra CA certificates beside Mozilla's roots.
    pub fn new(
        store: Arc<dyn Store>,
        node: String,
        key: Arc<PseudonymKey>,
        verifier: NoteVerifier,
        reach: Reach,
    ) -> Result<Arc<Deliverer>, SetupError> {
        let private_networks = reach.private_networks;
        let client = http_client(&reach, REQUEST_TIMEOUT)?;
        let archive_client = http_client(&reach, super::archive::REQUEST_TIMEOUT)?;
        let tls = super::syslog::connector(&reach.extra_roots).map_err(SetupError)?;
        let now = Instant::now();
        Ok(Arc::new(Deliverer {
            store,
            node,
            leases: Mutex::new(Leases {
                held: HashSet::new(),
                usable_until: now,
                renew_at: now,
            }),
            claim_soon: AtomicBool::new(false),
            key,
            client,
            archive_client,
            verifier,
            tls,
            private_networks,
            backoff: Mutex::new(HashMap::new()),
            gauged: Mutex::new(HashSet::new()),
            host: encode::host_name(),
            wake: Notify::new(),
        }))
    }

    /// Whether receivers on private networks may be reached.
    pub fn private_networks(&self) -> bool {
        self.private_networks
    }

    /// Asks for a pass now (after a sink is created, resumed or replayed) rather than at the
    /// next tick, claiming the sink's lease first.
    pub fn wake(&self) {
        self.claim_soon.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Forgets a sink's backoff, so a resumed or replayed sink is tried at once.
    pub fn reset(&self, id: Uuid) {
        lock(&self.backoff).remove(&id);
        self.wake();
    }

    /// Delivers until `shutdown` changes.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(PASS) => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "a delivery pass failed; retried on the next");
            }
        }
    }

    /// Zeroes the lag gauges of the sinks this node reported before and no longer delivers
    /// (deleted, paused, dead or held by another node), then remembers `delivering`: a lag
    /// is reported by the node delivering the sink, and 0 by every other.
    fn zero_gauges_except(&self, delivering: &[SinkRecord]) {
        let now: HashSet<Uuid> = delivering.iter().map(|s| s.id).collect();
        let before = std::mem::replace(&mut *lock(&self.gauged), now.clone());
        for gone in before.difference(&now) {
            metrics::gauge!("sealtrail_sink_lag_entries", "sink" => gone.to_string()).set(0.0);
            metrics::gauge!("sealtrail_sink_lag_seconds", "sink" => gone.to_string()).set(0.0);
        }
    }

    /// One pass: every active sink this node holds and not waiting out a backoff gets one
    /// batch.
    pub async fn pass(&self) -> Result<(), StoreError> {
        let active = self.store.active_sinks().await?;
        if active.is_empty() {
            lock(&self.backoff).clear();
            self.zero_gauges_except(&[]);
            return Ok(());
        }
        let held = self.held().await?;
        let sinks: Vec<SinkRecord> = active
            .into_iter()
            .filter(|s| held.contains(&s.id))
            .collect();
        self.zero_gauges_except(&sinks);
        let sizes: HashMap<TenantId, u64> = self.store.log_sizes().await?.into_iter().collect();
        for sink in &sinks {
            let lag = sizes
                .get(&sink.tenant)
                .copied()
                .unwrap_or(0)
                .saturating_sub(sink.cursor);
            metrics::gauge!("sealtrail_sink_lag_entries", "sink" => sink.id.to_string())
                .set(lag as f64);
        }
        let now = Instant::now();
        let due: Vec<SinkRecord> = {
            let mut backoff = lock(&self.backoff);
            // Sinks no longer active (paused, dead, deleted) keep no backoff.
            backoff.retain(|id, _| sinks.iter().any(|s| s.id == *id));
            sinks
                .into_iter()
                .filter(|s| backoff.get(&s.id).is_none_or(|at| *at <= now))
                .collect()
        };
        let attempts = due.iter().map(|sink| {
            let size = sizes.get(&sink.tenant).copied().unwrap_or(0);
            self.deliver(sink, size)
        });
        futures::future::join_all(attempts).await;
        Ok(())
    }

    /// The sinks this node may deliver now, claiming (and renewing) leases when it is time.
    async fn held(&self) -> Result<HashSet<Uuid>, StoreError> {
        let started = Instant::now();
        let due = lock(&self.leases).renew_at <= started;
        if due || self.claim_soon.swap(false, Ordering::SeqCst) {
            let now = Timestamp::now();
            let until = now.plus(LEASE);
            let claimed = self.store.claim_sinks(&self.node, until, now).await?;
            let mut leases = lock(&self.leases);
            leases.held = claimed.into_iter().map(|s| s.id).collect();
            leases.usable_until = started + LEASE - LEASE_MARGIN;
            leases.renew_at = started + RENEW;
        }
        let leases = lock(&self.leases);
        if leases.usable_until <= Instant::now() {
            // Not renewed in time (the database did not answer): another node may hold them.
            return Ok(HashSet::new());
        }
        Ok(leases.held.clone())
    }

    /// One batch for `sink` (whose tenant's log holds `log_size` entries): sent, and its
    /// outcome recorded.
    pub async fn deliver(&self, sink: &SinkRecord, log_size: u64) -> Attempt {
        match self.try_deliver(sink, log_size).await {
            Ok(attempt) => attempt,
            Err(e) => {
                tracing::warn!(sink = %sink.id, error = %e, "reading a sink's next batch failed");
                Attempt::Failed(e.to_string())
            }
        }
    }

    async fn try_deliver(&self, sink: &SinkRecord, log_size: u64) -> Result<Attempt, StoreError> {
        if sink.kind == SinkKind::Archive {
            return self.try_archive(sink, log_size).await;
        }
        let entries = entries_from(self.store.as_ref(), sink.tenant, sink.cursor).await?;
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            metrics::gauge!("sealtrail_sink_lag_seconds", "sink" => sink.id.to_string()).set(0.0);
            return Ok(Attempt::Idle);
        };
        let lag_millis = Timestamp::now()
            .millis()
            .saturating_sub(first.recorded_at.millis());
        metrics::gauge!("sealtrail_sink_lag_seconds", "sink" => sink.id.to_string())
            .set(lag_millis as f64 / 1000.0);
        let tenant = self.tenant_name(sink.tenant).await?;
        let next = last.seq + 1;
        let count = entries.len();
        let outcome = self
            .send(sink, "sealtrail.entries", &tenant, &entries)
            .await;
        self.record(sink, next, count, count == MAX_BATCH, outcome)
            .await
    }

    /// The tenant's name (the webhook batch's `tenant`, the archive's folder).
    async fn tenant_name(&self, tenant: TenantId) -> Result<String, StoreError> {
        Ok(self
            .store
            .tenant_by_id(tenant)
            .await?
            .map(|t| t.name)
            .unwrap_or_default())
    }

    /// One chunk for an archive sink, when one is due: written, checked, uploaded, recorded.
    async fn try_archive(&self, sink: &SinkRecord, log_size: u64) -> Result<Attempt, StoreError> {
        let target = match archive::parse(&sink.url) {
            Ok(target) => target,
            Err(error) => {
                let refused = Refused {
                    error,
                    permanent: true,
                };
                return self.record(sink, sink.cursor, 0, false, Err(refused)).await;
            }
        };
        let tenant = self.tenant_name(sink.tenant).await?;
        // A chunk fills for up to its `minutes`: its lag in seconds says how long so far.
        let lag = super::lag(self.store.as_ref(), sink, log_size, Timestamp::now()).await?;
        metrics::gauge!("sealtrail_sink_lag_seconds", "sink" => sink.id.to_string())
            .set(lag.seconds as f64);
        let source = super::archive::ChunkSource {
            store: self.store.as_ref(),
            tenant: sink.tenant,
            tenant_name: &tenant,
            cursor: sink.cursor,
            format: sink.format,
            verifier: &self.verifier,
            oldest_waited: Duration::from_secs(lag.seconds),
        };
        let chunk = match super::archive::next_chunk(&source, &target, Timestamp::now()).await {
            Ok(super::archive::NextChunk::Wait) => return Ok(Attempt::Idle),
            Ok(super::archive::NextChunk::Ready(chunk)) => chunk,
            Err(super::archive::ChunkError::Store(e)) => return Err(e),
            Err(super::archive::ChunkError::Chunk(error)) => {
                tracing::error!(sink = %sink.id, %error, "an archive chunk did not verify; nothing was written");
                let refused = Refused::retry(format!("the chunk did not verify: {error}"));
                return self.record(sink, sink.cursor, 0, false, Err(refused)).await;
            }
        };
        let (next, count) = (chunk.last + 1, (chunk.last - chunk.first + 1) as usize);
        let outcome = match self.object_store(sink, &target) {
            Ok(objects) => super::archive::upload(objects.as_ref(), &target, &tenant, chunk)
                .await
                .map_err(Refused::retry),
            Err(refused) => Err(refused),
        };
        self.record(sink, next, count, true, outcome).await
    }

    /// The object store of an archive sink, signing with its sealed access key.
    fn object_store(
        &self,
        sink: &SinkRecord,
        target: &ArchiveTarget,
    ) -> Result<Arc<dyn object_store::ObjectStore>, Refused> {
        if !self.private_networks {
            super::address::check_sink_literal(SinkKind::Archive, &sink.url)
                .map_err(Refused::retry)?;
        }
        let sealed = sink.credential.as_deref().unwrap_or_default();
        let credential =
            super::credential::open(&self.key, sink.tenant, sink.id, sealed).map_err(|error| {
                Refused {
                    error,
                    permanent: true,
                }
            })?;
        super::archive::open(target, &credential, self.archive_client.clone()).map_err(|error| {
            Refused {
                error,
                permanent: true,
            }
        })
    }

    /// Records an attempt's outcome: the cursor moved to `next` on success (then, when
    /// `more_waiting`, another pass at once), the failure kept (with backoff, or a dead
    /// letter) otherwise.
    async fn record(
        &self,
        sink: &SinkRecord,
        next: u64,
        count: usize,
        more_waiting: bool,
        outcome: Result<(), Refused>,
    ) -> Result<Attempt, StoreError> {
        let now = Timestamp::now();
        match outcome {
            Ok(()) => {
                let moved = self
                    .store
                    .sink_delivered(sink.tenant, sink.id, sink.cursor, next, now)
                    .await?;
                if !moved {
                    // Paused, replayed or deleted meanwhile: the receiver holds one batch it
                    // may see again, and the cursor stays where a person put it.
                    return Ok(Attempt::Idle);
                }
                lock(&self.backoff).remove(&sink.id);
                metrics::counter!("sealtrail_sink_delivered_entries_total", "sink" => sink.id.to_string())
                    .increment(count as u64);
                // More may be waiting: come back at once rather than at the next tick.
                if more_waiting {
                    self.wake.notify_one();
                }
                Ok(Attempt::Delivered(count))
            }
            Err(Refused { error, permanent }) => {
                let dead_after = if permanent { 1 } else { DEAD_AFTER_FAILURES };
                let recorded = self
                    .store
                    .sink_failed(sink.tenant, sink.id, sink.cursor, &error, dead_after, now)
                    .await?;
                metrics::counter!("sealtrail_sink_failures_total", "sink" => sink.id.to_string())
                    .increment(1);
                // `None`: the sink moved on meanwhile (a replay or a resume), so no backoff.
                if let Some(failures) = recorded {
                    let wait = sinks::retry_delay(failures, rand::random::<f64>());
                    lock(&self.backoff).insert(sink.id, Instant::now() + wait);
                    if failures >= dead_after {
                        tracing::warn!(sink = %sink.id, %error, "a sink stopped as a dead letter");
                    }
                }
                Ok(Attempt::Failed(error))
            }
        }
    }

    /// Sends a test batch (no entries) to `sink` now, without touching its cursor: what a
    /// person checks a receiver with.
    pub async fn test(&self, sink: &SinkRecord, tenant: &str) -> Result<(), String> {
        if sink.kind == SinkKind::Archive {
            let target = archive::parse(&sink.url)?;
            let objects = self
                .object_store(sink, &target)
                .map_err(|refused| refused.error)?;
            return super::archive::test(objects.as_ref(), &target, tenant).await;
        }
        self.send(sink, "sealtrail.test", tenant, &[])
            .await
            .map_err(|refused| refused.error)
    }

    /// POSTs one signed request of `entries` in the sink's kind and format; `Ok` on a 2xx.
    /// Every request carries Sealtrail's signature, even to a Splunk collector (which checks
    /// its token instead), so a proxy in front of any receiver can check it.
    async fn send(
        &self,
        sink: &SinkRecord,
        kind: &'static str,
        tenant: &str,
        entries: &[Entry],
    ) -> Result<(), Refused> {
        if !self.private_networks {
            super::address::check_literal(&sink.url).map_err(Refused::retry)?;
        }
        let origin = match sink.format {
            SinkFormat::Sealtrail => String::new(),
            SinkFormat::Ocsf => self
                .store
                .log_origin(sink.tenant)
                .await
                .map_err(|e| Refused::retry(format!("reading the log's origin: {e}")))?,
        };
        let batch = encode::Batch {
            kind,
            sink: sink.id,
            receiver: sink.kind,
            format: sink.format,
            tenant,
            origin: &origin,
            host: &self.host,
        };
        let body = encode::encode(&batch, entries)
            .map_err(|e| Refused::retry(format!("encoding the batch: {e}")))?;
        let mut request = self.client.post(&sink.url);
        match sink.kind {
            SinkKind::Webhook => {}
            SinkKind::Syslog => {
                let target = super::syslog::parse(&sink.url).map_err(Refused::retry)?;
                return super::syslog::send(
                    &self.tls,
                    &target,
                    self.private_networks,
                    &body,
                    REQUEST_TIMEOUT,
                )
                .await
                .map_err(Refused::retry);
            }
            SinkKind::Archive => {
                return Err(Refused::retry(
                    "an archive sink is written in chunks, not sent in batches".into(),
                ))
            }
            SinkKind::SplunkHec => {
                let sealed = sink.credential.as_deref().unwrap_or_default();
                let token = super::credential::open(&self.key, sink.tenant, sink.id, sealed)
                    .map_err(|error| Refused {
                        error,
                        permanent: true,
                    })?;
                request = request.header(reqwest::header::AUTHORIZATION, format!("Splunk {token}"));
            }
        }
        let timestamp = Timestamp::now().millis() / 1000;
        let signature = sinks::sign(&secret(&self.key, sink), timestamp, &body);
        let response = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header("Sealtrail-Sink", sink.id.to_string())
            .body(body)
            .send()
            .await
            .map_err(|e| Refused::retry(format!("no answer: {}", without_url(&e))))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // Splunk: 400 is a data problem and 401/403 a token problem; neither changes by
        // sending again. Everything else (503 busy, 5xx, 429) is retried with backoff.
        let permanent =
            sink.kind == SinkKind::SplunkHec && matches!(status.as_u16(), 400 | 401 | 403);
        Err(Refused {
            error: format!("HTTP {status}: {}", excerpt(response).await),
            permanent,
        })
    }
}

/// An HTTP client for receivers: `reach`'s CA roots, names resolved to public addresses only
/// (unless private networks are allowed), no redirects, at most `timeout` a request.
fn http_client(reach: &Reach, timeout: Duration) -> Result<reqwest::Client, SetupError> {
    let mut builder = reqwest::Client::builder();
    for root in &reach.extra_roots {
        let cert = reqwest::Certificate::from_der(root)
            .map_err(|e| SetupError(format!("a sink CA certificate: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    if !reach.private_networks {
        // Checked where the connection is made, so a name that resolves to a private
        // address (or is re-pointed there later) is refused too.
        builder = builder.dns_resolver(Arc::new(super::address::PublicOnly));
    }
    builder
        .timeout(timeout)
        // A receiver's redirect is not followed: the sink's URL is where entries go.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Sealtrail/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SetupError(format!("the sinks' HTTP client: {e}")))
}

/// The start of a failing receiver's answer, read no further than [`ERROR_BYTES`] (a hostile
/// receiver cannot make the server hold a large answer), without control characters.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ERROR_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(ERROR_BYTES);
    String::from_utf8_lossy(&bytes)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// The error and its causes (refused connection, unknown name, private address…), without
/// the URL, which may hold a receiver's token.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the sink's URL");
    }
    text
}

/// Up to [`MAX_BATCH`] entries of `tenant` from seq `from` on, in seq order (entries since
/// pruned are skipped: their place in the tree remains, their content is gone).
pub async fn entries_from(
    store: &dyn Store,
    tenant: TenantId,
    from: u64,
) -> Result<Vec<Entry>, StoreError> {
    let mut entries = Vec::new();
    let mut after = from.checked_sub(1);
    if after.is_none() {
        // A "newer than" cursor cannot reach seq 0: ask for that entry on its own.
        let zero = Query {
            filter: Default::default(),
            limit: 1,
            cursor: Some(Cursor {
                seq: 1,
                direction: Direction::Older,
            }),
        };
        entries.extend(store.query(tenant, &zero).await?.entries);
        after = Some(0);
    }
    let rest = Query {
        filter: Default::default(),
        limit: MAX_BATCH - entries.len(),
        cursor: after.map(|seq| Cursor {
            seq,
            direction: Direction::Newer,
        }),
    };
    let mut page = store.query(tenant, &rest).await?.entries;
    page.reverse();
    entries.extend(page);
    Ok(entries)
}
