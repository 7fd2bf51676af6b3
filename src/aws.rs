//! The one place that builds AWS configuration and clients.
//!
//! One `SdkConfig` from the command line: profile, a region chain that falls back to
//! us-east-1 (IAM is global), an optional endpoint override, the standard retry mode and
//! connect/attempt/operation timeouts. Every client carries a [`CallStats`] interceptor
//! that counts requests, retries and throttled responses per operation, and reports each
//! answer to the crawl's adaptive pace per operation ([`OperationPace`]).
//!
//! The SDK's own adaptive retry mode is not used: it keeps one rate for the whole client,
//! while IAM throttles each action separately, so throttling on one action would slow all
//! of them. The crawl's limiter paces each operation instead (`crawl/limiter.rs`), and the
//! retry of a throttled call waits for its turn in that pace. No client-wide retry quota
//! applies ([`retry_partition`]): every call gets all of its attempts.
//!
//! [`connect`] is the pre-flight check: credentials, then one GetCallerIdentity, within
//! [`PREFLIGHT_LIMIT`], with a one-line error that names what went wrong.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::config::retry::{RetryPartition, TokenBucket};
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, Error,
    FinalizerInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::crawl::OperationPace;

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

/// How long the pre-flight check may take in all: credentials, connection, retries.
pub const PREFLIGHT_LIMIT: Duration = Duration::from_secs(10);
/// Attempts of the pre-flight GetCallerIdentity, the first one included.
const PREFLIGHT_ATTEMPTS: u32 = 3;

/// Why a crawl could not start at all. Each renders as one line that names what happened
/// and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "no AWS credentials: {0} (pass --profile NAME, set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    )]
    NoCredentials(String),
    /// STS answered with an authentication or authorization error.
    #[error(
        "AWS rejected the credentials: sts:GetCallerIdentity answered {code}: {message} (refresh them, e.g. `aws sso login`, or check the profile)"
    )]
    Rejected { code: String, message: String },
    /// STS answered, with a server-side failure or throttling, on every attempt.
    #[error(
        "{service} is failing: sts:GetCallerIdentity answered {code} (HTTP {status}) to {attempts}; the service is failing or overloaded, not the credentials: try again later"
    )]
    ServiceFailing {
        service: String,
        code: String,
        status: u16,
        /// "3 attempts".
        attempts: String,
    },
    /// Something answered, but not with an AWS API response.
    #[error(
        "{endpoint} answered sts:GetCallerIdentity with {what}, not an AWS API response: the endpoint does not look like AWS STS (check --endpoint-url, and any proxy or captive portal in between)"
    )]
    NotAws { endpoint: String, what: String },
    #[error(
        "no answer from {endpoint} within {} s: sts:GetCallerIdentity timed out (check the network, --endpoint-url and --region)", limit.as_secs()
    )]
    Timeout { endpoint: String, limit: Duration },
    #[error(
        "connection refused by {endpoint}: nothing accepts connections there (check --endpoint-url, or that the endpoint is running)"
    )]
    Refused { endpoint: String },
    #[error(
        "cannot reach {endpoint}: sts:GetCallerIdentity failed: {detail} (check the network, --endpoint-url and --region)"
    )]
    Unreachable { endpoint: String, detail: String },
    /// STS answered with an AWS error that says nothing about the credentials or the
    /// service's health.
    #[error("sts:GetCallerIdentity failed: {code} (HTTP {status}): {message}")]
    Failed {
        code: String,
        status: u16,
        message: String,
    },
}

