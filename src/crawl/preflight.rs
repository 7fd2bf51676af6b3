//! The pre-flight check: credentials, then one GetCallerIdentity, within
//! [`PREFLIGHT_LIMIT`], with a one-line error that names what went wrong. Without it, missing
//! or expired credentials would surface as a coverage gap on every call of the crawl.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::accounts::Caller;
use super::client::{AwsOptions, Clients, sdk_config};
use super::stats::is_throttling_code;

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
    /// `--profile` names a profile no configuration file defines.
    #[error(
        "no AWS profile named {name} in {files}: {known} (pass one of them to --profile, or add [profile {name}] to the config file)"
    )]
    UnknownProfile {
        name: String,
        /// The files read, in words.
        files: String,
        /// The profiles they define, in words.
        known: String,
    },
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
    /// STS answered, but its account id is not one.
    #[error(
        "{endpoint} answered sts:GetCallerIdentity with the account id {detail}: the endpoint does not look like AWS STS (check --endpoint-url)"
    )]
    BadAccount { endpoint: String, detail: String },
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

/// Refuses a `--profile` that neither the config file nor the credentials file defines
/// (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and
/// `~/.aws/credentials`), naming the profiles they do define. Without this, the SDK would
/// go on to other credential sources and end with a message about instance metadata.
fn check_profile(name: &str) -> Result<(), ConnectError> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
    };
    let mut known = std::collections::BTreeSet::new();
    let mut files = Vec::new();
    for (path, in_config) in [
        (file("AWS_CONFIG_FILE", "config"), true),
        (file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), false),
    ] {
        let Some(path) = path else { continue };
        files.push(path.display().to_string());
        let Ok(text) = crate::fsio::read_limited_text(&path, "AWS config file", 1 << 20) else {
            continue;
        };
        known.extend(profile_names(&text, in_config));
    }
    if known.contains(name) {
        return Ok(());
    }
    Err(ConnectError::UnknownProfile {
        name: name.to_string(),
        files: files.join(" and "),
        known: if known.is_empty() {
            "they define no profile".to_string()
        } else {
            let names: Vec<&str> = known.iter().map(String::as_str).collect();
            format!("the profiles there are {}", names.join(", "))
        },
    })
}

/// The profiles an AWS config file (`[profile NAME]`, and `[default]`) or credentials file
/// (`[NAME]`) defines.
fn profile_names(text: &str, config_file: bool) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let section = line.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
            if section == "default" {
                return Some(section.to_string());
            }
            match (config_file, section.split_once(char::is_whitespace)) {
                (true, Some(("profile", name))) => Some(name.trim().to_string()),
                (true, _) => None,
                (false, _) => Some(section.to_string()),
            }
        })
        .collect()
}

/// A working connection: the caller's clients, the configuration they were built from
/// (member accounts' clients start from it) and who the caller is.
#[derive(Clone, Debug)]
pub struct Connected {
    pub clients: Clients,
    pub config: aws_config::SdkConfig,
    pub caller: Caller,
}

/// Builds the clients and proves they can work before the crawl starts: the credentials
/// resolve and STS answers GetCallerIdentity. Returns the clients and the caller.
///
/// Without this check, missing or expired credentials would surface as a coverage gap on
/// every call of the crawl; with it, a scheduled job fails at once with one clear line.
/// The whole check takes at most [`PREFLIGHT_LIMIT`]: a crawl call may take 90 s with all
/// its retries, but an endpoint that cannot answer one GetCallerIdentity within 10 s is not
/// worth a crawl.
pub async fn connect(opts: &AwsOptions) -> Result<Connected, ConnectError> {
    use aws_sdk_iam::config::ProvideCredentials;

    let deadline = tokio::time::Instant::now() + PREFLIGHT_LIMIT;
    let endpoint = opts
        .endpoint_url
        .clone()
        .unwrap_or_else(|| "AWS STS".to_string());
    if let Some(name) = &opts.profile {
        check_profile(name)?;
    }
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
        Ok(out) => {
            let text = out.account().unwrap_or_default();
            let account_id =
                crate::ident::AccountId::parse(text).map_err(|_| ConnectError::BadAccount {
                    endpoint: endpoint.to_string(),
                    detail: format!("`{}`", crate::text::shown(text, 40)),
                })?;
            Ok(Connected {
                clients,
                config,
                caller: Caller {
                    account_id,
                    arn: out.arn().unwrap_or_default().to_string(),
                },
            })
        }
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
