//! RFC 6238 time-based one-time codes as authenticator apps compute them: HMAC-SHA-1,
//! six digits, 30-second steps, the step before and after accepted for clock drift.
//!
//! Which step matched is returned, so the caller can refuse any code of that step or an
//! earlier one afterwards: a code seen over a shoulder or phished is spent once used.
//!
//! Layer rule (auth): pure computation; no database, no tonic.

use chrono::{DateTime, Utc};
use rand::RngCore;
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use crate::domain::TotpCode;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// RFC 4226 recommends 160 bits, SHA-1's block output.
const SECRET_BYTES: usize = 20;
/// Steps either side of now that are accepted.
const DRIFT_STEPS: i64 = 1;

/// A new secret from the OS CSPRNG.
#[must_use]
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0_u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut secret);
    secret
}

/// What an authenticator app needs: the base32 secret (typed by hand) and the
/// `otpauth://totp/…` URI (scanned as a QR code), labelled `issuer:account`.
///
/// # Errors
/// `issuer` or `account` holds a `:`, which the URI format cannot carry.
pub fn provisioning(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<(String, String)> {
    let totp = totp(secret, Some(issuer.to_owned()), account.to_owned())?;
    Ok((totp.get_secret_base32(), totp.get_url()))
}

/// The step `now` falls in.
#[must_use]
pub fn step_of(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(STEP_SECS)
}

/// The step within one of `now`'s that `code` is the code of, newer than `after` (the last
/// step accepted for this secret); `None` when there is none. Every candidate step is
/// computed and compared in constant time, so the answer's timing says nothing of which
/// step was close.
#[must_use]
pub fn matching_step(secret: &[u8], code: &TotpCode, now: DateTime<Utc>, after: Option<i64>) -> Option<i64> {
    let current = step_of(now);
    let mut matched = None;
    for step in current - DRIFT_STEPS..=current + DRIFT_STEPS {
        let Some(expected) = code_at_step(secret, step) else {
            continue;
        };
        let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if equal && after.is_none_or(|last| step > last) && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// The code of `step`, as an authenticator app shows it (tests use it to play the app).
#[must_use]
pub fn code_at_step(secret: &[u8], step: i64) -> Option<String> {
    let time = u64::try_from(step.checked_mul(STEP_SECS)?).ok()?;
    let totp = totp(secret, None, String::new()).ok()?;
    Some(totp.generate(time))
}

fn totp(secret: &[u8], issuer: Option<String>, account: String) -> anyhow::Result<TOTP> {
    let step = u64::try_from(STEP_SECS)?;
    TOTP::new(Algorithm::SHA1, 6, 1, step, secret.to_vec(), issuer, account)
        .map_err(|error| anyhow::anyhow!("TOTP parameters refused: {error}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    /// RFC 6238 appendix B's SHA-1 seed and vectors, truncated to six digits.
    const SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_the_rfc_6238_vectors() {
        for (unix, code) in [
            (59_i64, "287082"),
            (1_111_111_109, "081804"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at_step(SEED, unix / STEP_SECS).unwrap(), code, "{unix}");
        }
    }

    #[test]
    fn the_neighbouring_steps_match_and_a_used_step_never_again() {
        let now = Utc.timestamp_opt(1_111_111_109, 0).unwrap();
        let current = step_of(now);
        for step in [current - 1, current, current + 1] {
            let code = TotpCode::parse(&code_at_step(SEED, step).unwrap()).unwrap();
            assert_eq!(matching_step(SEED, &code, now, None), Some(step));
            assert_eq!(matching_step(SEED, &code, now, Some(step)), None);
        }
        let stale = TotpCode::parse(&code_at_step(SEED, current - 2).unwrap()).unwrap();
        assert_eq!(matching_step(SEED, &stale, now, None), None);
    }

    #[test]
    fn the_uri_carries_issuer_account_and_secret() {
        let (base32, uri) = provisioning(SEED, "Example", "ana@example.com").unwrap();
        assert_eq!(base32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert!(
            uri.starts_with("otpauth://totp/Example:ana%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), "{uri}");
        assert!(uri.contains("issuer=Example"), "{uri}");
    }
}
