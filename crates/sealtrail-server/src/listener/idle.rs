//! A connection that is dropped after a stretch with no bytes moving either way.
//!
//! hyper's header timeout covers a client that never finishes its request head; this covers
//! the other ways a peer can hold a connection without doing anything: a request body that
//! stops arriving, and a response (an export download) that the peer stops reading.
//!
//! While a handler is still working out its answer no byte moves either, and that is not the
//! peer's doing: a prune or an erasure of a large log runs outside the request timeout for
//! minutes. So the listener marks each request [`Activity::working`] until its answer's head
//! is ready, and a connection is never idle while it is.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// An I/O stream whose reads and writes fail with `TimedOut` once nothing has moved for the
/// idle timeout.
#[derive(Debug)]
pub struct IdleTimeout<T> {
    inner: T,
    idle: Duration,
    /// When the last byte moved (or the connection opened).
    last_progress: Instant,
    /// Fires at `last_progress + idle`; re-armed lazily when progress moved it.
    deadline: Pin<Box<Sleep>>,
    /// Requests on this connection whose handlers are still at work.
    working: Arc<AtomicUsize>,
}

/// The handle through which the listener tells a connection that a handler is at work on it.
#[derive(Debug, Clone)]
pub struct Activity(Arc<AtomicUsize>);

impl Activity {
    /// Marks a handler at work until the returned guard is dropped.
    pub fn working(&self) -> Working {
        self.0.fetch_add(1, Ordering::AcqRel);
        Working(self.0.clone())
    }
}

/// A handler at work on the connection (see [`Activity::working`]).
#[derive(Debug)]
pub struct Working(Arc<AtomicUsize>);

impl Drop for Working {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<T> IdleTimeout<T> {
    /// Wraps `inner`; the clock starts now.
    pub fn new(inner: T, idle: Duration) -> Self {
        let now = Instant::now();
        IdleTimeout {
            inner,
            idle,
            last_progress: now,
            deadline: Box::pin(tokio::time::sleep_until(now + idle)),
            working: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The handle that marks handlers at work on this connection.
    pub fn activity(&self) -> Activity {
        Activity(self.working.clone())
    }

    fn progressed(&mut self) {
        self.last_progress = Instant::now();
    }

    /// Called when the inner stream is not ready: fails once the idle time is over, else
    /// makes sure the task is woken when it would be.
    fn check_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.working.load(Ordering::Acquire) > 0 {
            // The wait is the server's, not the peer's: the clock restarts.
            self.progressed();
        }
        let due = self.last_progress + self.idle;
        if self.deadline.deadline() != due {
            self.deadline.as_mut().reset(due);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.check_idle(cx),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    self.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.check_idle(cx).map(|r| r.map(|()| 0)),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    self.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.check_idle(cx).map(|r| r.map(|()| 0)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => self.check_idle(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_shutdown(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => self.check_idle(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_times_out_and_a_talking_one_does_not() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = IdleTimeout::new(server, Duration::from_secs(5));
        let mut client = client;
        let talker = tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                client.write_all(b"x").await.unwrap();
            }
            client
        });
        let mut buf = [0u8; 1];
        for _ in 0..3 {
            server.read_exact(&mut buf).await.unwrap();
        }
        let _client = talker.await.unwrap();
        let err = server.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_not_idle_while_a_handler_works_and_is_after() {
        let (_client, server) = tokio::io::duplex(64);
        let mut server = IdleTimeout::new(server, Duration::from_secs(5));
        let working = server.activity().working();
        let mut buf = [0u8; 1];
        let waited = tokio::time::timeout(Duration::from_secs(30), server.read_exact(&mut buf));
        assert!(waited.await.is_err(), "cut while a handler worked");
        drop(working);
        let err = server.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_stops_reading_times_out_the_writer() {
        let (_client, server) = tokio::io::duplex(16);
        let mut server = IdleTimeout::new(server, Duration::from_secs(5));
        let err = server.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
