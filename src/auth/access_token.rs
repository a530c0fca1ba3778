//! Access tokens: EdDSA-signed JWTs, issued at login and refresh, verified on every bearer
//! RPC and by `ValidateAccessToken`.
//!
//! Claims `iss aud sub(user id) sid(session id) iat exp jti amr groups perms`; header `alg: EdDSA`,
//! `typ: JWT`, `kid` (see [`super::signing_keys`]). Verification trusts nothing the token
//! says about how to check it: the algorithm is pinned to EdDSA whatever the header claims
//! (so `alg: none` and HS256 keyed with our public key are refused), and the key is one of
//! ours looked up by `kid`. Whether the session is still live is the service's question,
//! not this module's. Tokens are bearer credentials: nothing here logs one.
//!
//! Layer rule (auth): pure crypto; no database, no tonic.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::signing_keys::SigningKeys;
use crate::clock::to_time_delta;
use crate::configuration::JwtSettings;
use crate::domain::AuthenticationMethods;

/// Ours are about 400 bytes plus the access claims; refusing far larger input bounds the
/// work an attacker can ask for.
const MAX_TOKEN_LEN: usize = 4096;

/// The most the `groups` and `perms` claims may take, as JSON. Past it both are left out
/// and `perms_omitted: true` says so, so a token stays under [`MAX_TOKEN_LEN`] (base64 adds a
/// third) and under the 8 KiB header limits of common proxies: its holder's verifier then
/// asks `CheckPermission` instead of trusting a list it does not have.
pub const MAX_ACCESS_CLAIMS_BYTES: usize = 2048;

/// What a token says its holder may do, as at issue time: its `groups` and `perms` claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub groups: Vec<String>,
    #[serde(rename = "perms")]
    pub permissions: Vec<String>,
}

/// Issues and verifies access tokens with the keys of [`SigningKeys`].
#[derive(Clone, Debug)]
pub struct AccessTokens {
    keys: SigningKeys,
    issuer: Arc<str>,
    audience: Arc<str>,
    ttl: Duration,
    leeway: Duration,
    validation: Arc<Validation>,
}

/// What a valid access token proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAccessToken {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub expires_at: DateTime<Utc>,
    /// The `jti` claim.
    pub token_id: String,
    /// The `groups` and `perms` claims; `None` when they were left out for size.
    pub access: Option<AccessClaims>,
    /// The `amr` claim (RFC 8176): how the session's login was proven. Tokens issued
    /// before it existed carry none and were proven by a password.
    pub amr: Vec<String>,
}

/// Why an access token was refused. Deliberately coarse: the caller learns nothing that
/// would help forge a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    #[error("access token invalid")]
    Invalid,
    #[error("access token expired")]
    Expired,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    sid: String,
    iat: i64,
    exp: i64,
    jti: String,
    #[serde(default)]
    amr: Vec<String>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    access: Option<AccessClaims>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    perms_omitted: bool,
}

