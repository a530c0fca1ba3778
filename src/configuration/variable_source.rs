//! Reading one variable at a time: each method parses one `IDENTITY_*` value into its
//! typed target and, on failure, names the variable. A blank value counts as unset.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use super::ConfigurationError;

/// Reads variables and parses them, naming the variable on failure.
pub(super) struct Source<'a> {
    pub(super) lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Source<'_> {
    pub(super) fn get(&self, variable: &str) -> Option<String> {
        (self.lookup)(variable).filter(|value| !value.trim().is_empty())
    }

    pub(super) fn value<T>(&self, variable: &'static str) -> Result<Option<T>, ConfigurationError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.get(variable)
            .map(|raw| {
                raw.trim().parse().map_err(|error: T::Err| ConfigurationError {
                    variable,
                    reason: error.to_string(),
                })
            })
            .transpose()
    }

    pub(super) fn parse<T>(&self, variable: &'static str, target: &mut T) -> Result<(), ConfigurationError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        if let Some(value) = self.value(variable)? {
            *target = value;
        }
        Ok(())
    }

    pub(super) fn text<T>(&self, variable: &'static str, target: &mut T) -> Result<(), ConfigurationError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.parse(variable, target)
    }

    pub(super) fn number<T>(&self, variable: &'static str, target: &mut T) -> Result<(), ConfigurationError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.parse(variable, target)
    }

    pub(super) fn path(
        &self,
        variable: &'static str,
        target: &mut PathBuf,
    ) -> Result<(), ConfigurationError> {
        self.parse(variable, target)
    }

    pub(super) fn optional_path(
        &self,
        variable: &'static str,
        target: &mut Option<PathBuf>,
    ) -> Result<(), ConfigurationError> {
        self.optional(variable, target)
    }

    pub(super) fn optional<T>(
        &self,
        variable: &'static str,
        target: &mut Option<T>,
    ) -> Result<(), ConfigurationError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        if let Some(value) = self.value(variable)? {
            *target = Some(value);
        }
        Ok(())
    }

    pub(super) fn secret(
        &self,
        variable: &'static str,
        target: &mut SecretString,
    ) -> Result<(), ConfigurationError> {
        if let Some(raw) = self.get(variable) {
            *target = SecretString::from(raw.trim().to_owned());
        }
        Ok(())
    }

    pub(super) fn optional_secret(
        &self,
        variable: &'static str,
        target: &mut Option<SecretString>,
    ) -> Result<(), ConfigurationError> {
        if let Some(raw) = self.get(variable) {
            *target = Some(SecretString::from(raw.trim().to_owned()));
        }
        Ok(())
    }

    pub(super) fn secs(
        &self,
        variable: &'static str,
        target: &mut Duration,
    ) -> Result<(), ConfigurationError> {
        if let Some(secs) = self.value(variable)? {
            *target = Duration::from_secs(secs);
        }
        Ok(())
    }

    pub(super) fn millis(
        &self,
        variable: &'static str,
        target: &mut Duration,
    ) -> Result<(), ConfigurationError> {
        if let Some(millis) = self.value(variable)? {
            *target = Duration::from_millis(millis);
        }
        Ok(())
    }

    /// Accepts the spellings operators use for a flag: on/off, true/false, 1/0, yes/no.
    pub(super) fn switch(&self, variable: &'static str, target: &mut bool) -> Result<(), ConfigurationError> {
        if let Some(raw) = self.get(variable) {
            *target = match raw.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => true,
                "off" | "false" | "0" | "no" => false,
                other => {
                    return Err(ConfigurationError {
                        variable,
                        reason: format!("expected on/off or true/false, got `{other}`"),
                    });
                }
            };
        }
        Ok(())
    }

    /// An address, or `off` for a listener the operator does not want.
    pub(super) fn address_or_off(
        &self,
        variable: &'static str,
        target: &mut Option<SocketAddr>,
    ) -> Result<(), ConfigurationError> {
        match self.get(variable) {
            Some(raw) if raw.trim().eq_ignore_ascii_case("off") => *target = None,
            Some(_) => *target = self.value(variable)?,
            None => {}
        }
        Ok(())
    }
}
