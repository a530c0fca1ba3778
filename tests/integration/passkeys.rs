//! Passkeys through the real RPCs on both databases, with a software authenticator
//! playing the browser: registration, login with an email and without one, a replayed
//! assertion, a cloned authenticator, a ceremony finished on another instance, removal.

use std::time::Duration;

use identity::proto;
use identity::rate_limit::{RateLimitSettings, RateQuota};
use tonic::Code;
use webauthn_authenticator_rs::prelude::WebauthnCError;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_authenticator_rs::{AuthenticatorBackendHashedClientData, WebauthnAuthenticator};
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
    Url,
};
use webauthn_rs_proto::{
    AllowCredentials, PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions,
    ResidentKeyRequirement,
};

use crate::rate_limits::assert_rate_limited;
use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, bearer, spawn_app, spawn_app_with};
use crate::test_database::Backend;

const OWNER: &str = "owner@example.com";

/// What a platform passkey provider adds to the soft authenticators, which keep no
/// resident keys: it remembers each discoverable credential's user handle and, asked
/// without an allow list, answers with that credential and handle. The signature is
/// still the soft token's, and the user handle is not signed in WebAuthn, so the
/// server's checks are the real ones.
pub struct Discoverable<T> {
    inner: T,
    resident: Vec<(String, Vec<u8>, Vec<u8>)>,
}

impl<T> Discoverable<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            resident: Vec::new(),
        }
    }
}

impl<T: AuthenticatorBackendHashedClientData> AuthenticatorBackendHashedClientData for Discoverable<T> {
    fn perform_register(
        &mut self,
        client_data_hash: Vec<u8>,
        mut options: PublicKeyCredentialCreationOptions,
        timeout_ms: u32,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError> {
        let resident = options.authenticator_selection.as_ref().is_some_and(|selection| {
            selection.require_resident_key
                || matches!(selection.resident_key, Some(ResidentKeyRequirement::Required))
        });
        if let Some(selection) = options.authenticator_selection.as_mut() {
            selection.require_resident_key = false;
            selection.resident_key = None;
        }
        let (rp_id, user_handle) = (options.rp.id.clone(), options.user.id.to_vec());
        let credential = self
            .inner
            .perform_register(client_data_hash, options, timeout_ms)?;
        if resident {
            self.resident
                .push((rp_id, credential.raw_id.to_vec(), user_handle));
        }
        Ok(credential)
    }

    fn perform_auth(
        &mut self,
        client_data_hash: Vec<u8>,
        mut options: PublicKeyCredentialRequestOptions,
        timeout_ms: u32,
    ) -> Result<PublicKeyCredential, WebauthnCError> {
        let mut user_handle = None;
        if options.allow_credentials.is_empty() {
            let (_, id, handle) = self
                .resident
                .iter()
                .find(|(rp, _, _)| *rp == options.rp_id)
                .ok_or(WebauthnCError::NoSelectedToken)?;
            options.allow_credentials = vec![AllowCredentials {
                type_: "public-key".into(),
                id: id.clone().into(),
                transports: None,
            }];
            user_handle = Some(handle.clone());
        }
        let mut credential = self.inner.perform_auth(client_data_hash, options, timeout_ms)?;
        if let Some(handle) = user_handle {
            credential.response.user_handle = Some(handle.into());
        }
        Ok(credential)
    }
}

/// Drives a soft token the test keeps owning, so it can be copied like an attacker would.
struct Borrowed<'a, T>(&'a mut T);

impl<T: AuthenticatorBackendHashedClientData> AuthenticatorBackendHashedClientData for Borrowed<'_, T> {
    fn perform_register(
        &mut self,
        hash: Vec<u8>,
        options: PublicKeyCredentialCreationOptions,
        timeout_ms: u32,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError> {
        self.0.perform_register(hash, options, timeout_ms)
    }

    fn perform_auth(
        &mut self,
        hash: Vec<u8>,
        options: PublicKeyCredentialRequestOptions,
        timeout_ms: u32,
    ) -> Result<PublicKeyCredential, WebauthnCError> {
        self.0.perform_auth(hash, options, timeout_ms)
    }
}

fn origin(app: &TestApp) -> Url {
    app.settings.second_factors.webauthn_origin.clone()
}

/// Registers a passkey for the holder of `access_token` through `authenticator`.
async fn register<T: AuthenticatorBackendHashedClientData>(
    app: &TestApp,
    access_token: &str,
    authenticator: &mut WebauthnAuthenticator<T>,
    name: &str,
) -> Result<proto::Passkey, tonic::Status> {
    let begun = app
        .accounts
        .clone()
        .begin_passkey_registration(bearer(access_token, proto::BeginPasskeyRegistrationRequest {}))
        .await?
        .into_inner();
    let options: CreationChallengeResponse = serde_json::from_str(&begun.options_json).expect("options JSON");
    let credential = authenticator
        .do_registration(origin(app), options)
        .expect("the authenticator registers");
    let request = proto::FinishPasskeyRegistrationRequest {
        credential_json: serde_json::to_string(&credential).expect("JSON"),
        name: name.into(),
    };
    let response = app
        .accounts
        .clone()
        .finish_passkey_registration(bearer(access_token, request))
        .await?;
    Ok(response.into_inner().passkey.expect("the passkey"))
}

