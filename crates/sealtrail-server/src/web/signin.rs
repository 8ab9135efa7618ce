//! `/signin` and `/signout`. One message for every credential failure, so the form never tells
//! a stranger which workspaces or accounts exist; the audit entry records the real reason.

use crate::client_addr::ClientInfo;
use crate::state::AppState;
use crate::web::error::{render, PageError};
use crate::web::frame::PageFrame;
use crate::web::session::{check_same_origin, cookie_token, set_cookie, WebUser};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use sealtrail_core::Timestamp;
use sealtrail_service::throttle::Limit;
use sealtrail_service::users::{self, SignInRefusal};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    frame: PageFrame,
    workspace: String,
    email: String,
    next: String,
    error: String,
    notice: String,
}

/// What the sign-in page may be opened with.
#[derive(Debug, Deserialize, Default)]
pub struct SignInQuery {
    workspace: Option<String>,
    next: Option<String>,
    reason: Option<String>,
}

/// A local path to return to after signing in; anything else (another site, `//evil`) is
/// replaced by the audit page, so the form cannot be used as an open redirect.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/audit".to_string(),
    }
}

/// `GET /signin`.
pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SignInQuery>,
) -> Result<Response, PageError> {
    let next = safe_next(q.next.as_deref());
    // Already signed in? Go straight on (a stale cookie just shows the form below).
    if let Some(token) = cookie_token(&headers) {
        let hash = sealtrail_core::session::hash_token(&token);
        if let Some(s) = state.store.session(hash).await? {
            if s.is_live(sealtrail_core::Timestamp::now()) {
                return Ok(Redirect::to(&next).into_response());
            }
        }
    }
    let workspace = match q.workspace {
        Some(w) => w,
        None => {
            let tenants = state.store.list_tenants().await?;
            match tenants.as_slice() {
                [only] => only.name.clone(),
                _ => String::new(),
            }
        }
    };
    let notice = match q.reason.as_deref() {
        Some("expired") => "Your session expired. Sign in again to continue.",
        Some("signed-out") => "You have signed out.",
        _ => "",
    };
    Ok(render(&SignInPage {
        frame: PageFrame::anonymous("Sign in"),
        workspace,
        email: String::new(),
        next,
        error: String::new(),
        notice: notice.into(),
    }))
}

/// The sign-in form as posted.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    workspace: String,
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /signin`.
pub async fn submit(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    check_same_origin(&headers)?;
    let next = safe_next(Some(&form.next));
    let workspace = form.workspace.trim().to_string();
    let email = form.email.trim().to_lowercase();
    let again = |status: StatusCode, error: String| {
        let page = SignInPage {
            frame: PageFrame::anonymous("Sign in"),
            workspace: workspace.clone(),
            email: email.clone(),
            next: next.clone(),
            error,
            notice: String::new(),
        };
        (status, render(&page)).into_response()
    };
    let too_many = |wait: std::time::Duration, error: String| {
        let mut response = again(StatusCode::TOO_MANY_REQUESTS, error);
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    };
    // Charged before the slow password check, refunded when it turns out not to be a guess
    // (see sealtrail_service::throttle).
    let account_key = format!("{workspace}:{email}");
    let attempt = match state
        .throttle
        .begin(&account_key, client.ip, Timestamp::now())
        .await?
    {
        Ok(attempt) => attempt,
        Err(refusal) => {
            let limit = match refusal.limit {
                Limit::AccountAtAddress => "account_at_address",
                Limit::Address => "address",
                Limit::AccountDelay => "account_delay",
            };
            metrics::counter!("sealtrail_sign_in_refused_total", "limit" => limit).increment(1);
            return Ok(too_many(
                refusal.retry_after,
                format!(
                    "Too many failed sign-ins. Try again in {}.",
                    wait_text(refusal.retry_after)
                ),
            ));
        }
    };
    let tenant = match state.store.tenant_by_name(&workspace).await {
        Ok(tenant) => tenant,
        Err(e) => {
            settle(state.throttle.refund(attempt).await);
            return Err(e.into());
        }
    };
    let outcome = users::sign_in(
        state.store.as_ref(),
        tenant.as_ref(),
        &email,
        form.password,
        client.ip,
        &client.context(),
    )
    .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            settle(state.throttle.refund(attempt).await);
            return Err(e.into());
        }
    };
    match outcome {
        Ok(signed_in) => {
            settle(state.throttle.succeeded(attempt).await);
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                set_cookie(&signed_in.token, state.secure_cookies),
            );
            Ok(response)
        }
        Err(SignInRefusal::AddressNotAllowed(ip)) => {
            // The password was right: not a guess.
            settle(state.throttle.succeeded(attempt).await);
            Ok(again(
                StatusCode::FORBIDDEN,
                format!(
                    "Your address {ip} is not on this workspace's IP allowlist. Connect from \
                     an allowed network, or ask an admin to add your address."
                ),
            ))
        }
        Err(SignInRefusal::Busy) => {
            settle(state.throttle.refund(attempt).await);
            metrics::counter!("sealtrail_sign_in_refused_total", "limit" => "busy").increment(1);
            Ok(too_many(
                std::time::Duration::from_secs(1),
                "Too many sign-ins are being checked right now. Try again in a moment.".into(),
            ))
        }
        // Failures stay charged.
        Err(SignInRefusal::BadCredentials | SignInRefusal::Deactivated) => Ok(again(
            StatusCode::UNAUTHORIZED,
            "Wrong workspace, e-mail or password.".into(),
        )),
    }
}

/// "45 seconds", "3 minutes": how long a refused sign-in must wait, for the page.
fn wait_text(wait: std::time::Duration) -> String {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    match seconds {
        1 => "1 second".into(),
        s if s < 90 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

/// The sign-out form (a missing token is refused by the token check, with a page).
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /signout`: ends the session here and in the store.
pub async fn sign_out(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Result<Response, PageError> {
    check_same_origin(&headers)?;
    user.check_csrf(&form.csrf)?;
    users::sign_out(
        state.store.as_ref(),
        &user.token,
        &user.user,
        &user.client.context(),
    )
    .await?;
    let mut response = Redirect::to(&format!(
        "/signin?reason=signed-out&workspace={}",
        form_urlencoded::byte_serialize(user.tenant.name.as_bytes()).collect::<String>()
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie("", state.secure_cookies));
    Ok(response)
}

/// Logs a throttle update that could not be stored: the sign-in itself has been decided, and
/// the attempt simply stays charged until its window passes.
fn settle(result: Result<(), sealtrail_store::StoreError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "sign-in throttle not updated");
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/audit?event=created")),
            "/audit?event=created"
        );
        for hostile in [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "audit",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/audit", "{hostile}");
        }
        assert_eq!(safe_next(None), "/audit");
    }
}
