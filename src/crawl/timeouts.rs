//! Attempt timeouts learned per operation: a slow answer costs about what the operation
//! usually takes, not the whole default attempt timeout.
//!
//! Every call keyhygiene makes is a read, so an attempt that runs far past what the
//! operation usually takes (a held answer, a body that trickles in, a brownout) is better
//! cut and sent again than waited for: with 16 calls in flight, a held answer otherwise
//! holds one slot for the full 10 s default. Each account's clients learn, per operation,
//! how long successful attempts take in this run ([`AttemptTimes`]); once an operation has
//! [`MIN_SAMPLES`] of them, its attempts are cut at [`FACTOR`] times its 99th percentile,
//! never below [`FLOOR`] nor above the default. Before that, and always for the credential
//! report's operations (which legitimately take seconds, and are called once or twice an
//! account), the default applies.
//!
//! A cut attempt is an ordinary timeout to the SDK: it counts as one of the call's
//! attempts, is retried with the usual backoff, and a call that never succeeds within its
//! attempts and its 90 s still becomes a coverage gap. Each cut doubles the timeout of the
//! call's next attempt (up to the default), as TCP backs off its retransmission timer: an
//! answer that is slow for a good reason (a loaded machine, a congested link) is waited for
//! by a later attempt instead of being cut eight times. A throttled answer is fast and is
//! never cut; its retry waits for the operation's pace outside the attempt's time. The cut
//! attempts are counted ([`AttemptTimes::cut`]) and shown with the crawl's figures.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use tokio::time::Instant;

/// Successful attempts an operation needs before its attempts are cut early.
pub const MIN_SAMPLES: usize = 20;
/// The recent successful attempts of an operation the percentile is taken over.
const WINDOW: usize = 256;
/// A cut attempt has run this many times the operation's 99th percentile.
pub const FACTOR: u32 = 4;
/// No attempt is cut sooner than this: a busy endpoint's ordinary variation.
pub const FLOOR: Duration = Duration::from_secs(1);
/// Operations never cut early: IAM generates the credential report while they wait.
const NEVER_CUT: [&str; 2] = ["GenerateCredentialReport", "GetCredentialReport"];

/// What one account's clients learned about their operations' attempt times.
#[derive(Debug, Default)]
pub struct AttemptTimes {
    inner: Mutex<Times>,
}

#[derive(Debug, Default)]
struct Times {
    /// Recent successful attempt times per operation, oldest first.
    samples: HashMap<String, VecDeque<Duration>>,
    /// Attempts cut before the default timeout.
    cut: u64,
}

impl AttemptTimes {
    /// The attempt timeout of `operation` now: learned, or `default`.
    pub fn timeout(&self, operation: &str, default: Duration) -> Duration {
        if NEVER_CUT.contains(&operation) {
            return default;
        }
        let times = self.inner.lock().expect("times lock");
        let Some(samples) = times
            .samples
            .get(operation)
            .filter(|s| s.len() >= MIN_SAMPLES)
        else {
            return default;
        };
        let mut sorted: Vec<Duration> = samples.iter().copied().collect();
        sorted.sort_unstable();
        let p99 = sorted[(sorted.len() * 99).div_ceil(100).saturating_sub(1)];
        (p99 * FACTOR).clamp(FLOOR.min(default), default)
    }

    /// A successful attempt of `operation` that took `took`.
    pub fn record(&self, operation: &str, took: Duration) {
        let mut times = self.inner.lock().expect("times lock");
        let samples = times.samples.entry(operation.to_string()).or_default();
        if samples.len() == WINDOW {
            samples.pop_front();
        }
        samples.push_back(took);
    }

    /// Attempts cut before the default timeout, so far.
    pub fn cut(&self) -> u64 {
        self.inner.lock().expect("times lock").cut
    }

    fn count_cut(&self) {
        self.inner.lock().expect("times lock").cut += 1;
    }
}

/// The attempt under way of one call: when it started, and the timeout it was given.
#[derive(Clone, Debug)]
struct Pending {
    started: Instant,
    timeout: Duration,
    /// The client's own attempt timeout, the one an attempt is cut early against.
    default: Duration,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

/// The interceptor that gives each attempt its operation's learned timeout, and learns.
#[derive(Debug, Clone)]
pub struct AttemptTimeouts(pub Arc<AttemptTimes>);

fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|m| m.name().to_string())
        .unwrap_or_default()
}

/// The timeout of a call's attempt after `cuts` of its attempts were cut: the learned
/// timeout doubled per cut, never above the default.
pub fn backed_off(learned: Duration, cuts: u32, default: Duration) -> Duration {
    learned
        .checked_mul(1u32 << cuts.min(16))
        .unwrap_or(default)
        .min(default)
}

/// Attempts of the call under way that were cut.
#[derive(Clone, Copy, Debug, Default)]
struct CallCuts(u32);

impl Storable for CallCuts {
    type Storer = StoreReplace<Self>;
}

impl AttemptTimeouts {
    /// Puts the next attempt's timeout in the call's configuration, for `cuts` cut
    /// attempts of the call: the SDK reads it when the attempt starts.
    fn set_next(&self, cfg: &mut ConfigBag, default: Duration, cuts: u32) {
        let learned = self.0.timeout(&operation(cfg), default);
        let timeout = backed_off(learned, cuts, default);
        let Some(config) = cfg.load::<TimeoutConfig>().cloned() else {
            return;
        };
        if config.operation_attempt_timeout() != Some(timeout) {
            let config = config
                .to_builder()
                .operation_attempt_timeout(timeout)
                .build();
            cfg.interceptor_state().store_put(config);
        }
    }

