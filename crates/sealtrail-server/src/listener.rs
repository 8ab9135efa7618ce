//! Accepting and serving connections with every resource bounded, so hostile or broken clients
//! cannot take the service down:
//!
//! * a client must finish each request head within the header timeout — on a new connection
//!   and between requests on a kept-alive one — or the connection is closed;
//! * a connection on which no byte moves either way for the idle timeout is closed (a body that
//!   stops arriving, a download nobody reads), unless the server is still at work on its answer
//!   (a prune of a large log runs for minutes; an evidence bundle sends its first byte only
//!   once every entry is spooled);
//! * open connections are capped ([`registry`]): at the cap a newcomer replaces a connection that
//!   is doing nothing, and is refused with a 503 only when every connection is busy;
//! * requests in progress are capped: beyond the cap a request is answered 503 with
//!   `Retry-After` at once (health checks and metrics excepted, so probes still see the node);
//! * on shutdown, connections get the shutdown timeout to finish their current request, then
//!   are cut, so a stuck client can never keep the final checkpoint from being signed.
//!
//! The service speaks HTTP/1.1 (put a proxy in front for HTTP/2 or TLS).

mod idle;
pub mod registry;

use crate::error::ApiError;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use registry::{Registry, RequestGuard};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// File descriptors kept free of connections for the database, WAL, export files and
/// PostgreSQL sockets.
const RESERVED_DESCRIPTORS: u64 = 128;

/// How connections are bounded (see the module documentation; defaults in
/// [`crate::ServerConfig::new`]).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time allowed for a request head, from the moment the server waits for it.
    pub header_timeout: Duration,
    /// Time a connection may go without a byte moving either way.
    pub idle_timeout: Duration,
    /// Most open connections (lowered to what the process's descriptor limit allows).
    pub max_connections: usize,
    /// Most requests in progress at once.
    pub max_concurrent_requests: usize,
    /// How long shutdown waits for requests in progress before cutting connections.
    pub shutdown_timeout: Duration,
    /// Most body bytes read and dropped from a request refused at the request cap, so the
    /// client receives the 503 instead of a reset connection (the largest accepted body).
    pub max_discarded_body: usize,
}

/// Raises the process's open-file soft limit to its hard limit (systems often start services
/// at 1,024) and returns the number of connections that fits under it, at most `wanted`.
pub fn connection_capacity(wanted: usize) -> usize {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap_or((1024, 1024));
    let soft = if hard > soft && rlimit::Resource::NOFILE.set(hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    let fits = soft.saturating_sub(RESERVED_DESCRIPTORS).max(16);
    wanted
        .min(usize::try_from(fits).unwrap_or(usize::MAX))
        .max(1)
}

/// What every connection's service shares.
struct Shared {
    app: Router,
    registry: Arc<Registry>,
    requests: Arc<Semaphore>,
    max_discarded_body: usize,
}

/// Serves `app` on `listener` until `shutdown` fires, then shuts down as described above.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    mut shutdown: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        app,
        registry: Registry::new(limits.max_connections),
        requests: Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1))),
        max_discarded_body: limits.max_discarded_body,
    });
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was accepted: wait a
                    // moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        match shared.registry.admit() {
            Ok((guard, evicted)) => {
                let conn = connection(stream, peer, &shared, guard, limits, &graceful);
                connections.spawn(async move {
                    tokio::select! {
                        result = conn => {
                            if let Err(e) = result {
                                tracing::debug!(error = %e, %peer, "connection ended with an error");
                            }
                        }
                        _ = evicted => {
                            tracing::debug!(%peer, "idle connection closed to make room");
                        }
                    }
                });
            }
            Err(registry::Full) => {
                metrics::counter!("sealtrail_connections_refused_total").increment(1);
                connections.spawn(refuse(stream));
            }
        }
    }
    drop(listener);
    let open = shared.registry.open();
    tracing::info!(
        open,
        "no longer accepting; waiting for requests in progress"
    );
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_timeout) => {
            tracing::warn!(
                open = shared.registry.open(),
                timeout_s = limits.shutdown_timeout.as_secs_f64(),
                "shutdown timeout: cutting the remaining connections"
            );
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// One admitted connection, served by hyper with the header and idle timeouts, ending early
/// when `graceful` says so.
fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    guard: registry::ConnGuard,
    limits: ConnectionLimits,
    graceful: &GracefulShutdown,
) -> impl std::future::Future<Output = hyper::Result<()>> + Send + 'static {
    let _ = stream.set_nodelay(true);
    let io = idle::IdleTimeout::new(stream, limits.idle_timeout);
    let activity = io.activity();
    let io = TokioIo::new(io);
    let shared = shared.clone();
    let guard = Arc::new(guard);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let request_guard = guard.request_started();
        let working = activity.working();
        let answer = handle(
            shared.clone(),
            peer,
            request,
            request_guard,
            activity.clone(),
        );
        async move {
            let answer = answer.await;
            drop(working);
            answer
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    graceful.watch(builder.serve_connection(io, service))
}

/// One request: counted against the request cap (503 beyond it), then the application.
async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    mut request: hyper::Request<Incoming>,
    request_guard: RequestGuard,
    activity: idle::Activity,
) -> Result<Response, Infallible> {
    request.extensions_mut().insert(ConnectInfo(peer));
    let permit = if exempt_from_request_cap(request.uri().path()) {
        None
    } else {
        match shared.requests.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                metrics::counter!("sealtrail_requests_refused_total", "reason" => "concurrency")
                    .increment(1);
                let busy = ApiError::overloaded(
                    "the server is handling as many requests as it allows; retry shortly",
                );
                crate::request::discard_body(
                    Body::new(request.into_body()),
                    shared.max_discarded_body,
                )
                .await;
                return Ok(busy.into_response());
            }
        }
    };
    let response = match shared.app.clone().oneshot(request.map(Body::new)).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    Ok(response.map(|body| {
        Body::new(Tracked {
            inner: body,
            _request: request_guard,
            _permit: permit,
            activity,
            producing: None,
        })
    }))
}

/// Probes must see the node even when it is busy.
fn exempt_from_request_cap(path: &str) -> bool {
    matches!(path, "/healthz" | "/metrics")
}

/// Answers a connection over the cap with a 503 and closes it, within a second.
async fn refuse(mut stream: TcpStream) {
    const BODY: &str = r#"{"error":{"code":"overloaded","message":"the server has as many connections as it allows; retry shortly"}}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// A response body that keeps its request counted (on the connection and against the request
/// cap) until it has been sent or abandoned, and marks the connection at work while the
/// server is still producing the next part of it.
struct Tracked {
    inner: Body,
    _request: RequestGuard,
    _permit: Option<OwnedSemaphorePermit>,
    /// The connection this body is sent on.
    activity: idle::Activity,
    /// Held while the body has nothing to send yet. A streamed body waits only on the server
    /// (an evidence bundle spools every entry before its first byte, minutes for a large
    /// log), never on the peer, whose slowness shows as writes that do not complete; so that
    /// wait must not close the connection as idle, while a peer that stops reading still does.
    producing: Option<idle::Working>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if polled.is_pending() {
            if self.producing.is_none() {
                self.producing = Some(self.activity.working());
            }
        } else {
            self.producing = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
