//! The relying party of passkeys (WebAuthn Level 2, through webauthn-rs): options for
//! the browser and checks of what it returns, JSON in and JSON out so a ceremony's state
//! can wait in the database between its begin and its finish.
//!
//! webauthn-rs keeps no memory of the challenges it issued: finishing the same state
//! twice succeeds. Single use is therefore the caller's (the ceremony row is taken by a
//! conditional UPDATE before its state reaches [`PasskeyCeremonies`]).
//!
//! Registration asks for a discoverable credential (`residentKey: required`), so a login
//! needs no email; the library's passkey defaults otherwise hold (user verification
//! required, no attestation). A signature counter that did not advance is refused as a
//! possible clone; synced passkeys that always report 0 skip that check, as the
//! specification allows.
//!
//! Layer rule (auth): pure protocol checks; no database, no tonic.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;
use uuid::Uuid;
use webauthn_rs::prelude::{
    AuthenticationResult, CredentialID, DiscoverableAuthentication, DiscoverableKey, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// Why a ceremony's finish was refused.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// The browser's JSON is not a credential of the expected kind.
    #[error("not a WebAuthn credential: {0}")]
    Malformed(String),
    /// The signature counter did not advance: the authenticator may have been copied.
    #[error("the passkey's signature counter went backwards")]
    PossibleClone,
    /// Anything else the checks refused (challenge, origin, signature, user verification…).
    #[error("the passkey was refused: {0}")]
    Refused(WebauthnError),
    /// State we stored did not read back: a bug or a tampered row, never the caller's.
    #[error("stored ceremony state unreadable: {0}")]
    State(String),
}

/// A credential a finished registration produced, ready to store.
#[derive(Debug)]
pub struct RegisteredPasskey {
    /// base64url of the credential id, unique across accounts.
    pub credential_id: String,
    /// The library's credential as JSON (public key and counter).
    pub passkey_json: String,
}

/// What a finished login proved.
#[derive(Debug)]
pub struct VerifiedAssertion {
    pub credential_id: String,
    result: AuthenticationResult,
}

/// Begun ceremony: `options_json` for the browser, `state_json` for the database.
#[derive(Debug)]
pub struct BegunCeremony {
    pub options_json: String,
    pub state_json: String,
}

/// The WebAuthn relying party of `IDENTITY_WEBAUTHN_RP_ID` at `IDENTITY_WEBAUTHN_ORIGIN`.
pub struct PasskeyCeremonies {
    webauthn: Webauthn,
}

impl std::fmt::Debug for PasskeyCeremonies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyCeremonies").finish_non_exhaustive()
    }
}

impl PasskeyCeremonies {
    /// # Errors
    /// The origin's host is neither the RP id nor under it, or the origin is not https
    /// (plain http is allowed for `localhost` only).
    pub fn new(rp_id: &str, origin: &Url, rp_name: &str) -> anyhow::Result<Self> {
        let webauthn = WebauthnBuilder::new(rp_id, origin)
            .and_then(|builder| builder.rp_name(rp_name).build())
            .map_err(|error| {
                anyhow::anyhow!(
                    "IDENTITY_WEBAUTHN_RP_ID {rp_id} and IDENTITY_WEBAUTHN_ORIGIN {origin} do not make a \
                     relying party (the origin's host must be the RP id or under it): {error}"
                )
            })?;
        Ok(Self { webauthn })
    }

    /// Creation options for `user_id`, excluding the credentials it already has.
    ///
    /// # Errors
    /// Stored passkeys or the state did not (de)serialise.
    pub fn begin_registration(
        &self,
        user_id: Uuid,
        email: &str,
        existing: &[String],
    ) -> Result<BegunCeremony, CeremonyError> {
        let exclude: Vec<CredentialID> = parse_passkeys(existing)?
            .iter()
            .map(|passkey| passkey.cred_id().clone())
            .collect();
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let (options, state) = self
            .webauthn
            .start_passkey_registration(user_id, email, email, exclude)
            .map_err(CeremonyError::Refused)?;
        let mut options = to_json_value(&options)?;
        // A discoverable credential: the login can then start without an email.
        if let Some(selection) = options
            .get_mut("publicKey")
            .and_then(|key| key.get_mut("authenticatorSelection"))
        {
            selection["residentKey"] = "required".into();
            selection["requireResidentKey"] = true.into();
        }
        Ok(BegunCeremony {
            options_json: options.to_string(),
            state_json: to_json(&state)?,
        })
    }