    /// An attempt that ended without finishing ran into its timeout: counted when that
    /// timeout was a learned one, shorter than the default. Returns the call's cuts.
    fn settle_unfinished(&self, cfg: &mut ConfigBag) -> u32 {
        let mut cuts = cfg.load::<CallCuts>().copied().unwrap_or_default().0;
        if let Some(pending) = cfg.load::<Pending>().cloned() {
            if pending.timeout < pending.default {
                self.0.count_cut();
                cuts += 1;
                cfg.interceptor_state().store_put(CallCuts(cuts));
            }
            cfg.interceptor_state().unset::<Pending>();
        }
        cuts
    }
}

impl Intercept for AttemptTimeouts {
    fn name(&self) -> &'static str {
        "KeyhygieneAttemptTimeouts"
    }

    fn modify_before_retry_loop(
        &self,
        _context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let default = cfg
            .load::<TimeoutConfig>()
            .and_then(|c| c.operation_attempt_timeout());
        if let Some(default) = default {
            cfg.interceptor_state().store_put(DefaultTimeout(default));
            self.set_next(cfg, default, 0);
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The attempt before this one, if it never finished, was cut by its timeout.
        let cuts = self.settle_unfinished(cfg);
        let Some(DefaultTimeout(default)) = cfg.load::<DefaultTimeout>().cloned() else {
            return Ok(());
        };
        // This attempt's timeout was read by the SDK before it started.
        let timeout = cfg
            .load::<TimeoutConfig>()
            .and_then(|c| c.operation_attempt_timeout())
            .unwrap_or(default);
        cfg.interceptor_state().store_put(Pending {
            started: Instant::now(),
            timeout,
            default,
        });
        // Should this attempt be cut too, the next one waits twice as long. (An attempt
        // that finishes sets the next one's timeout again, in `read_after_attempt`.)
        self.set_next(cfg, default, cuts + 1);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = cfg.load::<Pending>().cloned() else {
            return Ok(());
        };
        cfg.interceptor_state().unset::<Pending>();
        let succeeded = context.response().is_some_and(|r| r.status().is_success())
            && context.output_or_error().is_some_and(|o| o.is_ok());
        if succeeded {
            self.0.record(&operation(cfg), pending.started.elapsed());
        }
        let cuts = cfg.load::<CallCuts>().copied().unwrap_or_default().0;
        self.set_next(cfg, pending.default, cuts);
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The last attempt, if it never finished.
        self.settle_unfinished(cfg);
        Ok(())
    }
}

/// The client's own attempt timeout, kept for the call.
#[derive(Clone, Debug)]
struct DefaultTimeout(Duration);

impl Storable for DefaultTimeout {
    type Storer = StoreReplace<Self>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Duration = Duration::from_secs(10);

    #[test]
    fn an_operation_is_cut_at_four_times_its_99th_percentile_once_it_has_samples() {
        let times = AttemptTimes::default();
        for _ in 0..MIN_SAMPLES - 1 {
            times.record("ListAccessKeys", Duration::from_millis(300));
        }
        assert_eq!(
            times.timeout("ListAccessKeys", DEFAULT),
            DEFAULT,
            "too few samples"
        );
        times.record("ListAccessKeys", Duration::from_millis(300));
        assert_eq!(
            times.timeout("ListAccessKeys", DEFAULT),
            Duration::from_millis(1200)
        );
        // The 99th percentile: one slow answer in a hundred does not move it.
        for i in 0..80 {
            times.record(
                "ListAccessKeys",
                Duration::from_millis(if i == 0 { 2000 } else { 300 }),
            );
        }
        assert_eq!(
            times.timeout("ListAccessKeys", DEFAULT),
            Duration::from_millis(1200)
        );
        // Other operations learn on their own.
        assert_eq!(times.timeout("ListUserTags", DEFAULT), DEFAULT);
    }

    #[test]
    fn the_timeout_stays_between_the_floor_and_the_default() {
        let times = AttemptTimes::default();
        for _ in 0..MIN_SAMPLES {
            times.record("fast", Duration::from_millis(5));
            times.record("slow", Duration::from_secs(4));
        }
        assert_eq!(times.timeout("fast", DEFAULT), FLOOR);
        assert_eq!(times.timeout("slow", DEFAULT), DEFAULT);
        // A default shorter than the floor wins.
        assert_eq!(
            times.timeout("fast", Duration::from_millis(500)),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn each_cut_doubles_the_next_attempts_timeout_up_to_the_default() {
        let learned = Duration::from_secs(1);
        let got: Vec<u64> = (0..8)
            .map(|cuts| backed_off(learned, cuts, DEFAULT).as_secs())
            .collect();
        assert_eq!(got, [1, 2, 4, 8, 10, 10, 10, 10]);
        // Eight attempts that are all cut stay within the call's 90 s.
        assert!(got.iter().sum::<u64>() < 90);
        assert_eq!(backed_off(learned, 40, DEFAULT), DEFAULT);
    }

    #[test]
    fn the_credential_report_is_never_cut_early() {
        let times = AttemptTimes::default();
        for _ in 0..100 {
            times.record("GetCredentialReport", Duration::from_millis(10));
        }
        assert_eq!(times.timeout("GetCredentialReport", DEFAULT), DEFAULT);
    }

    #[test]
    fn old_samples_leave_the_window() {
        let times = AttemptTimes::default();
        for _ in 0..WINDOW {
            times.record("ListUsers", Duration::from_secs(2));
        }
        for _ in 0..WINDOW {
            times.record("ListUsers", Duration::from_millis(100));
        }
        assert_eq!(times.timeout("ListUsers", DEFAULT), FLOOR);
    }
}
