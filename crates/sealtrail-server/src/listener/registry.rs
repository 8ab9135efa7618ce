//! The open connections, so their number stays under a cap without letting idle or silent
//! peers lock everyone else out.
//!
//! When the cap is reached, a new connection takes the place of one that is doing nothing: first
//! the oldest that has not yet sent a complete request head (a slow or silent client), then the
//! longest-idle kept-alive one (closing an idle keep-alive connection is ordinary HTTP/1.1
//! behaviour). Connections with a request in progress are never cut. Only when every connection
//! is busy is the newcomer refused. A client that sends its request promptly therefore always
//! gets through, however many half-open connections an attacker holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::oneshot;

/// One open connection's state.
#[derive(Debug)]
struct Conn {
    /// Requests whose response has not finished.
    active_requests: usize,
    /// Requests whose head arrived on this connection.
    requests_seen: u64,
    /// When it opened, or when its last response finished.
    idle_since: Instant,
    /// Closes the connection when fired (taken when it is evicted).
    evict: Option<oneshot::Sender<()>>,
}

impl Conn {
    /// Whether it may be closed to make room, and how eager we are to do it (lower first).
    fn eviction_rank(&self) -> Option<(u8, Instant)> {
        if self.active_requests > 0 || self.evict.is_none() {
            return None;
        }
        let never_sent_a_request = self.requests_seen == 0;
        Some((u8::from(!never_sent_a_request), self.idle_since))
    }
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    conns: HashMap<u64, Conn>,
}

/// The open connections and the cap on them.
#[derive(Debug)]
pub struct Registry {
    max: usize,
    inner: Mutex<Inner>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl Registry {
    /// A registry admitting at most `max` connections at once (at least one).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Registry {
            max: max.max(1),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.lock().conns.len()
    }

    /// Admits a new connection, evicting an idle one if the registry is full. The receiver
    /// fires when this connection is itself evicted later.
    pub fn admit(self: &Arc<Self>) -> Result<(ConnGuard, oneshot::Receiver<()>), Full> {
        let mut inner = self.lock();
        if inner.conns.len() >= self.max {
            let victim = inner
                .conns
                .iter()
                .filter_map(|(id, c)| c.eviction_rank().map(|rank| (rank, *id)))
                .min()
                .map(|(_, id)| id);
            let Some(victim) = victim else {
                return Err(Full);
            };
            if let Some(conn) = inner.conns.remove(&victim) {
                if let Some(evict) = conn.evict {
                    let _ = evict.send(());
                }
                metrics::counter!("sealtrail_connections_evicted_total").increment(1);
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let (evict, evicted) = oneshot::channel();
        inner.conns.insert(
            id,
            Conn {
                active_requests: 0,
                requests_seen: 0,
                idle_since: Instant::now(),
                evict: Some(evict),
            },
        );
        Ok((
            ConnGuard {
                registry: self.clone(),
                id,
            },
            evicted,
        ))
    }
}

/// Held by a connection's task; removes the connection from the registry when dropped.
#[derive(Debug)]
pub struct ConnGuard {
    registry: Arc<Registry>,
    id: u64,
}

impl ConnGuard {
    /// Marks a request in progress until the returned guard is dropped (when its response
    /// body has been sent or abandoned).
    pub fn request_started(&self) -> RequestGuard {
        if let Some(conn) = self.registry.lock().conns.get_mut(&self.id) {
            conn.active_requests += 1;
            conn.requests_seen += 1;
        }
        RequestGuard {
            registry: self.registry.clone(),
            id: self.id,
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.registry.lock().conns.remove(&self.id);
    }
}

/// A request in progress on a connection.
#[derive(Debug)]
pub struct RequestGuard {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if let Some(conn) = self.registry.lock().conns.get_mut(&self.id) {
            conn.active_requests = conn.active_requests.saturating_sub(1);
            conn.idle_since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_connections_make_room_and_busy_ones_never_do() {
        let registry = Registry::new(2);
        let (silent, mut silent_evicted) = registry.admit().unwrap();
        let (busy, mut busy_evicted) = registry.admit().unwrap();
        let request = busy.request_started();
        // Full: the silent one goes.
        let (third, _) = registry.admit().unwrap();
        assert!(silent_evicted.try_recv().is_ok());
        assert_eq!(registry.open(), 2);
        drop(silent);
        assert_eq!(registry.open(), 2, "an evicted guard removes nothing else");
        // Now one busy and one silent (the third): the third goes, the busy one stays.
        let (fourth, _) = registry.admit().unwrap();
        assert!(busy_evicted.try_recv().is_err());
        drop(third);
        // Both remaining busy: the next is refused.
        let _also_busy = fourth.request_started();
        assert_eq!(registry.admit().map(|_| ()), Err(Full));
        drop(request);
        assert!(
            registry.admit().is_ok(),
            "an idle keep-alive connection makes room"
        );
        assert!(busy_evicted.try_recv().is_ok());
    }

    #[test]
    fn connections_that_never_sent_a_request_go_before_idle_kept_alive_ones() {
        let registry = Registry::new(2);
        let (kept_alive, mut kept_evicted) = registry.admit().unwrap();
        drop(kept_alive.request_started());
        let (_silent, mut silent_evicted) = registry.admit().unwrap();
        let _new = registry.admit().unwrap();
        assert!(silent_evicted.try_recv().is_ok());
        assert!(kept_evicted.try_recv().is_err());
    }
}
