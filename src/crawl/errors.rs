//! Turning SDK errors into the two outcomes the crawler cares about.

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

/// Why a call did not return data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallFailure {
    /// The user or key no longer exists (deleted while the crawl ran).
    Gone,
    /// The call failed after every retry; `code` is the AWS error code or the transport
    /// failure kind. This becomes a coverage gap.
    Failed { code: String },
}

impl CallFailure {
    pub fn code(&self) -> &str {
        match self {
            CallFailure::Gone => "NoSuchEntity",
            CallFailure::Failed { code } => code,
        }
    }
}

pub fn classify<E, R>(err: &SdkError<E, R>) -> CallFailure
where
    E: ProvideErrorMetadata,
    R: std::fmt::Debug,
{
    let code = match err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("NoSuchEntity") => return CallFailure::Gone,
            Some(code) => code.to_string(),
            None => "UnknownServiceError".to_string(),
        },
        SdkError::TimeoutError(_) => "Timeout".to_string(),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => "Timeout".to_string(),
        SdkError::DispatchFailure(failure) if failure.is_io() => "ConnectionError".to_string(),
        SdkError::DispatchFailure(_) => "DispatchFailure".to_string(),
        SdkError::ResponseError(_) => "InvalidResponse".to_string(),
        SdkError::ConstructionFailure(_) => "RequestConstructionFailed".to_string(),
        _ => "UnknownError".to_string(),
    };
    CallFailure::Failed { code }
}

/// The error's message for logs, without request ids or credentials.
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            service.err().message().unwrap_or("no message").to_string()
        }
        other => aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
    }
}

/// The failure of one call, classified, and logged unless the subject was simply gone.
pub(crate) fn log_failure<E, R>(
    operation: &str,
    subject: &str,
    err: &aws_sdk_iam::error::SdkError<E, R>,
) -> CallFailure
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let failure = classify(err);
    if failure != CallFailure::Gone {
        tracing::warn!(
            "{operation} for {subject} failed ({}): {}",
            failure.code(),
            describe(err)
        );
    }
    failure
}
