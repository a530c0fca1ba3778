//! Argon2 computations on a reused memory buffer, producing and checking PHC strings.
//!
//! Argon2's `PasswordHasher` path allocates (and zeroes) the whole memory cost, 19 MiB at
//! OWASP parameters, on every call. Buffers are kept in one process-wide free list instead
//! and handed to `hash_password_into_with_memory`; the PHC string is assembled exactly as
//! argon2's own `hash_password` does, so stored hashes stay interchangeable with it.
//! The list never holds more buffers than hashes ever ran at once, which the hashing
//! pool's semaphore bounds to the cores. It is one list rather than a buffer per hashing
//! thread so that an idle instance can give every buffer back from whichever thread
//! notices the idleness ([`release_free_memory`]).

use std::sync::{Mutex, PoisonError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Argon2 memory not in use right now, each buffer as large as the largest cost it ran.
static FREE_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// A new Argon2id PHC string for `password` with a fresh random salt.
///
/// # Errors
/// Argon2 refused the input (not expected with validated parameters).
pub fn hash(params: &Params, password: &[u8]) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let salt = Salt::from(&salt);
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = compute(&argon2, params, password, salt, output_len)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(phc_error)?,
        salt: Some(salt),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches `stored`, with the algorithm, version and parameters
/// written in `stored`; the comparison is constant-time (`Output`'s equality).
///
/// # Errors
/// `stored` is not an Argon2 PHC string.
pub fn verify(stored: &PasswordHash<'_>, password: &[u8]) -> anyhow::Result<bool> {
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        anyhow::bail!("stored password hash has no salt or no hash");
    };
    let algorithm = Algorithm::try_from(stored.algorithm).map_err(phc_error)?;
    let version = stored
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(phc_error)?
        .unwrap_or_default();
    let params = Params::try_from(stored).map_err(phc_error)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let computed = compute(&argon2, &params, password, salt, expected.len())?;
    Ok(computed == expected)
}

/// Frees every buffer not in use, so an instance that has stopped hashing does not keep
/// 19 MiB per core resident. A hash running meanwhile keeps its own buffer and puts it
/// back when it ends.
pub fn release_free_memory() {
    let released = std::mem::take(&mut *FREE_MEMORY.lock().unwrap_or_else(PoisonError::into_inner));
    if released.is_empty() {
        return;
    }
    drop(released);
    return_freed_pages_to_the_system();
}

/// mimalloc purges freed memory after a delay, and only when the thread that freed it
/// allocates again, which an idle instance may never do; a forced collection purges it
/// now, whichever thread freed it.
#[allow(unsafe_code)]
fn return_freed_pages_to_the_system() {
    // SAFETY: mi_collect takes no pointers; it only hands back memory no block is using.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

fn compute(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: Salt<'_>,
    output_len: usize,
) -> anyhow::Result<Output> {
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(phc_error)?;
    let taken = FREE_MEMORY.lock().unwrap_or_else(PoisonError::into_inner).pop();
    let mut memory = taken.unwrap_or_default();
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let blocks = &mut memory[..params.block_count()];
    let output = Output::init_with(output_len, |out| {
        argon2
            .hash_password_into_with_memory(password, salt_bytes, out, &mut *blocks)
            .map_err(Into::into)
    })
    .map_err(phc_error);
    FREE_MEMORY
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(memory);
    output
}

fn phc_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("argon2: {error}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use argon2::PasswordVerifier as _;

    fn params() -> Params {
        Params::new(1024, 1, 1, None).unwrap()
    }

    #[test]
    fn our_hashes_verify_with_argon2s_own_verifier_and_back() {
        let ours = hash(&params(), b"correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(verify(&parsed, b"correct horse").unwrap());
        assert!(!verify(&parsed, b"correct horsf").unwrap());

        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2::PasswordHasher::hash_password(
            &Argon2::new(Algorithm::Argon2id, Version::V0x13, params()),
            b"battery staple",
            &salt,
        )
        .unwrap()
        .to_string();
        assert!(verify(&PasswordHash::new(&theirs).unwrap(), b"battery staple").unwrap());
    }

    #[test]
    fn hashing_still_works_after_the_free_memory_was_released() {
        let first = hash(&params(), b"pw").unwrap();
        release_free_memory();
        let second = hash(&params(), b"pw").unwrap();
        assert!(verify(&PasswordHash::new(&first).unwrap(), b"pw").unwrap());
        assert!(verify(&PasswordHash::new(&second).unwrap(), b"pw").unwrap());
    }

    #[test]
    fn a_smaller_cost_after_a_larger_one_reuses_the_buffer() {
        let large = Params::new(2048, 1, 1, None).unwrap();
        let first = hash(&large, b"pw").unwrap();
        let second = hash(&params(), b"pw").unwrap();
        assert!(verify(&PasswordHash::new(&first).unwrap(), b"pw").unwrap());
        assert!(verify(&PasswordHash::new(&second).unwrap(), b"pw").unwrap());
    }
}
