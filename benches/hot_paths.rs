//! Micro-benchmarks of the CPU work on the request paths: Argon2id at the configured
//! parameters (`IDENTITY_ARGON2_*`, OWASP defaults), JWT sign and verify, opaque token
//! minting and hashing, input parsing and status mapping.
//! `cargo bench --bench hot_paths`; filter with e.g. `cargo bench --bench hot_paths -- jwt`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly")]

use std::hint::black_box;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use identity::auth::signing_keys::generate_key_file;
use identity::auth::{AccessTokens, SigningKeys};
use identity::configuration::Settings;
use identity::domain::{EmailAddress, NewPassword, OpaqueToken, PasswordAttempt};
use identity::grpc::request_decoding::FieldViolations;
use identity::services::ServiceError;
use tonic::Status;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

fn argon2id(c: &mut Criterion) {
    let settings = Settings::from_env()
        .expect("IDENTITY_* settings")
        .password_hashing;
    let params = Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        None,
    )
    .expect("Argon2 parameters");
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::generate(&mut OsRng);
    let stored = argon2
        .hash_password(PASSWORD.as_bytes(), &salt)
        .unwrap()
        .to_string();
    let parsed = PasswordHash::new(&stored).unwrap();

    let mut group = c.benchmark_group("argon2id");
    group.sample_size(20);
    group.bench_function("hash", |b| {
        b.iter(|| {
            argon2
                .hash_password(black_box(PASSWORD.as_bytes()), &salt)
                .unwrap()
        });
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            argon2
                .verify_password(black_box(PASSWORD.as_bytes()), &parsed)
                .is_ok()
        });
    });
    group.finish();
}

fn jwt(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    generate_key_file(dir.path(), Utc::now()).unwrap();
    let keys = SigningKeys::load_dir(dir.path()).unwrap();
    let tokens = AccessTokens::new(keys, &Settings::default().jwt);
    let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
    let (token, _) = tokens.issue(user, session, Utc::now()).unwrap();

    let mut group = c.benchmark_group("jwt");
    group.bench_function("sign", |b| {
        b.iter(|| tokens.issue(black_box(user), session, Utc::now()).unwrap());
    });
    group.bench_function("verify", |b| {
        b.iter(|| tokens.verify(black_box(&token), chrono::Utc::now()).unwrap())
    });
    group.bench_function("refuse_forged_signature", |b| {
        let forged = format!("{}AAAA", &token[..token.len() - 4]);
        b.iter(|| tokens.verify(black_box(&forged), chrono::Utc::now()).unwrap_err());
    });
    group.finish();
}

fn opaque_tokens(c: &mut Criterion) {
    let token = OpaqueToken::generate();
    let raw = token.expose_secret().to_owned();
    let mut group = c.benchmark_group("opaque_token");
    group.bench_function("mint", |b| b.iter(OpaqueToken::generate));
    group.bench_function("hash", |b| b.iter(|| black_box(&token).hash()));
    group.bench_function("parse_and_hash", |b| {
        b.iter(|| OpaqueToken::parse(black_box(&raw)).unwrap().hash());
    });
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let email = EmailAddress::parse("ada@example.com").unwrap();
    let mut group = c.benchmark_group("parse");
    group.bench_function("email", |b| {
        b.iter(|| EmailAddress::parse(black_box("  Ada.Lovelace@Example.COM ")).unwrap());
    });
    group.bench_function("new_password_strength", |b| {
        b.iter(|| NewPassword::parse(black_box(PASSWORD), Some(&email)).unwrap());
    });
    group.bench_function("password_attempt", |b| {
        b.iter(|| PasswordAttempt::parse(black_box(PASSWORD)).unwrap());
    });
    group.finish();
}

fn status_mapping(c: &mut Criterion) {
    let mut group = c.benchmark_group("status_mapping");
    group.bench_function("unauthenticated", |b| {
        b.iter(|| Status::from(black_box(ServiceError::AccessTokenExpired)));
    });
    group.bench_function("field_violations", |b| {
        b.iter(|| {
            let mut violations = FieldViolations::default();
            violations.push("email", identity::domain::InputError::EmailInvalid);
            violations.push("password", identity::domain::InputError::FieldRequired);
            Status::from(black_box(violations))
        });
    });
    group.finish();
}

criterion_group!(benches, argon2id, jwt, opaque_tokens, parsing, status_mapping);
criterion_main!(benches);
