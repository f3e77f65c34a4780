//! Configuration with Flink's dotted keys.
//!
//! A [`Configuration`] is a map of string values; typed getters validate a value when it is
//! read and name the key in their error. [`Configuration::validate`] checks every known key
//! once at start, so a typo stops the job before it runs; unknown keys are logged as warnings,
//! as Flink does.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::job::restart;

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

/// The state backend: `hashmap` (default) or `rocksdb`.
pub const STATE_BACKEND: &str = "state.backend.type";
/// Whether checkpoints upload only what changed since the previous one (default `false`).
pub const INCREMENTAL_CHECKPOINTS: &str = "state.backend.incremental";
/// Local working directory of RocksDB instances (default: the first of [`TMP_DIRS`]).
pub const ROCKSDB_LOCAL_DIR: &str = "state.backend.rocksdb.localdir";
/// Local directories for temporary files, separated by `,` or `:` (default: the system's).
pub const TMP_DIRS: &str = "io.tmp.dirs";
/// Where completed checkpoints are stored (no default).
pub const CHECKPOINTS_DIRECTORY: &str = "state.checkpoints.dir";
/// Where savepoints are stored when no path is given (no default).
pub const SAVEPOINT_DIRECTORY: &str = "state.savepoints.dir";
/// How many completed checkpoints to keep (default 1).
pub const MAX_RETAINED_CHECKPOINTS: &str = "state.checkpoints.num-retained";
/// Interval between checkpoints; checkpointing is disabled when unset.
pub const CHECKPOINTING_INTERVAL: &str = "execution.checkpointing.interval";
/// How long a checkpoint may take before it is discarded (default 10 min).
pub const CHECKPOINTING_TIMEOUT: &str = "execution.checkpointing.timeout";
/// Minimal pause between the end of one checkpoint and the start of the next (default 0).
pub const MIN_PAUSE_BETWEEN_CHECKPOINTS: &str = "execution.checkpointing.min-pause";
/// How many checkpoints may be in progress at once (default 1).
pub const MAX_CONCURRENT_CHECKPOINTS: &str = "execution.checkpointing.max-concurrent-checkpoints";
/// How many consecutive checkpoint failures the job tolerates before it fails (default 0).
pub const TOLERABLE_FAILURE_NUMBER: &str = "execution.checkpointing.tolerable-failed-checkpoints";

/// The restart strategy: `none` (also `off`, `disable`), `fixed-delay` (`fixeddelay`),
/// `failure-rate` (`failurerate`) or `exponential-delay` (`exponentialdelay`). When unset:
/// `exponential-delay` with its default options if checkpointing is enabled, else `none`.
pub const RESTART_STRATEGY: &str = "restart-strategy.type";
/// Flink's deprecated name of [`RESTART_STRATEGY`], read when that key is unset.
pub(crate) const RESTART_STRATEGY_DEPRECATED: &str = "restart-strategy";
/// `fixed-delay`: how many restarts before the job fails (default 1; 0 never restarts).
pub const RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS: &str = "restart-strategy.fixed-delay.attempts";
/// `fixed-delay`: the delay before each restart (default 1 s).
pub const RESTART_STRATEGY_FIXED_DELAY_DELAY: &str = "restart-strategy.fixed-delay.delay";
/// `failure-rate`: the most failures per interval that still restart (default 1).
pub const RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL: &str = "restart-strategy.failure-rate.max-failures-per-interval";
/// `failure-rate`: the sliding interval failures are counted in (default 1 min).
pub const RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL: &str = "restart-strategy.failure-rate.failure-rate-interval";
/// `failure-rate`: the delay before each restart (default 1 s).
pub const RESTART_STRATEGY_FAILURE_RATE_DELAY: &str = "restart-strategy.failure-rate.delay";
/// `exponential-delay`: the delay before the first restart (default 1 s).
pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF: &str = "restart-strategy.exponential-delay.initial-backoff";
/// `exponential-delay`: the longest delay (default 1 min).
pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF: &str = "restart-strategy.exponential-delay.max-backoff";
/// `exponential-delay`: what the delay is multiplied by after each restart (default 1.5; must be > 1).
pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER: &str = "restart-strategy.exponential-delay.backoff-multiplier";
/// `exponential-delay`: how long the job must run without failure to reset the delay (default 1 h).
pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD: &str = "restart-strategy.exponential-delay.reset-backoff-threshold";
/// `exponential-delay`: random variation of each delay, as a fraction of it (default 0.1; 0 to 1).
pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR: &str = "restart-strategy.exponential-delay.jitter-factor";
/// `exponential-delay`: how many restarts before the job fails; the count resets with the
/// delay (default unbounded).
pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS: &str = "restart-strategy.exponential-delay.attempts-before-reset-backoff";

