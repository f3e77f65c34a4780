//! Restart strategies: whether a failed job restarts, and after how long.
//!
//! Flink's four strategies, with Flink's keys, aliases and defaults (`restart-strategy.*`,
//! listed in [`crate::keys`]): `none`, `fixed-delay`, `failure-rate` and `exponential-delay`.
//! A [`RestartStrategy`] is built once per job from its [`Configuration`] and asked for a
//! [`RestartDecision`] on every failure. The caller passes the time of each failure, so the
//! strategies are pure functions of their inputs and tests script failures at chosen times;
//! the jitter of `exponential-delay` comes from a small seeded generator for the same reason.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::config::{self, defaults, Configuration};
use crate::error::{Error, Result};

/// Accepted values of `restart-strategy.type`, Flink's aliases included.
pub(crate) const STRATEGY_NAMES: &[&str] =
    &["none", "off", "disable", "fixed-delay", "fixeddelay", "failure-rate", "failurerate", "exponential-delay", "exponentialdelay"];

/// What to do about one failure of a job.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strom_runtime::{Configuration, RestartDecision, RestartStrategy};
///
/// let mut strategy = RestartStrategy::from_config(&Configuration::default(), false).unwrap();
/// match strategy.on_failure(Instant::now(), true) {
///     RestartDecision::Restart { after } => println!("restarting in {after:?}"),
///     RestartDecision::Fail { reason } => assert!(reason.contains("checkpointing is disabled")),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartDecision {
    /// Restart the job once `after` has passed.
    Restart {
        /// How long to wait before restarting.
        after: Duration,
    },
    /// Fail the job for good.
    Fail {
        /// Why the job is not restarted, for people.
        reason: String,
    },
}

/// Decides whether a failed job restarts and after how long, with Flink's semantics.
///
/// Built from `restart-strategy.type` and the options of the chosen strategy; when the type
/// is unset, Flink's default applies: `exponential-delay` with its default options if
/// checkpointing is enabled, else `none`. A failure that is not recoverable (retrying cannot
/// help) fails the job under every strategy, without using up a restart attempt.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strom_runtime::{keys, Configuration, RestartDecision, RestartStrategy};
///
/// let mut conf = Configuration::default();
/// conf.set(keys::RESTART_STRATEGY, "fixed-delay");
/// conf.set(keys::RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, "2");
/// conf.set(keys::RESTART_STRATEGY_FIXED_DELAY_DELAY, "10 s");
/// let mut strategy = RestartStrategy::from_config(&conf, false).unwrap();
/// assert_eq!(strategy.to_string(), "fixed-delay (2 attempts, 10 s delay)");
///
/// let now = Instant::now();
/// let restart = RestartDecision::Restart { after: Duration::from_secs(10) };
/// assert_eq!(strategy.on_failure(now, true), restart);
/// assert_eq!(strategy.on_failure(now, true), restart);
/// assert!(matches!(strategy.on_failure(now, true), RestartDecision::Fail { .. }));
/// ```
#[derive(Debug, Clone)]
pub struct RestartStrategy {
    policy: Policy,
}

#[derive(Debug, Clone)]
enum Policy {
    /// Never restart; `defaulted` when chosen because nothing was configured.
    None {
        defaulted: bool,
    },
    FixedDelay(FixedDelay),
    FailureRate(FailureRate),
    ExponentialDelay(ExponentialDelay),
}

