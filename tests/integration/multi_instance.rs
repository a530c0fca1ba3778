//! Several instances on one database and one key directory: tokens and rotations work
//! across them, and a newly added signing key takes over without invalidating live tokens.

use chrono::{Duration as ChronoDuration, Utc};
use identity::auth::signing_keys::generate_key_file;
use identity::proto::{GetAccountRequest, RefreshTokenRequest};
use tonic::Code;

use crate::status_assertions::assert_status;
use crate::test_app::{STRONG_PASSWORD, bearer, kid_of, spawn_app, spawn_app_with, temporary_dir};
use crate::test_database::Backend;

database_test!(a_token_issued_by_one_instance_validates_on_another);
async fn a_token_issued_by_one_instance_validates_on_another(backend: Backend) {
    let first = spawn_app(backend).await;
    let user = first.verified_user("roam@example.com", STRONG_PASSWORD).await;
    let tokens = first
        .login("roam@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();
    // After the signup: the sibling's outbox sender could deliver its email to itself.
    let second = first.spawn_sibling().await;

    let validated = second.validate(&tokens.access_token).await.unwrap();

    assert_eq!(validated.user_id, user.id);
    let request = bearer(&tokens.access_token, GetAccountRequest {});
    let account = second.accounts.clone().get_account(request).await.unwrap();
    assert_eq!(account.into_inner().user.unwrap().id, user.id);
}

database_test!(a_refresh_token_issued_by_one_instance_rotates_on_another);
async fn a_refresh_token_issued_by_one_instance_rotates_on_another(backend: Backend) {
    let first = spawn_app(backend).await;
    let tokens = first.logged_in_user("hop@example.com", STRONG_PASSWORD).await;
    let second = first.spawn_sibling().await;
    let request = || RefreshTokenRequest {
        refresh_token: tokens.refresh_token.clone(),
    };

    let rotated = second.tokens.clone().refresh_token(request()).await.unwrap();

    let rotated = rotated.into_inner().tokens.unwrap();
    assert_eq!(rotated.session_id, tokens.session_id);
    first
        .validate(&rotated.access_token)
        .await
        .expect("valid on the first instance");
    let reused = first.tokens.clone().refresh_token(request()).await.unwrap_err();
    assert_status(&reused, Code::Unauthenticated, "REFRESH_TOKEN_REUSED");
}

database_test!(a_newer_signing_key_signs_new_tokens_while_older_tokens_stay_valid);
async fn a_newer_signing_key_signs_new_tokens_while_older_tokens_stay_valid(backend: Backend) {
    let keys = temporary_dir("identity-keys-");
    let (_, old_kid) = generate_key_file(keys.path(), Utc::now() - ChronoDuration::hours(1)).unwrap();
    let before = spawn_app_with(backend, |s| s.jwt.keys_dir = Some(keys.path().to_path_buf())).await;
    before.verified_user("keys@example.com", STRONG_PASSWORD).await;
    let old_token = before
        .login("keys@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();
    assert_eq!(kid_of(&old_token.access_token), old_kid);

    let (_, new_kid) = generate_key_file(keys.path(), Utc::now()).unwrap();
    let after = before.spawn_sibling().await;

    let jwks = after.jwks().await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|key| key["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    after
        .validate(&old_token.access_token)
        .await
        .expect("the older key still verifies");
    let new_token = after
        .login("keys@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();
    assert_eq!(kid_of(&new_token.access_token), new_kid);
    after.validate(&new_token.access_token).await.unwrap();
}
