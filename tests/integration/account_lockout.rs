//! The account's failure budgets as an attacker would turn them on its owner: someone who
//! knows only an email spends them from addresses of their own, and the owner must still
//! get in from an address they have logged in from, or after a password reset from
//! anywhere; yet nobody, not even someone at the owner's own address, gets more than the
//! budgets' guesses. Default quotas throughout, as deployed.

use std::net::Ipv4Addr;
use std::time::Duration;

use identity::rate_limit::{RateLimitSettings, RateQuota};
use tonic::Code;

use crate::password_reset::{request_reset, reset, reset_token};
use crate::rate_limits::{assert_rate_limited, login, login_with, tokens_from};
use crate::status_assertions::assert_status;
use crate::test_app::{STRONG_PASSWORD, TestApp, spawn_app_with};
use crate::test_database::Backend;

const OWNER: &str = "owner@example.com";
const WRONG: &str = "a wrong guess at it";

/// Limits on with the deployed quotas, but for the per-address login limit: every test
/// client is on 127.0.0.x.
async fn app_with_default_limits(backend: Backend) -> TestApp {
    spawn_app_with(backend, |settings| {
        settings.rate_limits_enabled = true;
        settings.rate_limits = RateLimitSettings {
            login_ip: RateQuota::new(1000, 60),
            ..RateLimitSettings::default()
        };
    })
    .await
}

/// Guesses from `address` until the account refuses it; returns how many were answered.
async fn guess_until_refused(app: &TestApp, address: Ipv4Addr) -> usize {
    let mut attacker = tokens_from(app, address).await;
    for guesses in 0..50 {
        let status = login_with(&mut attacker, OWNER, WRONG).await.unwrap_err();
        if status.code() == Code::ResourceExhausted {
            assert_rate_limited(&status, Duration::from_secs(24 * 3600));
            return guesses;
        }
        assert_status(&status, Code::Unauthenticated, "INVALID_CREDENTIALS");
    }
    panic!("50 wrong guesses and never slowed down");
}

database_test!(a_guesser_elsewhere_cannot_keep_the_owner_out_of_an_address_they_logged_in_from);
async fn a_guesser_elsewhere_cannot_keep_the_owner_out_of_an_address_they_logged_in_from(backend: Backend) {
    let app = app_with_default_limits(backend).await;
    app.verified_user(OWNER, STRONG_PASSWORD).await;
    app.login(OWNER, STRONG_PASSWORD).await;

    let answered = guess_until_refused(&app, Ipv4Addr::new(127, 0, 0, 2)).await;
    let mut thief = tokens_from(&app, Ipv4Addr::new(127, 0, 0, 3)).await;
    let thief_with_the_password = login_with(&mut thief, OWNER, STRONG_PASSWORD).await;
    let owner = login(&app, OWNER, STRONG_PASSWORD).await;

    assert_eq!(answered, 5, "five guesses, then the account is slowed down");
    assert_rate_limited(&thief_with_the_password.unwrap_err(), Duration::from_secs(180));
    assert!(owner.is_ok(), "the owner's own address still gets in: {owner:?}");
    let again = login(&app, OWNER, STRONG_PASSWORD).await;
    assert!(again.is_ok(), "and keeps getting in: {again:?}");
}

database_test!(a_guesser_at_the_owners_own_address_gets_no_more_guesses_than_anyone);
async fn a_guesser_at_the_owners_own_address_gets_no_more_guesses_than_anyone(backend: Backend) {
    let app = app_with_default_limits(backend).await;
    app.verified_user(OWNER, STRONG_PASSWORD).await;
    app.login(OWNER, STRONG_PASSWORD).await;
    guess_until_refused(&app, Ipv4Addr::new(127, 0, 0, 2)).await;

    let behind_the_same_nat = guess_until_refused(&app, Ipv4Addr::new(127, 0, 0, 1)).await;

    assert_eq!(
        behind_the_same_nat, 5,
        "a known address has the budget of one account at one address, and no more"
    );
}

database_test!(a_password_reset_lets_the_owner_in_at_once_from_a_new_address);
async fn a_password_reset_lets_the_owner_in_at_once_from_a_new_address(backend: Backend) {
    let app = app_with_default_limits(backend).await;
    app.verified_user(OWNER, STRONG_PASSWORD).await;
    guess_until_refused(&app, Ipv4Addr::new(127, 0, 0, 2)).await;
    let mut owner = tokens_from(&app, Ipv4Addr::new(127, 0, 0, 4)).await;
    let before = login_with(&mut owner, OWNER, STRONG_PASSWORD).await;

    request_reset(&app, OWNER).await;
    let token = reset_token(&app, OWNER, 2).await;
    let new_password = "a new and long passphrase";
    reset(&app, &token, new_password).await.unwrap();
    let after = login_with(&mut owner, OWNER, new_password).await;

    assert_rate_limited(&before.unwrap_err(), Duration::from_secs(180));
    assert!(
        after.is_ok(),
        "the reset cleared the account's budgets: {after:?}"
    );
}

database_test!(a_patient_guesser_gets_at_most_a_hundred_guesses_a_day);
async fn a_patient_guesser_gets_at_most_a_hundred_guesses_a_day(backend: Backend) {
    let app = app_with_default_limits(backend).await;
    app.verified_user(OWNER, STRONG_PASSWORD).await;
    let mut botnet = Vec::new();
    for host in 10..30 {
        botnet.push(tokens_from(&app, Ipv4Addr::new(127, 0, 0, host)).await);
    }

    let mut checked = 0;
    for minute in 0..24 * 60 {
        let client = &mut botnet[minute % 20];
        let status = login_with(client, OWNER, WRONG).await.unwrap_err();
        match status.code() {
            Code::Unauthenticated => checked += 1,
            _ => assert_status(&status, Code::ResourceExhausted, "RATE_LIMITED"),
        }
        app.clock.advance(Duration::from_secs(60));
    }

    assert!(
        (90..=100).contains(&checked),
        "{checked} passwords checked in 24 hours (NIST SP 800-63B: at most 100)"
    );
}