impl RestartStrategy {
    /// The strategy `conf` configures; `checkpointing_enabled` picks the default when
    /// `restart-strategy.type` (or Flink's deprecated `restart-strategy`) is unset.
    ///
    /// An invalid value is an [`Error::Config`] naming its key. As in Flink, the options of
    /// `exponential-delay` are ignored when it is only the default (a warning names them).
    ///
    /// ```
    /// use strom_runtime::{keys, Configuration, RestartStrategy};
    ///
    /// let mut conf = Configuration::default();
    /// assert_eq!(RestartStrategy::from_config(&conf, false).unwrap().name(), "none");
    /// assert_eq!(RestartStrategy::from_config(&conf, true).unwrap().name(), "exponential-delay");
    ///
    /// conf.set(keys::RESTART_STRATEGY, "failurerate");
    /// assert_eq!(RestartStrategy::from_config(&conf, true).unwrap().name(), "failure-rate");
    ///
    /// conf.set(keys::RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL, "0");
    /// let err = RestartStrategy::from_config(&conf, true).unwrap_err().to_string();
    /// assert!(err.contains("restart-strategy.failure-rate.max-failures-per-interval"), "{err}");
    /// ```
    pub fn from_config(conf: &Configuration, checkpointing_enabled: bool) -> Result<Self> {
        let policy = match configured_type(conf)? {
            Some("none" | "off" | "disable") => Policy::None { defaulted: false },
            Some("fixed-delay" | "fixeddelay") => Policy::FixedDelay(FixedDelay::from_config(conf)?),
            Some("failure-rate" | "failurerate") => Policy::FailureRate(FailureRate::from_config(conf)?),
            Some("exponential-delay" | "exponentialdelay") => Policy::ExponentialDelay(ExponentialDelay::from_config(conf)?),
            Some(other) => unreachable!("get_enum returns one of STRATEGY_NAMES, not '{other}'"),
            None => {
                warn_ignored_options(conf);
                if checkpointing_enabled {
                    Policy::ExponentialDelay(ExponentialDelay::from_config(&Configuration::default())?)
                } else {
                    Policy::None { defaulted: true }
                }
            }
        };
        Ok(RestartStrategy { policy })
    }

    /// Seeds the generator of `exponential-delay`'s jitter, making its delays reproducible
    /// (by default the seed is random). Other strategies have no jitter and ignore it.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strom_runtime::{Configuration, RestartStrategy};
    ///
    /// let conf = Configuration::default();
    /// let mut a = RestartStrategy::from_config(&conf, true).unwrap().with_jitter_seed(7);
    /// let mut b = RestartStrategy::from_config(&conf, true).unwrap().with_jitter_seed(7);
    /// let now = Instant::now();
    /// assert_eq!(a.on_failure(now, true), b.on_failure(now, true));
    /// ```
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        if let Policy::ExponentialDelay(e) = &mut self.policy {
            e.rng = XorShift64::new(seed);
        }
        self
    }

    /// Records a failure at `now` and decides whether the job restarts.
    ///
    /// `recoverable == false` ([`Error::is_recoverable`](crate::Error::is_recoverable)) marks the failure unrecoverable (for example invalid input
    /// data, which a restart would read again): the job fails whatever the strategy, and the
    /// failure does not count against the strategy's limits.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strom_runtime::{keys, Configuration, RestartDecision, RestartStrategy};
    ///
    /// let mut conf = Configuration::default();
    /// conf.set(keys::RESTART_STRATEGY, "fixed-delay");
    /// let mut strategy = RestartStrategy::from_config(&conf, false).unwrap();
    /// let RestartDecision::Fail { reason } = strategy.on_failure(Instant::now(), false) else { panic!() };
    /// assert!(reason.contains("not recoverable"), "{reason}");
    /// assert!(matches!(strategy.on_failure(Instant::now(), true), RestartDecision::Restart { .. }));
    /// ```
    pub fn on_failure(&mut self, now: Instant, recoverable: bool) -> RestartDecision {
        if !recoverable {
            let reason =
                format!("the failure is not recoverable (retrying cannot help), so the {} restart strategy does not apply", self.name());
            return RestartDecision::Fail { reason };
        }
        match &mut self.policy {
            Policy::None { defaulted } => RestartDecision::Fail { reason: none_reason(*defaulted) },
            Policy::FixedDelay(f) => f.on_failure(),
            Policy::FailureRate(f) => f.on_failure(now),
            Policy::ExponentialDelay(e) => e.on_failure(now),
        }
    }

    /// Flink's main name of the strategy: `none`, `fixed-delay`, `failure-rate` or
    /// `exponential-delay`.
    ///
    /// ```
    /// use strom_runtime::{keys, Configuration, RestartStrategy};
    /// let mut conf = Configuration::default();
    /// conf.set(keys::RESTART_STRATEGY, "off");
    /// assert_eq!(RestartStrategy::from_config(&conf, true).unwrap().name(), "none");
    /// ```
    pub fn name(&self) -> &'static str {
        match self.policy {
            Policy::None { .. } => "none",
            Policy::FixedDelay(_) => "fixed-delay",
            Policy::FailureRate(_) => "failure-rate",
            Policy::ExponentialDelay(_) => "exponential-delay",
        }
    }
}

