//! `/signin` and `/signout`. One message for every credential failure, so the form never tells
//! a stranger which workspaces or accounts exist; the audit entry records the real reason.

use crate::accounts::{self, SignInRefusal};
use crate::client::ClientInfo;
use crate::state::AppState;
use crate::throttle::{PER_ACCOUNT, PER_ADDRESS};
use crate::web::error::{render, PageError};
use crate::web::session::{check_same_origin, cookie_token, set_cookie, Chrome, WebUser};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use std::time::Instant;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    chrome: Chrome,
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
        chrome: Chrome::anonymous("Sign in"),
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
            chrome: Chrome::anonymous("Sign in"),
            workspace: workspace.clone(),
            email: email.clone(),
            next: next.clone(),
            error,
            notice: String::new(),
        };
        (status, render(&page)).into_response()
    };
    let now = Instant::now();
    let account_key = format!("account:{workspace}:{email}");
    let address_key = format!("ip:{}", client.ip);
    // The attempt is charged to the account as it starts (checked and recorded under one
    // lock), not when its slow password check ends: otherwise guesses sent at once would all
    // pass the limit before any was recorded. A correct password clears it again. Addresses
    // count failures only, so an office whose people share one address can all sign in.
    let wait = state
        .throttle
        .retry_after(&address_key, PER_ADDRESS, now)
        .or_else(|| state.throttle.attempt(&account_key, PER_ACCOUNT, now));
    if let Some(wait) = wait {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return Ok(again(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed sign-ins. Try again in {minutes} minute(s)."),
        ));
    }
    let tenant = state.store.tenant_by_name(&workspace).await?;
    let outcome = accounts::sign_in(
        state.store.as_ref(),
        tenant.as_ref(),
        &email,
        form.password,
        client.ip,
        &client.context(),
    )
    .await?;
    match outcome {
        Ok(signed_in) => {
            state.throttle.clear(&account_key);
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                set_cookie(&signed_in.token, state.secure_cookies),
            );
            Ok(response)
        }
        Err(SignInRefusal::AddressNotAllowed(ip)) => {
            // The password was right: not a guess.
            state.throttle.clear(&account_key);
            Ok(again(
                StatusCode::FORBIDDEN,
                format!(
                    "Your address {ip} is not on this workspace's IP allowlist. Connect from \
                     an allowed network, or ask an admin to add your address."
                ),
            ))
        }
        Err(SignInRefusal::BadCredentials | SignInRefusal::Deactivated) => {
            // The account was charged before the check; the address is charged now.
            state.throttle.record_failure(&[&address_key], now);
            Ok(again(
                StatusCode::UNAUTHORIZED,
                "Wrong workspace, e-mail or password.".into(),
            ))
        }
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
    accounts::sign_out(
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
