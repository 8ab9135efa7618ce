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
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, shutdown) = oneshot::channel();
    let server = tokio::spawn(serve(
        listener,
        app,
        limits(Duration::from_millis(800)),
        shutdown,
    ));
    let client = reqwest::Client::new();
    let answer = client
        .post(format!("http://{addr}/slow"))
        .body("{}")
        .send()
        .await
        .expect("the connection held while the handler worked");
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    assert_eq!(answer.text().await.unwrap(), "done");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
