//! The credential report (generate, poll, parse) and the account-summary fallback for the
//! root user's keys.

use std::time::Duration;

use aws_sdk_iam::operation::generate_credential_report::GenerateCredentialReportError;
use aws_sdk_iam::operation::get_credential_report::GetCredentialReportError;
use aws_sdk_iam::types::{ReportStateType, SummaryKeyType};
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::errors::{classify, describe};
use super::{Ctx, next_delay, to_utc};
use crate::credential_report::{self, CredentialReport};
use crate::inventory::{CREDENTIAL_REPORT_MAX_AGE_HOURS, CoverageGap, RootKeys};

/// How long and how often to wait for IAM to finish a credential report.
#[derive(Clone, Debug)]
pub struct ReportPolling {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Give up (and record a gap) after this long.
    pub max_wait: Duration,
}

impl Default for ReportPolling {
    fn default() -> Self {
        ReportPolling {
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(5),
            max_wait: Duration::from_secs(180),
        }
    }
}

pub(crate) struct FetchedReport {
    pub report: CredentialReport,
    pub generated_at: DateTime<Utc>,
}

/// A fetched report with its rows indexed by user name, shared by the users' tasks.
pub(crate) struct PlacedReport {
    pub fetched: FetchedReport,
    pub index: crate::credential_report::RowIndex,
}

/// The report (or the gap that replaced it) as every user's task awaits it.
pub(crate) type SharedReport<'a> = futures::future::Shared<
    futures::future::LocalBoxFuture<'a, std::sync::Arc<Result<PlacedReport, CoverageGap>>>,
>;

fn report_gap(operation: &str, code: &str, impact: &str) -> CoverageGap {
    CoverageGap {
        user: None,
        access_key_id: None,
        operation: operation.to_string(),
        error_code: code.to_string(),
        impact: impact.to_string(),
    }
}

const REPORT_IMPACT: &str = "no credential report: the root user's keys come from the account summary (presence only), and console-password and MFA context is missing";

/// Generates the credential report and waits, with bounded backoff, until IAM serves it.
pub(crate) async fn fetch(
    ctx: &Ctx<'_>,
    polling: &ReportPolling,
) -> Result<FetchedReport, CoverageGap> {
    let asked_at = Utc::now();
    let deadline = Instant::now() + polling.max_wait;
    let mut delay = polling.first_delay;
    let mut wait = |operation: &'static str, code: &'static str| {
        let now = Instant::now();
        let this = delay;
        delay = next_delay(delay, polling.max_delay);
        if now + this > deadline {
            tracing::warn!(
                "the credential report was not ready after {:?} ({code})",
                polling.max_wait
            );
            Err(report_gap(operation, code, REPORT_IMPACT))
        } else {
            Ok(tokio::time::sleep(this))
        }
    };

    let mut needs_generate = true;
    loop {
        if needs_generate {
            let result = {
                let _permit = ctx.limiter.acquire("GenerateCredentialReport").await;
                ctx.iam.generate_credential_report().send().await
            };
            match result {
                Ok(out) => {
                    needs_generate = false;
                    if out.state() != Some(&ReportStateType::Complete) {
                        wait("GenerateCredentialReport", "ReportInProgress")?.await;
                    }
                }
                Err(err)
                    if matches!(
                        err.as_service_error(),
                        Some(GenerateCredentialReportError::LimitExceededException(_))
                    ) =>
                {
                    // IAM limits how often reports are generated; the SDK does not retry this.
                    wait("GenerateCredentialReport", "LimitExceeded")?.await;
                    continue;
                }
                Err(err) => {
                    let failure = classify(&err);
                    tracing::warn!(
                        "GenerateCredentialReport failed ({}): {}",
                        failure.code(),
                        describe(&err)
                    );
                    return Err(report_gap(
                        "GenerateCredentialReport",
                        failure.code(),
                        REPORT_IMPACT,
                    ));
                }
            }
        }

        let result = {
            let _permit = ctx.limiter.acquire("GetCredentialReport").await;
            ctx.iam.get_credential_report().send().await
        };
        match result {
            Ok(out) => {
                let Some(content) = out.content() else {
                    return Err(report_gap(
                        "GetCredentialReport",
                        "InvalidResponse",
                        "the credential report had no content",
                    ));
                };
                let generated_at = out
                    .generated_time()
                    .and_then(to_utc)
                    .unwrap_or_else(Utc::now);
                // IAM regenerates a report older than 4 hours when asked, so an older one
                // right after GenerateCredentialReport means the endpoint served stale data.
                if asked_at - generated_at
                    > chrono::Duration::hours(CREDENTIAL_REPORT_MAX_AGE_HOURS)
                {
                    tracing::warn!(
                        "the credential report was generated at {generated_at}, more than 4 hours \
                         before this crawl asked for a fresh one; root-key and console-login \
                         data from it may be out of date"
                    );
                }
                return match credential_report::parse(content.as_ref(), "credential report") {
                    Ok(report) => Ok(FetchedReport {
                        report,
                        generated_at,
                    }),
                    Err(e) => {
                        tracing::warn!("{e}");
                        Err(report_gap(
                            "GetCredentialReport",
                            "MalformedReport",
                            &format!("the credential report could not be read: {e}"),
                        ))
                    }
                };
            }
            Err(err) => match err.as_service_error() {
                Some(GetCredentialReportError::CredentialReportNotReadyException(_)) => {
                    wait("GetCredentialReport", "ReportInProgress")?.await;
                }
                Some(
                    GetCredentialReportError::CredentialReportNotPresentException(_)
                    | GetCredentialReportError::CredentialReportExpiredException(_),
                ) => {
                    needs_generate = true;
                    wait("GetCredentialReport", "ReportNotPresent")?.await;
                }
                _ => {
                    let failure = classify(&err);
                    tracing::warn!(
                        "GetCredentialReport failed ({}): {}",
                        failure.code(),
                        describe(&err)
                    );
                    return Err(report_gap(
                        "GetCredentialReport",
                        failure.code(),
                        REPORT_IMPACT,
                    ));
                }
            },
        }
    }
}

/// The root user's keys as GetAccountSummary tells them: present or not, no detail.
pub(crate) async fn root_from_summary(ctx: &Ctx<'_>) -> Result<RootKeys, CoverageGap> {
    let result = {
        let _permit = ctx.limiter.acquire("GetAccountSummary").await;
        ctx.iam.get_account_summary().send().await
    };
    let impact = "whether the root user has access keys is unknown";
    match result {
        Ok(out) => match out
            .summary_map()
            .and_then(|m| m.get(&SummaryKeyType::AccountAccessKeysPresent))
        {
            Some(n) => Ok(RootKeys::AccountSummary {
                keys_present: *n > 0,
            }),
            None => Err(report_gap(
                "GetAccountSummary",
                "InvalidResponse",
                &format!("the summary had no AccountAccessKeysPresent; {impact}"),
            )),
        },
        Err(err) => Err(report_gap(
            "GetAccountSummary",
            classify(&err).code(),
            impact,
        )),
    }
}
