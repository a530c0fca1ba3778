//! The console's templates: minijinja, with the rules the emails follow
//! (`email_templates::template_environment`: `*.html` auto-escaped, strict undefined),
//! sources embedded from `templates/console/` so the binary reads no template directory
//! at run time. The pages' values live in `views`.

use std::sync::LazyLock;

use anyhow::Context;
use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;

use crate::email::email_templates::template_environment;

// Embedded at compile time, as the email templates are; names keep the `console/`
// prefix the templates' `{% extends %}` use.
macro_rules! embedded_templates {
    ($($name:literal),* $(,)?) => {
        [$((concat!("console/", $name), include_str!(concat!("../../templates/console/", $name)))),*]
    };
}

const TEMPLATES: [(&str, &str); 14] = embedded_templates![
    "layout.html",
    "signed_in.html",
    "sign_in.html",
    "sign_in_second_factor.html",
    "error.html",
    "users.html",
    "user_new.html",
    "user_detail.html",
    "user_delete.html",
    "audit.html",
    "groups.html",
    "group_detail.html",
    "group_delete.html",
    "service_accounts.html",
];

// Parsed once and shared by every request: the sources are compiled in, so there is
// nothing to reload, and a handler (or an error page) needs no state to reach them.
static PAGES: LazyLock<Result<Environment<'static>, Error>> = LazyLock::new(load);

fn load() -> Result<Environment<'static>, Error> {
    // No trim_blocks here, unlike the emails: the pages keep the whitespace they had
    // under askama, byte for byte.
    let mut env = template_environment();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

/// Parses every template now, so a broken one stops the console at start-up instead of
/// failing its first request.
///
/// # Errors
/// A template does not parse (also caught by the unit tests).
pub fn check() -> anyhow::Result<()> {
    PAGES
        .as_ref()
        .map(|_| ())
        .context("the console's templates do not parse")
}

/// The template `name` rendered with `values`.
///
/// # Errors
/// The templates did not parse, or this one failed to render (a template bug).
pub fn render(name: &str, values: &impl Serialize) -> Result<String, Error> {
    let Ok(pages) = PAGES.as_ref() else {
        // The parse error itself was reported by `check` at start-up.
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "the console's templates do not parse",
        ));
    };
    pages.get_template(name)?.render(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_parses() {
        assert!(check().is_ok(), "{:?}", PAGES.as_ref().err());
    }

    #[test]
    fn an_unknown_template_is_an_error_not_an_empty_page() {
        assert!(render("console/missing.html", &()).is_err());
    }
}