/// Builds the clients and proves they can work before the crawl starts: the credentials
/// resolve and STS answers GetCallerIdentity. Returns the clients and the account id.
///
/// Without this check, missing or expired credentials would surface as a coverage gap on
/// every call of the crawl; with it, a scheduled job fails at once with one clear line.
/// The whole check takes at most [`PREFLIGHT_LIMIT`]: a crawl call may take 90 s with all
/// its retries, but an endpoint that cannot answer one GetCallerIdentity within 10 s is not
/// worth a crawl.
pub async fn connect(opts: &AwsOptions) -> Result<(Clients, String), ConnectError> {
    use aws_sdk_iam::config::ProvideCredentials;

    let deadline = tokio::time::Instant::now() + PREFLIGHT_LIMIT;
    let endpoint = opts
        .endpoint_url
        .clone()
        .unwrap_or_else(|| "AWS STS".to_string());
    let config = sdk_config(opts).await;
    let provider = config.credentials_provider().ok_or_else(|| {
        ConnectError::NoCredentials("no credential provider is configured".into())
    })?;
    match tokio::time::timeout_at(deadline, provider.provide_credentials()).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => return Err(ConnectError::NoCredentials(root_cause(&err))),
        Err(_) => {
            return Err(ConnectError::NoCredentials(format!(
                "they could not be resolved within {} s",
                PREFLIGHT_LIMIT.as_secs()
            )));
        }
    }
    let clients = Clients::from_config(&config);
    let remaining = deadline
        .saturating_duration_since(tokio::time::Instant::now())
        .max(Duration::from_secs(1));
    let preflight = aws_sdk_sts::config::Builder::default()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(PREFLIGHT_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(1)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(opts.connect_timeout.min(remaining))
                .operation_attempt_timeout((remaining / 2).min(opts.attempt_timeout))
                .operation_timeout(remaining)
                .build(),
        );
    let result = clients
        .sts
        .get_caller_identity()
        .customize()
        .config_override(preflight)
        .send()
        .await;
    match result {
        Ok(out) => Ok((clients, out.account().unwrap_or_default().to_string())),
        Err(err) => {
            let attempts = clients
                .stats
                .snapshot()
                .requests
                .get("GetCallerIdentity")
                .copied()
                .unwrap_or(0);
            let attempts = match attempts {
                1 => "1 attempt".to_string(),
                n => format!("{n} attempts"),
            };
            Err(preflight_error(&err, endpoint, attempts))
        }
    }
}

/// What a failed pre-flight GetCallerIdentity means.
fn preflight_error<E>(
    err: &aws_sdk_iam::error::SdkError<E, HttpResponse>,
    endpoint: String,
    attempts: String,
) -> ConnectError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_iam::error::SdkError;

    match err {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let raw = err.raw_response().expect("an answer");
            let status = raw.status().as_u16();
            let (code, message) = match err {
                SdkError::ServiceError(e) => (e.err().code(), e.err().message()),
                _ => (None, None),
            };
            let service = if endpoint == "AWS STS" {
                endpoint.clone()
            } else {
                format!("the STS endpoint {endpoint}")
            };
            match code {
                Some(code) if is_credentials_error(code) => ConnectError::Rejected {
                    code: code.to_string(),
                    message: message.unwrap_or("no message").to_string(),
                },
                Some(code)
                    if status >= 500 || is_service_failure(code) || is_throttling_code(code) =>
                {
                    ConnectError::ServiceFailing {
                        service,
                        code: code.to_string(),
                        status,
                        attempts,
                    }
                }
                Some(code) => ConnectError::Failed {
                    code: code.to_string(),
                    status,
                    message: message.unwrap_or("no message").to_string(),
                },
                None => match not_an_aws_answer(raw) {
                    Some(what) => ConnectError::NotAws { endpoint, what },
                    None if status >= 500 => ConnectError::ServiceFailing {
                        service,
                        code: "no error code".into(),
                        status,
                        attempts,
                    },
                    None => ConnectError::NotAws {
                        endpoint,
                        what: format!(
                            "an answer it could not read (HTTP {status}, {})",
                            content_type(raw)
                        ),
                    },
                },
            }
        }
        SdkError::TimeoutError(_) => ConnectError::Timeout {
            endpoint,
            limit: PREFLIGHT_LIMIT,
        },
        SdkError::DispatchFailure(f) if f.is_timeout() => ConnectError::Timeout {
            endpoint,
            limit: PREFLIGHT_LIMIT,
        },
        SdkError::DispatchFailure(f) if f.is_io() && connection_refused(err) => {
            ConnectError::Refused { endpoint }
        }
        other => ConnectError::Unreachable {
            endpoint,
            detail: format!(
                "{} ({})",
                crate::crawl::classify(other).code(),
                root_cause(other)
            ),
        },
    }
}

