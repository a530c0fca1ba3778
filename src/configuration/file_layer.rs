//! The layered source behind [`Settings::load`](super::Settings::load): an optional
//! `identity.toml`, then `IDENTITY_*` variables on top (the environment wins), merged by
//! the `config` crate into the one lookup that `Settings::from_lookup` parses.
//!
//! A file key is its variable's name without `IDENTITY_`, lower-cased
//! (`grpc_addr = "0.0.0.0:50051"`). A key no setting reads is refused by name rather
//! than ignored: a typo in a file would otherwise silently leave a default in force.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};

/// The prefix of every variable; file keys go without it.
pub const VARIABLE_PREFIX: &str = "IDENTITY_";

/// The file read when neither `--config` nor `IDENTITY_CONFIG` names one, if it exists.
pub const DEFAULT_FILE: &str = "identity.toml";

/// Where a setting's effective value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Default,
    File,
    Environment,
}

/// A configuration that could not be read; start-up stops and names the key.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the configuration file {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: config::ConfigError,
    },
    #[error("unknown key `{key}` in {} (keys are the IDENTITY_* variable names without the prefix, lower-cased)", path.display())]
    UnknownKey { path: PathBuf, key: String },
    #[error("key `{key}` in {} must be a string, a number or a boolean", path.display())]
    NotAValue { path: PathBuf, key: String },
    #[error("invalid value for `{key}` in {}: {reason}", path.display())]
    InvalidInFile {
        path: PathBuf,
        key: String,
        reason: String,
    },
    #[error(transparent)]
    Invalid(#[from] super::ConfigurationError),
}

/// The merged values, keyed like the file.
#[derive(Debug, Default)]
pub struct LayeredSource {
    file: Option<PathBuf>,
    file_keys: Vec<String>,
    environment_keys: Vec<String>,
    values: BTreeMap<String, String>,
}

