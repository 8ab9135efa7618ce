//! The way out of the ZIP package: it counts the bytes that have gone out, and it shuts when
//! a workbook is abandoned.
//!
//! The `zip` crate finishes an archive when its writer is dropped. An export that fails or
//! whose client goes away drops its workbook half-written, and that finish would send a ZIP
//! ending after the rows (and print to stderr when the client is gone). The workbook shuts
//! the gate first ([`super::XlsxWriter`]'s `Drop`), so what the crate writes then goes nowhere.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// What the workbook and its gate share.
#[derive(Debug, Default)]
pub(super) struct GateState {
    shut: AtomicBool,
    written: AtomicU64,
}

impl GateState {
    /// Bytes passed to the output so far.
    pub(super) fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// From now on, writes are accepted and dropped.
    pub(super) fn shut(&self) {
        self.shut.store(true, Ordering::Relaxed);
    }
}

/// The output behind a [`GateState`].
#[derive(Debug)]
pub(super) struct Gate<W> {
    inner: W,
    state: Arc<GateState>,
}

impl<W: Write> Gate<W> {
    /// `inner` behind a new, open gate; the state is shared with whoever may shut it.
    pub(super) fn new(inner: W) -> (Self, Arc<GateState>) {
        let state = Arc::new(GateState::default());
        (
            Gate {
                inner,
                state: state.clone(),
            },
            state,
        )
    }

    /// The output back.
    pub(super) fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Gate<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.state.shut.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        let n = self.inner.write(buf)?;
        self.state.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.state.shut.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_passes_and_drops_what_comes_after_it_shuts() {
        let (mut gate, state) = Gate::new(Vec::new());
        gate.write_all(b"abc").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state.written(), 3);
        state.shut();
        gate.write_all(b"def").unwrap_or_else(|e| panic!("{e}"));
        gate.flush().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state.written(), 3);
        assert_eq!(gate.into_inner(), b"abc");
    }
}
