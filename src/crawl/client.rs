//! Client construction: one `SdkConfig` from the command line (profile, a region chain that
//! falls back to us-east-1, since IAM is global; an optional endpoint override; the standard
//! retry mode; connect, attempt and operation timeouts), and the IAM and STS clients built
//! from it. Every client carries the [`StatsInterceptor`] that counts its requests and feeds
//! the pace per operation.
//!
//! The SDK's own adaptive retry mode is not used: it keeps one rate for the whole client,
//! while IAM throttles each action separately, so throttling on one action would slow all
//! of them. The crawl's limiter paces each operation instead (`limiter.rs`), and the retry
//! of a throttled call waits for its turn in that pace. No client-wide retry quota applies
//! ([`retry_partition`]): every call gets all of its attempts.

use std::sync::Arc;
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::config::retry::{RetryPartition, TokenBucket};

use super::stats::{CallStats, StatsInterceptor};
use super::timeouts::AttemptTimeouts;

/// IAM is a global service; its API is served from us-east-1 in the aws partition.
pub const FALLBACK_REGION: &str = "us-east-1";

/// How the command line wants to reach AWS.
#[derive(Clone, Debug)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Attempts per call, the first one included.
    pub max_attempts: u32,
    pub connect_timeout: Duration,
    /// Limit for one HTTP attempt; a slower response is retried.
    pub attempt_timeout: Duration,
    /// Limit for one call, retries included.
    pub operation_timeout: Duration,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            profile: None,
            region: None,
            endpoint_url: None,
            max_attempts: 8,
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(90),
        }
    }
}

/// The clients a crawl needs, and the statistics they record.
#[derive(Clone, Debug)]
pub struct Clients {
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub stats: Arc<CallStats>,
}

pub async fn sdk_config(opts: &AwsOptions) -> SdkConfig {
    let region = RegionProviderChain::first_try(opts.region.clone().map(Region::new))
        .or_default_provider()
        .or_else(Region::new(FALLBACK_REGION));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(opts.max_attempts)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(10)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(opts.connect_timeout)
                .operation_attempt_timeout(opts.attempt_timeout)
                .operation_timeout(opts.operation_timeout)
                .build(),
        );
    if let Some(profile) = &opts.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

impl Clients {
    pub fn from_config(config: &SdkConfig) -> Self {
        Self::with_stats(config, Arc::new(CallStats::default()))
    }

    /// Clients that record their calls in `stats`.
    pub fn with_stats(config: &SdkConfig, stats: Arc<CallStats>) -> Self {
        let iam = aws_sdk_iam::config::Builder::from(config)
            .retry_partition(retry_partition())
            .interceptor(StatsInterceptor(stats.clone()))
            .interceptor(AttemptTimeouts(stats.times.clone()))
            .interceptor(super::RequiredElements)
            .build();
        let sts = aws_sdk_sts::config::Builder::from(config)
            .retry_partition(retry_partition())
            .interceptor(StatsInterceptor(stats.clone()))
            .interceptor(AttemptTimeouts(stats.times.clone()))
            .build();
        Clients {
            iam: aws_sdk_iam::Client::from_conf(iam),
            sts: aws_sdk_sts::Client::from_conf(sts),
            stats,
        }
    }
}

/// A retry partition whose retries are never refused for lack of quota, so every call gets
/// all of its attempts.
///
/// The SDK's default partition shares one retry quota among every call of a client (500
/// tokens, 5 per retry, 10 per retried timeout): under sustained throttling or faults it
/// runs dry within about a hundred retries, and from then on a failed attempt is not retried
/// at all. Most calls of a large crawl would then get one or two attempts instead of
/// `max_attempts`. The crawl bounds its load itself (calls in flight, the pace per operation,
/// `--max-rps`), so the quota only took attempts away.
pub fn retry_partition() -> RetryPartition {
    RetryPartition::custom("keyhygiene")
        .token_bucket(TokenBucket::unlimited())
        .build()
}
