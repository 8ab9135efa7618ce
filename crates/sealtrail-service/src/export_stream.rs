//! Streaming exports: exactly the entries a filter selects, in any format, in constant memory,
//! with no row cap — and every export recorded in the log it exported from.
//!
//! The export runs on a blocking thread: a reader task pages through the store (1,000 entries
//! at a time, not yet opened, a couple of pages ahead), each page is opened and encoded by a
//! synchronous encoder from `sealtrail-export` (for CSV, JSON, NDJSON and XLSX each page on
//! one of a lane per core, written back in order), and fixed-size chunks go to the HTTP body
//! through a bounded channel, so a slow client slows the export instead of growing memory.

use crate::audit::{props, SelfAudit};
use crate::checkpointer::Checkpointer;
use bytes::Bytes;
use exclusions::{withhold_excluded, without_excluded};
use sealtrail_core::entry::Actor;
use sealtrail_core::envelope::EntryView;
use sealtrail_core::filter::{Cursor, Direction, Query};
use sealtrail_core::parallel::{self, LaneStopped, Lanes};
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_export::bundle::{BundleEntry, BundleError, BundleHeader, BundleWriter, EncodedLine};
use sealtrail_export::pdf::{PdfHeader, PdfWriter, ReportCheckpoint};
use sealtrail_export::rows::{RowEncoder, RowSink};
use sealtrail_export::{encoder, row_sink, EntryEncoder, Format};
use sealtrail_store::{SealedEntry, SealedPage, Store};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

mod exclusions;

/// Entries fetched per store query.
const PAGE: usize = 1000;
/// Bytes buffered before a chunk is handed to the client.
const CHUNK: usize = 64 * 1024;

/// What to export and for whom.
pub struct ExportRequest {
    /// The caller's tenant.
    pub tenant: TenantId,
    /// The filter (paging fields are ignored: everything matching is exported).
    pub query: Query,
    /// Output format.
    pub format: Format,
    /// The filters as the caller gave them, recorded in the file and in the audit entry.
    pub filters: Value,
    /// Who asked, for the audit entry.
    pub actor: Actor,
    /// Counts entries as they are encoded, so a background job can report progress while it
    /// runs; `None` for a plain download, whose client sees the bytes arrive.
    pub progress: Option<Arc<AtomicU64>>,
    /// The export job this export fulfils, recorded in the audit entry so an auditor can match
    /// the entry to the job (and its file); `None` for a plain download.
    pub job: Option<String>,
    /// Oldest entry first (default: newest first, as the page lists them).
    pub oldest_first: bool,
}

