//! Signing in and out. Sign-in is TokenService's Login, the same call as the gRPC Login,
//! so its rules (rate limits, unverified and disabled accounts refused, the audit trail)
//! apply unchanged; the console then requires staff, and ends the session it just opened
//! if the account is not. An operator with an authenticator app gets the second step
//! (CompleteLogin, the same call as the RPC) before any session cookie is set.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::ConsoleState;
use super::console_error::ConsoleError;
use super::console_session::{SignedIn, client_info, reached_over_https};
use super::csrf;
use super::session_cookie::{self, ConsoleSession, SESSION_COOKIE, SIGN_IN_COOKIE};
use super::views::{self, SecondFactorPage, SignInPage};
use crate::domain::{
    ClientInfo, EmailAddress, OpaqueToken, PasswordAttempt, RecoveryCode, TokenPair, TotpCode, User,
};
use crate::services::second_factor::SecondFactor;
use crate::services::{LoginCommand, LoginOutcome, ServiceError};

/// The device name the operator's session shows in session lists.
const DEVICE_NAME: &str = "operators' console";

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

/// The sign-in form, with a fresh double-submit CSRF secret.
pub async fn form(
    State(state): State<ConsoleState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let secure = reached_over_https(&headers, Some(peer), &state.trusted_proxies);
    sign_in_page(secure, String::new(), None, StatusCode::OK)
}

/// Checks the form's CSRF pair, logs in, requires staff, sets the session cookie.
pub async fn submit(
    State(state): State<ConsoleState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignInForm>,
) -> Response {
    let secure = reached_over_https(&headers, Some(peer), &state.trusted_proxies);
    let expected = session_cookie::read(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if !csrf::matches(&expected, &form.csrf_token) {
        return ConsoleError::csrf_refused().into_response();
    }
    let (Ok(email), Ok(password)) = (
        EmailAddress::parse(&form.email),
        PasswordAttempt::parse(&form.password),
    ) else {
        let message = "Enter the email and password of a staff account.".to_owned();
        return sign_in_page(
            secure,
            form.email,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let client = client_info(&headers, Some(peer), &state.trusted_proxies);
    let command = LoginCommand {
        email,
        password,
        device_name: Some(DEVICE_NAME.to_owned()),
    };
    match state.tokens.login(command, &client).await {
        Ok(LoginOutcome::Session(pair, user)) => {
            signed_in(&state, secure, form.email, pair, &user, &client).await
        }
        Ok(LoginOutcome::SecondFactorRequired(required)) => {
            let mfa_token = required.token.expose_secret().to_owned();
            second_factor_page(secure, mfa_token, None, StatusCode::OK)
        }
        Err(error) => refused(secure, form.email, error),
    }
}

#[derive(Deserialize)]
pub struct SecondFactorForm {
    #[serde(default)]
    mfa_token: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf_token: String,
}

/// The second step: the same CompleteLogin as the RPC, then the staff check.
pub async fn submit_second_factor(
    State(state): State<ConsoleState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SecondFactorForm>,
) -> Response {
    let secure = reached_over_https(&headers, Some(peer), &state.trusted_proxies);
    let expected = session_cookie::read(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if !csrf::matches(&expected, &form.csrf_token) {
        return ConsoleError::csrf_refused().into_response();
    }
    let Ok(token) = OpaqueToken::parse(&form.mfa_token) else {
        return refused(secure, String::new(), ServiceError::MfaTokenExpired);
    };
    // Six digits are a TOTP code; anything else is tried as a recovery code.
    let proof = match (TotpCode::parse(&form.code), RecoveryCode::parse(&form.code)) {
        (Ok(code), _) => SecondFactor::Totp(code),
        (_, Ok(code)) => SecondFactor::Recovery(code),
        _ => {
            let message = "Enter the six digits your app shows, or a recovery code.".to_owned();
            return second_factor_page(
                secure,
                form.mfa_token,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let client = client_info(&headers, Some(peer), &state.trusted_proxies);
    match state.tokens.complete_login(token, proof, &client).await {
        Ok((pair, user)) => signed_in(&state, secure, String::new(), pair, &user, &client).await,
        Err(ServiceError::MfaCodeInvalid) => {
            let error = ConsoleError::from(ServiceError::MfaCodeInvalid);
            second_factor_page(secure, form.mfa_token, Some(error.message), error.status)
        }
        Err(error) => refused(secure, String::new(), error),
    }
}

/// Requires staff of a session just opened (ending it otherwise) and sets its cookie.
async fn signed_in(
    state: &ConsoleState,
    secure: bool,
    email: String,
    pair: TokenPair,
    user: &User,
    client: &ClientInfo,
) -> Response {
    if !user.is_staff {
        // Not an operator: the session Login opened must not outlive this answer.
        if let Err(error) = state.tokens.logout(pair.refresh_token, client).await {
            return ConsoleError::from(error).into_response();
        }
        return refused(secure, email, ServiceError::NotStaff);
    }
    let cookies = AppendHeaders([
        (
            header::SET_COOKIE,
            ConsoleSession::from_pair(&pair).set_cookie(secure),
        ),
        (
            header::SET_COOKIE,
            session_cookie::clear_cookie(SIGN_IN_COOKIE, secure),
        ),
    ]);
    (cookies, Redirect::to("/users")).into_response()
}

/// Ends the console's session (the same Logout as the RPC) and forgets the cookie.
pub async fn sign_out(
    State(state): State<ConsoleState>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    if let Some(refresh_token) = signed_in.session.refresh_token()
        && let Err(error) = state.tokens.logout(refresh_token, &signed_in.client).await
    {
        return ConsoleError::from(error).into_response();
    }
    let clear = session_cookie::clear_cookie(SESSION_COOKIE, signed_in.secure);
    ([(header::SET_COOKIE, clear)], Redirect::to("/sign-in")).into_response()
}

/// The form again, saying why sign-in failed; the status tells scripts the same.
fn refused(secure: bool, email: String, error: ServiceError) -> Response {
    let error = ConsoleError::from(error);
    sign_in_page(secure, email, Some(error.message), error.status)
}

fn second_factor_page(
    secure: bool,
    mfa_token: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let secret = OpaqueToken::generate();
    let csrf_token = secret.expose_secret().to_owned();
    let cookie = session_cookie::set_cookie(SIGN_IN_COOKIE, &csrf_token, secure);
    let page = SecondFactorPage {
        csrf_token,
        mfa_token,
        error,
    };
    (status, [(header::SET_COOKIE, cookie)], views::render(&page)).into_response()
}

fn sign_in_page(secure: bool, email: String, error: Option<String>, status: StatusCode) -> Response {
    let secret = OpaqueToken::generate();
    let csrf_token = secret.expose_secret().to_owned();
    let cookie = session_cookie::set_cookie(SIGN_IN_COOKIE, &csrf_token, secure);
    let page = SignInPage {
        csrf_token,
        email,
        error,
    };
    (status, [(header::SET_COOKIE, cookie)], views::render(&page)).into_response()
}
