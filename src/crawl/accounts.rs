//! Reaching the accounts of an organization run: the caller's own account with the caller's
//! credentials, every other account through `sts:AssumeRole` of a role in it.
//!
//! Each account gets clients of its own (its own credentials, its own statistics, its own
//! pace per API operation: IAM throttles each account separately, so one account's
//! throttling never slows another's). An assumed role's credentials refresh before they
//! expire (a chained role session lasts at most an hour, and a large or throttled account
//! can take longer): the clients' identity cache asks [`RoleCredentials`] again
//! [`REFRESH_BEFORE_EXPIRY`] before the session ends.

use std::sync::{Arc, Mutex};

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::identity::IdentityCache;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, error::CredentialsError, future,
};
use aws_sdk_iam::error::ProvideErrorMetadata;

use super::client::{Clients, retry_partition};
use super::errors;
use super::stats::{CallStats, StatsInterceptor};

/// An assumed role's credentials are renewed this long before they expire.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);
/// The longest an AssumeRole for a refresh may take, retries included.
const CREDENTIALS_LOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// Who runs the audit: from the pre-flight GetCallerIdentity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub account_id: crate::ident::AccountId,
    /// `arn:aws:iam::123456789012:user/alice`, `arn:aws:sts::…:assumed-role/…`.
    pub arn: String,
}

impl Caller {
    /// The partition of the caller's own ARN (`aws`, `aws-cn`, `aws-us-gov`), which the
    /// member accounts' role ARNs share; `aws` when the ARN does not say.
    pub fn partition(&self) -> &str {
        crate::ident::Arn::parse(&self.arn).map_or("aws", |arn| arn.partition)
    }

    /// The ARN of the role `role_name` in `account_id`, in the caller's partition.
    pub fn role_arn(&self, account_id: &str, role_name: &str) -> String {
        format!(
            "arn:{}:iam::{account_id}:role/{role_name}",
            self.partition()
        )
    }
}

/// The role keyhygiene assumes in each member account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRole {
    /// The role's name, or a path and name (`audit/keyhygiene`).
    pub name: String,
    /// A secret: never printed, logged or stored, and taken out of every error message.
    pub external_id: Option<crate::ident::ExternalId>,
    pub session_name: String,
}

/// Why an account could not be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessFailure {
    pub operation: String,
    pub error_code: String,
    pub message: String,
    /// The role ARN that was tried.
    pub role_arn: String,
}

/// Clients for `account_id`: the caller's own credentials for the caller's account, an
/// assumed role for any other. The first AssumeRole happens here, so an account whose role
/// cannot be assumed fails at once with the error and the exact role ARN tried.
pub async fn account_clients(
    base: &SdkConfig,
    caller: &Caller,
    account_id: &crate::ident::AccountId,
    role: &MemberRole,
) -> Result<Clients, AccessFailure> {
    if *account_id == caller.account_id {
        return Ok(Clients::from_config(base));
    }
    // The AssumeRole calls count in the account's own statistics.
    let stats = Arc::new(CallStats::default());
    let role_arn = caller.role_arn(account_id, &role.name);
    let sts = aws_sdk_sts::config::Builder::from(base)
        .retry_partition(retry_partition())
        .interceptor(StatsInterceptor(stats.clone()))
        .build();
    let provider = RoleCredentials::new(aws_sdk_sts::Client::from_conf(sts), &role_arn, role);
    provider.open().await.map_err(|failure| AccessFailure {
        operation: "AssumeRole".into(),
        message: if matches!(
            failure.code.as_str(),
            "AccessDenied" | "AccessDeniedException"
        ) {
            denied(&failure.message, &role.name)
        } else {
            failure.message
        },
        error_code: failure.code,
        role_arn: role_arn.clone(),
    })?;
    let config = base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .identity_cache(role_identity_cache())
        .build();
    Ok(Clients::with_stats(&config, stats))
}

/// What a denied AssumeRole means. IAM answers a role that does not exist and a trust
/// policy that does not admit the caller with the same AccessDenied: both causes and both
/// fixes are named.
fn denied(message: &str, role: &str) -> String {
    format!(
        "{message} (the role {role} does not exist in this account, or its trust policy does not admit the caller: deploy deploy/member-role.yaml there, which creates the read-only role KeyHygieneAudit trusting your audit account, or pass --role-name with the role the account has; OrganizationAccountAccessRole, which Organizations creates, works too but has administrator rights)"
    )
}

