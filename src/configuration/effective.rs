//! The effective configuration as `identity config` prints it: one `key = value` line per
//! setting, in `identity.toml` form, with where the value came from and every secret
//! masked (URL passwords and credential-like query parameters).

use std::fmt::Write as _;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::Settings;
use super::file_layer::{LayeredSource, Origin, file_key};
use super::settings_table::SETTINGS;

/// What replaces a secret.
pub const MASK: &str = "****";

/// One rendered value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rendered {
    Text(String),
    Number(u64),
    Flag(bool),
    Unset,
}

/// The whole printout: a header naming the file, then every setting `from_lookup` reads.
pub fn render(settings: &Settings, source: &LayeredSource) -> String {
    let values = rendered_values(settings);
    let mut out = String::from("# identity: effective configuration (secrets masked)\n");
    let file = source
        .file()
        .map_or_else(|| "none".to_owned(), |path| path.display().to_string());
    let _ = writeln!(out, "# file: {file}");
    for variable in Settings::variable_names() {
        let key = file_key(variable);
        let origin = match source.origin(variable) {
            Origin::Default => "default",
            Origin::File => "file",
            Origin::Environment => "environment",
        };
        let line = match values.iter().find(|(name, _)| *name == variable) {
            Some((_, Rendered::Text(text))) => format!("{key} = {}", toml_string(text)),
            Some((_, Rendered::Number(number))) => format!("{key} = {number}"),
            Some((_, Rendered::Flag(flag))) => format!("{key} = {flag}"),
            Some((_, Rendered::Unset)) => format!("# {key} is not set"),
            None => format!("# {key} = (not shown)"),
        };
        let _ = writeln!(out, "{line:<60} # {origin}");
    }
    out
}

/// Each variable with its value in `settings`, secrets masked.
pub fn rendered_values(settings: &Settings) -> Vec<(&'static str, Rendered)> {
    SETTINGS
        .iter()
        .map(|setting| (setting.variable, setting.show(settings)))
        .collect()
}

/// The settings table of the README: every variable, its default and what it does, in
/// `identity config --list`'s Markdown.
pub fn markdown_table() -> String {
    let defaults = Settings::default();
    let mut out = String::from("| variable | default | what it does |\n|---|---|---|\n");
    for setting in SETTINGS {
        let default = match setting.show(&defaults) {
            _ if setting.default_described.is_some() => {
                setting.default_described.unwrap_or_default().to_owned()
            }
            Rendered::Text(text) if text.is_empty() => "empty".to_owned(),
            Rendered::Text(text) => format!("`{text}`"),
            Rendered::Number(number) => format!("`{number}`"),
            Rendered::Flag(flag) => format!("`{flag}`"),
            Rendered::Unset => "unset".to_owned(),
        };
        let _ = writeln!(out, "| `{}` | {default} | {} |", setting.variable, setting.about);
    }
    out
}

/// The URL with its password and credential-like query values replaced by [`MASK`];
/// anything that does not parse as a URL is masked whole.
pub fn masked_url(secret: &SecretString) -> String {
    let Ok(mut url) = Url::parse(secret.expose_secret()) else {
        return MASK.to_owned();
    };
    if url.password().is_some() && url.set_password(Some(MASK)).is_err() {
        return MASK.to_owned();
    }
    let sensitive = |name: &str| {
        let name = name.to_ascii_lowercase();
        ["pass", "secret", "token", "key", "auth"]
            .iter()
            .any(|word| name.contains(word))
    };
    if url.query_pairs().any(|(name, _)| sensitive(&name)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if sensitive(&name) {
                    MASK.to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// A TOML string for any text, control characters included, written by the TOML
/// crates' own writer rather than escaped by hand.
fn toml_string(text: &str) -> String {
    use toml_writer::TomlWrite as _;
    let mut quoted = String::with_capacity(text.len() + 2);
    // Writing into a String cannot fail.
    let _ = quoted.value(text);
    quoted
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn any_text_is_written_as_toml_that_reads_back_the_same() {
        for text in [
            "plain",
            "quote \" and \\ back",
            "tab\tnew\nline",
            "bell\u{7} del\u{7f} \u{1b}[31m",
        ] {
            let document = format!("key = {}", toml_string(text));
            let parsed = config::Config::builder()
                .add_source(config::File::from_str(&document, config::FileFormat::Toml))
                .build()
                .unwrap();
            assert_eq!(parsed.get_string("key").unwrap(), text, "{document}");
        }
    }

    #[test]
    fn every_setting_is_named_once() {
        let mut variables: Vec<&str> = Settings::variable_names().collect();
        let count = variables.len();
        variables.sort_unstable();
        variables.dedup();
        assert_eq!(variables.len(), count, "a variable is listed twice in SETTINGS");
        assert!(variables.iter().all(|variable| variable.starts_with("IDENTITY_")));
    }

    /// The README's table is `identity config --list`'s output between its markers: a
    /// setting added, renamed or re-documented in `SETTINGS` fails here until the README
    /// says the same.
    #[test]
    fn the_readme_lists_every_setting_as_the_table_says() {
        let readme = include_str!("../../README.md");
        let begin = "<!-- settings table: identity config --list -->\n";
        let end = "<!-- end of settings table -->";
        let start = readme.find(begin).expect("the README marks its settings table") + begin.len();
        let stop = readme[start..].find(end).expect("the table's end marker") + start;
        assert_eq!(
            &readme[start..stop],
            markdown_table(),
            "README.md's settings table is out of date: paste `identity config --list`"
        );
    }

    #[test]
    fn passwords_and_credential_parameters_are_masked() {
        let cases = [
            (
                "postgres://app:hunter2@db:5432/identity",
                "postgres://app:****@db:5432/identity",
            ),
            (
                "smtp://apikey:s3cr3t@mail.example.com:587",
                "smtp://apikey:****@mail.example.com:587",
            ),
            ("redis://:r3d1s@cache:6379/0", "redis://:****@cache:6379/0"),
            ("sqlite://identity.db?mode=rwc", "sqlite://identity.db?mode=rwc"),
            (
                "postgres://db/identity?password=hunter2&sslmode=require",
                "postgres://db/identity?password=****&sslmode=require",
            ),
            ("not a url with hunter2", MASK),
        ];
        for (url, expected) in cases {
            assert_eq!(masked_url(&SecretString::from(url)), expected, "{url}");
        }
    }
}