/// Flink's default values of the keys above that have one, under the same names.
///
/// ```
/// use std::time::Duration;
/// use strom_runtime::keys::defaults;
/// assert_eq!(defaults::CHECKPOINTING_TIMEOUT, Duration::from_secs(600));
/// assert_eq!(defaults::RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER, 1.5);
/// ```
pub mod defaults {
    use std::time::Duration;

    /// Default of [`STATE_BACKEND`](super::STATE_BACKEND).
    pub const STATE_BACKEND: &str = "hashmap";
    /// Default of [`INCREMENTAL_CHECKPOINTS`](super::INCREMENTAL_CHECKPOINTS).
    pub const INCREMENTAL_CHECKPOINTS: bool = false;
    /// Default of [`MAX_RETAINED_CHECKPOINTS`](super::MAX_RETAINED_CHECKPOINTS).
    pub const MAX_RETAINED_CHECKPOINTS: u32 = 1;
    /// Default of [`CHECKPOINTING_TIMEOUT`](super::CHECKPOINTING_TIMEOUT).
    pub const CHECKPOINTING_TIMEOUT: Duration = Duration::from_secs(10 * 60);
    /// Default of [`MIN_PAUSE_BETWEEN_CHECKPOINTS`](super::MIN_PAUSE_BETWEEN_CHECKPOINTS).
    pub const MIN_PAUSE_BETWEEN_CHECKPOINTS: Duration = Duration::ZERO;
    /// Default of [`MAX_CONCURRENT_CHECKPOINTS`](super::MAX_CONCURRENT_CHECKPOINTS).
    pub const MAX_CONCURRENT_CHECKPOINTS: u32 = 1;
    /// Default of [`TOLERABLE_FAILURE_NUMBER`](super::TOLERABLE_FAILURE_NUMBER).
    pub const TOLERABLE_FAILURE_NUMBER: u32 = 0;
    /// Default of [`RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS`](super::RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS).
    pub const RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS: u32 = 1;
    /// Default of [`RESTART_STRATEGY_FIXED_DELAY_DELAY`](super::RESTART_STRATEGY_FIXED_DELAY_DELAY).
    pub const RESTART_STRATEGY_FIXED_DELAY_DELAY: Duration = Duration::from_secs(1);
    /// Default of
    /// [`RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL`](super::RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL).
    pub const RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL: u32 = 1;
    /// Default of [`RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL`](super::RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL).
    pub const RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL: Duration = Duration::from_secs(60);
    /// Default of [`RESTART_STRATEGY_FAILURE_RATE_DELAY`](super::RESTART_STRATEGY_FAILURE_RATE_DELAY).
    pub const RESTART_STRATEGY_FAILURE_RATE_DELAY: Duration = Duration::from_secs(1);
    /// Default of [`RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF`](super::RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF).
    pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
    /// Default of [`RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF`](super::RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF).
    pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF: Duration = Duration::from_secs(60);
    /// Default of [`RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER`](super::RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER).
    pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER: f64 = 1.5;
    /// Default of
    /// [`RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD`](super::RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD).
    pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD: Duration = Duration::from_secs(60 * 60);
    /// Default of [`RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR`](super::RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR).
    pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR: f64 = 0.1;
    /// Default of [`RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS`](super::RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS):
    /// unbounded (Flink: `Integer.MAX_VALUE`).
    pub const RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS: Option<u32> = None;
}

/// Accepted values of [`STATE_BACKEND`].
pub(crate) const STATE_BACKENDS: &[&str] = &["hashmap", "rocksdb"];

/// Checks the value of one key (see [`Configuration::validate_with`]).
pub type Check = fn(&Configuration, &str) -> Result<()>;

