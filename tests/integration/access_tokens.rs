//! Access tokens: EdDSA JWTs verifiable locally with GetJwks; ValidateAccessToken and the
//! bearer RPCs refuse anything this service did not sign for this audience, or has expired.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use identity::proto::{
    ChangePasswordRequest, GetAccountRequest, ListSessionsRequest, LogoutAllRequest, RevokeSessionRequest,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use tonic::Code;

use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, bearer, kid_of, spawn_app, temporary_dir};
use crate::test_database::Backend;

/// The token's claims, read without verifying (to re-sign them with a forged header).
fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// `token` with one character of segment `segment` (0 header, 1 payload, 2 signature)
/// changed, away from the last character, whose low bits base64 may ignore.
fn tampered(token: &str, segment: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut chars: Vec<char> = parts[segment].chars().collect();
    let middle = chars.len() / 2;
    chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
    parts[segment] = chars.into_iter().collect();
    parts.join(".")
}

/// `message` with `authorization` metadata set verbatim, or none.
fn authorized<T>(message: T, authorization: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
    }
    request
}

database_test!(an_access_token_verifies_locally_with_the_published_jwks);
async fn an_access_token_verifies_locally_with_the_published_jwks(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.verified_user("local@example.com", STRONG_PASSWORD).await;
    let tokens = app
        .login("local@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();

    let jwks = app.jwks().await;

    let kid = kid_of(&tokens.access_token);
    let keys = jwks["keys"].as_array().expect("a `keys` array");
    let jwk = keys
        .iter()
        .find(|key| key["kid"] == kid.as_str())
        .expect("the token's kid is published");
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["use"], "sig");
    assert!(jwk.get("d").is_none(), "public keys only");
    let key = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["identity"]);
    validation.set_audience(&["identity"]);
    let decoded = jsonwebtoken::decode::<serde_json::Value>(&tokens.access_token, &key, &validation)
        .expect("the token verifies with the published key");
    let claims = decoded.claims;
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["sid"], tokens.session_id.as_str());
    assert!(claims["jti"].as_str().is_some_and(|jti| !jti.is_empty()));
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 900);
}

database_test!(validate_access_token_returns_who_the_token_speaks_for);
async fn validate_access_token_returns_who_the_token_speaks_for(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.verified_user("who@example.com", STRONG_PASSWORD).await;
    let tokens = app
        .login("who@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();

    let validated = app.validate(&tokens.access_token).await.unwrap();

    assert_eq!(validated.user_id, user.id);
    assert_eq!(validated.session_id, tokens.session_id);
    assert_eq!(validated.email, "who@example.com");
    assert!(validated.is_verified && !validated.is_staff);
    let expires_at = validated.expires_at.unwrap();
    assert_eq!(
        expires_at.seconds,
        tokens.access_token_expires_at.unwrap().seconds
    );
}

database_test!(validate_access_token_refuses_a_tampered_token);
async fn validate_access_token_refuses_a_tampered_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("tamper@example.com", STRONG_PASSWORD).await;

    for (segment, why) in [(1, "payload"), (2, "signature")] {
        let forged = tampered(&tokens.access_token, segment);
        let status = app.validate(&forged).await.expect_err(why);
        assert_status(&status, Code::Unauthenticated, "TOKEN_INVALID");
    }
}

database_test!(validate_access_token_refuses_unsigned_and_hmac_tokens);
async fn validate_access_token_refuses_unsigned_and_hmac_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("alg@example.com", STRONG_PASSWORD).await;
    let claims = claims_of(&tokens.access_token);
    let payload = tokens.access_token.split('.').nth(1).unwrap();
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{payload}.");
    let mut hmac_header = Header::new(Algorithm::HS256);
    hmac_header.kid = Some(kid_of(&tokens.access_token));
    let hmac = jsonwebtoken::encode(&hmac_header, &claims, &EncodingKey::from_secret(b"anything")).unwrap();

    for (token, why) in [(unsigned, "alg none"), (hmac, "HS256")] {
        let status = app.validate(&token).await.expect_err(why);
        assert_status(&status, Code::Unauthenticated, "TOKEN_INVALID");
    }
}

database_test!(validate_access_token_refuses_a_token_signed_by_another_key);
async fn validate_access_token_refuses_a_token_signed_by_another_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("forged@example.com", STRONG_PASSWORD).await;
    let foreign_dir = temporary_dir("identity-foreign-keys-");
    let (pem_path, foreign_kid) =
        identity::auth::signing_keys::generate_key_file(foreign_dir.path(), chrono::Utc::now()).unwrap();
    let foreign_key = EncodingKey::from_ed_pem(&std::fs::read(pem_path).unwrap()).unwrap();
    let claims = claims_of(&tokens.access_token);

    for (kid, why) in [
        (foreign_kid, "unknown kid"),
        (kid_of(&tokens.access_token), "our kid, not our key"),
    ] {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid);
        let forged = jsonwebtoken::encode(&header, &claims, &foreign_key).unwrap();
        let status = app.validate(&forged).await.expect_err(why);
        assert_status(&status, Code::Unauthenticated, "TOKEN_INVALID");
    }
}

