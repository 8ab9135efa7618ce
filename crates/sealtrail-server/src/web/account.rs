//! `/account`: who you are signed in as, and changing your own password (which ends your other
//! sessions; this one is replaced by a fresh session so you stay signed in).

use crate::state::AppState;
use crate::web::error::{admin_message, render, PageError};
use crate::web::frame::PageFrame;
use crate::web::session::{check_same_origin, set_cookie, WebUser};
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use sealtrail_service::users;
use sealtrail_service::ServiceError;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    frame: PageFrame,
    notice: String,
    error: String,
}

/// `GET /account`.
pub async fn page(user: WebUser) -> Result<Response, PageError> {
    Ok(render(&AccountPage {
        frame: user.frame("Account", "account"),
        notice: String::new(),
        error: String::new(),
    }))
}

/// The change-password form. Missing fields read as empty, so a form without its token gets
/// the token check's page rather than a bare deserialisation error.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    confirm: String,
}

/// `POST /account`: changes the signed-in user's password.
pub async fn change_password(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    check_same_origin(&headers)?;
    user.check_csrf(&form.csrf)?;
    let again = |status: StatusCode, error: String| {
        let page = AccountPage {
            frame: user.frame("Account", "account"),
            notice: String::new(),
            error,
        };
        (status, render(&page)).into_response()
    };
    if form.new != form.confirm {
        return Ok(again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The new password and its confirmation differ.".into(),
        ));
    }
    let changed = users::set_password(
        state.store.as_ref(),
        user.tenant.id,
        &user.user.id,
        Some(form.current),
        Some(form.new.clone()),
        &user.acting(),
    )
    .await;
    if let Err(e) = changed {
        return match (admin_message(&e), e) {
            (Some(m), ServiceError::Invalid(_)) => Ok(again(StatusCode::UNPROCESSABLE_ENTITY, m)),
            (_, other) => Err(PageError::Internal(other.to_string())),
        };
    }
    // Every session ended with the change; open a fresh one for this browser.
    let token = users::open_session(state.store.as_ref(), &user.user).await?;
    let fresh = WebUser {
        token: token.clone(),
        ..user.clone()
    };
    let mut response = render(&AccountPage {
        frame: fresh.frame("Account", "account"),
        notice: "Password changed. Your other sessions have been signed out.".into(),
        error: String::new(),
    });
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&token, state.secure_cookies));
    Ok(response)
}
