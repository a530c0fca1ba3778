//! Timing does not tell whether an account exists. Each test takes a few dozen samples
//! per path, interleaved (so a burst of load on the machine hits every path alike), and
//! compares medians with a generous relative bound: loose enough for a busy two-core
//! machine, tight enough to fail when one path skips the Argon2 hash (a factor of five
//! or more at OWASP cost) or does visibly more work.

use std::future::Future;
use std::time::{Duration, Instant};

use identity::proto::{
    LoginRequest, RequestPasswordResetRequest, ResendVerificationEmailRequest, SignupRequest,
};

use crate::test_app::{STRONG_PASSWORD, TestApp, spawn_app, spawn_app_with};
use crate::test_database::Backend;

const SAMPLES: usize = 30;

/// Largest accepted ratio between the slowest and the fastest median.
const MAX_RATIO: f64 = 1.6;

/// Below this, differences are scheduling noise whatever the ratio (paths without hashing
/// take a few milliseconds).
const NOISE_FLOOR: Duration = Duration::from_millis(4);

async fn timed<F: Future>(call: F) -> Duration {
    let started = Instant::now();
    call.await;
    started.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn assert_alike(medians: &[(&str, Duration)]) {
    let slowest = medians.iter().map(|(_, d)| *d).max().unwrap();
    let fastest = medians.iter().map(|(_, d)| *d).min().unwrap();
    let ratio = slowest.as_secs_f64() / fastest.as_secs_f64();
    assert!(
        ratio <= MAX_RATIO || slowest - fastest <= NOISE_FLOOR,
        "median times differ by {ratio:.2}x (bound {MAX_RATIO}x): {medians:?}"
    );
}

async fn login(app: &TestApp, email: &str, password: &str) {
    let request = LoginRequest {
        email: email.into(),
        password: password.into(),
        device_name: None,
    };
    app.tokens.clone().login(request).await.unwrap_err();
}

database_test!(login_takes_as_long_for_an_unknown_email_a_wrong_password_and_an_unverified_account);
async fn login_takes_as_long_for_an_unknown_email_a_wrong_password_and_an_unverified_account(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    app.verified_user("known@example.com", STRONG_PASSWORD).await;
    app.signup("pending@example.com", STRONG_PASSWORD).await;
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];

    for round in 0..SAMPLES {
        for offset in 0..3 {
            let path = (round + offset) % 3;
            let elapsed = match path {
                0 => timed(login(&app, &format!("ghost{round}@example.com"), STRONG_PASSWORD)).await,
                1 => timed(login(&app, "known@example.com", "not the right password")).await,
                _ => timed(login(&app, "pending@example.com", STRONG_PASSWORD)).await,
            };
            samples[path].push(elapsed);
        }
    }

    let [unknown, wrong, unverified] = samples.map(median);
    assert_alike(&[
        ("unknown email", unknown),
        ("wrong password", wrong),
        ("unverified", unverified),
    ]);
}

database_test!(password_reset_and_resend_take_as_long_for_known_and_unknown_emails);
async fn password_reset_and_resend_take_as_long_for_known_and_unknown_emails(backend: Backend) {
    let app = spawn_app(backend).await;
    app.verified_user("member@example.com", STRONG_PASSWORD).await;
    app.signup("waiting@example.com", STRONG_PASSWORD).await;
    let mut accounts = app.accounts.clone();
    let mut samples = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];

    for round in 0..SAMPLES {
        for offset in 0..4 {
            let path = (round + offset) % 4;
            let email = match path {
                0 => "member@example.com".to_owned(),
                2 => "waiting@example.com".to_owned(),
                _ => format!("nobody{round}@example.com"),
            };
            let elapsed = if path < 2 {
                let request = RequestPasswordResetRequest { email };
                timed(async { accounts.request_password_reset(request).await.unwrap() }).await
            } else {
                let request = ResendVerificationEmailRequest { email };
                timed(async { accounts.resend_verification_email(request).await.unwrap() }).await
            };
            samples[path].push(elapsed);
        }
    }

    let [reset_known, reset_unknown, resend_known, resend_unknown] = samples.map(median);
    assert_alike(&[("reset, known", reset_known), ("reset, unknown", reset_unknown)]);
    assert_alike(&[
        ("resend, known", resend_known),
        ("resend, unknown", resend_unknown),
    ]);
}

database_test!(with_enumeration_protection_signup_takes_as_long_for_a_taken_email);
async fn with_enumeration_protection_signup_takes_as_long_for_a_taken_email(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.enumeration_protection = true).await;
    app.signup("taken@example.com", STRONG_PASSWORD).await;
    let mut accounts = app.accounts.clone();
    let mut samples = [Vec::new(), Vec::new()];

    for round in 0..SAMPLES {
        for offset in 0..2 {
            let path = (round + offset) % 2;
            let email = match path {
                0 => "taken@example.com".to_owned(),
                _ => format!("newcomer{round}@example.com"),
            };
            let request = SignupRequest {
                email,
                password: STRONG_PASSWORD.into(),
            };
            samples[path].push(timed(async { accounts.signup(request).await.unwrap() }).await);
        }
    }

    let [taken, fresh] = samples.map(median);
    assert_alike(&[("taken", taken), ("fresh", fresh)]);
}

database_test!(a_django_pbkdf2_account_is_not_faster_to_reject_than_an_argon2id_one);
/// An imported account keeps Django's hash until its first login. PBKDF2 at a low
/// iteration count costs far less than Argon2id; without the Argon2id verification that
/// follows every Django check, a wrong password for such an account would come back
/// several times faster and tell a timing attacker the account exists.
async fn a_django_pbkdf2_account_is_not_faster_to_reject_than_an_argon2id_one(backend: Backend) {
    use djangohashers::Hasher as _;
    use identity::entities::user;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};

    let app = spawn_app(backend).await;
    let native = app.verified_user("native@example.com", STRONG_PASSWORD).await;
    let cheap = djangohashers::PBKDF2Hasher.encode(STRONG_PASSWORD, "cheapsalt", 1_000);
    let now = chrono::Utc::now();
    user::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        email: Set("imported@example.com".into()),
        password_hash: Set(cheap),
        is_verified: Set(true),
        is_active: Set(true),
        is_staff: Set(false),
        is_superuser: Set(false),
        date_joined: Set(now),
        last_login: Set(None),
        updated_at: Set(now),
    }
    .insert(&app.db)
    .await
    .unwrap();
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];

    for round in 0..SAMPLES {
        for offset in 0..3 {
            let path = (round + offset) % 3;
            let email = match path {
                0 => native.email.clone(),
                1 => "imported@example.com".to_owned(),
                _ => format!("ghost{round}@example.com"),
            };
            samples[path].push(timed(login(&app, &email, "not the right password")).await);
        }
    }

    let [argon2id, pbkdf2, unknown] = samples.map(median);
    assert!(
        pbkdf2 >= argon2id.mul_f64(1.0 / MAX_RATIO),
        "PBKDF2 rejects in {pbkdf2:?}, Argon2id in {argon2id:?}"
    );
    assert_alike(&[
        ("argon2id", argon2id),
        ("django pbkdf2", pbkdf2),
        ("unknown", unknown),
    ]);
}
