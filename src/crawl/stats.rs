//! What the clients sent and received: requests, retries and throttled answers per API
//! operation, recorded by an interceptor on every client, which also reports each answer to
//! the crawl's pace per operation ([`OperationPace`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, Error,
    FinalizerInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::OperationPace;

/// Counts of what the clients sent and received, shared by every client of one crawl.
#[derive(Debug, Default)]
pub struct CallStats {
    inner: Mutex<StatsInner>,
    /// Learns each operation's pace from the answers the clients receive.
    pub pace: Arc<OperationPace>,
    /// Learns each operation's attempt times, and cuts slow attempts early.
    pub times: Arc<super::timeouts::AttemptTimes>,
}

#[derive(Debug, Default, Clone)]
struct StatsInner {
    /// HTTP requests sent, per operation (retries included).
    attempts: BTreeMap<String, u64>,
    /// Calls made by the crawler, per operation (one per call, whatever the retries).
    executions: u64,
    throttled: u64,
    /// Response bytes received (bodies, every attempt).
    bytes_received: u64,
}

/// A snapshot of [`CallStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub requests: BTreeMap<String, u64>,
    pub retries: u64,
    pub throttled: u64,
    pub bytes_received: u64,
}

impl CallStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let inner = self.inner.lock().expect("stats lock").clone();
        let sent: u64 = inner.attempts.values().sum();
        StatsSnapshot {
            retries: sent.saturating_sub(inner.executions),
            requests: inner.attempts,
            throttled: inner.throttled,
            bytes_received: inner.bytes_received,
        }
    }

    /// An interceptor that records into these statistics, for clients built elsewhere
    /// (tests attach it to mock clients).
    pub fn interceptor(self: &Arc<Self>) -> StatsInterceptor {
        StatsInterceptor(self.clone())
    }
}

#[derive(Debug, Clone)]
pub struct StatsInterceptor(pub(super) Arc<CallStats>);

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
        // The body's length: its Content-Length, or the size of the body the SDK read.
        let received = context.response().and_then(|r| {
            r.headers()
                .get("content-length")
                .and_then(|v| v.parse::<u64>().ok())
                .or_else(|| r.body().content_length())
        });
        {
            let mut inner = self.0.inner.lock().expect("stats lock");
            inner.throttled += u64::from(throttled);
            inner.bytes_received += received.unwrap_or(0);
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
        iam::get_account_authorization_details::GetAccountAuthorizationDetailsError,
        iam::list_user_tags::ListUserTagsError,
        iam::list_access_keys::ListAccessKeysError,
        iam::get_access_key_last_used::GetAccessKeyLastUsedError,
        iam::generate_credential_report::GenerateCredentialReportError,
        iam::get_credential_report::GetCredentialReportError,
        iam::get_account_summary::GetAccountSummaryError,
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError,
    );
    use aws_sdk_organizations::operation as org;
    code_of!(
        org::describe_organization::DescribeOrganizationError,
        org::list_accounts::ListAccountsError,
        org::list_roots::ListRootsError,
        org::list_organizational_units_for_parent::ListOrganizationalUnitsForParentError,
        org::list_accounts_for_parent::ListAccountsForParentError,
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
