//! Every request has an id: the client's `X-Request-Id` when it sent a sensible one (so a
//! proxy's id carries through), a fresh UUID otherwise. It is echoed on every response, is a
//! field of the request's tracing span (so every log line written while serving it names
//! it), and is written into every problem document, so a user's error report leads to the
//! server's log lines.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header, in both directions.
pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-chosen id accepted; a longer one is replaced.
const MAX_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Whether a client's id can be used as is: printable ASCII without spaces, at most
/// [`MAX_LEN`] characters (it goes into headers and log lines).
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        })
}

/// Middleware: settles the id, serves the request with it, echoes it.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let value = HeaderValue::from_str(&id).ok();
    if let Some(value) = &value {
        // What the trace span and the handlers read.
        request.headers_mut().insert(HEADER.clone(), value.clone());
    }
    let mut response = CURRENT.scope(id, next.run(request)).await;
    if let Some(value) = value {
        response.headers_mut().insert(HEADER.clone(), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_plain_short_ids_are_taken_from_the_client() {
        assert!(acceptable("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert!(acceptable("req-1.2:abc/def+g="));
        assert!(!acceptable(""));
        assert!(!acceptable("has space"));
        assert!(!acceptable("line\nbreak"));
        assert!(!acceptable(&"x".repeat(129)));
    }
}