/// BeginPasskeyLogin, then the authenticator's assertion as JSON.
async fn assertion<T: AuthenticatorBackendHashedClientData>(
    app: &TestApp,
    email: Option<&str>,
    authenticator: &mut WebauthnAuthenticator<T>,
) -> (String, String) {
    let request = proto::BeginPasskeyLoginRequest {
        email: email.map(str::to_owned),
    };
    let begun = app
        .tokens
        .clone()
        .begin_passkey_login(request)
        .await
        .expect("begin")
        .into_inner();
    let options: RequestChallengeResponse = serde_json::from_str(&begun.options_json).expect("options JSON");
    let credential = authenticator
        .do_authentication(origin(app), options)
        .expect("the authenticator signs");
    (
        begun.challenge_id,
        serde_json::to_string(&credential).expect("JSON"),
    )
}

async fn finish(
    app: &TestApp,
    challenge_id: &str,
    credential_json: &str,
) -> Result<proto::FinishPasskeyLoginResponse, tonic::Status> {
    let request = proto::FinishPasskeyLoginRequest {
        challenge_id: challenge_id.into(),
        credential_json: credential_json.into(),
        device_name: Some("phone".into()),
    };
    app.tokens
        .clone()
        .finish_passkey_login(request)
        .await
        .map(tonic::Response::into_inner)
}

/// Finishes a ceremony that must be refused, shows it cannot be retried, and returns the
/// owner's third email (after the verification link and the passkey's notice).
async fn refused_and_spent(app: &TestApp, challenge_id: &str, credential_json: &str) -> String {
    let refused = finish(app, challenge_id, credential_json).await.unwrap_err();
    let retried = finish(app, challenge_id, credential_json).await.unwrap_err();
    assert_status(&refused, Code::Unauthenticated, "PASSKEY_INVALID");
    assert_status(&retried, Code::Unauthenticated, "PASSKEY_CHALLENGE_EXPIRED");
    app.smtp.wait_for_emails(OWNER, 3).await[2].text_body()
}

database_test!(a_registered_passkey_logs_in_with_or_without_an_email_and_once_per_ceremony);
async fn a_registered_passkey_logs_in_with_or_without_an_email_and_once_per_ceremony(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user(OWNER, STRONG_PASSWORD).await;
    let mut phone = WebauthnAuthenticator::new(Discoverable::new(SoftPasskey::new(true)));

    let passkey = register(&app, &first.access_token, &mut phone, "  Ana's phone ")
        .await
        .unwrap();
    assert_eq!(passkey.name, "Ana's phone");
    let listed = app
        .accounts
        .clone()
        .list_passkeys(bearer(&first.access_token, proto::ListPasskeysRequest {}))
        .await
        .unwrap()
        .into_inner()
        .passkeys;
    assert_eq!(listed, std::slice::from_ref(&passkey));
    let notice = app.smtp.wait_for_emails(OWNER, 2).await;
    assert!(
        notice[1]
            .text_body()
            .contains("passkey named \"Ana's phone\" was added"),
        "{}",
        notice[1].text_body()
    );

    let (challenge, credential) = assertion(&app, Some(OWNER), &mut phone).await;
    let hinted = finish(&app, &challenge, &credential).await.unwrap();
    let tokens = hinted.tokens.unwrap();
    assert_eq!(app.validate(&tokens.access_token).await.unwrap().amr, ["hwk"]);
    assert_eq!(hinted.user.unwrap().email, OWNER);
    let replayed = finish(&app, &challenge, &credential).await.unwrap_err();
    assert_status(&replayed, Code::Unauthenticated, "PASSKEY_CHALLENGE_EXPIRED");

    let (challenge, credential) = assertion(&app, None, &mut phone).await;
    let discovered = finish(&app, &challenge, &credential).await.unwrap();
    assert_eq!(discovered.user.unwrap().email, OWNER);

    // An email without passkeys gets the same discoverable options as no email.
    let begin = |email: Option<&str>| {
        let mut tokens = app.tokens.clone();
        let request = proto::BeginPasskeyLoginRequest {
            email: email.map(str::to_owned),
        };
        async move {
            tokens
                .begin_passkey_login(request)
                .await
                .unwrap()
                .into_inner()
                .options_json
        }
    };
    let shape = |json: String| {
        let mut options: serde_json::Value = serde_json::from_str(&json).unwrap();
        options["publicKey"]["challenge"] = serde_json::Value::Null;
        options
    };
    assert_eq!(
        shape(begin(Some("nobody@example.com")).await),
        shape(begin(None).await)
    );

    let (challenge, _) = assertion(&app, None, &mut phone).await;
    let garbage = finish(&app, &challenge, "{\"not\": \"a credential\"}")
        .await
        .unwrap_err();
    assert_field_violation(&garbage, "credential_json", "CREDENTIAL_MALFORMED");
}

