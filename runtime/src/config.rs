//! Configuration with Flink's dotted keys.
//!
//! A [`Configuration`] is a map of string values; typed getters validate a value when it is
//! read and name the key in their error. [`Configuration::validate`] checks every known key
//! once at start, so a typo stops the job before it runs; unknown keys are logged as warnings,
//! as Flink does.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};

/// Default parallelism of operators that set none.
pub const PARALLELISM_DEFAULT: &str = "parallelism.default";
/// Max parallelism (number of key groups) of keyed operators that set none.
pub const MAX_PARALLELISM: &str = "pipeline.max-parallelism";
/// How long an output buffer may wait before it is flushed (Flink: `execution.buffer-timeout`).
pub const BUFFER_TIMEOUT: &str = "execution.buffer-timeout.interval";
/// Interval of periodic watermark emission.
pub const AUTO_WATERMARK_INTERVAL: &str = "pipeline.auto-watermark-interval";
/// Records per exchange buffer (Strom-specific; Flink sizes buffers in bytes).
pub const BUFFER_RECORDS: &str = "taskmanager.network.buffer-records";
/// Buffers per channel between two tasks.
pub const BUFFERS_PER_CHANNEL: &str = "taskmanager.network.buffers-per-channel";

/// Checks the value of one key.
type Check = fn(&Configuration, &str) -> Result<()>;

/// Keys this component understands, with a checker for their values.
const KNOWN_KEYS: &[(&str, Check)] = &[
    (PARALLELISM_DEFAULT, |c, k| c.get_positive(k).map(drop)),
    (MAX_PARALLELISM, |c, k| c.get_positive(k).map(drop)),
    (BUFFER_TIMEOUT, |c, k| c.get_duration(k).map(drop)),
    (AUTO_WATERMARK_INTERVAL, |c, k| c.get_duration(k).map(drop)),
    (BUFFER_RECORDS, |c, k| c.get_positive(k).map(drop)),
    (BUFFERS_PER_CHANNEL, |c, k| c.get_positive(k).map(drop)),
];

/// Flink-style configuration: dotted keys to string values.
///
/// ```
/// use strom_runtime::Configuration;
/// let mut conf = Configuration::default();
/// conf.set_from_arg("parallelism.default=4").unwrap();
/// assert_eq!(conf.get_positive("parallelism.default").unwrap(), Some(4));
/// assert!(conf.set_from_arg("no-equals-sign").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Configuration {
    values: BTreeMap<String, String>,
}

impl Configuration {
    /// Sets `key` to `value`.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.values.insert(key.into(), value.into());
    }

    /// Parses `key=value` (the argument of `-D`).
    pub fn set_from_arg(&mut self, arg: &str) -> Result<()> {
        match arg.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                self.set(k.trim(), v.trim());
                Ok(())
            }
            _ => Err(Error::Usage(format!("-D expects key=value, got '{arg}'"))),
        }
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// All entries, sorted by key.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A positive integer, or `None` when unset.
    pub fn get_positive(&self, key: &str) -> Result<Option<u32>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        match v.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(Error::config(key, format!("expected a positive integer, got '{v}'"))),
        }
    }

    /// A duration such as `100 ms`, `5 s`, `1min` or a bare number of milliseconds.
    pub fn get_duration(&self, key: &str) -> Result<Option<Duration>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        parse_duration(v).map(Some).map_err(|m| Error::config(key, m))
    }

    /// Checks every known key; logs unknown keys as warnings.
    pub fn validate(&self) -> Result<()> {
        for (key, _) in self.entries() {
            match KNOWN_KEYS.iter().find(|(k, _)| *k == key) {
                Some((_, check)) => check(self, key)?,
                None => tracing::warn!(key, "unknown configuration key; ignoring it"),
            }
        }
        Ok(())
    }
}

/// Parses Flink's duration syntax: a number followed by an optional unit
/// (`ms`, `s`, `min`, `h`, `d` and their long forms); no unit means milliseconds.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("expected a duration like '100 ms', got '{text}'"))?;
    let ms = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        other => return Err(format!("unknown time unit '{other}' in '{text}' (accepted: ms, s, min, h, d)")),
    };
    Ok(Duration::from_millis(n.saturating_mul(ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_flink() {
        assert_eq!(parse_duration("100 ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2 min"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5 parsecs").unwrap_err().contains("unknown time unit"));
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn invalid_values_name_the_key() {
        let mut c = Configuration::default();
        c.set(PARALLELISM_DEFAULT, "zero");
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("parallelism.default"), "{err}");
        c.set(PARALLELISM_DEFAULT, "0");
        assert!(c.validate().is_err());
        c.set(PARALLELISM_DEFAULT, "3");
        c.set("some.unknown.key", "x");
        assert!(c.validate().is_ok());
    }
}
