//! What a page shows when it cannot show what was asked: a sign-in redirect, or an HTML page
//! that says why (403 for a role or an address, 404, 410, 400) — never a JSON body or a bare
//! status code in a browser.

use crate::web::frame::PageFrame;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use sealtrail_service::ServiceError;
use sealtrail_store::StoreError;

/// A page-level failure.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the session ended): go to the sign-in page, then come back to `next`.
    SignIn {
        /// The local path to return to.
        next: String,
        /// Why, shown above the form (`expired`).
        reason: Option<&'static str>,
    },
    /// Signed in, but not allowed here; the message says why and what would allow it.
    Forbidden {
        /// Short heading.
        title: String,
        /// Explanation.
        message: String,
        /// The page frame, when the user is known (boxed: it is large, and errors travel often).
        frame: Option<Box<PageFrame>>,
    },
    /// Nothing here (including another tenant's entry).
    NotFound(String),
    /// It existed but retention removed it.
    Gone(String),
    /// The request cannot be understood; the message names the problem.
    BadRequest(String),
    /// The request cannot be met yet or any more as things stand (409), e.g. an export that
    /// is still running.
    Conflict(String),
    /// Something failed on our side; details go to the log, not the page.
    Internal(String),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    frame: PageFrame,
    title: &'a str,
    message: &'a str,
}

/// Renders a template, turning a rendering failure into a logged 500.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = Html(html).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => PageError::Internal(format!("template: {e}")).into_response(),
    }
}

fn error_page(
    status: StatusCode,
    frame: Option<PageFrame>,
    title: &str,
    message: &str,
) -> Response {
    let page = ErrorPage {
        frame: frame.unwrap_or_else(|| PageFrame::anonymous(title)),
        title,
        message,
    };
    let html = page.render().unwrap_or_else(|_| message.to_string());
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn { next, reason } => {
                let mut url = format!(
                    "/signin?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                if let Some(r) = reason {
                    url.push_str("&reason=");
                    url.push_str(r);
                }
                Redirect::to(&url).into_response()
            }
            PageError::Forbidden {
                title,
                message,
                frame,
            } => error_page(StatusCode::FORBIDDEN, frame.map(|c| *c), &title, &message),
            PageError::NotFound(m) => error_page(StatusCode::NOT_FOUND, None, "Not found", &m),
            PageError::Gone(m) => error_page(StatusCode::GONE, None, "Removed by retention", &m),
            PageError::BadRequest(m) => {
                error_page(StatusCode::BAD_REQUEST, None, "Bad request", &m)
            }
            PageError::Conflict(m) => error_page(StatusCode::CONFLICT, None, "Not now", &m),
            PageError::Internal(detail) => {
                tracing::error!(error = %detail, "page failed");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "Something went wrong",
                    "The server could not complete this page. The error has been logged; try again in a moment.",
                )
            }
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => PageError::NotFound(m),
            StoreError::Invalid(m) => PageError::BadRequest(m),
            other => PageError::Internal(other.to_string()),
        }
    }
}

/// What an admin action's refusal says on the settings page (shown in its error banner).
pub fn admin_message(e: &ServiceError) -> Option<String> {
    match e {
        ServiceError::Invalid(m)
        | ServiceError::Refused(m)
        | ServiceError::Forbidden(m)
        | ServiceError::Unauthenticated(m) => Some(m.clone()),
        ServiceError::NotFound(what) => Some(format!("{what} not found")),
        ServiceError::NoSuchSubject(_)
        | ServiceError::Limited { .. }
        | ServiceError::Overloaded(_)
        | ServiceError::Body(_)
        | ServiceError::Field(_)
        | ServiceError::Retraced(_)
        | ServiceError::Workos(_) => Some(e.to_string()),
        ServiceError::Store(StoreError::Conflict(m) | StoreError::Invalid(m)) => Some(m.clone()),
        ServiceError::Store(_) | ServiceError::Job(_) | ServiceError::Checkpoint(_) => None,
    }
}