/// Describes the strategy and its options for logs, durations in Flink's syntax:
/// `fixed-delay (3 attempts, 1 s delay)`.
impl fmt::Display for RestartStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.policy {
            Policy::None { .. } => f.write_str("none"),
            Policy::FixedDelay(d) => write!(f, "fixed-delay ({}, {} delay)", count(d.attempts, "attempt"), show(d.delay)),
            Policy::FailureRate(r) => {
                write!(f, "failure-rate (at most {} per {}, {} delay)", count(r.max_failures, "failure"), show(r.interval), show(r.delay))
            }
            Policy::ExponentialDelay(e) => {
                let attempts =
                    e.attempts.map_or_else(|| "unbounded attempts".to_string(), |n| format!("{} before reset", count(n, "attempt")));
                write!(
                    f,
                    "exponential-delay (backoff {} to {}, multiplier {}, jitter {}, reset after {}, {attempts})",
                    show(e.initial),
                    show(e.max),
                    e.multiplier,
                    e.jitter,
                    show(e.reset_threshold),
                )
            }
        }
    }
}

/// `fixed-delay`: restarts after a fixed delay, at most `attempts` times.
#[derive(Debug, Clone)]
struct FixedDelay {
    attempts: u32,
    delay: Duration,
    failures: u32,
}

impl FixedDelay {
    fn from_config(conf: &Configuration) -> Result<Self> {
        Ok(FixedDelay {
            attempts: conf
                .get_non_negative(config::RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS)?
                .unwrap_or(defaults::RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS),
            delay: conf.get_duration(config::RESTART_STRATEGY_FIXED_DELAY_DELAY)?.unwrap_or(defaults::RESTART_STRATEGY_FIXED_DELAY_DELAY),
            failures: 0,
        })
    }

    fn on_failure(&mut self) -> RestartDecision {
        self.failures = self.failures.saturating_add(1);
        if self.failures <= self.attempts {
            return RestartDecision::Restart { after: self.delay };
        }
        let reason = format!(
            "the job failed {} and the fixed-delay restart strategy allows {} ({})",
            count(self.failures, "time"),
            count(self.attempts, "restart"),
            config::RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS,
        );
        RestartDecision::Fail { reason }
    }
}

/// `failure-rate`: restarts after a fixed delay unless more than `max_failures` failures
/// fall within `interval`.
#[derive(Debug, Clone)]
struct FailureRate {
    max_failures: u32,
    interval: Duration,
    delay: Duration,
    /// The times of the last `max_failures + 1` failures at most, oldest first.
    failures: VecDeque<Instant>,
}

impl FailureRate {
    fn from_config(conf: &Configuration) -> Result<Self> {
        let max_failures = conf
            .get_positive(config::RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL)?
            .unwrap_or(defaults::RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL);
        Ok(FailureRate {
            max_failures,
            interval: conf
                .get_positive_duration(config::RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL)?
                .unwrap_or(defaults::RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL),
            delay: conf.get_duration(config::RESTART_STRATEGY_FAILURE_RATE_DELAY)?.unwrap_or(defaults::RESTART_STRATEGY_FAILURE_RATE_DELAY),
            failures: VecDeque::new(),
        })
    }

