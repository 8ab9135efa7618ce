//! The listener as a whole: served over real loopback connections, with routers made for
//! the case (a handler that works longer than the idle timeout).

use super::*;
use axum::routing::post;

fn limits(idle: Duration) -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: Duration::from_secs(5),
        idle_timeout: idle,
        max_connections: 16,
        max_concurrent_requests: 16,
        shutdown_timeout: Duration::from_secs(1),
        max_discarded_body: 1 << 20,
    }
}

/// The listener serving `app` on a loopback port, with a 0.8 s idle timeout.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(app: Router) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, shutdown) = oneshot::channel();
        let server = tokio::spawn(serve(
            listener,
            app,
            limits(Duration::from_millis(800)),
            shutdown,
        ));
        Running { addr, stop, server }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

/// A prune or erasure of a large log works for minutes with no byte moving on its connection;
/// the idle timeout must not cut the answer off (it did: the server finished the prune, the
/// admin's client saw its connection closed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_working_longer_than_the_idle_timeout_still_answers() {
    let app = Router::new().route(
        "/slow",
        post(|| async {
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            "done"
        }),
    );
    let running = Running::start(app).await;
    let addr = running.addr;
    let client = reqwest::Client::new();
    let answer = client
        .post(format!("http://{addr}/slow"))
        .body("{}")
        .send()
        .await
        .expect("the connection held while the handler worked");
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    assert_eq!(answer.text().await.unwrap(), "done");
    running.stop().await;
}

/// A streamed body the server takes longer than the idle timeout to produce (an evidence
/// bundle spools every entry before its first byte) is delivered whole: the wait is the
/// server's. It was not: a large bundle's download ended after the idle timeout with a 200 and
/// no bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_slow_to_produce_is_not_cut_off_as_idle() {
    let app = Router::new().route(
        "/spooled",
        axum::routing::get(|| async {
            let parts = futures::stream::unfold(0u8, |n| async move {
                if n == 2 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(1_500)).await;
                Some((Ok::<_, Infallible>(Bytes::from(vec![b'a' + n; 10])), n + 1))
            });
            Body::from_stream(parts)
        }),
    );
    let running = Running::start(app).await;
    let addr = running.addr;
    let answer = reqwest::get(format!("http://{addr}/spooled"))
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let body = answer
        .bytes()
        .await
        .expect("the whole body, after 3 s of producing it");
    assert_eq!(&body[..], b"aaaaaaaaaabbbbbbbbbb");
    running.stop().await;
}

/// A peer that stops reading a download is still cut off after the idle timeout: the body's
/// producer learns within seconds that nobody takes its bytes any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_nobody_reads_is_closed_after_the_idle_timeout() {
    let (stopped_tx, stopped_rx) = oneshot::channel::<()>();
    let stopped_tx = Arc::new(std::sync::Mutex::new(Some(stopped_tx)));
    let app = Router::new().route(
        "/endless",
        axum::routing::get(move || {
            let stopped_tx = stopped_tx.clone();
            async move {
                let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(1);
                tokio::spawn(async move {
                    while tx.send(Ok(Bytes::from(vec![b'x'; 64 << 10]))).await.is_ok() {}
                    if let Some(done) = stopped_tx.lock().unwrap().take() {
                        let _ = done.send(());
                    }
                });
                Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|item| (item, rx))
                }))
            }
        }),
    );
    let running = Running::start(app).await;
    let addr = running.addr;
    let mut peer = TcpStream::connect(addr).await.unwrap();
    peer.write_all(b"GET /endless HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    // The peer never reads: the socket buffers fill, then nothing moves.
    tokio::time::timeout(Duration::from_secs(20), stopped_rx)
        .await
        .expect("the server closed the connection of a peer that stopped reading")
        .unwrap();
    drop(peer);
    running.stop().await;
}