/// AWS error codes that mean the credentials were not accepted: unknown, malformed,
/// expired, wrongly signed, or not allowed to make the call.
fn is_credentials_error(code: &str) -> bool {
    matches!(
        code,
        "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "IncompleteSignature"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidToken"
            | "TokenRefreshRequired"
            | "InvalidAccessKeyId"
            | "UnrecognizedClientException"
            | "MissingAuthenticationToken"
            | "MissingAuthenticationTokenException"
            | "AuthFailure"
            | "AccessDenied"
            | "AccessDeniedException"
            | "NotAuthorized"
            | "UnauthorizedOperation"
            | "RequestExpired"
            | "RequestTimeTooSkewed"
            | "InvalidSignatureException"
    )
}

/// AWS error codes that mean the service failed to serve the call.
fn is_service_failure(code: &str) -> bool {
    matches!(
        code,
        "ServiceFailure"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "InternalFailure"
            | "InternalError"
            | "InternalServerError"
            | "InternalServiceError"
    )
}

fn content_type(raw: &HttpResponse) -> String {
    raw.headers()
        .get("content-type")
        .unwrap_or("no content type")
        .to_ascii_lowercase()
}

/// How an answer that carries no AWS error looks, when it is plainly not from STS (an HTML
/// page, an empty body, anything but XML); `None` when it could be.
fn not_an_aws_answer(raw: &HttpResponse) -> Option<String> {
    let status = raw.status().as_u16();
    let content_type = content_type(raw);
    let body = raw.body().bytes().unwrap_or_default();
    let start = String::from_utf8_lossy(&body[..body.len().min(512)])
        .trim_start()
        .to_ascii_lowercase();
    if content_type.contains("html")
        || start.starts_with("<!doctype html")
        || start.starts_with("<html")
    {
        Some(format!("an HTML page (HTTP {status}, {content_type})"))
    } else if body.is_empty() {
        Some(format!("an empty answer (HTTP {status})"))
    } else if !start.starts_with('<') {
        Some(format!("an answer of type {content_type} (HTTP {status})"))
    } else {
        None
    }
}

/// Whether the connection was refused: nothing listens at the endpoint's address.
fn connection_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The innermost cause of an error, e.g. "Connection refused (os error 111)".
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

impl Clients {
    pub async fn new(opts: &AwsOptions) -> Self {
        let config = sdk_config(opts).await;
        Self::from_config(&config)
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        let stats = Arc::new(CallStats::default());
        let iam = aws_sdk_iam::config::Builder::from(config)
            .retry_partition(retry_partition())
            .interceptor(StatsInterceptor(stats.clone()))
            .build();
        let sts = aws_sdk_sts::config::Builder::from(config)
            .retry_partition(retry_partition())
            .interceptor(StatsInterceptor(stats.clone()))
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

/// Counts of what the clients sent and received, shared by every client of one crawl.
#[derive(Debug, Default)]
pub struct CallStats {
    inner: Mutex<StatsInner>,
    /// Learns each operation's pace from the answers the clients receive.
    pub pace: Arc<OperationPace>,
}

#[derive(Debug, Default, Clone)]
struct StatsInner {
    /// HTTP requests sent, per operation (retries included).
    attempts: BTreeMap<String, u64>,
    /// Calls made by the crawler, per operation (one per call, whatever the retries).
    executions: u64,
    throttled: u64,
}

/// A snapshot of [`CallStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub requests: BTreeMap<String, u64>,
    pub retries: u64,
    pub throttled: u64,
}

impl CallStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let inner = self.inner.lock().expect("stats lock").clone();
        let sent: u64 = inner.attempts.values().sum();
        StatsSnapshot {
            retries: sent.saturating_sub(inner.executions),
            requests: inner.attempts,
            throttled: inner.throttled,
        }
    }

    /// An interceptor that records into these statistics, for clients built elsewhere
    /// (tests attach it to mock clients).
    pub fn interceptor(self: &Arc<Self>) -> StatsInterceptor {
        StatsInterceptor(self.clone())
    }
}