database_test!(a_copied_authenticator_is_refused_and_the_owner_told);
async fn a_copied_authenticator_is_refused_and_the_owner_told(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user(OWNER, STRONG_PASSWORD).await;
    let (mut key, _) = SoftToken::new(true).unwrap();
    let mut authenticator = WebauthnAuthenticator::new(Discoverable::new(Borrowed(&mut key)));
    register(&app, &first.access_token, &mut authenticator, "key")
        .await
        .unwrap();
    drop(authenticator);
    let mut copy = SoftToken::from_cbor(&key.to_cbor().unwrap()).unwrap();

    for _ in 0..2 {
        let (challenge, credential) = assertion(
            &app,
            Some(OWNER),
            &mut WebauthnAuthenticator::new(Borrowed(&mut key)),
        )
        .await;
        finish(&app, &challenge, &credential).await.unwrap();
    }
    let (challenge, credential) = assertion(
        &app,
        Some(OWNER),
        &mut WebauthnAuthenticator::new(Borrowed(&mut copy)),
    )
    .await;
    let notice = refused_and_spent(&app, &challenge, &credential).await;

    assert!(notice.contains("counter went backwards"), "{notice}");
    let (challenge, credential) = assertion(
        &app,
        Some(OWNER),
        &mut WebauthnAuthenticator::new(Borrowed(&mut key)),
    )
    .await;
    assert!(
        finish(&app, &challenge, &credential).await.is_ok(),
        "the genuine key still works"
    );
}

database_test!(a_ceremony_begun_on_one_instance_finishes_on_another);
async fn a_ceremony_begun_on_one_instance_finishes_on_another(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user(OWNER, STRONG_PASSWORD).await;
    let mut phone = WebauthnAuthenticator::new(Discoverable::new(SoftPasskey::new(true)));
    register(&app, &first.access_token, &mut phone, "phone")
        .await
        .unwrap();
    let sibling = app.spawn_sibling().await;

    let (challenge, credential) = assertion(&app, None, &mut phone).await;
    let finished = finish(&sibling, &challenge, &credential).await;

    assert!(finished.is_ok(), "{finished:?}");
    let again = finish(&app, &challenge, &credential).await.unwrap_err();
    assert_status(&again, Code::Unauthenticated, "PASSKEY_CHALLENGE_EXPIRED");
}

database_test!(a_removed_passkey_no_longer_logs_in_and_others_passkeys_are_out_of_reach);
async fn a_removed_passkey_no_longer_logs_in_and_others_passkeys_are_out_of_reach(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.logged_in_user(OWNER, STRONG_PASSWORD).await;
    let other = app.logged_in_user("other@example.com", STRONG_PASSWORD).await;
    let mut phone = WebauthnAuthenticator::new(Discoverable::new(SoftPasskey::new(true)));
    let passkey = register(&app, &first.access_token, &mut phone, "phone")
        .await
        .unwrap();
    let delete = |token: &str, id: &str| {
        let request = proto::DeletePasskeyRequest { id: id.into() };
        let mut accounts = app.accounts.clone();
        let token = token.to_owned();
        async move { accounts.delete_passkey(bearer(&token, request)).await }
    };
    let (challenge, credential) = assertion(&app, None, &mut phone).await;

    let by_other = delete(&other.access_token, &passkey.id).await.unwrap_err();
    assert_status(&by_other, Code::NotFound, "PASSKEY_NOT_FOUND");
    assert_field_violation(
        &delete(&other.access_token, "x").await.unwrap_err(),
        "id",
        "PASSKEY_ID_INVALID",
    );
    delete(&first.access_token, &passkey.id).await.unwrap();
    let notice = refused_and_spent(&app, &challenge, &credential).await;

    assert!(notice.contains("A passkey was removed"), "{notice}");
}

database_test!(passkey_ceremonies_are_limited_per_address_like_logins);
async fn passkey_ceremonies_are_limited_per_address_like_logins(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.rate_limits_enabled = true;
        settings.rate_limits = RateLimitSettings {
            login_ip: RateQuota::new(3, 60),
            ..RateLimitSettings::default()
        };
    })
    .await;
    let begin = || {
        let mut tokens = app.tokens.clone();
        async move {
            let request = proto::BeginPasskeyLoginRequest { email: None };
            tokens.begin_passkey_login(request).await
        }
    };

    for _ in 0..3 {
        begin().await.unwrap();
    }
    let refused = begin().await.unwrap_err();

    assert_rate_limited(&refused, Duration::from_secs(60));
}