/// Keys this component understands, with a checker for their values.
const KNOWN_KEYS: &[(&str, Check)] = &[
    (PARALLELISM_DEFAULT, |c, k| c.get_positive(k).map(drop)),
    (MAX_PARALLELISM, |c, k| c.get_positive(k).map(drop)),
    (BUFFER_TIMEOUT, |c, k| c.get_duration(k).map(drop)),
    (AUTO_WATERMARK_INTERVAL, |c, k| c.get_duration(k).map(drop)),
    (BUFFER_RECORDS, |c, k| c.get_positive(k).map(drop)),
    (BUFFERS_PER_CHANNEL, |c, k| c.get_positive(k).map(drop)),
    (STATE_BACKEND, |c, k| c.get_enum(k, STATE_BACKENDS).map(drop)),
    (INCREMENTAL_CHECKPOINTS, |c, k| c.get_bool(k).map(drop)),
    (ROCKSDB_LOCAL_DIR, |_, _| Ok(())),
    (TMP_DIRS, |_, _| Ok(())),
    (CHECKPOINTS_DIRECTORY, |_, _| Ok(())),
    (SAVEPOINT_DIRECTORY, |_, _| Ok(())),
    (MAX_RETAINED_CHECKPOINTS, |c, k| c.get_positive(k).map(drop)),
    (CHECKPOINTING_INTERVAL, |c, k| c.get_duration(k).map(drop)),
    (CHECKPOINTING_TIMEOUT, |c, k| c.get_positive_duration(k).map(drop)),
    (MIN_PAUSE_BETWEEN_CHECKPOINTS, |c, k| c.get_duration(k).map(drop)),
    (MAX_CONCURRENT_CHECKPOINTS, |c, k| c.get_positive(k).map(drop)),
    (TOLERABLE_FAILURE_NUMBER, |c, k| c.get_non_negative(k).map(drop)),
    (RESTART_STRATEGY, |c, k| c.get_enum(k, restart::STRATEGY_NAMES).map(drop)),
    (RESTART_STRATEGY_DEPRECATED, |c, k| {
        tracing::warn!(key = k, replacement = RESTART_STRATEGY, "deprecated configuration key");
        c.get_enum(k, restart::STRATEGY_NAMES).map(drop)
    }),
    (RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, |c, k| c.get_non_negative(k).map(drop)),
    (RESTART_STRATEGY_FIXED_DELAY_DELAY, |c, k| c.get_duration(k).map(drop)),
    (RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL, |c, k| c.get_positive(k).map(drop)),
    (RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL, |c, k| c.get_positive_duration(k).map(drop)),
    (RESTART_STRATEGY_FAILURE_RATE_DELAY, |c, k| c.get_duration(k).map(drop)),
    (RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF, |c, k| c.get_positive_duration(k).map(drop)),
    (RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF, |c, k| c.get_positive_duration(k).map(drop)),
    (RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER, |c, _| restart::backoff_multiplier(c).map(drop)),
    (RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD, |c, k| c.get_positive_duration(k).map(drop)),
    (RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR, |c, _| restart::jitter_factor(c).map(drop)),
    (RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS, |c, k| c.get_positive(k).map(drop)),
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

    /// A positive 64-bit integer (sizes in bytes), or `None` when unset.
    pub fn get_positive_u64(&self, key: &str) -> Result<Option<u64>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(Error::config(key, format!("expected a positive integer, got '{v}'"))),
        }
    }

    /// A duration such as `100 ms`, `5 s`, `1min` or a bare number of milliseconds.
    pub fn get_duration(&self, key: &str) -> Result<Option<Duration>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        parse_duration(v).map(Some).map_err(|m| Error::config(key, m))
    }

    /// A duration longer than zero, or `None` when unset.
    pub fn get_positive_duration(&self, key: &str) -> Result<Option<Duration>> {
        match self.get_duration(key)? {
            Some(d) if d.is_zero() => {
                Err(Error::config(key, format!("expected a positive duration, got '{}'", self.get(key).unwrap_or_default())))
            }
            other => Ok(other),
        }
    }

    /// A non-negative integer, or `None` when unset.
    pub fn get_non_negative(&self, key: &str) -> Result<Option<u32>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        v.trim().parse::<u32>().map(Some).map_err(|_| Error::config(key, format!("expected a non-negative integer, got '{v}'")))
    }

    /// A finite number such as `1.5`, or `None` when unset.
    pub fn get_f64(&self, key: &str) -> Result<Option<f64>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        match v.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(Error::config(key, format!("expected a number, got '{v}'"))),
        }
    }

    /// `true` or `false` (any case, as in Flink), or `None` when unset.
    ///
    /// ```
    /// use strom_runtime::{keys, Configuration};
    /// let mut conf = Configuration::default();
    /// conf.set(keys::INCREMENTAL_CHECKPOINTS, "TRUE");
    /// assert_eq!(conf.get_bool(keys::INCREMENTAL_CHECKPOINTS).unwrap(), Some(true));
    /// conf.set(keys::INCREMENTAL_CHECKPOINTS, "yes");
    /// assert!(conf.get_bool(keys::INCREMENTAL_CHECKPOINTS).is_err());
    /// ```
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(Error::config(key, format!("expected true or false, got '{v}'"))),
        }
    }

    /// One of `accepted`, matched ignoring ASCII case as Flink matches enum values, returned
    /// in its accepted spelling; `None` when unset. The error lists the accepted values and
    /// suggests the closest one (see [`suggest`]).
    ///
    /// ```
    /// use strom_runtime::{keys, Configuration};
    /// let mut conf = Configuration::default();
    /// conf.set(keys::STATE_BACKEND, "RocksDB");
    /// assert_eq!(conf.get_enum(keys::STATE_BACKEND, &["hashmap", "rocksdb"]).unwrap(), Some("rocksdb"));
    /// conf.set(keys::STATE_BACKEND, "rockdb");
    /// assert_eq!(
    ///     conf.get_enum(keys::STATE_BACKEND, &["hashmap", "rocksdb"]).unwrap_err().to_string(),
    ///     "invalid configuration for 'state.backend.type': unknown value 'rockdb' \
    ///      (accepted: hashmap, rocksdb); did you mean rocksdb?"
    /// );
    /// ```
    pub fn get_enum<'a>(&self, key: &str, accepted: &[&'a str]) -> Result<Option<&'a str>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        let v = v.trim();
        if let Some(found) = accepted.iter().find(|a| a.eq_ignore_ascii_case(v)) {
            return Ok(Some(*found));
        }
        let mut message = format!("unknown value '{v}' (accepted: {})", accepted.join(", "));
        if let Some(close) = suggest(v, accepted) {
            message.push_str(&format!("; did you mean {close}?"));
        }
        Err(Error::config(key, message))
    }

    /// Checks every known key; logs unknown keys as warnings.
    pub fn validate(&self) -> Result<()> {
        self.validate_with(&[])
    }

    /// Checks every key the runtime knows and those of `extra` (a process's own keys); logs
    /// unknown keys as warnings.
    ///
    /// ```
    /// use strom_runtime::Configuration;
    /// let mut conf = Configuration::default();
    /// conf.set("rest.port", "http");
    /// let port: strom_runtime::config::Check = |c, k| c.get_non_negative(k).map(drop);
    /// assert!(conf.validate().is_ok(), "unknown keys only warn");
    /// assert!(conf.validate_with(&[("rest.port", port)]).unwrap_err().to_string().contains("'rest.port'"));
    /// ```
    pub fn validate_with(&self, extra: &[(&str, Check)]) -> Result<()> {
        for (key, _) in self.entries() {
            match KNOWN_KEYS.iter().chain(extra).find(|(k, _)| *k == key) {
                Some((_, check)) => check(self, key)?,
                None => match suggest(key, &KNOWN_KEYS.iter().chain(extra).map(|(k, _)| *k).collect::<Vec<_>>()) {
                    Some(known) => tracing::warn!(key, did_you_mean = known, "unknown configuration key; ignoring it"),
                    None => tracing::warn!(key, "unknown configuration key; ignoring it"),
                },
            }
        }
        Ok(())
    }
}