#[derive(Debug, Clone)]
pub struct StatsInterceptor(Arc<CallStats>);

impl Intercept for StatsInterceptor {
    fn name(&self) -> &'static str {
        "KeyhygieneCallStats"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.inner.lock().expect("stats lock").executions += 1;
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_else(|| "Unknown".to_string());
        self.0.pace.sent(&operation, tokio::time::Instant::now());
        *self
            .0
            .inner
            .lock()
            .expect("stats lock")
            .attempts
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }

    /// Counts throttled answers and reports every answer to the operation's pace. A
    /// throttled call's retry then waits for its turn in that pace: the delay goes to the
    /// SDK's retry strategy as the answer's `x-amz-retry-after` hint (milliseconds), which
    /// the SDK honours for throttling errors in place of its own backoff, up to the maximum
    /// backoff. Without it, every throttled call would retry on its own exponential
    /// schedule, unpaced, and at a high `--concurrency` the retries alone would keep the
    /// operation over IAM's rate until some calls ran out of attempts.
    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let status = context.response().map(|r| r.status().as_u16());
        let code = context
            .output_or_error()
            .and_then(|r| r.err())
            .and_then(|e| e.as_operation_error())
            .and_then(error_code);
        let throttled = status == Some(429) || code.is_some_and(is_throttling_code);
        if throttled {
            self.0.inner.lock().expect("stats lock").throttled += 1;
        }
        // Only an answer from the service says anything about its rate; a timeout or a
        // reset connection does not.
        let Some(operation) = cfg.load::<Metadata>().filter(|_| status.is_some()) else {
            return Ok(());
        };
        let now = tokio::time::Instant::now();
        self.0.pace.record(operation.name(), throttled, now);
        if throttled
            && let Some(delay) = self.0.pace.retry_delay(operation.name(), now)
            && let Some(response) = context.response_mut()
        {
            response
                .headers_mut()
                .insert(RETRY_AFTER_HEADER, delay.as_millis().max(1).to_string());
        }
        Ok(())
    }
}

/// The header through which an answer tells the SDK's retry strategy how long to wait
/// before retrying a throttled call (milliseconds).
const RETRY_AFTER_HEADER: &str = "x-amz-retry-after";

/// The AWS error code of a type-erased operation error from one of the calls we make.
fn error_code(err: &Error) -> Option<&str> {
    macro_rules! code_of {
        ($($ty:ty),* $(,)?) => {
            $( if let Some(e) = err.downcast_ref::<$ty>() { return e.code(); } )*
        };
    }
    use aws_sdk_iam::operation as iam;
    code_of!(
        iam::list_users::ListUsersError,
        iam::list_user_tags::ListUserTagsError,
        iam::list_access_keys::ListAccessKeysError,
        iam::get_access_key_last_used::GetAccessKeyLastUsedError,
        iam::generate_credential_report::GenerateCredentialReportError,
        iam::get_credential_report::GetCredentialReportError,
        iam::get_account_summary::GetAccountSummaryError,
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError,
    );
    None
}

/// Error codes AWS uses to say "slow down" (the set the SDK's retry classifier uses).
pub fn is_throttling_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "TransactionInProgressException"
            | "RequestLimitExceeded"
            | "BandwidthLimitExceeded"
            | "LimitExceededException"
            | "RequestThrottled"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "EC2ThrottledException"
    )
}
