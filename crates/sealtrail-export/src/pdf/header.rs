//! What page 1's summary says: the caller's [`PdfHeader`] plus what the entries showed.

use super::layout::when;
use crate::ExportError;
use sealtrail_core::checkpoint::{Checkpoint, NoteVerifier};
use sealtrail_core::{TimeBasis, Timestamp};

/// A checkpoint whose signature has been verified, so the report never prints an unsigned
/// or forged tree head as "signed".
#[derive(Debug, Clone)]
pub struct ReportCheckpoint {
    checkpoint: Checkpoint,
    verifier: NoteVerifier,
}

impl ReportCheckpoint {
    /// Opens the signed checkpoint `note` with the log's `verifier`.
    pub fn open(note: &str, verifier: NoteVerifier) -> Result<Self, ExportError> {
        let checkpoint = Checkpoint::open(note, &verifier).map_err(ExportError::Checkpoint)?;
        Ok(ReportCheckpoint {
            checkpoint,
            verifier,
        })
    }

    /// What the checkpoint commits to.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The key it was verified with, printed so auditors can compare it with the published one.
    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }
}

/// Everything page 1's summary says that does not come from the entries themselves.
#[derive(Debug, Clone)]
pub struct PdfHeader {
    /// The tenant's name.
    pub tenant: String,
    /// The filter's inclusive start; without one, the earliest entry's time on that clock.
    pub from: Option<Timestamp>,
    /// The filter's exclusive end; without one, the latest entry's time on that clock.
    pub until: Option<Timestamp>,
    /// Which clock the period reads (event time unless the export asked for receipt time),
    /// named in the summary so an auditor knows what "28 November" meant.
    pub time: TimeBasis,
    /// The filters in words, one per line ("Actor: Ada Admin"); empty when nothing was filtered.
    /// At most [`MAX_FILTER_LINES`] are shown.
    pub filters: Vec<String>,
    /// When the report was made.
    pub generated_at: Timestamp,
    /// The log's latest signed checkpoint; `None` when the log has none yet.
    pub checkpoint: Option<ReportCheckpoint>,
}

/// Filter lines shown in the summary; more are summarised as "… and N more", so the summary
/// always fits on page 1.
pub const MAX_FILTER_LINES: usize = 10;

/// The summary's (label, value) lines. How many there are depends on the header only, so
/// page 1 can reserve their space before the entries are known.
pub(super) fn summary(
    h: &PdfHeader,
    entries: u64,
    span: Option<(Timestamp, Timestamp)>,
) -> Vec<(String, String)> {
    let mut lines = vec![("Tenant".to_string(), h.tenant.clone())];
    let bound = |filter: Option<Timestamp>, seen: Option<Timestamp>, what: &str, exclusive| match (
        filter, seen,
    ) {
        (Some(at), _) if exclusive => format!("{} (filter, exclusive)", when(at)),
        (Some(at), _) => format!("{} (filter)", when(at)),
        (None, Some(at)) => format!("{} ({what} exported entry)", when(at)),
        (None, None) => "— (no entries)".to_string(),
    };
    let (lo, hi) = (span.map(|s| s.0), span.map(|s| s.1));
    lines.push((
        "Period from (UTC)".into(),
        bound(h.from, lo, "earliest", false),
    ));
    lines.push(("Period to (UTC)".into(), bound(h.until, hi, "latest", true)));
    let clock = match h.time {
        TimeBasis::Occurred => "event time (when each event happened)",
        TimeBasis::Recorded => "time received (when Sealtrail recorded it)",
    };
    lines.push(("Period reads".into(), clock.into()));
    let mut filters = h.filters.iter().take(MAX_FILTER_LINES).cloned();
    let first = filters
        .next()
        .unwrap_or_else(|| "none (every entry)".into());
    lines.push(("Filters".into(), first));
    lines.extend(filters.map(|f| (String::new(), f)));
    if h.filters.len() > MAX_FILTER_LINES {
        let more = h.filters.len() - MAX_FILTER_LINES;
        lines.push((String::new(), format!("… and {more} more")));
    }
    lines.push(("Generated (UTC)".into(), when(h.generated_at)));
    lines.push(("Entries".into(), entries.to_string()));
    match &h.checkpoint {
        Some(cp) => {
            let c = cp.checkpoint();
            lines.push((
                "Signed checkpoint".into(),
                format!("tree size {} · log {}", c.size, c.origin),
            ));
            lines.push(("Root (hex)".into(), hex::encode(c.root)));
            lines.push(("Public key".into(), cp.verifier().to_string()));
        }
        None => lines.push((
            "Signed checkpoint".into(),
            "none yet: the log has not been checkpointed".into(),
        )),
    }
    lines
}