    /// As Flink does: the job fails when the oldest of the last `max_failures + 1` failures
    /// is no more than `interval` before this one.
    fn on_failure(&mut self, now: Instant) -> RestartDecision {
        let window = self.max_failures as usize + 1;
        if self.failures.len() == window {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        let oldest = *self.failures.front().expect("a failure was just pushed");
        if self.failures.len() < window || now.saturating_duration_since(oldest) > self.interval {
            return RestartDecision::Restart { after: self.delay };
        }
        let reason = format!(
            "the job failed {} within {} and the failure-rate restart strategy allows at most {} per {} ({})",
            count(self.failures.len() as u32, "time"),
            show(now.saturating_duration_since(oldest)),
            count(self.max_failures, "failure"),
            show(self.interval),
            config::RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL,
        );
        RestartDecision::Fail { reason }
    }
}

/// `exponential-delay`: the delay grows by `multiplier` with each restart, from `initial` up
/// to `max`, with random jitter; it resets once the job has run `reset_threshold` without a
/// failure. Flink ≥ 1.19 semantics, including `attempts` and merging failures that happen
/// while a restart is pending into that restart.
#[derive(Debug, Clone)]
struct ExponentialDelay {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    reset_threshold: Duration,
    jitter: f64,
    /// Restarts allowed before the backoff resets; `None` is unbounded.
    attempts: Option<u32>,
    /// Restarts since the backoff was last reset.
    attempt: u32,
    /// When the pending or last restart happens.
    next_restart: Option<Instant>,
    rng: XorShift64,
}

impl ExponentialDelay {
    fn from_config(conf: &Configuration) -> Result<Self> {
        let initial = conf
            .get_positive_duration(config::RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF)?
            .unwrap_or(defaults::RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF);
        let max = conf
            .get_positive_duration(config::RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF)?
            .unwrap_or(defaults::RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF);
        if initial > max {
            let message = format!(
                "initial backoff {} exceeds {} ({})",
                show(initial),
                config::RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF,
                show(max)
            );
            return Err(Error::config(config::RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF, message));
        }
        Ok(ExponentialDelay {
            initial,
            max,
            multiplier: backoff_multiplier(conf)?,
            reset_threshold: conf
                .get_positive_duration(config::RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD)?
                .unwrap_or(defaults::RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD),
            jitter: jitter_factor(conf)?,
            attempts: conf
                .get_positive(config::RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS)?
                .or(defaults::RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS),
            attempt: 0,
            next_restart: None,
            rng: XorShift64::new(random_seed()),
        })
    }

    fn on_failure(&mut self, now: Instant) -> RestartDecision {
        match self.next_restart {
            // A failure before the pending restart (another task of the same failed run) is
            // part of that restart, as in Flink: it neither counts nor moves the restart.
            Some(next) if now <= next => return self.decide(next - now),
            Some(next) if now - next >= self.reset_threshold => self.attempt = 0,
            _ => {}
        }
        let backoff = self.backoff(self.attempt);
        self.next_restart = Some(now + backoff);
        self.attempt = self.attempt.saturating_add(1);
        self.decide(backoff)
    }

    fn decide(&self, after: Duration) -> RestartDecision {
        match self.attempts {
            Some(allowed) if self.attempt > allowed => {
                let reason = format!(
                    "the job failed {} without running {} in between and the exponential-delay restart strategy allows {} before \
                     the backoff resets ({})",
                    count(self.attempt, "time"),
                    show(self.reset_threshold),
                    count(allowed, "restart"),
                    config::RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS,
                );
                RestartDecision::Fail { reason }
            }
            _ => RestartDecision::Restart { after },
        }
    }

    /// `initial * multiplier^attempt`, plus or minus up to `jitter` of itself, within
    /// `initial..=max`; in whole milliseconds, as Flink computes it.
    fn backoff(&mut self, attempt: u32) -> Duration {
        let initial = millis(self.initial);
        let max = millis(self.max);
        // Float-to-int `as` saturates, so a huge (or infinite) product becomes u64::MAX.
        let base = (initial as f64 * self.multiplier.powf(f64::from(attempt))) as u64;
        let offset = (base as f64 * self.jitter) as u64;
        let jittered = i128::from(base) + self.rng.symmetric(offset);
        Duration::from_millis(jittered.clamp(i128::from(initial), i128::from(max)) as u64)
    }
}

/// `restart-strategy.exponential-delay.backoff-multiplier`, which must exceed 1.
pub(crate) fn backoff_multiplier(conf: &Configuration) -> Result<f64> {
    let key = config::RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER;
    match conf.get_f64(key)? {
        None => Ok(defaults::RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER),
        Some(m) if m > 1.0 => Ok(m),
        Some(_) => Err(Error::config(key, format!("expected a number greater than 1, got '{}'", conf.get(key).unwrap_or_default()))),
    }
}

/// `restart-strategy.exponential-delay.jitter-factor`, which must be from 0 to 1.
pub(crate) fn jitter_factor(conf: &Configuration) -> Result<f64> {
    let key = config::RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR;
    match conf.get_f64(key)? {
        None => Ok(defaults::RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR),
        Some(j) if (0.0..=1.0).contains(&j) => Ok(j),
        Some(_) => Err(Error::config(key, format!("expected a number from 0 to 1, got '{}'", conf.get(key).unwrap_or_default()))),
    }
}

/// The configured strategy name, from `restart-strategy.type` or else Flink's deprecated
/// `restart-strategy`.
fn configured_type(conf: &Configuration) -> Result<Option<&'static str>> {
    match conf.get_enum(config::RESTART_STRATEGY, STRATEGY_NAMES)? {
        Some(name) => Ok(Some(name)),
        None => conf.get_enum(config::RESTART_STRATEGY_DEPRECATED, STRATEGY_NAMES),
    }
}