    /// Checks the browser's registration response against the stored state.
    ///
    /// # Errors
    /// [`CeremonyError::Malformed`], [`CeremonyError::Refused`], [`CeremonyError::State`].
    pub fn finish_registration(
        &self,
        credential_json: &str,
        state_json: &str,
    ) -> Result<RegisteredPasskey, CeremonyError> {
        let credential: RegisterPublicKeyCredential = serde_json::from_str(credential_json)
            .map_err(|error| CeremonyError::Malformed(error.to_string()))?;
        let state: PasskeyRegistration = from_state(state_json)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(CeremonyError::Refused)?;
        Ok(RegisteredPasskey {
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id().as_ref()),
            passkey_json: to_json(&passkey)?,
        })
    }

    /// Request options naming `passkeys` (a login with an email hint), or discoverable
    /// options when there are none.
    ///
    /// # Errors
    /// Stored passkeys or the state did not (de)serialise.
    pub fn begin_login(&self, passkeys: &[String]) -> Result<(BegunCeremony, bool), CeremonyError> {
        let passkeys = parse_passkeys(passkeys)?;
        if passkeys.is_empty() {
            let (options, state) = self
                .webauthn
                .start_discoverable_authentication()
                .map_err(CeremonyError::Refused)?;
            let begun = BegunCeremony {
                options_json: to_json(&options)?,
                state_json: to_json(&state)?,
            };
            return Ok((begun, true));
        }
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(CeremonyError::Refused)?;
        let begun = BegunCeremony {
            options_json: to_json(&options)?,
            state_json: to_json(&state)?,
        };
        Ok((begun, false))
    }

    /// The account a discoverable assertion claims (its user handle) and the credential's
    /// id, before anything is verified: which passkeys to check it against.
    ///
    /// # Errors
    /// [`CeremonyError::Malformed`], or [`CeremonyError::Refused`] without a user handle.
    pub fn claimed_account(&self, credential_json: &str) -> Result<(Uuid, String), CeremonyError> {
        let credential = parse_assertion(credential_json)?;
        let (user_id, credential_id) = self
            .webauthn
            .identify_discoverable_authentication(&credential)
            .map_err(CeremonyError::Refused)?;
        Ok((user_id, URL_SAFE_NO_PAD.encode(credential_id)))
    }

    /// Verifies an assertion against a discoverable ceremony and the claimed account's
    /// passkeys as stored now.
    ///
    /// # Errors
    /// [`CeremonyError`].
    pub fn finish_discoverable_login(
        &self,
        credential_json: &str,
        state_json: &str,
        passkeys: &[String],
    ) -> Result<VerifiedAssertion, CeremonyError> {
        let credential = parse_assertion(credential_json)?;
        let state: DiscoverableAuthentication = from_state(state_json)?;
        let keys: Vec<DiscoverableKey> = parse_passkeys(passkeys)?
            .iter()
            .map(DiscoverableKey::from)
            .collect();
        let result = self
            .webauthn
            .finish_discoverable_authentication(&credential, state, &keys)
            .map_err(refused)?;
        Ok(verified(result))
    }

    /// Verifies an assertion against a ceremony that named the account's passkeys.
    ///
    /// # Errors
    /// [`CeremonyError`].
    pub fn finish_login(
        &self,
        credential_json: &str,
        state_json: &str,
    ) -> Result<VerifiedAssertion, CeremonyError> {
        let credential = parse_assertion(credential_json)?;
        let state: PasskeyAuthentication = from_state(state_json)?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&credential, &state)
            .map_err(refused)?;
        Ok(verified(result))
    }
}

impl VerifiedAssertion {
    /// `passkey_json` with the assertion's counter applied, if this assertion was made by
    /// it and changed it; `None` otherwise.
    ///
    /// # Errors
    /// The stored passkey did not (de)serialise.
    /// [`CeremonyError::PossibleClone`] when the counter is not past the one stored now
    /// (the library compared it with the copy taken when the ceremony began, which a
    /// login finished meanwhile may have overtaken).
    pub fn updated(&self, passkey_json: &str) -> Result<Option<String>, CeremonyError> {
        let stored: serde_json::Value = from_state(passkey_json)?;
        let stored_counter = stored["cred"]["counter"].as_u64().unwrap_or(0);
        let counter = u64::from(self.result.counter());
        if (counter > 0 || stored_counter > 0) && counter <= stored_counter {
            return Err(CeremonyError::PossibleClone);
        }
        let mut passkey: Passkey = from_state(passkey_json)?;
        match passkey.update_credential(&self.result) {
            Some(true) => Ok(Some(to_json(&passkey)?)),
            _ => Ok(None),
        }
    }

    /// Whether the authenticator verified its user (PIN, biometrics).
    #[must_use]
    pub fn user_verified(&self) -> bool {
        self.result.user_verified()
    }
}

fn verified(result: AuthenticationResult) -> VerifiedAssertion {
    VerifiedAssertion {
        credential_id: URL_SAFE_NO_PAD.encode(result.cred_id().as_ref()),
        result,
    }
}

fn refused(error: WebauthnError) -> CeremonyError {
    match error {
        WebauthnError::CredentialPossibleCompromise => CeremonyError::PossibleClone,
        other => CeremonyError::Refused(other),
    }
}

fn parse_assertion(credential_json: &str) -> Result<PublicKeyCredential, CeremonyError> {
    serde_json::from_str(credential_json).map_err(|error| CeremonyError::Malformed(error.to_string()))
}

fn parse_passkeys(stored: &[String]) -> Result<Vec<Passkey>, CeremonyError> {
    stored.iter().map(|json| from_state(json)).collect()
}

fn from_state<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, CeremonyError> {
    serde_json::from_str(json).map_err(|error| CeremonyError::State(error.to_string()))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, CeremonyError> {
    serde_json::to_string(value).map_err(|error| CeremonyError::State(error.to_string()))
}

fn to_json_value<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, CeremonyError> {
    serde_json::to_value(value).map_err(|error| CeremonyError::State(error.to_string()))
}