database_test!(validate_access_token_refuses_a_token_for_another_audience_or_issuer);
async fn validate_access_token_refuses_a_token_for_another_audience_or_issuer(backend: Backend) {
    let app = spawn_app(backend).await;
    app.verified_user("aud@example.com", STRONG_PASSWORD).await;
    // Same database and signing key, so only the claim differs.
    let other_audience = app.spawn_sibling_with(|s| s.jwt.audience = "other".into()).await;
    let other_issuer = app.spawn_sibling_with(|s| s.jwt.issuer = "other".into()).await;

    for (instance, why) in [(&other_audience, "aud other"), (&other_issuer, "iss other")] {
        let tokens = instance
            .login("aud@example.com", STRONG_PASSWORD)
            .await
            .tokens
            .unwrap();
        assert_eq!(kid_of(&tokens.access_token), app.jwks().await["keys"][0]["kid"]);
        let status = app.validate(&tokens.access_token).await.expect_err(why);
        assert_status(&status, Code::Unauthenticated, "TOKEN_INVALID");
    }
}

database_test!(an_expired_access_token_fails_with_token_expired);
async fn an_expired_access_token_fails_with_token_expired(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("late@example.com", STRONG_PASSWORD).await;
    app.clock
        .advance(app.settings.jwt.access_token_ttl + std::time::Duration::from_secs(1));

    let status = app.validate(&tokens.access_token).await.unwrap_err();
    assert_status(&status, Code::Unauthenticated, "TOKEN_EXPIRED");
    let request = bearer(&tokens.access_token, GetAccountRequest {});
    let status = app.accounts.clone().get_account(request).await.unwrap_err();
    assert_status(&status, Code::Unauthenticated, "TOKEN_EXPIRED");
}

database_test!(validate_access_token_requires_a_token);
async fn validate_access_token_requires_a_token(backend: Backend) {
    let app = spawn_app(backend).await;

    let status = app.validate("").await.unwrap_err();

    assert_status(&status, Code::InvalidArgument, "FIELD_REQUIRED");
    assert_field_violation(&status, "access_token", "FIELD_REQUIRED");
}

database_test!(get_account_returns_the_callers_account);
async fn get_account_returns_the_callers_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.verified_user("me@example.com", STRONG_PASSWORD).await;
    app.logged_in_user("someone.else@example.com", STRONG_PASSWORD)
        .await;
    let tokens = app.login("me@example.com", STRONG_PASSWORD).await.tokens.unwrap();

    let request = bearer(&tokens.access_token, GetAccountRequest {});
    let response = app.accounts.clone().get_account(request).await.unwrap();

    let account = response.into_inner().user.unwrap();
    assert_eq!(account.id, user.id);
    assert_eq!(account.email, "me@example.com");
}

database_test!(bearer_rpcs_refuse_a_missing_or_garbage_authorization);
async fn bearer_rpcs_refuse_a_missing_or_garbage_authorization(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("bearer@example.com", STRONG_PASSWORD).await;
    let cases: [(Option<String>, &str); 4] = [
        (None, "no authorization"),
        (Some("Bearer garbage".into()), "not a JWT"),
        (Some(format!("Basic {}", tokens.access_token)), "another scheme"),
        (Some(tokens.access_token.clone()), "no scheme"),
    ];
    for (authorization, why) in cases {
        let auth = authorization.as_deref();
        let mut accounts = app.accounts.clone();
        let mut sessions = app.tokens.clone();
        let password = ChangePasswordRequest {
            current_password: STRONG_PASSWORD.into(),
            new_password: "another correct horse battery".into(),
        };
        let revoke = RevokeSessionRequest {
            session_id: tokens.session_id.clone(),
        };
        let statuses = [
            accounts
                .get_account(authorized(GetAccountRequest {}, auth))
                .await
                .err(),
            accounts.change_password(authorized(password, auth)).await.err(),
            sessions
                .list_sessions(authorized(ListSessionsRequest::default(), auth))
                .await
                .err(),
            sessions
                .logout_all(authorized(LogoutAllRequest {}, auth))
                .await
                .err(),
            sessions.revoke_session(authorized(revoke, auth)).await.err(),
        ];
        for status in statuses {
            let status = status.unwrap_or_else(|| panic!("{why}: a bearer RPC succeeded"));
            assert_status(&status, Code::Unauthenticated, "TOKEN_INVALID");
        }
    }
    app.validate(&tokens.access_token)
        .await
        .expect("the session is untouched");
}
