//! The one normal form of an email address: what makes two spellings one account.
//!
//! Look-alike addresses are an account-takeover and phishing tool: if `café@x` typed with
//! a combining accent and `café@x` typed precomposed, or `u@bücher.example` and
//! `u@xn--bcher-kva.example`, were two accounts, a second signup could squat on a
//! victim's identity, and a zero-width space or a bidi override would make two addresses
//! that print the same. So:
//!
//! 1. surrounding white space is trimmed;
//! 2. control, format (zero-width, bidi overrides, soft hyphen, BOM), private-use,
//!    unassigned and line or paragraph separator characters are refused outright: no
//!    mailbox needs them, and silently dropping them would hide an attack;
//! 3. the address is put in Unicode NFC and lower-cased (local part included: no
//!    mainstream provider distinguishes case), then NFC again, since lower-casing can
//!    leave a decomposed sequence;
//! 4. the domain goes through UTS #46 to its ASCII (A-label, `xn--…`) form, strictly
//!    (STD3 letters, digits and hyphens, DNS lengths), so every spelling of one domain is
//!    one string;
//! 5. the result must be an RFC 5321/6531 address (a maintained parser checks it) of at
//!    most 254 octets, without a display name or an IP literal, with a dotted domain.
//!
//! Normalising a normalised address gives it back unchanged.

use std::fmt;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// RFC 5321's limit on a forward path, which is what an address must fit in to be usable.
pub const MAX_LENGTH: usize = 254;

/// Why an address was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailRejection {
    /// Nothing but white space.
    Blank,
    /// Not an address a mail server accepts, or one that hides characters.
    Invalid,
}

impl fmt::Display for EmailRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Blank => "is required",
            Self::Invalid => "is not a valid email address",
        })
    }
}

/// The normal form of `raw`.
///
/// # Errors
/// [`EmailRejection::Blank`] when nothing is left after trimming,
/// [`EmailRejection::Invalid`] for everything that is not a usable, visible address.
pub fn normalise(raw: &str) -> Result<String, EmailRejection> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(EmailRejection::Blank);
    }
    if trimmed.chars().any(is_hidden) {
        return Err(EmailRejection::Invalid);
    }
    let folded: String = trimmed.nfc().collect::<String>().to_lowercase().nfc().collect();
    let (local, domain) = folded.rsplit_once('@').ok_or(EmailRejection::Invalid)?;
    let domain = Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::Check,
            DnsLength::Verify,
        )
        .map_err(|_| EmailRejection::Invalid)?;
    // A dotted domain keeps out typos like `bob@gmail`; UTS #46 accepts a root dot.
    if !domain.contains('.') || domain.ends_with('.') {
        return Err(EmailRejection::Invalid);
    }
    let normalised = format!("{local}@{domain}");
    if normalised.len() > MAX_LENGTH {
        return Err(EmailRejection::Invalid);
    }
    // Display names ("Bob <bob@x>") and IP literals are valid RFC 5322 but no signup form
    // means them.
    let options = email_address::Options::default()
        .without_display_text()
        .without_domain_literal();
    email_address::EmailAddress::parse_with_options(&normalised, options)
        .map_err(|_| EmailRejection::Invalid)?;
    Ok(normalised)
}

/// A character that changes what an address is without showing: controls (C0, C1),
/// format characters (zero-width joiners and spaces, bidi overrides and isolates, soft
/// hyphen, BOM), private use, unassigned code points, line and paragraph separators.
fn is_hidden(character: char) -> bool {
    matches!(
        character.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    fn normal(raw: &str) -> String {
        match normalise(raw) {
            Ok(normalised) => normalised,
            Err(rejection) => panic!("{raw:?} refused: {rejection:?}"),
        }
    }

    #[test]
    fn case_white_space_and_unicode_forms_fold_into_one_address() {
        let cases = [
            ("  Alice.Smith@Example.COM \n", "alice.smith@example.com"),
            ("cafe\u{301}@example.com", "caf\u{e9}@example.com"),
            ("CAF\u{c9}@example.com", "caf\u{e9}@example.com"),
            ("u@b\u{fc}cher.example", "u@xn--bcher-kva.example"),
            ("u@B\u{dc}CHER.example", "u@xn--bcher-kva.example"),
            ("u@xn--bcher-kva.example", "u@xn--bcher-kva.example"),
            ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org"),
        ];
        for (raw, expected) in cases {
            assert_eq!(normal(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn hidden_characters_are_refused_not_dropped() {
        let cases = [
            ("zero width space", "ali\u{200b}ce@example.com"),
            ("zero width joiner", "ali\u{200d}ce@example.com"),
            ("right-to-left override", "ali\u{202e}ce@example.com"),
            ("left-to-right isolate", "alice@exa\u{2066}mple.com"),
            ("soft hyphen", "ali\u{ad}ce@example.com"),
            ("byte order mark", "\u{feff}alice@example.com"),
            ("C1 control", "ali\u{85}ce@example.com"),
            ("C0 control", "ali\u{7}ce@example.com"),
            ("private use", "ali\u{e000}ce@example.com"),
            ("unassigned", "ali\u{378}ce@example.com"),
            ("line separator", "ali\u{2028}ce@example.com"),
        ];
        for (why, raw) in cases {
            assert_eq!(normalise(raw), Err(EmailRejection::Invalid), "{why}");
        }
    }

    #[test]
    fn what_is_not_an_address_is_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        let cases = [
            ("plainaddress", "no @"),
            ("@example.com", "no local part"),
            ("bob@", "no domain"),
            ("bob@example", "domain without a dot"),
            ("bob@example.com.", "root dot"),
            ("bob@@example.com", "two @"),
            ("Bob <bob@example.com>", "display name"),
            ("bob@[127.0.0.1]", "domain literal"),
            ("bob smith@example.com", "space in local part"),
            ("bob@exa_mple.com", "underscore in domain"),
            ("bob@-example.com", "leading hyphen"),
            (long.as_str(), "longer than 254 octets"),
        ];
        for (raw, why) in cases {
            assert_eq!(normalise(raw), Err(EmailRejection::Invalid), "{why}: {raw}");
        }
        assert_eq!(normalise(" \t "), Err(EmailRejection::Blank));
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        let samples = [
            "  User1.Name_7@Mail3.Example.com ",
            "\u{130}stanbul@example.com",
            "\u{3a3}\u{3a3}@example.com",
            "ma\u{df}e@stra\u{df}e.example",
            "x@\u{2167}.example",
            "\u{1e9e}@example.com",
        ];
        for raw in samples {
            if let Ok(once) = normalise(raw) {
                assert_eq!(normalise(&once), Ok(once.clone()), "{raw:?}");
            }
        }
    }
}
