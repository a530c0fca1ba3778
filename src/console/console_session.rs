//! Who is signed in: the middleware in front of every console page but sign-in. It reads
//! the session cookie, validates its access token exactly as a bearer RPC would (so a
//! revoked session or a disabled account is signed out at once), renews an expired one
//! with refresh-token rotation, requires staff, and checks the CSRF token of every POST.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::ConsoleState;
use super::console_error::ConsoleError;
use super::csrf;
use super::session_cookie::{self, ConsoleSession, SESSION_COOKIE};
use super::views::Chrome;
use crate::auth::AuthenticatedPrincipal;
use crate::domain::{ClientInfo, TrustedProxies};
use crate::services::{Operator, ServiceError};

/// The largest form the console accepts; its forms are a few fields.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The operator a request runs for, put in the request's extensions by
/// [`require_operator`].
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub operator: Operator,
    pub session: ConsoleSession,
    pub client: ClientInfo,
    /// Whether cookies set in answer get `Secure` ([`reached_over_https`]).
    pub secure: bool,
}

impl SignedIn {
    /// The page header: who is signed in, and the sign-out form's token.
    pub fn chrome(&self) -> Chrome {
        // The console signs people in only; a service account never reaches a page.
        let email = self.operator.person().map(|user| user.email.as_str().to_owned());
        Chrome {
            operator_email: email.unwrap_or_default(),
            is_superuser: self.operator.is_superuser(),
            csrf_token: self.csrf_token(),
        }
    }

    /// The token this session's forms carry.
    pub fn csrf_token(&self) -> String {
        self.session.csrf_token()
    }
}

/// Lets a request through only for a signed-in staff member, with a valid CSRF token on
/// a POST.
pub async fn require_operator(State(state): State<ConsoleState>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let client = client_info(request.headers(), peer, &state.trusted_proxies);
    let secure = reached_over_https(request.headers(), peer, &state.trusted_proxies);
    let cookie = session_cookie::read(request.headers(), SESSION_COOKIE);
    let Some(session) = cookie.as_deref().and_then(ConsoleSession::parse) else {
        return Redirect::to("/sign-in").into_response();
    };
    let mut request = if request.method() == Method::POST {
        match with_checked_csrf(request, &session).await {
            Ok(request) => request,
            Err(refused) => return refused.into_response(),
        }
    } else {
        request
    };
    let (principal, renewed) = match resume(&state, &session, &client).await {
        Ok(resumed) => resumed,
        Err(error) => return signed_out(error, secure),
    };
    let operator = match Operator::authorize(principal) {
        Ok(operator) => operator,
        Err(error) => return signed_out(error, secure),
    };
    let session = renewed.clone().unwrap_or(session);
    request.extensions_mut().insert(SignedIn {
        operator,
        session,
        client,
        secure,
    });
    let mut response = next.run(request).await;
    // A handler that set a cookie itself (sign-out) has the last word.
    if let Some(renewed) = renewed
        && !response.headers().contains_key(header::SET_COOKIE)
        && let Ok(value) = HeaderValue::from_str(&renewed.set_cookie(secure))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The principal of the session; an expired access token is renewed through the same
/// rotation as RefreshToken, once however many requests carry it (`renewals`), and the
/// new pair returned for the cookie.
async fn resume(
    state: &ConsoleState,
    session: &ConsoleSession,
    client: &ClientInfo,
) -> Result<(AuthenticatedPrincipal, Option<ConsoleSession>), ServiceError> {
    let tokens = &state.tokens;
    match tokens.validate_access_token(session.access_token()).await {
        Err(ServiceError::AccessTokenExpired) => {
            let refresh_token = session.refresh_token().ok_or(ServiceError::RefreshTokenInvalid)?;
            let renewed = state.renewals.renew(tokens, refresh_token, client).await?;
            let principal = tokens.validate_access_token(renewed.access_token()).await?;
            Ok((principal, Some(renewed)))
        }
        validated => validated.map(|principal| (principal, None)),
    }
}

/// The request, its body buffered, if its form carries this session's CSRF token.
async fn with_checked_csrf(request: Request, session: &ConsoleSession) -> Result<Request, ConsoleError> {
    let (parts, body) = request.into_parts();
    let form: Bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| ConsoleError::new(StatusCode::PAYLOAD_TOO_LARGE, "This form is too large."))?;
    let presented = csrf::field_of(&form).unwrap_or_default();
    if !csrf::matches(&session.csrf_token(), &presented) {
        return Err(ConsoleError::csrf_refused());
    }
    Ok(Request::from_parts(parts, Body::from(form)))
}

/// The answer to a cookie that no longer proves a staff session: the cookie is deleted,
/// and the operator sent to sign in again, or told why not if signing in cannot help. A
/// database outage proves nothing about the session, so it keeps its cookie.
fn signed_out(error: ServiceError, secure: bool) -> Response {
    if matches!(
        error,
        ServiceError::DatabaseUnavailable(_) | ServiceError::Unexpected(_)
    ) {
        return ConsoleError::from(error).into_response();
    }
    let response = if matches!(error, ServiceError::NotStaff) {
        ConsoleError::from(error).into_response()
    } else {
        Redirect::to("/sign-in").into_response()
    };
    let clear = session_cookie::clear_cookie(SESSION_COOKIE, secure);
    ([(header::SET_COOKIE, clear)], response).into_response()
}

/// Whether the browser reached the console over https, so that its cookies must be
/// `Secure`. The console itself speaks plain HTTP: only a TLS-terminating proxy listed in
/// `IDENTITY_TRUSTED_PROXIES` can say the browser's side was https (`x-forwarded-proto`,
/// its last value). The links' `IDENTITY_PUBLIC_URL` says nothing about how operators
/// reach the console, so it is not asked.
pub fn reached_over_https(headers: &HeaderMap, peer: Option<SocketAddr>, trusted: &TrustedProxies) -> bool {
    let from_trusted_proxy = peer.is_some_and(|peer| trusted.contains(peer.ip()));
    let forwarded_proto = headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .last()
        .map(str::trim);
    from_trusted_proxy && forwarded_proto.is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// The caller: the connection's peer, or behind a trusted proxy the address it
/// forwarded (the same rule as the gRPC transport's), and its user agent.
pub fn client_info(headers: &HeaderMap, peer: Option<SocketAddr>, trusted: &TrustedProxies) -> ClientInfo {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    let forwarded_for = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok());
    let address = peer.map(|addr| trusted.client_address(addr.ip(), forwarded_for));
    ClientInfo::new(address, user_agent)
}