impl ExportRequest {
    /// Counts one encoded entry, locally for the audit entry and in the shared counter.
    fn count(&self, rows: &mut u64) {
        *rows += 1;
        if let Some(progress) = &self.progress {
            progress.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A `Write` that hands the HTTP body 64 KiB chunks; a closed connection surfaces as an error,
/// which stops the export.
struct ChunkSender {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChunkSender {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| client_went_away())
    }
}

fn client_went_away() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Why an export stopped early.
#[derive(Debug, thiserror::Error)]
enum ExportFailure {
    #[error(transparent)]
    Store(#[from] sealtrail_store::StoreError),
    #[error(transparent)]
    Encode(#[from] sealtrail_export::ExportError),
    #[error(transparent)]
    Bundle(#[from] sealtrail_export::bundle::BundleError),
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpointer::CheckpointError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A bug in an encoder or the store must end the export as failed, never as a silently
    /// short file that a reader (or an export job) would take as complete.
    #[error("the export stopped unexpectedly; the cause has been logged")]
    Panicked,
}

/// Starts the export and returns the receiving end of its chunks. The audit entry is appended
/// when the export ends — with the row count, and whether it completed.
pub fn start(
    store: Arc<dyn Store>,
    checkpointer: Arc<Checkpointer>,
    request: ExportRequest,
) -> mpsc::Receiver<Result<Bytes, std::io::Error>> {
    let (tx, rx) = mpsc::channel(4);
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkSender {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let mut rows = 0u64;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(
                &handle,
                &store,
                &checkpointer,
                &request,
                &mut out,
                &mut rows,
            )
        }))
        .unwrap_or(Err(ExportFailure::Panicked));
        let completed = result.is_ok();
        if let Err(e) = &result {
            tracing::warn!(error = %e, rows, "export stopped early");
            // The body ends with an error, so the client sees a broken download, never a
            // silently short file.
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
        let mut properties = props(&[
            ("format", json!(request.format.as_str())),
            ("filters", request.filters.clone()),
            ("rows", json!(rows)),
            ("completed", json!(completed)),
        ]);
        if let Some(job) = &request.job {
            properties.insert("job".into(), json!(job));
        }
        let audit = SelfAudit {
            channel: "security",
            action: "audit_log.exported",
            event: "read",
            // A job's export is written to a file that is downloaded later, maybe more than once.
            description: match request.job {
                Some(_) => "Audit log export prepared for download".into(),
                None => "Audit log export downloaded".into(),
            },
            actor: request.actor.clone(),
            target: None,
            properties,
        };
        match handle.block_on(store.append(request.tenant, vec![audit.into_entry()])) {
            // Only now does the client get the last bytes: a completed download is always
            // already in the log.
            Ok(_) if completed => {
                if let Err(e) = out.send() {
                    tracing::warn!(error = %e, "the client left before the last chunk");
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "the export could not be audited; withholding its end");
                let _ = tx.blocking_send(Err(std::io::Error::other(
                    "the export could not be recorded in the audit log",
                )));
            }
        }
    });
    rx
}

/// Pages through every match newest first and encodes it.
fn run(
    handle: &Handle,
    store: &Arc<dyn Store>,
    checkpointer: &Checkpointer,
    request: &ExportRequest,
    out: &mut ChunkSender,
    rows: &mut u64,
) -> Result<(), ExportFailure> {
    let now = Timestamp::now();
    let excluded = handle
        .block_on(store.settings(request.tenant))?
        .export_excluded_properties;
    if request.format == Format::Bundle {
        return run_bundle(
            handle,
            store,
            checkpointer,
            request,
            out,
            rows,
            now,
            &excluded,
        );
    }
    let mut encoder: Box<dyn EntryEncoder<_>> = match request.format {
        Format::Pdf => Box::new(PdfWriter::new(
            &mut *out,
            pdf_header(handle, store.as_ref(), checkpointer, request, now)?,
        )?),
        format => {
            let tenant = tenant_name(handle, store.as_ref(), request)?;
            if let Some(sink) = row_sink(format, &mut *out, now, &tenant, &request.filters)? {
                return run_rows(handle, store, request, rows, sink, &excluded);
            }
            encoder(format, &mut *out, now, &tenant, &request.filters)?
        }
    };
    for_each_page(handle, store, request, request.oldest_first, |entries| {
        for entry in parallel::map(&entries, SealedEntry::open) {
            encoder.write_entry(&without_excluded(entry?, &excluded))?;
            request.count(rows);
        }
        Ok(())
    })?;
    // No final flush here: the last chunk is held back until the export is audited.
    encoder.finish()?;
    Ok(())
}

/// A format whose rows stand alone: each page goes to the next of one lane per core
/// ([`Lanes`]), which reads, encodes and frees it, and this thread writes the encoded pages
/// in order as they come back. Each row is written from the entry's view of its stored bytes,
/// without opening the entry (unless properties must be withheld). Splitting each page over
/// the cores and waiting for all of it before writing it and taking the next left the cores
/// idle a third of the time (BENCHMARKS.md, issue #20); with lanes the store reads, the lanes
/// encode and this thread writes, all at once.
fn run_rows<W: std::io::Write>(
    handle: &Handle,
    store: &Arc<dyn Store>,
    request: &ExportRequest,
    rows: &mut u64,
    mut writer: Box<dyn RowSink<W> + '_>,
    excluded: &[String],
) -> Result<(), ExportFailure> {
    let encoder = writer.encoder();
    let excluded: Arc<[String]> = excluded.into();
    let mut lanes = Lanes::start("export", move |(first, page): (bool, Vec<SealedEntry>)| {
        encode_page(encoder.as_ref(), &page, first, &excluded)
    });
    let mut submitted = 0usize;
    for_each_page(handle, store, request, request.oldest_first, |page| {
        if page.is_empty() {
            return Ok(());
        }
        let first = submitted == 0;
        submitted += page.len();
        let ready = lanes.submit((first, page)).map_err(lanes_stopped)?;
        write_pages(&mut *writer, ready, request, rows)
    })?;
    let ready = lanes.drain().map_err(lanes_stopped)?;
    write_pages(&mut *writer, ready, request, rows)?;
    // No final flush here: the last chunk is held back until the export is audited.
    writer.finish_rows()?;
    Ok(())
}

/// A page's rows encoded one after another, and where each of them ends.
type EncodedPage = (Vec<u8>, Vec<usize>);

/// Encodes `page`'s rows; `first` when its first row is the document's first.
fn encode_page(
    encoder: &dyn RowEncoder,
    page: &[SealedEntry],
    first: bool,
    excluded: &[String],
) -> Result<EncodedPage, ExportFailure> {
    let mut bytes = Vec::with_capacity(page.len() * 768);
    let mut ends = Vec::with_capacity(page.len());
    for (i, sealed) in page.iter().enumerate() {
        let first = first && i == 0;
        if excluded.is_empty() {
            encoder.encode_row(&sealed.view()?, first, &mut bytes)?;
        } else {
            // Withheld properties: the entry is opened to remove them.
            let entry = without_excluded(sealed.open()?, excluded);
            let view = EntryView::of(&entry).map_err(std::io::Error::from)?;
            encoder.encode_row(&view, first, &mut bytes)?;
        }
        ends.push(bytes.len());
    }
    Ok((bytes, ends))
}

/// Writes encoded pages, in the order given, and counts their rows.
fn write_pages<W: std::io::Write>(
    writer: &mut (dyn RowSink<W> + '_),
    pages: Vec<Result<EncodedPage, ExportFailure>>,
    request: &ExportRequest,
    rows: &mut u64,
) -> Result<(), ExportFailure> {
    for page in pages {
        let (bytes, ends) = page?;
        writer.write_encoded(&bytes, &ends)?;
        for _ in 0..ends.len() {
            request.count(rows);
        }
    }
    Ok(())
}

/// A lane that stopped early ends the export as failed (it panicked; the panic is logged).
fn lanes_stopped(_: LaneStopped) -> ExportFailure {
    ExportFailure::Panicked
}

/// The name of the tenant whose log is exported, which every format states.
fn tenant_name(
    handle: &Handle,
    store: &dyn Store,
    request: &ExportRequest,
) -> Result<String, ExportFailure> {
    Ok(handle
        .block_on(store.tenant_by_id(request.tenant))?
        .map(|t| t.name)
        .unwrap_or_default())
}

/// The PDF report's summary: tenant, period, filters in words, and the signed checkpoint
/// (signed now, so it covers every exported entry).
fn pdf_header(
    handle: &Handle,
    store: &dyn Store,
    checkpointer: &Checkpointer,
    request: &ExportRequest,
    now: Timestamp,
) -> Result<PdfHeader, ExportFailure> {
    let tenant = tenant_name(handle, store, request)?;
    let checkpoint = handle.block_on(checkpointer.witnessed_checkpoint_now(request.tenant))?;
    let filters = request
        .filters
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let shown = match v {
                        Value::String(s) => s.clone(),
                        // Several events or categories: "Policy Changes, Agent Operations".
                        Value::Array(values) => values
                            .iter()
                            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                            .collect::<Vec<_>>()
                            .join(", "),
                        other => other.to_string(),
                    };
                    format!("{k}: {shown}")
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(PdfHeader {
        tenant,
        from: request.query.filter.from,
        until: request.query.filter.until,
        time: request.query.filter.time,
        filters,
        generated_at: now,
        checkpoint: Some(ReportCheckpoint::open(
            &checkpoint.note,
            checkpointer.verifier(),
        )?),
    })
}

/// Calls `each` with every page of matches, newest first (or oldest first), until none are
/// left.
fn for_each_page(
    handle: &Handle,
    store: &Arc<dyn Store>,
    request: &ExportRequest,
    oldest_first: bool,
    each: impl FnMut(Vec<SealedEntry>) -> Result<(), ExportFailure>,
) -> Result<(), ExportFailure> {
    if oldest_first {
        return for_each_page_oldest_first(handle, store, request, each);
    }
    let first = Query {
        filter: request.query.filter.clone(),
        limit: PAGE,
        cursor: None,
    };
    walk_pages(
        handle,
        store,
        request.tenant,
        first,
        |page, query| {
            let next = match (page.next_cursor, page.entries.last()) {
                (Some(_), Some(last)) => Some(Query {
                    cursor: Some(Cursor {
                        seq: last.seq(),
                        direction: Direction::Older,
                    }),
                    ..query.clone()
                }),
                _ => None,
            };
            (std::mem::take(&mut page.entries), next)
        },
        each,
    )
}

/// Oldest first, up to the log's size when the export started (entries appended meanwhile
/// belong to the next export), walking "newer than" cursors. A newer-than cursor cannot reach
/// seq 0, so that one entry is asked for on its own first.
fn for_each_page_oldest_first(
    handle: &Handle,
    store: &Arc<dyn Store>,
    request: &ExportRequest,
    mut each: impl FnMut(Vec<SealedEntry>) -> Result<(), ExportFailure>,
) -> Result<(), ExportFailure> {
    let end = handle.block_on(store.log_size(request.tenant))?;
    let first = Query {
        filter: request.query.filter.clone(),
        limit: 1,
        cursor: Some(Cursor {
            seq: 1,
            direction: Direction::Older,
        }),
    };
    let zero = handle.block_on(store.query_sealed(request.tenant, &first))?;
    each(zero.entries)?;
    let rest = Query {
        filter: request.query.filter.clone(),
        limit: PAGE,
        cursor: Some(Cursor {
            seq: 0,
            direction: Direction::Newer,
        }),
    };
    walk_pages(
        handle,
        store,
        request.tenant,
        rest,
        move |page, query| {
            let mut entries: Vec<_> = std::mem::take(&mut page.entries)
                .into_iter()
                .filter(|e| e.seq() < end)
                .collect();
            entries.reverse();
            let next = match (page.prev_cursor, entries.last()) {
                (Some(_), Some(last)) if last.seq() + 1 < end => Some(Query {
                    cursor: Some(Cursor {
                        seq: last.seq(),
                        direction: Direction::Newer,
                    }),
                    ..query.clone()
                }),
                _ => None,
            };
            (entries, next)
        },
        each,
    )
}

/// Pages read ahead of the encoder: enough that the reading thread never waits for it, few
/// enough that memory stays flat (a page of 1,000 rows is about 1.5 MB).
const PAGES_AHEAD: usize = 2;

/// The page after the next one, asked for before the next one is read: a page is a statement of
/// its own, and on PostgreSQL the server sat idle while the node converted each page before
/// asking for the next (a sixth of a 1M-entry CSV export's time on two cores); only where the
/// store says it pays ([`sealtrail_store::EventLog::reads_pages_ahead`]). Only asked for
/// when the page just read was dense (full, with consecutive seqs: a whole log or period),
/// where the next page's cursor is foreseeable; dropped (and cancelled) unless it turns out
/// to be the page wanted.
struct PageAhead {
    /// The cursor it was read from.
    cursor: Option<Cursor>,
    /// The read.
    task: tokio::task::JoinHandle<Result<SealedPage, sealtrail_store::StoreError>>,
}

impl PageAhead {
    /// Starts reading the page after `next` when `page` (the entries just read, in order)
    /// says where it will start: `next`'s cursor moved on by a whole page.
    fn after(
        store: &Arc<dyn Store>,
        tenant: TenantId,
        next: &Query,
        page: &[SealedEntry],
    ) -> Option<PageAhead> {
        let cursor = next.cursor?;
        let (first, last) = (page.first()?.seq(), page.last()?.seq());
        let dense = page.len() == next.limit && first.abs_diff(last) + 1 == page.len() as u64;
        let seq = match cursor.direction {
            Direction::Older => cursor.seq.checked_sub(next.limit as u64)?,
            Direction::Newer => cursor.seq.checked_add(next.limit as u64)?,
        };
        if !dense || seq == 0 {
            return None;
        }
        let query = Query {
            cursor: Some(Cursor { seq, ..cursor }),
            ..next.clone()
        };
        let store = store.clone();
        Some(PageAhead {
            cursor: query.cursor,
            task: tokio::spawn(async move { store.query_sealed(tenant, &query).await }),
        })
    }
}

impl Drop for PageAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads pages from `first` on in a task of their own, up to [`PAGES_AHEAD`] ahead of `each`,
/// so the store reads on one thread while earlier pages are opened and encoded on the others:
/// an export costs about the larger of the two, not their sum. `split` turns a page into the
/// entries to encode, in order, and the query for the page after it.
fn walk_pages(
    handle: &Handle,
    store: &Arc<dyn Store>,
    tenant: TenantId,
    first: Query,
    mut split: impl FnMut(&mut SealedPage, &Query) -> (Vec<SealedEntry>, Option<Query>) + Send + 'static,
    mut each: impl FnMut(Vec<SealedEntry>) -> Result<(), ExportFailure>,
) -> Result<(), ExportFailure> {
    let (tx, mut rx) = mpsc::channel(PAGES_AHEAD);
    let store = store.clone();
    let reads_ahead = store.reads_pages_ahead();
    let reader = handle.spawn(async move {
        let mut query = first;
        // The page asked for ahead that may be this query's, and the one after it.
        let (mut ahead, mut further): (Option<PageAhead>, Option<PageAhead>) = (None, None);
        loop {
            // The page asked for ahead is this one only if its cursor is this query's (the
            // rest of a next query is always copied from the one before); otherwise it is
            // cancelled, and this page read now.
            let page = match ahead.take() {
                Some(mut guess) if guess.cursor == query.cursor => {
                    match (&mut guess.task).await {
                        Ok(page) => page,
                        // A panic reading the page is this task's, which fails the export.
                        Err(stopped) => match stopped.try_into_panic() {
                            Ok(panic) => std::panic::resume_unwind(panic),
                            Err(_) => store.query_sealed(tenant, &query).await,
                        },
                    }
                }
                _ => store.query_sealed(tenant, &query).await,
            };
            let (entries, next) = match page {
                Ok(mut page) => split(&mut page, &query),
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            ahead = further.take();
            if let (Some(next), true) = (&next, reads_ahead) {
                further = PageAhead::after(&store, tenant, next, &entries);
            }
            // A closed channel means the export stopped: read no further.
            if tx.send(Ok(entries)).await.is_err() {
                return;
            }
            match next {
                Some(next) => query = next,
                None => return,
            }
        }
    });
    // Dropping the receiver on an early return stops the reader at its next page.
    while let Some(page) = rx.blocking_recv() {
        each(page?)?;
    }
    // The channel closed: after the last page, or because the reader panicked, which must
    // fail the export rather than end it as if complete.
    handle.block_on(reader).map_err(|_| ExportFailure::Panicked)
}

/// The evidence bundle: a fresh checkpoint, then each match with its stored envelope, vault
/// values and inclusion proof.
#[allow(clippy::too_many_arguments)]
fn run_bundle(
    handle: &Handle,
    store: &Arc<dyn Store>,
    checkpointer: &Checkpointer,
    request: &ExportRequest,
    out: &mut ChunkSender,
    rows: &mut u64,
    now: Timestamp,
    excluded: &[String],
) -> Result<(), ExportFailure> {
    let tenant = request.tenant;
    let checkpoint = handle.block_on(checkpointer.witnessed_checkpoint_now(tenant))?;
    let header = BundleHeader {
        origin: handle.block_on(store.log_origin(tenant))?,
        checkpoint_note: checkpoint.note.clone(),
        verifier: checkpointer.verifier(),
        tree_size: checkpoint.size,
        root: checkpoint.root,
        exported_at: now,
        filters: request.filters.clone(),
    };
    // The bundle sends nothing before its end, so a client that leaves is only noticed by
    // asking: without this, an abandoned download went on spooling the whole log.
    let receiver = out.tx.clone();
    let mut writer = BundleWriter::new(&mut *out, header)?;
    // Bundles list entries in ascending seq, all proven against one signed root: entries
    // newer than the checkpoint are left for the next bundle.
    // Each page's rows are shipped as read, with the page's proofs built in one store call;
    // checking and encoding the lines (most of a bundle's CPU) runs on a lane per core, and
    // this thread writes the lines back in order.
    let encoder = writer.encoder();
    let excluded: Arc<[String]> = excluded.into();
    let mut lanes = Lanes::start("bundle", move |page: Vec<BundleEntry>| {
        page.into_iter()
            .map(|mut entry| {
                entry.slots = withhold_excluded(std::mem::take(&mut entry.slots), &excluded);
                encoder.encode(&entry)
            })
            .collect::<Vec<_>>()
    });
    let mut write = |lines: Vec<Vec<Result<EncodedLine, BundleError>>>| {
        for line in lines.into_iter().flatten() {
            writer.add_encoded(line?)?;
            request.count(rows);
        }
        Ok::<_, ExportFailure>(())
    };
    for_each_page(handle, store, request, true, |entries| {
        if receiver.is_closed() {
            return Err(client_went_away().into());
        }
        let entries: Vec<SealedEntry> = entries
            .into_iter()
            .filter(|e| e.seq() < checkpoint.size)
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        let seqs = entries.iter().map(SealedEntry::seq).collect();
        let proofs = handle.block_on(store.inclusion_proofs(tenant, seqs, checkpoint.size))?;
        let page = entries
            .into_iter()
            .zip(proofs)
            .map(|(entry, inclusion_proof)| {
                let seq = entry.seq();
                let (envelope, slots) = entry.into_envelope_and_slots();
                BundleEntry {
                    seq,
                    envelope,
                    slots,
                    inclusion_proof,
                }
            })
            .collect();
        write(lanes.submit(page).map_err(lanes_stopped)?)
    })?;
    write(lanes.drain().map_err(lanes_stopped)?)?;
    writer.finish()?;
    Ok(())
}