/// Flink applies its default strategy with default options when no type is set, so options
/// set for a strategy are silently ignored; say so instead.
fn warn_ignored_options(conf: &Configuration) {
    for (key, _) in conf.entries().filter(|(k, _)| k.starts_with("restart-strategy.")) {
        tracing::warn!(key, type_key = config::RESTART_STRATEGY, "restart strategy option ignored because no restart strategy type is set");
    }
}

fn none_reason(defaulted: bool) -> String {
    if defaulted {
        format!("checkpointing is disabled and {} is unset, so the default is not to restart", config::RESTART_STRATEGY)
    } else {
        format!("restarts are disabled ({} is none)", config::RESTART_STRATEGY)
    }
}

/// `1 attempt`, `3 attempts`.
fn count(n: u32, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A duration in the largest of Flink's units that divides it: `1 min`, `1500 ms`.
fn show(d: Duration) -> String {
    let ms = d.as_millis();
    let units = [("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1_000)];
    match units.iter().find(|(_, size)| ms != 0 && ms % size == 0) {
        Some((unit, size)) => format!("{} {unit}", ms / size),
        None => format!("{ms} ms"),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A seed that differs between strategies and processes, so that jobs restarting together
/// spread out (which is what the jitter is for).
fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::process::id())
}

/// Marsaglia's xorshift64* generator: tiny, fast and plenty for jitter.
#[derive(Debug, Clone)]
struct XorShift64(u64);

impl XorShift64 {
    fn new(seed: u64) -> Self {
        // The state must not be zero; mixing with a constant also spreads small seeds.
        let state = seed ^ 0x9E37_79B9_7F4A_7C15;
        XorShift64(if state == 0 { 0x9E37_79B9_7F4A_7C15 } else { state })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `-bound..=bound` (by multiply-and-shift, so without modulo bias to speak of).
    fn symmetric(&mut self, bound: u64) -> i128 {
        let span = 2 * u128::from(bound) + 1;
        let r = (u128::from(self.next_u64()) * span) >> 64;
        r as i128 - i128::from(bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strategy(options: &[(&str, &str)], checkpointing: bool) -> RestartStrategy {
        try_strategy(options, checkpointing).unwrap()
    }

    fn try_strategy(options: &[(&str, &str)], checkpointing: bool) -> Result<RestartStrategy> {
        let mut conf = Configuration::default();
        for (k, v) in options {
            conf.set(*k, *v);
        }
        RestartStrategy::from_config(&conf, checkpointing).map(|s| s.with_jitter_seed(1))
    }

    fn restart(ms: u64) -> RestartDecision {
        RestartDecision::Restart { after: Duration::from_millis(ms) }
    }

    fn fail_reason(decision: RestartDecision) -> String {
        match decision {
            RestartDecision::Fail { reason } => reason,
            other => panic!("expected Fail, got {other:?}"),
        }
    }

    fn exponential(s: &mut RestartStrategy) -> &mut ExponentialDelay {
        match &mut s.policy {
            Policy::ExponentialDelay(e) => e,
            other => panic!("expected exponential-delay, got {other:?}"),
        }
    }

    const EXP_DEFAULTS: &str = "exponential-delay (backoff 1 s to 1 min, multiplier 1.5, jitter 0.1, reset after 1 h, unbounded attempts)";

    #[test]
    fn default_depends_on_checkpointing() {
        let none = strategy(&[], false);
        assert_eq!((none.name(), none.to_string()), ("none", "none".to_string()));
        assert_eq!(strategy(&[], true).to_string(), EXP_DEFAULTS);
        // As in Flink, the implicit default ignores the options of exponential-delay.
        let ignored = [(config::RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF, "10 s")];
        assert_eq!(strategy(&ignored, true).to_string(), EXP_DEFAULTS);
    }

    #[test]
    fn each_strategy_has_flinks_defaults() {
        let display = |name| strategy(&[(config::RESTART_STRATEGY, name)], false).to_string();
        assert_eq!(display("none"), "none");
        assert_eq!(display("fixed-delay"), "fixed-delay (1 attempt, 1 s delay)");
        assert_eq!(display("failure-rate"), "failure-rate (at most 1 failure per 1 min, 1 s delay)");
        assert_eq!(display("exponential-delay"), EXP_DEFAULTS);
    }

    #[test]
    fn aliases_case_and_the_deprecated_key() {
        let expected = [
            ("none", "none"),
            ("off", "none"),
            ("disable", "none"),
            ("fixed-delay", "fixed-delay"),
            ("fixeddelay", "fixed-delay"),
            ("failure-rate", "failure-rate"),
            ("failurerate", "failure-rate"),
            ("exponential-delay", "exponential-delay"),
            ("exponentialdelay", "exponential-delay"),
            ("Fixed-Delay", "fixed-delay"),
        ];
        for (value, name) in expected {
            assert_eq!(strategy(&[(config::RESTART_STRATEGY, value)], true).name(), name, "{value}");
        }
        assert_eq!(strategy(&[(config::RESTART_STRATEGY_DEPRECATED, "failurerate")], false).name(), "failure-rate");
        let both = [(config::RESTART_STRATEGY, "off"), (config::RESTART_STRATEGY_DEPRECATED, "fixed-delay")];
        assert_eq!(strategy(&both, false).name(), "none");
    }

    #[test]
    fn none_fails_and_says_why() {
        let t0 = Instant::now();
        let reason = fail_reason(strategy(&[(config::RESTART_STRATEGY, "off")], true).on_failure(t0, true));
        assert_eq!(reason, "restarts are disabled (restart-strategy.type is none)");
        let reason = fail_reason(strategy(&[], false).on_failure(t0, true));
        assert_eq!(reason, "checkpointing is disabled and restart-strategy.type is unset, so the default is not to restart");
    }

    #[test]
    fn fixed_delay_exhausts_its_attempts() {
        let options = [
            (config::RESTART_STRATEGY, "fixed-delay"),
            (config::RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, "3"),
            (config::RESTART_STRATEGY_FIXED_DELAY_DELAY, "10 s"),
        ];
        let mut s = strategy(&options, false);
        let t0 = Instant::now();
        let decisions: Vec<_> = (0..3).map(|i| s.on_failure(t0 + Duration::from_secs(60 * i), true)).collect();
        assert_eq!(decisions, vec![restart(10_000); 3]);
        let reason = fail_reason(s.on_failure(t0 + Duration::from_secs(600), true));
        assert_eq!(
            reason,
            "the job failed 4 times and the fixed-delay restart strategy allows 3 restarts (restart-strategy.fixed-delay.attempts)"
        );
        assert!(matches!(s.on_failure(t0, true), RestartDecision::Fail { .. }));

        let mut never = strategy(&[(config::RESTART_STRATEGY, "fixed-delay"), (config::RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, "0")], false);
        assert!(matches!(never.on_failure(t0, true), RestartDecision::Fail { .. }));
    }

    #[test]
    fn failure_rate_counts_failures_in_a_sliding_interval() {
        let options = [
            (config::RESTART_STRATEGY, "failure-rate"),
            (config::RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL, "2"),
            (config::RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL, "10 s"),
            (config::RESTART_STRATEGY_FAILURE_RATE_DELAY, "500 ms"),
        ];
        let mut s = strategy(&options, false);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        // Failures at 0, 3 and 10.001 s: never three within 10 s.
        assert_eq!(s.on_failure(at(0), true), restart(500));
        assert_eq!(s.on_failure(at(3_000), true), restart(500));
        assert_eq!(s.on_failure(at(10_001), true), restart(500));
        // 3, 10.001 and 12 s: three failures within 9 s.
        let reason = fail_reason(s.on_failure(at(12_000), true));
        assert_eq!(
            reason,
            "the job failed 3 times within 9 s and the failure-rate restart strategy allows at most 2 failures per 10 s \
             (restart-strategy.failure-rate.max-failures-per-interval)"
        );

        // Flink restarts only when the span is strictly longer than the interval.
        let one_per_10s =
            [(config::RESTART_STRATEGY, "failure-rate"), (config::RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL, "10 s")];
        let mut exact = strategy(&one_per_10s, false);
        assert_eq!(exact.on_failure(at(0), true), restart(1_000));
        assert!(matches!(exact.on_failure(at(10_000), true), RestartDecision::Fail { .. }));
        let mut longer = strategy(&one_per_10s, false);
        assert_eq!(longer.on_failure(at(0), true), restart(1_000));
        assert_eq!(longer.on_failure(at(10_001), true), restart(1_000));
    }

    fn exp_options(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut options = vec![
            (config::RESTART_STRATEGY, "exponential-delay"),
            (config::RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF, "1 s"),
            (config::RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER, "2"),
            (config::RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF, "10 s"),
            (config::RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR, "0"),
            (config::RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD, "1 min"),
        ];
        options.extend_from_slice(extra);
        options
    }

    #[test]
    fn exponential_delay_multiplies_up_to_the_max() {
        // Flink's documented example: 1, 2, 4, 8, 10, 10 s.
        let mut s = strategy(&exp_options(&[]), false);
        let mut now = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..6 {
            let RestartDecision::Restart { after } = s.on_failure(now, true) else { panic!("no restart") };
            delays.push(after.as_millis());
            now += after + Duration::from_millis(1); // the restarted job fails 1 ms later
        }
        assert_eq!(delays, vec![1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
        assert_eq!(s.to_string(), "exponential-delay (backoff 1 s to 10 s, multiplier 2, jitter 0, reset after 1 min, unbounded attempts)");
    }

    #[test]
    fn exponential_delay_resets_after_the_threshold() {
        let mut s = strategy(&exp_options(&[]), false);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(s.on_failure(at(0), true), restart(1_000)); // restart at 1 s
        assert_eq!(s.on_failure(at(60_999), true), restart(2_000)); // ran 59.999 s: restart at 62.999 s
        assert_eq!(s.on_failure(at(122_999), true), restart(1_000)); // ran 60 s: reset, restart at 123.999 s
        assert_eq!(s.on_failure(at(124_000), true), restart(2_000));
    }

    #[test]
    fn exponential_delay_merges_failures_while_a_restart_is_pending() {
        let mut s = strategy(&exp_options(&[]), false);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(s.on_failure(at(0), true), restart(1_000));
        assert_eq!(s.on_failure(at(400), true), restart(600));
        assert_eq!(s.on_failure(at(1_000), true), restart(0));
        assert_eq!(s.on_failure(at(1_001), true), restart(2_000)); // the second attempt, not the fourth
    }

    #[test]
    fn exponential_delay_attempts_reset_with_the_backoff() {
        let mut s = strategy(&exp_options(&[(config::RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS, "2")]), false);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(s.on_failure(at(0), true), restart(1_000));
        assert_eq!(s.on_failure(at(1_001), true), restart(2_000));
        assert_eq!(
            fail_reason(s.on_failure(at(3_002), true)),
            "the job failed 3 times without running 1 min in between and the exponential-delay restart strategy allows 2 restarts \
             before the backoff resets (restart-strategy.exponential-delay.attempts-before-reset-backoff)"
        );

        let mut s = strategy(&exp_options(&[(config::RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS, "2")]), false);
        assert_eq!(s.on_failure(at(0), true), restart(1_000));
        assert_eq!(s.on_failure(at(1_001), true), restart(2_000));
        assert_eq!(s.on_failure(at(63_001), true), restart(1_000)); // ran 1 min: counting starts over
        assert_eq!(s.on_failure(at(64_002), true), restart(2_000));
        assert!(matches!(s.on_failure(at(66_003), true), RestartDecision::Fail { .. }));
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_varies() {
        let options = exp_options(&[
            (config::RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR, "0.1"),
            (config::RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF, "1 h"),
        ]);
        let mut s = strategy(&options, false);
        let e = exponential(&mut s);
        // Attempt 3: 8 s ± 10%.
        let samples: Vec<u128> = (0..1_000).map(|_| e.backoff(3).as_millis()).collect();
        assert!(samples.iter().all(|ms| (7_200..=8_800).contains(ms)), "{samples:?}");
        assert!(*samples.iter().min().unwrap() < 7_300 && *samples.iter().max().unwrap() > 8_700, "jitter does not spread");
        // Attempt 0: 1 s ± 10%, but never below the initial backoff.
        let first: Vec<u128> = (0..1_000).map(|_| e.backoff(0).as_millis()).collect();
        assert!(first.iter().all(|ms| (1_000..=1_100).contains(ms)), "{first:?}");
        assert!(first.iter().any(|ms| *ms > 1_050));

        // Decisions are reproducible under a seed, and the seed matters.
        let run = |seed| {
            let mut s = strategy(&options, false).with_jitter_seed(seed);
            let mut now = Instant::now();
            let mut delays = Vec::new();
            for _ in 0..8 {
                let RestartDecision::Restart { after } = s.on_failure(now, true) else { panic!("no restart") };
                delays.push(after);
                now += after + Duration::from_millis(1);
            }
            delays
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        for (attempt, delay) in run(42).into_iter().enumerate() {
            let base = 1_000.0 * 2f64.powi(attempt as i32);
            let ms = delay.as_millis() as f64;
            assert!(ms >= (base * 0.9).max(1_000.0) && ms <= base * 1.1, "attempt {attempt}: {ms} ms");
        }
    }

    #[test]
    fn unrecoverable_failures_fail_without_using_attempts() {
        let t0 = Instant::now();
        for name in ["none", "fixed-delay", "failure-rate", "exponential-delay"] {
            let mut s = strategy(&[(config::RESTART_STRATEGY, name)], true);
            let reason = fail_reason(s.on_failure(t0, false));
            assert_eq!(
                reason,
                format!("the failure is not recoverable (retrying cannot help), so the {name} restart strategy does not apply")
            );
            if name != "none" {
                assert!(matches!(s.on_failure(t0, true), RestartDecision::Restart { .. }), "{name}");
            }
        }
    }

    #[test]
    fn invalid_values_name_the_key() {
        let cases = [
            ("", config::RESTART_STRATEGY, "fixed-dely", "did you mean fixed-delay?"),
            ("", config::RESTART_STRATEGY_DEPRECATED, "sometimes", "accepted: none, off, disable, fixed-delay"),
            ("fixed-delay", config::RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, "-1", "non-negative integer"),
            ("fixed-delay", config::RESTART_STRATEGY_FIXED_DELAY_DELAY, "soon", "expected a duration"),
            ("failure-rate", config::RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL, "0", "positive integer"),
            ("failure-rate", config::RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL, "0 s", "positive duration"),
            ("failure-rate", config::RESTART_STRATEGY_FAILURE_RATE_DELAY, "1 fortnight", "unknown time unit"),
            ("exponential-delay", config::RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF, "0", "positive duration"),
            ("exponential-delay", config::RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF, "x", "expected a duration"),
            ("exponential-delay", config::RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER, "1", "greater than 1"),
            ("exponential-delay", config::RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER, "NaN", "expected a number"),
            ("exponential-delay", config::RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD, "0 ms", "positive duration"),
            ("exponential-delay", config::RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR, "1.5", "from 0 to 1"),
            ("exponential-delay", config::RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS, "0", "positive integer"),
        ];
        for (name, key, value, message) in cases {
            // An empty name leaves the type unset, so that the deprecated key is read.
            let options: Vec<_> = [(config::RESTART_STRATEGY, name), (key, value)].into_iter().filter(|(_, v)| !v.is_empty()).collect();
            let expected = format!("invalid configuration for '{key}': ");
            let err = try_strategy(&options, false).unwrap_err().to_string();
            assert!(err.starts_with(&expected) && err.contains(message), "{key}={value}: {err}");
            // `validate` checks the same keys, whatever the strategy.
            let mut conf = Configuration::default();
            conf.set(key, value);
            let err = conf.validate().unwrap_err().to_string();
            assert!(err.starts_with(&expected) && err.contains(message), "validate {key}={value}: {err}");
        }

        let backwards = exp_options(&[(config::RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF, "2 min")]);
        assert_eq!(
            try_strategy(&backwards, false).unwrap_err().to_string(),
            "invalid configuration for 'restart-strategy.exponential-delay.initial-backoff': initial backoff 2 min exceeds \
             restart-strategy.exponential-delay.max-backoff (10 s)"
        );
    }

    #[test]
    fn durations_show_in_flinks_syntax() {
        let shown: Vec<String> = [0, 1_500, 1_000, 90_000, 60_000, 3_600_000, 86_400_000].map(|ms| show(Duration::from_millis(ms))).into();
        assert_eq!(shown, ["0 ms", "1500 ms", "1 s", "90 s", "1 min", "1 h", "1 d"]);
        for text in &shown {
            assert!(config::parse_duration(text).is_ok(), "{text}");
        }
    }
}