impl LayeredSource {
    /// Reads `file` (which must exist) or else `./identity.toml` if it exists, and lays
    /// the `IDENTITY_*` entries of `environment` over it.
    ///
    /// # Errors
    /// The file is missing (when named), unreadable, or holds a table or an array.
    pub fn load(file: Option<&Path>, environment: HashMap<String, String>) -> Result<Self, LoadError> {
        let file = match file {
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|path| path.is_file()),
        };
        let file_values = match &file {
            Some(path) => read_file(path)?,
            None => BTreeMap::new(),
        };
        let environment_values = read_environment(environment)?;
        let mut values = file_values.clone();
        values.extend(environment_values.clone());
        Ok(Self {
            file,
            file_keys: file_values.into_keys().collect(),
            environment_keys: environment_values.into_keys().collect(),
            values,
        })
    }

    /// The effective raw value of `variable` (`IDENTITY_GRPC_ADDR`), the lookup that
    /// `Settings::from_lookup` takes.
    pub fn lookup(&self, variable: &str) -> Option<String> {
        self.values.get(&file_key(variable)).cloned()
    }

    /// Which layer `variable`'s value comes from.
    pub fn origin(&self, variable: &str) -> Origin {
        let key = file_key(variable);
        if self.environment_keys.contains(&key) {
            Origin::Environment
        } else if self.file_keys.contains(&key) {
            Origin::File
        } else {
            Origin::Default
        }
    }

    /// The file that was read, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Refuses a file key that is not one of `variables`.
    ///
    /// # Errors
    /// The first unknown key.
    pub fn check_file_keys<'v>(&self, variables: impl Iterator<Item = &'v str>) -> Result<(), LoadError> {
        let Some(path) = &self.file else { return Ok(()) };
        let known: Vec<String> = variables.map(file_key).collect();
        match self.file_keys.iter().find(|key| !known.contains(key)) {
            Some(key) => Err(LoadError::UnknownKey {
                path: path.clone(),
                key: key.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Names the file key in an error about a value that came from the file.
    pub fn locate(&self, error: super::ConfigurationError) -> LoadError {
        match (&self.file, self.origin(error.variable)) {
            (Some(path), Origin::File) => LoadError::InvalidInFile {
                path: path.clone(),
                key: file_key(error.variable),
                reason: error.reason,
            },
            _ => LoadError::Invalid(error),
        }
    }
}

/// `IDENTITY_GRPC_ADDR` → `grpc_addr`.
pub fn file_key(variable: &str) -> String {
    variable
        .strip_prefix(VARIABLE_PREFIX)
        .unwrap_or(variable)
        .to_ascii_lowercase()
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, LoadError> {
    let unreadable = |source| LoadError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let layer = Config::builder()
        .add_source(File::from(path).format(FileFormat::Toml).required(true))
        .build()
        .map_err(unreadable)?;
    let table: config::Map<String, config::Value> = layer.try_deserialize().map_err(unreadable)?;
    table
        .into_iter()
        .map(|(key, value)| match value.into_string() {
            Ok(text) => Ok((key, text)),
            Err(_) => Err(LoadError::NotAValue {
                path: path.to_path_buf(),
                key,
            }),
        })
        .collect()
}

fn read_environment(environment: HashMap<String, String>) -> Result<BTreeMap<String, String>, LoadError> {
    let prefixed = environment
        .into_iter()
        .filter(|(name, _)| name.starts_with(VARIABLE_PREFIX))
        .collect();
    let invalid = |source: config::ConfigError| {
        LoadError::Invalid(super::ConfigurationError {
            variable: "IDENTITY_*",
            reason: source.to_string(),
        })
    };
    let layer = Config::builder()
        .add_source(Environment::with_prefix(VARIABLE_PREFIX.trim_end_matches('_')).source(Some(prefixed)))
        .build()
        .map_err(invalid)?;
    let table: config::Map<String, config::Value> = layer.try_deserialize().map_err(invalid)?;
    table
        .into_iter()
        .map(|(key, value)| Ok((key, value.into_string().map_err(invalid)?)))
        .collect()
}

impl super::Settings {
    /// The configuration `main` runs with: defaults, then the file (`file`, else
    /// `./identity.toml` if present), then the process's `IDENTITY_*` variables.
    ///
    /// # Errors
    /// An unreadable file, an unknown key, or a value that does not parse, named.
    pub fn load(file: Option<&Path>) -> Result<(Self, LayeredSource), LoadError> {
        let environment = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Self::load_from(file, environment)
    }

    /// [`Settings::load`] over a given environment.
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn load_from(
        file: Option<&Path>,
        environment: HashMap<String, String>,
    ) -> Result<(Self, LayeredSource), LoadError> {
        let source = LayeredSource::load(file, environment)?;
        source.check_file_keys(Self::variable_names())?;
        let settings =
            Self::from_lookup(|variable| source.lookup(variable)).map_err(|error| source.locate(error))?;
        Ok((settings, source))
    }

    /// Every variable `from_lookup` reads, in its order.
    pub fn variable_names() -> impl Iterator<Item = &'static str> {
        super::settings_table::SETTINGS
            .iter()
            .map(|setting| setting.variable)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::configuration::Settings;

    fn file_with(contents: &str) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::fs::write(file.path(), contents).unwrap();
        file
    }

    fn environment(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn file_values_apply_with_typed_toml_values() {
        let file = file_with(
            "grpc_addr = \"0.0.0.0:6000\"\nverification_token_ttl_secs = 30\nenumeration_protection = true\n",
        );

        let (settings, source) = Settings::load_from(Some(file.path()), environment(&[])).unwrap();

        assert_eq!(settings.grpc_addr.port(), 6000);
        assert_eq!(settings.tokens.verification_token_ttl.as_secs(), 30);
        assert!(settings.enumeration_protection);
        assert_eq!(source.origin("IDENTITY_GRPC_ADDR"), Origin::File);
        assert_eq!(source.origin("IDENTITY_JWT_ISSUER"), Origin::Default);
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let file = file_with("grpc_addr = \"0.0.0.0:6000\"\njwt_issuer = \"from-file\"\n");
        let env = environment(&[("IDENTITY_GRPC_ADDR", "127.0.0.1:7000"), ("UNRELATED", "x")]);

        let (settings, source) = Settings::load_from(Some(file.path()), env).unwrap();

        assert_eq!(settings.grpc_addr.port(), 7000);
        assert_eq!(settings.jwt.issuer, "from-file");
        assert_eq!(source.origin("IDENTITY_GRPC_ADDR"), Origin::Environment);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let file = file_with("grpc_adress = \"0.0.0.0:6000\"\n");

        let error = Settings::load_from(Some(file.path()), environment(&[])).unwrap_err();

        assert!(
            matches!(&error, LoadError::UnknownKey { key, .. } if key == "grpc_adress"),
            "{error}"
        );
        assert!(error.to_string().contains("grpc_adress"));
    }

    #[test]
    fn a_bad_value_in_the_file_names_its_key_and_the_file() {
        let file = file_with("public_url = \"::\"\n");

        let error = Settings::load_from(Some(file.path()), environment(&[])).unwrap_err();

        let message = error.to_string();
        assert!(
            matches!(&error, LoadError::InvalidInFile { key, .. } if key == "public_url"),
            "{message}"
        );
        assert!(message.contains(&file.path().display().to_string()), "{message}");
    }

    #[test]
    fn a_table_where_a_value_belongs_is_named() {
        let file = file_with("[jwt]\nissuer = \"x\"\n");

        let error = Settings::load_from(Some(file.path()), environment(&[])).unwrap_err();

        assert!(
            matches!(&error, LoadError::NotAValue { key, .. } if key == "jwt"),
            "{error}"
        );
    }

    #[test]
    fn a_named_file_that_does_not_exist_is_an_error() {
        let missing = Path::new("/nonexistent/identity.toml");

        let error = Settings::load_from(Some(missing), environment(&[])).unwrap_err();

        assert!(matches!(error, LoadError::Unreadable { .. }), "{error}");
    }

    #[test]
    fn variable_names_lists_what_from_lookup_reads() {
        let names: Vec<&str> = Settings::variable_names().collect();

        assert_eq!(names.first().copied(), Some("IDENTITY_GRPC_ADDR"));
        assert!(names.contains(&"IDENTITY_METRICS_ADDR"));
        assert!(names.iter().all(|name| name.starts_with(VARIABLE_PREFIX)));
    }
}
