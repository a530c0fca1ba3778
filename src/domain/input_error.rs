//! Why a raw value was refused. The transport turns each into a field violation with
//! the reason DESIGN.md names; the `Display` text is the violation's description.

/// A value that did not parse into a domain type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("is required")]
    FieldRequired,
    #[error("is not a valid email address")]
    EmailInvalid,
    #[error("must be at least {min} characters long")]
    PasswordTooShort { min: usize },
    #[error("must be at most {max} characters long")]
    PasswordTooLong { max: usize },
    #[error("is too easy to guess: {feedback}")]
    PasswordTooWeak { feedback: String },
    #[error("is not a token this service issued")]
    TokenMalformed,
    #[error(
        "must be two or more dot-separated parts of a-z, 0-9 and _, at most 100 characters (billing.view_invoice)"
    )]
    PermissionInvalid,
    #[error("must be 1 to 64 characters of a-z, 0-9, _ and -")]
    GroupNameInvalid,
    #[error("must be events.watch, users.read or users.write")]
    ScopeInvalid,
    #[error("must be a six-digit code or a recovery code as it was shown (XXXXX-XXXXX)")]
    MfaCodeMalformed,
    #[error("is not a WebAuthn credential as the browser returns it (JSON)")]
    CredentialMalformed,
    #[error("is not the id of a passkey (a UUID)")]
    PasskeyIdInvalid,
}