impl AccessTokens {
    /// Tokens signed by `keys`' signing key for `settings.issuer` and `settings.audience`.
    #[must_use]
    pub fn new(keys: SigningKeys, settings: &JwtSettings) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        // `exp` is checked against the service's clock in `verify`, not the system's.
        validation.validate_exp = false;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self {
            keys,
            issuer: Arc::from(settings.issuer.as_str()),
            audience: Arc::from(settings.audience.as_str()),
            ttl: settings.access_token_ttl,
            leeway: settings.leeway,
            validation: Arc::new(validation),
        }
    }

    /// Returns the compact JWT and its expiry (`now` + the access token TTL, whole seconds),
    /// with empty `groups` and `perms`.
    ///
    /// # Errors
    /// The expiry is out of range, or signing failed (a key the signer cannot use).
    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(String, DateTime<Utc>)> {
        let methods = AuthenticationMethods::Password;
        self.issue_with_access(user_id, session_id, AccessClaims::default(), methods, now)
    }

    /// As [`Self::issue`], the token carrying `access` unless it is larger than
    /// [`MAX_ACCESS_CLAIMS_BYTES`] (then `perms_omitted: true` instead), and `methods` as
    /// its `amr`.
    ///
    /// # Errors
    /// The expiry is out of range, or signing failed (a key the signer cannot use).
    pub fn issue_with_access(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        access: AccessClaims,
        methods: AuthenticationMethods,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(String, DateTime<Utc>)> {
        let size = serde_json::to_vec(&access).map_or(usize::MAX, |json| json.len());
        let perms_omitted = size > MAX_ACCESS_CLAIMS_BYTES;
        let issued_at = now.timestamp();
        let expires_at = i64::try_from(self.ttl.as_secs())
            .ok()
            .and_then(|ttl| issued_at.checked_add(ttl))
            .and_then(|exp| DateTime::from_timestamp(exp, 0))
            .context("access token expiry out of range")?;
        let claims = Claims {
            iss: self.issuer.to_string(),
            aud: self.audience.to_string(),
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            iat: issued_at,
            exp: expires_at.timestamp(),
            jti: Uuid::new_v4().to_string(),
            amr: methods.values().iter().map(|value| (*value).to_owned()).collect(),
            access: (!perms_omitted).then_some(access),
            perms_omitted,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.keys.signing_kid().to_owned());
        let token = jsonwebtoken::encode(&header, &claims, self.keys.encoding_key())
            .context("signing an access token")?;
        Ok((token, expires_at))
    }

    /// Checks the signature with the algorithm pinned to EdDSA and the key named by `kid`,
    /// then `iss`, `aud`, the presence of every claim, that `sub` and `sid` are UUIDs, and
    /// last `exp` against `now` with the configured leeway.
    ///
    /// # Errors
    /// [`AccessTokenError::Expired`] only for a genuine token of ours past its `exp`;
    /// [`AccessTokenError::Invalid`] for everything else.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedAccessToken, AccessTokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(AccessTokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AccessTokenError::Invalid)?;
        // `decode` pins the algorithm too; refusing early also skips the key lookup.
        if header.alg != Algorithm::EdDSA {
            return Err(AccessTokenError::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.decoding_key(kid))
            .ok_or(AccessTokenError::Invalid)?;
        // jsonwebtoken checks the signature before any claim, and `exp` is looked at only
        // after it, so `Expired` is never the answer to a forged token.
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|_| AccessTokenError::Invalid)?
            .claims;
        let verified = VerifiedAccessToken {
            user_id: Uuid::parse_str(&claims.sub).map_err(|_| AccessTokenError::Invalid)?,
            session_id: Uuid::parse_str(&claims.sid).map_err(|_| AccessTokenError::Invalid)?,
            expires_at: DateTime::from_timestamp(claims.exp, 0).ok_or(AccessTokenError::Invalid)?,
            token_id: claims.jti,
            access: claims.access,
            amr: if claims.amr.is_empty() {
                vec!["pwd".to_owned()]
            } else {
                claims.amr
            },
        };
        // As jsonwebtoken would: expired once `now` is past `exp` plus the leeway.
        if verified.expires_at + to_time_delta(self.leeway) < now {
            return Err(AccessTokenError::Expired);
        }
        Ok(verified)
    }

    /// The JWK Set of every key that may have signed a live token (see [`SigningKeys::jwks_json`]).
    #[must_use]
    pub fn jwks_json(&self) -> &str {
        self.keys.jwks_json()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::auth::signing_keys::generate_key_file;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::TimeZone;
    use jsonwebtoken::EncodingKey;

    fn settings() -> JwtSettings {
        JwtSettings {
            issuer: "identity-test".to_owned(),
            audience: "services".to_owned(),
            keys_dir: None,
            access_token_ttl: Duration::from_secs(900),
            leeway: Duration::ZERO,
        }
    }

    fn key_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        generate_key_file(dir.path(), Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()).unwrap();
        dir
    }

    fn tokens_from(dir: &std::path::Path, settings: &JwtSettings) -> AccessTokens {
        AccessTokens::new(SigningKeys::load_dir(dir).unwrap(), settings)
    }

    fn issue(tokens: &AccessTokens) -> String {
        tokens
            .issue(Uuid::new_v4(), Uuid::new_v4(), Utc::now())
            .unwrap()
            .0
    }

    fn part(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn payload_of(token: &str) -> serde_json::Value {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let dir = key_dir();
        let tokens = tokens_from(dir.path(), &settings());
        let (user_id, session_id, now) = (Uuid::new_v4(), Uuid::new_v4(), Utc::now());
        let (token, expires_at) = tokens.issue(user_id, session_id, now).unwrap();
        assert_eq!(expires_at.timestamp(), now.timestamp() + 900);
        assert_eq!(expires_at.timestamp_subsec_nanos(), 0);

        let verified = tokens.verify(&token, Utc::now()).unwrap();
        assert_eq!(verified.user_id, user_id);
        assert_eq!(verified.session_id, session_id);
        assert_eq!(verified.expires_at, expires_at);
        assert!(Uuid::parse_str(&verified.token_id).is_ok());

        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.kid.as_deref(), Some(tokens.keys.signing_kid()));
        let claims = payload_of(&token);
        for claim in ["iss", "aud", "sub", "sid", "iat", "exp", "jti"] {
            assert!(claims.get(claim).is_some(), "{claim} present");
        }
    }

    #[test]
    fn claims_past_the_limit_are_left_out_and_said_so() {
        let dir = key_dir();
        let tokens = tokens_from(dir.path(), &settings());
        let few = AccessClaims {
            groups: vec!["billing".to_owned()],
            permissions: vec!["billing.refund".to_owned()],
        };
        let (token, _) = tokens
            .issue_with_access(
                Uuid::new_v4(),
                Uuid::new_v4(),
                few.clone(),
                AuthenticationMethods::Password,
                Utc::now(),
            )
            .unwrap();
        let claims = payload_of(&token);
        assert_eq!(claims["groups"], serde_json::json!(["billing"]));
        assert_eq!(claims["perms"], serde_json::json!(["billing.refund"]));
        assert!(claims.get("perms_omitted").is_none());
        assert_eq!(tokens.verify(&token, Utc::now()).unwrap().access, Some(few));

        let many = AccessClaims {
            groups: Vec::new(),
            permissions: (0..100).map(|n| format!("area.action_number_{n:03}")).collect(),
        };
        let (token, _) = tokens
            .issue_with_access(
                Uuid::new_v4(),
                Uuid::new_v4(),
                many,
                AuthenticationMethods::Password,
                Utc::now(),
            )
            .unwrap();
        let claims = payload_of(&token);
        assert_eq!(claims["perms_omitted"], true);
        assert!(claims.get("perms").is_none() && claims.get("groups").is_none());
        assert!(token.len() < MAX_TOKEN_LEN);
        assert_eq!(tokens.verify(&token, Utc::now()).unwrap().access, None);
    }

    #[test]
    fn the_amr_claim_says_how_the_login_was_proven() {
        let dir = key_dir();
        let tokens = tokens_from(dir.path(), &settings());
        let methods = AuthenticationMethods::PasswordAndOtp;
        let (token, _) = tokens
            .issue_with_access(
                Uuid::new_v4(),
                Uuid::new_v4(),
                AccessClaims::default(),
                methods,
                Utc::now(),
            )
            .unwrap();
        assert_eq!(payload_of(&token)["amr"], serde_json::json!(["pwd", "otp"]));
        assert_eq!(tokens.verify(&token, Utc::now()).unwrap().amr, ["pwd", "otp"]);
        assert_eq!(tokens.verify(&issue(&tokens), Utc::now()).unwrap().amr, ["pwd"]);
    }

    #[test]
    fn a_tampered_token_is_invalid() {
        let dir = key_dir();
        let tokens = tokens_from(dir.path(), &settings());
        let token = issue(&tokens);
        let parts: Vec<&str> = token.split('.').collect();

        let mut claims = payload_of(&token);
        claims["sub"] = serde_json::json!(Uuid::new_v4().to_string());
        let forged_payload = format!("{}.{}.{}", parts[0], part(&claims), parts[2]);
        assert_eq!(
            tokens.verify(&forged_payload, Utc::now()),
            Err(AccessTokenError::Invalid)
        );

        let mut signature = parts[2].as_bytes().to_vec();
        signature[10] = if signature[10] == b'A' { b'B' } else { b'A' };
        let forged_signature = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            String::from_utf8(signature).unwrap()
        );
        assert_eq!(
            tokens.verify(&forged_signature, Utc::now()),
            Err(AccessTokenError::Invalid)
        );

        assert_eq!(
            tokens.verify("not a token", Utc::now()),
            Err(AccessTokenError::Invalid)
        );
        assert_eq!(tokens.verify("", Utc::now()), Err(AccessTokenError::Invalid));
    }

    #[test]
    fn algorithm_none_and_hs256_with_our_public_key_are_invalid() {
        let dir = key_dir();
        let tokens = tokens_from(dir.path(), &settings());
        let token = issue(&tokens);
        let kid = tokens.keys.signing_kid();
        let payload = token.split('.').nth(1).unwrap();

        let none = part(&serde_json::json!({ "alg": "none", "typ": "JWT", "kid": kid }));
        assert_eq!(
            tokens.verify(&format!("{none}.{payload}."), Utc::now()),
            Err(AccessTokenError::Invalid)
        );

        let jwks: serde_json::Value = serde_json::from_str(tokens.jwks_json()).unwrap();
        let public_key = URL_SAFE_NO_PAD
            .decode(jwks["keys"][0]["x"].as_str().unwrap())
            .unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.to_owned());
        let hs256 = jsonwebtoken::encode(
            &header,
            &payload_of(&token),
            &EncodingKey::from_secret(&public_key),
        )
        .unwrap();
        assert_eq!(tokens.verify(&hs256, Utc::now()), Err(AccessTokenError::Invalid));
    }

    #[test]
    fn an_unknown_or_absent_kid_is_invalid() {
        let (ours, theirs) = (key_dir(), key_dir());
        let tokens = tokens_from(ours.path(), &settings());
        let foreign = issue(&tokens_from(theirs.path(), &settings()));
        assert_eq!(
            tokens.verify(&foreign, Utc::now()),
            Err(AccessTokenError::Invalid)
        );

        let token = issue(&tokens);
        let without_kid = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &payload_of(&token),
            tokens.keys.encoding_key(),
        )
        .unwrap();
        assert_eq!(
            tokens.verify(&without_kid, Utc::now()),
            Err(AccessTokenError::Invalid)
        );
    }

    #[test]
    fn a_signed_token_with_a_missing_or_malformed_claim_is_invalid() {
        let dir = key_dir();
        let tokens = tokens_from(dir.path(), &settings());
        let claims = payload_of(&issue(&tokens));
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(tokens.keys.signing_kid().to_owned());
        let sign = |claims: &serde_json::Value| {
            jsonwebtoken::encode(&header, claims, tokens.keys.encoding_key()).unwrap()
        };
        for claim in ["iss", "aud", "sub", "sid", "iat", "exp", "jti"] {
            let mut partial = claims.clone();
            partial.as_object_mut().unwrap().remove(claim);
            assert_eq!(
                tokens.verify(&sign(&partial), Utc::now()),
                Err(AccessTokenError::Invalid),
                "no {claim}"
            );
        }
        for claim in ["sub", "sid"] {
            let mut malformed = claims.clone();
            malformed[claim] = serde_json::json!("not-a-uuid");
            assert_eq!(
                tokens.verify(&sign(&malformed), Utc::now()),
                Err(AccessTokenError::Invalid),
                "{claim}"
            );
        }
    }

    #[test]
    fn a_wrong_audience_or_issuer_is_invalid() {
        let dir = key_dir();
        let tokens = tokens_from(dir.path(), &settings());
        let cases = [
            (
                "audience",
                JwtSettings {
                    audience: "elsewhere".to_owned(),
                    ..settings()
                },
            ),
            (
                "issuer",
                JwtSettings {
                    issuer: "impostor".to_owned(),
                    ..settings()
                },
            ),
        ];
        for (what, other) in cases {
            let token = issue(&tokens_from(dir.path(), &other));
            assert_eq!(
                tokens.verify(&token, Utc::now()),
                Err(AccessTokenError::Invalid),
                "wrong {what}"
            );
        }
    }

    #[test]
    fn a_token_past_its_expiry_is_expired() {
        let dir = key_dir();
        let tokens = tokens_from(dir.path(), &settings());
        let (token, expires_at) = tokens.issue(Uuid::new_v4(), Uuid::new_v4(), Utc::now()).unwrap();
        assert!(tokens.verify(&token, expires_at).is_ok(), "valid up to its exp");
        let later = expires_at + chrono::Duration::seconds(1);
        assert_eq!(tokens.verify(&token, later), Err(AccessTokenError::Expired));

        let lenient = tokens_from(
            dir.path(),
            &JwtSettings {
                leeway: Duration::from_secs(60),
                ..settings()
            },
        );
        assert!(lenient.verify(&token, later).is_ok(), "within the leeway");
    }

    #[test]
    fn a_token_verifies_on_another_instance_sharing_the_keys() {
        let dir = key_dir();
        let token = issue(&tokens_from(dir.path(), &settings()));
        assert!(
            tokens_from(dir.path(), &settings())
                .verify(&token, Utc::now())
                .is_ok()
        );
    }

    #[test]
    fn after_a_rotation_old_tokens_verify_and_new_ones_use_the_new_key() {
        let dir = key_dir();
        let before = tokens_from(dir.path(), &settings());
        let old_token = issue(&before);
        let later = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
        let (_, new_kid) = generate_key_file(dir.path(), later).unwrap();

        let after = tokens_from(dir.path(), &settings());
        assert!(after.verify(&old_token, Utc::now()).is_ok());
        let new_token = issue(&after);
        let header = jsonwebtoken::decode_header(&new_token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
        assert!(after.verify(&new_token, Utc::now()).is_ok());
        assert_eq!(
            before.verify(&new_token, Utc::now()),
            Err(AccessTokenError::Invalid)
        );
    }
}