/// The accepted value `value` was probably meant to be: one equal to it ignoring case, else the
/// closest within an edit distance of 2 (ignoring case; the first on a tie), else `None`.
/// For example `rockdb` suggests `rocksdb` among `hashmap, rocksdb`; `memory` suggests nothing.
///
/// ```
/// use strom_runtime::suggest;
/// assert_eq!(suggest("rockdb", &["hashmap", "rocksdb"]), Some("rocksdb"));
/// assert_eq!(suggest("memory", &["hashmap", "rocksdb"]), None);
/// ```
pub fn suggest<'a>(value: &str, accepted: &[&'a str]) -> Option<&'a str> {
    let value = value.to_lowercase();
    accepted
        .iter()
        .map(|a| (levenshtein(&value, &a.to_lowercase()), *a))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, a)| a)
}

/// The number of single-character insertions, deletions and substitutions that turn `a` into `b`.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
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

    const BACKENDS: &[&str] = &["hashmap", "rocksdb"];

    #[test]
    fn suggestions_by_edit_distance_or_case() {
        assert_eq!(suggest("rockdb", BACKENDS), Some("rocksdb"));
        assert_eq!(suggest("HASHMAP", BACKENDS), Some("hashmap"));
        assert_eq!(suggest("RockDB", BACKENDS), Some("rocksdb"));
        assert_eq!(suggest("rocks", BACKENDS), Some("rocksdb")); // distance 2
        assert_eq!(suggest("rock", BACKENDS), None); // distance 3
        assert_eq!(suggest("memory", BACKENDS), None);
        assert_eq!(suggest("of", &["off", "on"]), Some("off")); // closest wins
        assert_eq!(suggest("ab", &["a", "b"]), Some("a")); // first on a tie
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }

    #[test]
    fn enums_list_accepted_values_and_suggest_one() {
        let mut c = Configuration::default();
        assert_eq!(c.get_enum(STATE_BACKEND, BACKENDS).unwrap(), None);
        c.set(STATE_BACKEND, "rockdb");
        assert_eq!(
            c.get_enum(STATE_BACKEND, BACKENDS).unwrap_err().to_string(),
            "invalid configuration for 'state.backend.type': unknown value 'rockdb' (accepted: hashmap, rocksdb); did you mean rocksdb?"
        );
        assert_eq!(c.validate().unwrap_err().to_string(), c.get_enum(STATE_BACKEND, BACKENDS).unwrap_err().to_string());
        c.set(STATE_BACKEND, "memory");
        assert_eq!(
            c.get_enum(STATE_BACKEND, BACKENDS).unwrap_err().to_string(),
            "invalid configuration for 'state.backend.type': unknown value 'memory' (accepted: hashmap, rocksdb)"
        );
        c.set(STATE_BACKEND, " RocksDB ");
        assert_eq!(c.get_enum(STATE_BACKEND, BACKENDS).unwrap(), Some("rocksdb"));
    }

    #[test]
    fn typed_getters() {
        let mut c = Configuration::default();
        c.set("b", "False");
        assert_eq!(c.get_bool("b").unwrap(), Some(false));
        c.set("n", "0");
        assert_eq!(c.get_non_negative("n").unwrap(), Some(0));
        assert!(c.get_positive("n").is_err());
        c.set("f", "1.25");
        assert_eq!(c.get_f64("f").unwrap(), Some(1.25));
        for bad in ["inf", "NaN", "one"] {
            c.set("f", bad);
            assert_eq!(c.get_f64("f").unwrap_err().to_string(), format!("invalid configuration for 'f': expected a number, got '{bad}'"));
        }
        c.set("d", "0 s");
        assert_eq!(c.get_duration("d").unwrap(), Some(Duration::ZERO));
        assert_eq!(
            c.get_positive_duration("d").unwrap_err().to_string(),
            "invalid configuration for 'd': expected a positive duration, got '0 s'"
        );
        assert_eq!(c.get_bool("unset").unwrap(), None);
        assert_eq!(c.get_positive_duration("unset").unwrap(), None);
    }

    #[test]
    fn state_and_checkpointing_keys_are_validated() {
        let mut valid = Configuration::default();
        for (key, value) in [
            (STATE_BACKEND, "rocksdb"),
            (INCREMENTAL_CHECKPOINTS, "true"),
            (CHECKPOINTS_DIRECTORY, "file:///tmp/checkpoints"),
            (SAVEPOINT_DIRECTORY, "/tmp/savepoints"),
            (MAX_RETAINED_CHECKPOINTS, "3"),
            (CHECKPOINTING_INTERVAL, "30 s"),
            (CHECKPOINTING_TIMEOUT, "10 min"),
            (MIN_PAUSE_BETWEEN_CHECKPOINTS, "0"),
            (MAX_CONCURRENT_CHECKPOINTS, "1"),
            (TOLERABLE_FAILURE_NUMBER, "0"),
            (RESTART_STRATEGY, "exponential-delay"),
            (RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER, "2.0"),
            (RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR, "0"),
        ] {
            valid.set(key, value);
        }
        assert!(valid.validate().is_ok());

        for (key, value, message) in [
            (INCREMENTAL_CHECKPOINTS, "yes", "expected true or false, got 'yes'"),
            (MAX_RETAINED_CHECKPOINTS, "0", "expected a positive integer, got '0'"),
            (CHECKPOINTING_INTERVAL, "often", "expected a duration like '100 ms', got 'often'"),
            (CHECKPOINTING_TIMEOUT, "0 min", "expected a positive duration, got '0 min'"),
            (MIN_PAUSE_BETWEEN_CHECKPOINTS, "5 parsecs", "unknown time unit 'parsecs' in '5 parsecs' (accepted: ms, s, min, h, d)"),
            (MAX_CONCURRENT_CHECKPOINTS, "0", "expected a positive integer, got '0'"),
            (TOLERABLE_FAILURE_NUMBER, "-1", "expected a non-negative integer, got '-1'"),
        ] {
            let mut c = valid.clone();
            c.set(key, value);
            assert_eq!(c.validate().unwrap_err().to_string(), format!("invalid configuration for '{key}': {message}"));
        }
    }
}