/// The identity cache of a member account's clients: it asks the [`RoleCredentials`] for
/// new credentials [`REFRESH_BEFORE_EXPIRY`] before the current ones expire.
pub fn role_identity_cache() -> aws_sdk_iam::config::SharedIdentityCache {
    IdentityCache::lazy()
        .buffer_time(REFRESH_BEFORE_EXPIRY)
        .load_timeout(CREDENTIALS_LOAD_TIMEOUT)
        .build()
}

/// A failed AssumeRole, for the account's record.
#[derive(Debug)]
pub struct AssumeFailure {
    pub code: String,
    pub message: String,
}

/// Credentials of one assumed-role session, renewed with a new AssumeRole when the
/// identity cache asks (shortly before they expire).
#[derive(Debug)]
pub struct RoleCredentials {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    external_id: Option<crate::ident::ExternalId>,
    session_name: String,
    /// The credentials of the AssumeRole made when the account was opened, handed out once.
    first: Mutex<Option<Credentials>>,
}

impl RoleCredentials {
    pub fn new(sts: aws_sdk_sts::Client, role_arn: &str, role: &MemberRole) -> Self {
        RoleCredentials {
            sts,
            role_arn: role_arn.to_string(),
            external_id: role.external_id.clone(),
            session_name: role.session_name.clone(),
            first: Mutex::new(None),
        }
    }

    /// The first AssumeRole, made when the account is opened: its failure is the
    /// account's, with the error and the role ARN; its credentials serve the first calls.
    pub async fn open(&self) -> Result<(), AssumeFailure> {
        let first = self.assume().await?;
        *self.first.lock().expect("not poisoned") = Some(first);
        Ok(())
    }

    async fn assume(&self) -> Result<Credentials, AssumeFailure> {
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .set_external_id(self.external_id.as_ref().map(|e| e.expose().to_string()))
            .send()
            .await
            .map_err(|err| {
                let failure = errors::classify(&err);
                let message = match &err {
                    aws_sdk_sts::error::SdkError::ServiceError(e) => {
                        e.err().message().unwrap_or("no message").to_string()
                    }
                    _ => errors::describe(&err),
                };
                AssumeFailure {
                    code: failure.code().to_string(),
                    // STS may quote the external id (a ValidationError does): it is a
                    // secret, so it never leaves this function.
                    message: match &self.external_id {
                        Some(secret) => secret.redact(&message),
                        None => message,
                    },
                }
            })?;
        let Some(creds) = out.credentials() else {
            return Err(AssumeFailure {
                code: "InvalidResponse".into(),
                message: "the AssumeRole answer held no credentials".into(),
            });
        };
        let expires = std::time::SystemTime::try_from(*creds.expiration()).ok();
        Ok(Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_string()),
            expires,
            "keyhygiene-assume-role",
        ))
    }
}

impl ProvideCredentials for RoleCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            if let Some(first) = self.first.lock().expect("not poisoned").take() {
                return Ok(first);
            }
            tracing::debug!("renewing the credentials of {}", self.role_arn);
            self.assume().await.map_err(|failure| {
                CredentialsError::provider_error(format!(
                    "AssumeRole {} failed: {}: {}",
                    self.role_arn, failure.code, failure.message
                ))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_use_the_callers_partition() {
        let caller = |arn: &str| Caller {
            account_id: "111111111111".parse().unwrap(),
            arn: arn.into(),
        };
        assert_eq!(
            caller("arn:aws:iam::111111111111:user/alice").role_arn("222222222222", "Audit"),
            "arn:aws:iam::222222222222:role/Audit"
        );
        assert_eq!(
            caller("arn:aws-cn:sts::111111111111:assumed-role/x/y")
                .role_arn("222222222222", "Audit"),
            "arn:aws-cn:iam::222222222222:role/Audit"
        );
        assert_eq!(
            caller("arn:aws-us-gov:iam::111111111111:root").role_arn("222222222222", "a/b"),
            "arn:aws-us-gov:iam::222222222222:role/a/b"
        );
        assert_eq!(caller("").partition(), "aws");
    }
}
