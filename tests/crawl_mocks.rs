//! The crawler's error paths, against mocked IAM and STS clients (aws-smithy-mocks).
//!
//! Every test crawls a small account (alice, bob, carol, dave) whose every answer is
//! mocked, injects one kind of trouble, and checks the exact inventory that comes out.
//! Error answers are real IAM error documents sent as HTTP responses, so the SDK's own
//! deserialisers and retry classifiers see exactly what IAM would send.
//!
//! The crawls run several calls at once (concurrency 4) on tokio's single-threaded test
//! runtime. Keep it single-threaded: the mock interceptor keeps the answer it is about to
//! serve in one slot per client. A mocked attempt runs from request to answer without
//! yielding, so on one thread two calls never swap answers; on several threads they could.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_iam::Client as Iam;
use aws_sdk_iam::operation::generate_credential_report::GenerateCredentialReportOutput;
use aws_sdk_iam::operation::get_access_key_last_used::GetAccessKeyLastUsedOutput;
use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
use aws_sdk_iam::operation::get_account_summary::GetAccountSummaryOutput;
use aws_sdk_iam::operation::get_credential_report::GetCredentialReportOutput;
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput;
use aws_sdk_iam::operation::list_user_tags::ListUserTagsOutput;
use aws_sdk_iam::operation::list_users::ListUsersOutput;
use aws_sdk_iam::primitives::{Blob, DateTime as SdkDateTime};
use aws_sdk_iam::types::{
    AccessKeyLastUsed, AccessKeyMetadata, ReportFormatType, ReportStateType, StatusType,
    SummaryKeyType,
};
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, Utc};

use keyhygiene::crawl::{CallPlan, CallStats, Clients, confirm_last_use};
use keyhygiene::crawl::{CrawlOptions, ReportPolling, crawl};
use keyhygiene::inventory::{
    AccessKey, CoverageGap, CredentialReportInfo, Inventory, KeyStatus, LastUse, LastUseSource,
    LoginInfo, Removed, RootKey, RootKeys, SourceInfo, Tag, User,
};

const ACCOUNT_ID: &str = "123456789012";
const REPORT: &str = include_str!("fixtures/credential-report.csv");
const REPORT_NO_ROOT: &str = include_str!("fixtures/credential-report-no-root.csv");
const REPORT_GENERATED: &str = "2026-01-16T00:00:00+00:00";

// ---------------------------------------------------------------------------------------
// The mocked account
// ---------------------------------------------------------------------------------------

struct MockKey {
    id: &'static str,
    active: bool,
    created: &'static str,
    /// (date, service, region) of the last use; `None` when never used.
    used: Option<(&'static str, &'static str, &'static str)>,
}

struct MockUser {
    name: &'static str,
    path: &'static str,
    created: &'static str,
    tags: &'static [(&'static str, &'static str)],
    keys: &'static [MockKey],
}

const ALICE_KEY_1: &str = "AKIAALICE0000000001";
const ALICE_KEY_2: &str = "AKIAALICE0000000002";
const CAROL_KEY: &str = "AKIACAROL0000000001";
const DAVE_KEY: &str = "AKIADAVE00000000001";

const ACCOUNT: &[MockUser] = &[
    MockUser {
        name: "alice",
        path: "/",
        created: "2021-02-03T04:05:06Z",
        tags: &[("team", "payments"), (ALICE_KEY_1, "laptop")],
        keys: &[
            MockKey {
                id: ALICE_KEY_1,
                active: true,
                created: "2024-03-10T10:00:00Z",
                used: Some(("2026-01-15T10:00:00Z", "iam", "eu-west-1")),
            },
            MockKey {
                id: ALICE_KEY_2,
                active: true,
                created: "2025-11-20T08:00:00Z",
                used: None,
            },
        ],
    },
    MockUser {
        name: "bob",
        path: "/",
        created: "2022-05-05T05:05:05Z",
        tags: &[],
        keys: &[],
    },
    MockUser {
        name: "carol",
        path: "/eng/data/",
        created: "2022-01-01T00:00:00Z",
        tags: &[],
        keys: &[MockKey {
            id: CAROL_KEY,
            active: false,
            created: "2022-01-01T00:00:00Z",
            used: Some(("2023-05-05T05:05:05Z", "s3", "us-east-1")),
        }],
    },
    MockUser {
        name: "dave",
        path: "/ops/",
        created: "2023-03-03T03:03:03Z",
        tags: &[(DAVE_KEY, "ci runner")],
        keys: &[MockKey {
            id: DAVE_KEY,
            active: true,
            created: "2023-04-04T04:04:04Z",
            used: Some(("2026-01-02T03:04:05Z", "sts", "eu-central-1")),
        }],
    },
];

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn sdk_time(s: &str) -> SdkDateTime {
    SdkDateTime::from_secs(at(s).timestamp())
}

fn mock_user(name: &str) -> &'static MockUser {
    ACCOUNT.iter().find(|u| u.name == name).unwrap()
}

fn arn(user: &MockUser) -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:user{}{}", user.path, user.name)
}

fn sdk_user(user: &MockUser) -> aws_sdk_iam::types::User {
    aws_sdk_iam::types::User::builder()
        .user_name(user.name)
        .path(user.path)
        .user_id(format!("AIDA{}", user.name.to_uppercase()))
        .arn(arn(user))
        .create_date(sdk_time(user.created))
        .build()
        .unwrap()
}

fn users_page(names: &[&str], next_marker: Option<&str>) -> ListUsersOutput {
    ListUsersOutput::builder()
        .set_users(Some(names.iter().map(|n| sdk_user(mock_user(n))).collect()))
        .is_truncated(next_marker.is_some())
        .set_marker(next_marker.map(str::to_string))
        .build()
        .unwrap()
}

fn all_users_page() -> ListUsersOutput {
    let names: Vec<&str> = ACCOUNT.iter().map(|u| u.name).collect();
    users_page(&names, None)
}

/// The user's tags as IAM answers them (none for a user the account does not have).
fn sdk_tags(name: &str) -> Vec<aws_sdk_iam::types::Tag> {
    ACCOUNT
        .iter()
        .find(|u| u.name == name)
        .map(|u| u.tags)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(*k)
                .value(*v)
                .build()
                .unwrap()
        })
        .collect()
}

fn tags_of(name: &str) -> ListUserTagsOutput {
    ListUserTagsOutput::builder()
        .set_tags(Some(sdk_tags(name)))
        .is_truncated(false)
        .build()
        .unwrap()
}

fn keys_of(name: &str) -> ListAccessKeysOutput {
    let keys = ACCOUNT
        .iter()
        .find(|u| u.name == name)
        .map(|u| u.keys)
        .unwrap_or_default()
        .iter()
        .map(|k| {
            AccessKeyMetadata::builder()
                .user_name(name)
                .access_key_id(k.id)
                .status(if k.active {
                    StatusType::Active
                } else {
                    StatusType::Inactive
                })
                .create_date(sdk_time(k.created))
                .build()
        })
        .collect();
    ListAccessKeysOutput::builder()
        .set_access_key_metadata(Some(keys))
        .is_truncated(false)
        .build()
        .unwrap()
}

/// IAM's answer for a key: with a date, service and region when used; with `N/A` for
/// the service and region and no date when never used.
fn last_used_of(key_id: &str) -> GetAccessKeyLastUsedOutput {
    let (user, key) = ACCOUNT
        .iter()
        .find_map(|u| u.keys.iter().find(|k| k.id == key_id).map(|k| (u, k)))
        .unwrap_or_else(|| panic!("unknown key {key_id}"));
    let last = match key.used {
        Some((date, service, region)) => AccessKeyLastUsed::builder()
            .last_used_date(sdk_time(date))
            .service_name(service)
            .region(region),
        None => AccessKeyLastUsed::builder()
            .service_name("N/A")
            .region("N/A"),
    };
    GetAccessKeyLastUsedOutput::builder()
        .user_name(user.name)
        .access_key_last_used(last.build().unwrap())
        .build()
}

fn report_output(csv: &'static str) -> GetCredentialReportOutput {
    GetCredentialReportOutput::builder()
        .content(Blob::new(csv.as_bytes()))
        .report_format(ReportFormatType::TextCsv)
        .generated_time(sdk_time(REPORT_GENERATED))
        .build()
}

fn generate_output(state: ReportStateType) -> GenerateCredentialReportOutput {
    GenerateCredentialReportOutput::builder()
        .state(state)
        .description("report generation")
        .build()
}

fn summary_output(root_keys: i32) -> GetAccountSummaryOutput {
    GetAccountSummaryOutput::builder()
        .summary_map(SummaryKeyType::AccountAccessKeysPresent, root_keys)
        .summary_map(SummaryKeyType::Users, ACCOUNT.len() as i32)
        .build()
}

/// An IAM error answer, as IAM sends it (awsQuery XML).
fn iam_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!(
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>x</RequestId></ErrorResponse>"
        )),
    )
}

fn throttling() -> HttpResponse {
    iam_error(400, "Throttling", "Rate exceeded")
}

fn access_denied() -> HttpResponse {
    iam_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/auditor is not authorized to perform this action",
    )
}

fn no_such_entity() -> HttpResponse {
    iam_error(
        404,
        "NoSuchEntity",
        "The user with name carol cannot be found.",
    )
}

/// The healthy account's answers. Rules given to [`clients`] come before these, so a test
/// overrides a call by adding a rule that matches it.
fn account_rules(report: Option<&'static str>, root_keys_present: i32) -> Vec<Rule> {
    let mut rules = vec![
        mock!(Iam::list_users).then_compute_output(|_| all_users_page()),
        mock!(Iam::list_user_tags).then_compute_output(|r| tags_of(r.user_name().unwrap())),
        // The report lists erin, whom the account no longer has: IAM answers NoSuchEntity.
        mock!(Iam::list_access_keys)
            .match_requests(|r| !ACCOUNT.iter().any(|u| Some(u.name) == r.user_name()))
            .then_http_response(no_such_entity),
        mock!(Iam::list_access_keys).then_compute_output(|r| keys_of(r.user_name().unwrap())),
        mock!(Iam::get_access_key_last_used)
            .then_compute_output(|r| last_used_of(r.access_key_id().unwrap())),
        mock!(Iam::generate_credential_report)
            .then_output(|| generate_output(ReportStateType::Complete)),
        mock!(Iam::get_account_summary).then_output(move || summary_output(root_keys_present)),
    ];
    if let Some(csv) = report {
        rules.push(mock!(Iam::get_credential_report).then_output(move || report_output(csv)));
    }
    rules
}

/// Retries that really happen, with a fixed backoff of 1, 2, then 4 ms (no jitter). The
/// mocked clients use the crawl's own retry partition too (no client-wide retry quota), so
/// the tests of this file, which share one process, never take retries from each other.
fn fast_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(4))
        .with_use_static_exponential_base(true)
}

/// Counts the calls in flight (retries and backoff included) and remembers the most.
#[derive(Debug, Default)]
struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
}

#[derive(Debug, Clone)]
struct InFlightInterceptor(Arc<InFlight>);

impl Intercept for InFlightInterceptor {
    fn name(&self) -> &'static str {
        "InFlight"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let now = self.0.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.max.fetch_max(now, Ordering::SeqCst);
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Mocked clients: `overrides` first, then the healthy account's answers.
fn clients(overrides: Vec<Rule>, healthy: Vec<Rule>) -> Clients {
    clients_counting(overrides, healthy, &Arc::default())
}

/// [`clients`] that also count their calls in flight into `in_flight`.
fn clients_counting(
    overrides: Vec<Rule>,
    healthy: Vec<Rule>,
    in_flight: &Arc<InFlight>,
) -> Clients {
    clients_with(overrides, healthy, in_flight, false)
}

/// Mocked clients whose IAM client checks the listings' raw answers, as the crawl's own
/// clients do ([`keyhygiene::crawl::RequiredElements`]). Only for answers sent as HTTP
/// bodies: a mocked output has no body to check.
fn clients_checking_answers(overrides: Vec<Rule>, healthy: Vec<Rule>) -> Clients {
    clients_with(overrides, healthy, &Arc::default(), true)
}

fn clients_with(
    overrides: Vec<Rule>,
    healthy: Vec<Rule>,
    in_flight: &Arc<InFlight>,
    check_answers: bool,
) -> Clients {
    let stats = Arc::new(CallStats::default());
    let rules: Vec<Rule> = overrides.into_iter().chain(healthy).collect();
    let iam_stats = stats.interceptor();
    let iam_in_flight = InFlightInterceptor(in_flight.clone());
    let iam = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        rules.iter(),
        move |b: aws_sdk_iam::config::Builder| b
            .retry_config(fast_retries())
            .retry_partition(keyhygiene::crawl::retry_partition())
            .interceptor(iam_stats.clone())
            .interceptor(iam_in_flight.clone())
            .interceptor(CheckAnswers(check_answers))
    );
    let identity = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
        GetCallerIdentityOutput::builder()
            .account(ACCOUNT_ID)
            .arn(format!("arn:aws:iam::{ACCOUNT_ID}:user/auditor"))
            .user_id("AIDAAUDITOR")
            .build()
    });
    let sts_stats = stats.interceptor();
    let sts_in_flight = InFlightInterceptor(in_flight.clone());
    let sts = mock_client!(
        aws_sdk_sts,
        RuleMode::MatchAny,
        [&identity],
        move |b: aws_sdk_sts::config::Builder| b
            .retry_config(fast_retries())
            .retry_partition(keyhygiene::crawl::retry_partition())
            .interceptor(sts_stats.clone())
            .interceptor(sts_in_flight.clone())
    );
    Clients { iam, sts, stats }
}

/// [`keyhygiene::crawl::RequiredElements`], when on.
#[derive(Debug, Clone)]
struct CheckAnswers(bool);

impl Intercept for CheckAnswers {
    fn name(&self) -> &'static str {
        "CheckAnswers"
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextMut<'_>,
        rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.0 {
            keyhygiene::crawl::RequiredElements.modify_before_attempt_completion(context, rc, cfg)
        } else {
            Ok(())
        }
    }
}

/// The full call plan: these tests are about each call's failures.
fn options() -> CrawlOptions {
    CrawlOptions {
        concurrency: 4,
        plan: CallPlan::Full,
        report: ReportPolling {
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            max_wait: Duration::from_secs(10),
        },
        ..CrawlOptions::default()
    }
}

async fn run(overrides: Vec<Rule>) -> Inventory {
    let clients = clients(overrides, account_rules(Some(REPORT), 1));
    crawl(&clients, &options()).await
}

// ---------------------------------------------------------------------------------------
// What the crawl should produce
// ---------------------------------------------------------------------------------------

/// Console-login context from the report fixture.
fn login_of(name: &str) -> Option<LoginInfo> {
    Some(match name {
        "alice" => LoginInfo {
            password_enabled: true,
            password_last_used: Some(at("2026-01-14T09:30:00Z")),
            mfa_active: true,
        },
        "bob" => LoginInfo {
            password_enabled: false,
            password_last_used: None,
            mfa_active: false,
        },
        "carol" => LoginInfo {
            password_enabled: true,
            password_last_used: None,
            mfa_active: false,
        },
        "dave" => LoginInfo {
            password_enabled: false,
            password_last_used: None,
            mfa_active: true,
        },
        _ => return None,
    })
}

fn expected_key(user: &MockUser, key: &MockKey) -> AccessKey {
    AccessKey {
        id: Some(key.id.to_string()),
        slot: None,
        status: if key.active {
            KeyStatus::Active
        } else {
            KeyStatus::Inactive
        },
        created: at(key.created),
        last_used_source: Default::default(),
        last_used: match key.used {
            Some((date, service, region)) => LastUse::Used {
                date: at(date),
                service: Some(service.to_string()),
                region: Some(region.to_string()),
            },
            None => LastUse::Never,
        },
        description: user
            .tags
            .iter()
            .find(|(k, _)| *k == key.id)
            .map(|(_, v)| v.to_string()),
    }
}

/// A user as a complete crawl (with the report merged) records them.
fn expected_user(name: &str) -> User {
    let user = mock_user(name);
    User {
        name: user.name.to_string(),
        arn: arn(user),
        path: user.path.to_string(),
        user_id: format!("AIDA{}", user.name.to_uppercase()),
        created: Some(at(user.created)),
        tags: user
            .tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
        keys: user.keys.iter().map(|k| expected_key(user, k)).collect(),
        login: login_of(name),
    }
}

fn expected_users() -> Vec<User> {
    ACCOUNT.iter().map(|u| expected_user(u.name)).collect()
}

fn root_from_report() -> RootKeys {
    RootKeys::CredentialReport {
        arn: Some(format!("arn:aws:iam::{ACCOUNT_ID}:root")),
        keys: vec![
            RootKey {
                slot: 1,
                active: true,
                last_rotated: Some(at("2020-05-01T12:00:00Z")),
                last_used: LastUse::Used {
                    date: at("2025-12-24T17:00:00Z"),
                    service: Some("s3".into()),
                    region: Some("us-east-1".into()),
                },
            },
            RootKey {
                slot: 2,
                active: false,
                last_rotated: Some(at("2021-07-07T07:07:07Z")),
                last_used: LastUse::Never,
            },
        ],
    }
}

fn report_info(has_root_row: bool) -> Option<CredentialReportInfo> {
    Some(CredentialReportInfo {
        generated_at: Some(at(REPORT_GENERATED)),
        has_root_row,
    })
}

/// erin, whom the credential report lists and the account no longer has: deleted since the
/// report, a note and not a gap.
fn erin_deleted_since_the_report() -> Removed {
    Removed {
        user: "erin".into(),
        access_key_id: None,
        operation: "CredentialReport".into(),
    }
}

/// Checks everything a clean crawl of the account must hold.
fn assert_complete(inv: &Inventory) {
    assert_eq!(inv.gaps, vec![]);
    assert!(inv.is_complete());
    assert_eq!(
        inv.removed_during_crawl,
        vec![erin_deleted_since_the_report()]
    );
    assert_eq!(inv.account_id.as_deref(), Some(ACCOUNT_ID));
    assert_eq!(inv.source, SourceInfo::Live { endpoint: None });
    assert_eq!(inv.users, expected_users());
    assert_eq!(inv.root, root_from_report());
    assert_eq!(inv.credential_report, report_info(true));
    let coverage = inv.coverage.as_ref().unwrap();
    assert!(coverage.complete);
    assert_eq!(
        (
            coverage.users_listed,
            coverage.users_fully_audited,
            coverage.keys,
            coverage.keys_with_last_use
        ),
        // Four users' keys and the root user's two, from the report's root row.
        (4, 4, 4 + 2, 4 + 2)
    );
}

fn calls(inv: &Inventory, operation: &str) -> u64 {
    inv.stats.calls.get(operation).copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_healthy_account_is_crawled_completely() {
    let inv = run(vec![]).await;
    assert_complete(&inv);
    // One call per user for tags and keys, one per key for the last use; erin, whom the
    // report lists and the listing does not, is asked for by name.
    assert_eq!(calls(&inv, "ListUsers"), 1);
    assert_eq!(calls(&inv, "ListUserTags"), 4);
    assert_eq!(calls(&inv, "ListAccessKeys"), 4 + 1);
    assert_eq!(calls(&inv, "GetAccessKeyLastUsed"), 4);
    assert_eq!(calls(&inv, "GenerateCredentialReport"), 1);
    assert_eq!(calls(&inv, "GetCredentialReport"), 1);
    assert_eq!(calls(&inv, "GetAccountSummary"), 1);
    assert_eq!(calls(&inv, "GetCallerIdentity"), 1);
    assert_eq!((inv.stats.retries, inv.stats.throttled), (0, 0));
    assert_eq!(inv.stats.gaps, 0);
    // A spot check of the expectation itself, written out.
    assert_eq!(
        inv.users[0].keys[0],
        AccessKey {
            id: Some(ALICE_KEY_1.into()),
            slot: None,
            status: KeyStatus::Active,
            created: at("2024-03-10T10:00:00Z"),
            last_used_source: Default::default(),
            last_used: LastUse::Used {
                date: at("2026-01-15T10:00:00Z"),
                service: Some("iam".into()),
                region: Some("eu-west-1".into()),
            },
            description: Some("laptop".into()),
        }
    );
}

#[tokio::test]
async fn throttling_is_retried_until_the_call_succeeds() {
    let list_users = mock!(Iam::list_users)
        .sequence()
        .http_response(throttling)
        .times(3)
        .output(all_users_page)
        .build();
    let alice_keys = mock!(Iam::list_access_keys)
        .match_requests(|r| r.user_name() == Some("alice"))
        .sequence()
        .http_response(throttling)
        .times(2)
        .output(|| keys_of("alice"))
        .build();
    let inv = run(vec![list_users, alice_keys]).await;

    assert_complete(&inv);
    assert_eq!(inv.stats.throttled, 5);
    assert_eq!(inv.stats.retries, 5);
    assert_eq!(calls(&inv, "ListUsers"), 4);
    assert_eq!(calls(&inv, "ListAccessKeys"), 4 + 2 + 1);
}

#[tokio::test]
async fn throttling_past_every_retry_is_a_gap() {
    let bob_tags = mock!(Iam::list_user_tags)
        .match_requests(|r| r.user_name() == Some("bob"))
        .sequence()
        .http_response(throttling)
        .times(4)
        .build();
    let inv = run(vec![bob_tags]).await;

    assert_eq!(
        inv.gaps,
        vec![CoverageGap {
            user: Some("bob".into()),
            access_key_id: None,
            operation: "ListUserTags".into(),
            error_code: "Throttling".into(),
            impact: "the user's tags and key descriptions are unknown".into(),
        }]
    );
    let mut users = expected_users();
    users[1].tags = vec![];
    assert_eq!(inv.users, users);
    assert_eq!(inv.stats.throttled, 4);
    assert_eq!(inv.stats.retries, 3);
    assert_eq!(inv.stats.gaps, 1);
}

#[tokio::test]
async fn access_denied_on_one_users_keys_is_a_gap_and_the_rest_is_complete() {
    let carol_keys = mock!(Iam::list_access_keys)
        .match_requests(|r| r.user_name() == Some("carol"))
        .then_http_response(access_denied);
    let inv = run(vec![carol_keys]).await;

    assert_eq!(
        inv.gaps,
        vec![CoverageGap {
            user: Some("carol".into()),
            access_key_id: None,
            operation: "ListAccessKeys".into(),
            error_code: "AccessDenied".into(),
            impact: "the user's access keys were not listed; none of them was audited".into(),
        }]
    );
    assert!(!inv.is_complete());
    let mut users = expected_users();
    users[2].keys = vec![];
    assert_eq!(inv.users, users);
    assert_eq!(
        inv.removed_during_crawl,
        vec![erin_deleted_since_the_report()]
    );
    assert_eq!(inv.root, root_from_report());
    let coverage = inv.coverage.as_ref().unwrap();
    assert!(!coverage.complete);
    assert_eq!(
        (coverage.users_listed, coverage.users_fully_audited),
        (4, 3)
    );
    assert_eq!((coverage.keys, coverage.keys_with_last_use), (3 + 2, 3 + 2));
    // AccessDenied is not worth retrying.
    assert_eq!(calls(&inv, "ListAccessKeys"), 4 + 1);
    assert_eq!(inv.stats.retries, 0);
    assert_eq!(inv.stats.gaps, 1);
}

#[tokio::test]
async fn users_and_keys_deleted_during_the_crawl_are_recorded_as_removed() {
    // carol is deleted after ListUsers and before ListAccessKeys.
    let carol_keys = mock!(Iam::list_access_keys)
        .match_requests(|r| r.user_name() == Some("carol"))
        .then_http_response(no_such_entity);
    // alice's second key is deleted before its last use is asked for.
    let alice_key = mock!(Iam::get_access_key_last_used)
        .match_requests(|r| r.access_key_id() == Some(ALICE_KEY_2))
        .then_http_response(|| {
            iam_error(
                404,
                "NoSuchEntity",
                "The Access Key with id AKIAALICE0000000002 cannot be found",
            )
        });
    let inv = run(vec![carol_keys, alice_key]).await;

    assert_eq!(inv.gaps, vec![]);
    assert!(inv.is_complete());
    assert_eq!(
        inv.removed_during_crawl,
        vec![
            Removed {
                user: "alice".into(),
                access_key_id: Some(ALICE_KEY_2.into()),
                operation: "GetAccessKeyLastUsed".into(),
            },
            Removed {
                user: "carol".into(),
                access_key_id: None,
                operation: "ListAccessKeys".into(),
            },
            erin_deleted_since_the_report(),
        ]
    );
    let mut users = expected_users();
    users[0].keys.truncate(1);
    users.remove(2);
    assert_eq!(inv.users, users);
    assert_eq!(inv.stats.gaps, 0);
}

#[tokio::test]
async fn a_report_in_progress_is_polled_until_ready() {
    let generate = mock!(Iam::generate_credential_report)
        .then_output(|| generate_output(ReportStateType::Started));
    let get = mock!(Iam::get_credential_report)
        .sequence()
        .http_response(|| iam_error(404, "ReportInProgress", "Report generation is in progress"))
        .times(3)
        .output(|| report_output(REPORT))
        .build();
    let clients = clients(vec![generate, get], account_rules(None, 1));
    let inv = crawl(&clients, &options()).await;

    assert_complete(&inv);
    assert_eq!(calls(&inv, "GenerateCredentialReport"), 1);
    assert_eq!(calls(&inv, "GetCredentialReport"), 4);
}

#[tokio::test]
async fn a_missing_report_is_generated_again() {
    let get = mock!(Iam::get_credential_report)
        .sequence()
        .http_response(|| iam_error(410, "ReportNotPresent", "Credential report is not present"))
        .output(|| report_output(REPORT))
        .build();
    let inv = run(vec![get]).await;

    assert_complete(&inv);
    assert_eq!(calls(&inv, "GenerateCredentialReport"), 2);
    assert_eq!(calls(&inv, "GetCredentialReport"), 2);
}

#[tokio::test]
async fn limit_exceeded_on_generate_is_waited_out() {
    let generate = mock!(Iam::generate_credential_report)
        .sequence()
        .http_response(|| {
            iam_error(
                409,
                "LimitExceeded",
                "Cannot generate a credential report: request limit exceeded",
            )
        })
        .times(2)
        .output(|| generate_output(ReportStateType::Complete))
        .build();
    let inv = run(vec![generate]).await;

    assert_complete(&inv);
    // The SDK does not retry LimitExceeded; the crawler does, after a pause.
    assert_eq!(calls(&inv, "GenerateCredentialReport"), 3);
    assert_eq!(inv.stats.retries, 0);
    assert_eq!(calls(&inv, "GetCredentialReport"), 1);
}

#[tokio::test]
async fn a_report_that_never_becomes_ready_is_a_gap() {
    let get = mock!(Iam::get_credential_report).then_http_response(|| {
        iam_error(404, "ReportInProgress", "Report generation is in progress")
    });
    let clients = clients(vec![get], account_rules(None, 0));
    let mut opts = options();
    opts.report.max_wait = Duration::from_millis(30);
    let inv = crawl(&clients, &opts).await;

    assert_eq!(
        inv.gaps,
        vec![CoverageGap {
            user: None,
            access_key_id: None,
            operation: "GetCredentialReport".into(),
            error_code: "ReportInProgress".into(),
            impact: "no credential report: the root user's keys come from the account summary (presence only), and console-password and MFA context is missing".into(),
        }]
    );
    assert_eq!(inv.credential_report, None);
    assert_eq!(
        inv.root,
        RootKeys::AccountSummary {
            keys_present: false
        }
    );
    let mut users = expected_users();
    for user in &mut users {
        user.login = None;
    }
    assert_eq!(inv.users, users);
}

#[tokio::test]
async fn root_keys_come_from_the_report_row() {
    let inv = run(vec![]).await;
    assert_eq!(inv.root, root_from_report());
    assert_eq!(inv.credential_report, report_info(true));
}

#[tokio::test]
async fn without_a_root_row_root_keys_come_from_the_account_summary() {
    for (present, expected) in [(1, true), (0, false)] {
        let clients = clients(vec![], account_rules(Some(REPORT_NO_ROOT), present));
        let inv = crawl(&clients, &options()).await;

        assert_eq!(
            inv.root,
            RootKeys::AccountSummary {
                keys_present: expected
            }
        );
        assert_eq!(inv.credential_report, report_info(false));
        assert_eq!(inv.gaps, vec![]);
        // The report lists other users: none of the crawled users gets login context.
        let mut users = expected_users();
        for user in &mut users {
            user.login = None;
        }
        assert_eq!(inv.users, users);
    }
}

#[tokio::test]
async fn never_used_and_unknown_last_use_stay_distinct() {
    let denied = mock!(Iam::get_access_key_last_used)
        .match_requests(|r| r.access_key_id() == Some(DAVE_KEY))
        .then_http_response(access_denied);
    let inv = run(vec![denied]).await;

    // No LastUsedDate: never used.
    assert_eq!(inv.users[0].keys[1].id.as_deref(), Some(ALICE_KEY_2));
    assert_eq!(inv.users[0].keys[1].last_used, LastUse::Never);
    // The call failed: unknown, and a gap says why.
    let dave = &inv.users[3];
    assert_eq!(dave.keys[0].id.as_deref(), Some(DAVE_KEY));
    assert_eq!(dave.keys[0].last_used, LastUse::Unknown);
    assert_eq!(
        inv.gaps,
        vec![CoverageGap {
            user: Some("dave".into()),
            access_key_id: Some(DAVE_KEY.into()),
            operation: "GetAccessKeyLastUsed".into(),
            error_code: "AccessDenied".into(),
            impact: "the key's last use is unknown; rules that need it were not applied".into(),
        }]
    );
    let mut users = expected_users();
    users[3].keys[0].last_used = LastUse::Unknown;
    assert_eq!(inv.users, users);
    let coverage = inv.coverage.as_ref().unwrap();
    assert_eq!((coverage.keys, coverage.keys_with_last_use), (4 + 2, 3 + 2));
    assert_eq!(coverage.users_fully_audited, 3);
}

#[tokio::test]
async fn every_page_of_users_is_listed() {
    let first = mock!(Iam::list_users)
        .match_requests(|r| r.marker().is_none())
        .then_output(|| users_page(&["alice"], Some("page-2")));
    let second = mock!(Iam::list_users)
        .match_requests(|r| r.marker() == Some("page-2"))
        .then_output(|| users_page(&["bob", "carol"], Some("page-3")));
    let third = mock!(Iam::list_users)
        .match_requests(|r| r.marker() == Some("page-3"))
        .then_output(|| users_page(&["dave"], None));
    let inv = run(vec![first, second, third]).await;

    assert_complete(&inv);
    assert_eq!(calls(&inv, "ListUsers"), 3);
}

#[tokio::test]
async fn a_failed_page_of_users_is_a_gap() {
    let first = mock!(Iam::list_users)
        .match_requests(|r| r.marker().is_none())
        .then_output(|| users_page(&["alice", "bob"], Some("page-2")));
    let second = mock!(Iam::list_users)
        .match_requests(|r| r.marker() == Some("page-2"))
        .then_http_response(access_denied);
    let inv = run(vec![first, second]).await;

    assert_eq!(
        inv.gaps,
        vec![CoverageGap {
            user: None,
            access_key_id: None,
            operation: "ListUsers".into(),
            error_code: "AccessDenied".into(),
            impact: "the user list stopped after 2 users; users beyond them were not audited"
                .into(),
        }]
    );
    assert_eq!(inv.users, expected_users()[..2].to_vec());
}

#[tokio::test]
async fn every_call_counts_against_the_in_flight_bound() {
    // The second page of users is throttled three times, so its call stays in flight
    // through 7 ms of backoff, while the credential report is polled every millisecond.
    // With one call allowed in flight, the polls must wait for the page.
    let first = mock!(Iam::list_users)
        .match_requests(|r| r.marker().is_none())
        .then_output(|| users_page(&["alice", "bob"], Some("page-2")));
    let second = mock!(Iam::list_users)
        .match_requests(|r| r.marker() == Some("page-2"))
        .sequence()
        .http_response(throttling)
        .times(3)
        .output(|| users_page(&["carol", "dave"], None))
        .build();
    let generate = mock!(Iam::generate_credential_report)
        .then_output(|| generate_output(ReportStateType::Started));
    let get = mock!(Iam::get_credential_report)
        .sequence()
        .http_response(|| iam_error(404, "ReportInProgress", "Report generation is in progress"))
        .times(3)
        .output(|| report_output(REPORT))
        .build();
    let in_flight = Arc::new(InFlight::default());
    let clients = clients_counting(
        vec![first, second, generate, get],
        account_rules(None, 1),
        &in_flight,
    );
    let mut opts = options();
    opts.concurrency = 1;
    opts.report.max_delay = opts.report.first_delay;
    let inv = crawl(&clients, &opts).await;

    assert_complete(&inv);
    assert_eq!(inv.stats.throttled, 3);
    assert_eq!(calls(&inv, "GetCredentialReport"), 4);
    assert_eq!(in_flight.max.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------
// The economical call plan
// ---------------------------------------------------------------------------------------

/// One GetAccountAuthorizationDetails page: users with their tags.
fn details_page(names: &[&str], next_marker: Option<&str>) -> GetAccountAuthorizationDetailsOutput {
    let users = names
        .iter()
        .map(|name| {
            let user = mock_user(name);
            aws_sdk_iam::types::UserDetail::builder()
                .user_name(user.name)
                .path(user.path)
                .user_id(format!("AIDA{}", user.name.to_uppercase()))
                .arn(arn(user))
                .create_date(sdk_time(user.created))
                .set_tags(Some(sdk_tags(name)))
                .build()
        })
        .collect();
    GetAccountAuthorizationDetailsOutput::builder()
        .set_user_detail_list(Some(users))
        .is_truncated(next_marker.is_some())
        .set_marker(next_marker.map(str::to_string))
        .build()
}

/// GetAccountAuthorizationDetails answering the whole account in one page.
fn every_user_in_one_page() -> Rule {
    mock!(Iam::get_account_authorization_details)
        .then_output(|| details_page(&["alice", "bob", "carol", "dave"], None))
}

fn economical() -> CrawlOptions {
    CrawlOptions {
        plan: CallPlan::Economical,
        ..options()
    }
}

/// The users as the economical plan records them from the report fixture: every key's
/// last use from its report slot, where carol's key shows no use (the report is older
/// than her key's use in the mocked API).
fn users_from_report() -> Vec<User> {
    let mut users = expected_users();
    for key in users.iter_mut().flat_map(|u| u.keys.iter_mut()) {
        key.last_used_source = LastUseSource::CredentialReport;
        if key.id.as_deref() == Some(CAROL_KEY) {
            key.last_used = LastUse::Never;
        }
    }
    users
}

#[tokio::test]
async fn the_economical_plan_takes_users_and_tags_in_pages_and_last_use_from_the_report() {
    let pages = vec![
        mock!(Iam::get_account_authorization_details)
            .match_requests(|r| r.marker().is_none())
            .then_output(|| details_page(&["alice", "bob"], Some("page2"))),
        mock!(Iam::get_account_authorization_details)
            .match_requests(|r| {
                r.marker() == Some("page2") && r.filter() == [aws_sdk_iam::types::EntityType::User]
            })
            .then_output(|| details_page(&["carol", "dave"], None)),
    ];
    let clients = clients(pages, account_rules(Some(REPORT), 1));
    let mut inv = crawl(&clients, &economical()).await;
    assert_eq!(inv.users, users_from_report());
    assert!(inv.is_complete(), "{:?}", inv.gaps);
    assert_eq!(calls(&inv, "GetAccountAuthorizationDetails"), 2);
    assert_eq!(calls(&inv, "ListAccessKeys"), 4 + 1);
    for unused in ["ListUsers", "ListUserTags", "GetAccessKeyLastUsed"] {
        assert_eq!(calls(&inv, unused), 0, "{unused}");
    }

    // Confirming one key replaces the report's value with GetAccessKeyLastUsed's.
    let asked = confirm_last_use(
        &clients,
        &economical(),
        &mut inv,
        &[CAROL_KEY.to_string()].into(),
    )
    .await;
    assert_eq!(asked, 1);
    assert_eq!(calls(&inv, "GetAccessKeyLastUsed"), 1);
    let carol = &inv.users[2].keys[0];
    assert_eq!(carol, &expected_users()[2].keys[0]);
    assert_eq!(carol.last_used_source, LastUseSource::Api);
    // A key already from the API is not asked again.
    let asked = confirm_last_use(
        &clients,
        &economical(),
        &mut inv,
        &[CAROL_KEY.to_string()].into(),
    )
    .await;
    assert_eq!(asked, 0);
}

#[tokio::test]
async fn without_authorization_details_the_users_come_from_list_users() {
    let denied =
        vec![mock!(Iam::get_account_authorization_details).then_http_response(access_denied)];
    let inv = crawl(
        &clients(denied, account_rules(Some(REPORT), 1)),
        &economical(),
    )
    .await;
    assert_eq!(inv.users, users_from_report());
    assert!(
        inv.is_complete(),
        "a refused GetAccountAuthorizationDetails is no gap: {:?}",
        inv.gaps
    );
    assert_eq!(calls(&inv, "ListUsers"), 1);
    assert_eq!(calls(&inv, "ListUserTags"), 4);
    assert_eq!(calls(&inv, "GetAccessKeyLastUsed"), 0);
}

#[tokio::test]
async fn without_a_report_every_last_use_comes_from_the_api() {
    let pages = vec![every_user_in_one_page()];
    let failing = vec![mock!(Iam::get_credential_report).then_http_response(access_denied)];
    let clients = clients(
        pages.into_iter().chain(failing).collect(),
        account_rules(None, 1),
    );
    let inv = crawl(&clients, &economical()).await;
    assert_eq!(
        inv.users.iter().map(|u| u.keys.clone()).collect::<Vec<_>>(),
        expected_users()
            .into_iter()
            .map(|u| u.keys)
            .collect::<Vec<_>>()
    );
    assert_eq!(calls(&inv, "GetAccessKeyLastUsed"), 4);
    assert!(
        inv.gaps
            .iter()
            .any(|g| g.operation == "GetCredentialReport")
    );
}

#[tokio::test]
async fn a_details_page_that_fails_is_a_gap_naming_the_users_listed_so_far() {
    let pages = vec![
        mock!(Iam::get_account_authorization_details)
            .match_requests(|r| r.marker().is_none())
            .then_output(|| details_page(&["alice", "bob"], Some("page2"))),
        mock!(Iam::get_account_authorization_details).then_http_response(access_denied),
    ];
    let inv = crawl(
        &clients(pages, account_rules(Some(REPORT), 1)),
        &economical(),
    )
    .await;
    assert_eq!(inv.users.len(), 2);
    let gap = inv
        .gaps
        .iter()
        .find(|g| g.operation == "GetAccountAuthorizationDetails")
        .expect("a gap");
    assert_eq!(gap.error_code, "AccessDenied");
    assert!(gap.impact.contains("after 2 users"), "{}", gap.impact);
}

#[tokio::test]
async fn the_callers_check_picks_keys_to_confirm_during_the_crawl() {
    let pages = vec![every_user_in_one_page()];
    let clients = clients(pages, account_rules(Some(REPORT), 1));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let check = {
        let seen = seen.clone();
        keyhygiene::crawl::LastUseCheck::new(move |user| {
            // The check sees the user's keys already placed by the report.
            for key in &user.keys {
                seen.lock()
                    .unwrap()
                    .push((key.id.clone().unwrap(), key.last_used_source));
            }
            user.keys
                .iter()
                .filter(|k| k.id.as_deref() == Some(CAROL_KEY))
                .map(|k| k.id.clone().unwrap())
                .collect()
        })
    };
    let opts = CrawlOptions {
        check: Some(check),
        ..economical()
    };
    let inv = crawl(&clients, &opts).await;
    assert_eq!(calls(&inv, "GetAccessKeyLastUsed"), 1);
    assert_eq!(inv.users[2].keys[0], expected_users()[2].keys[0]);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        4,
        "every user with keys is checked once: {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|(_, source)| *source == LastUseSource::CredentialReport)
    );
}

#[tokio::test]
async fn a_denied_last_use_is_one_gap_and_asked_once() {
    let pages = vec![every_user_in_one_page()];
    let denied = vec![
        mock!(Iam::get_credential_report).then_http_response(access_denied),
        mock!(Iam::get_access_key_last_used)
            .match_requests(|r| r.access_key_id() == Some(ALICE_KEY_1))
            .then_http_response(access_denied),
    ];
    let clients = clients(
        pages.into_iter().chain(denied).collect(),
        account_rules(None, 1),
    );
    let inv = crawl(&clients, &economical()).await;
    assert_eq!(
        calls(&inv, "GetAccessKeyLastUsed"),
        4,
        "every key asked once"
    );
    let gaps: Vec<_> = inv
        .gaps
        .iter()
        .filter(|g| g.operation == "GetAccessKeyLastUsed")
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].access_key_id.as_deref(), Some(ALICE_KEY_1));
    assert_eq!(inv.users[0].keys[0].last_used, LastUse::Unknown);
}

// ---------------------------------------------------------------------------------------
// Answers that are well-formed and still leave things out
// ---------------------------------------------------------------------------------------

/// A GetAccountAuthorizationDetails answer with `result` as its result's content.
fn details_answer(result: &'static str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(200).unwrap(),
        SdkBody::from(format!(
            "<GetAccountAuthorizationDetailsResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <GetAccountAuthorizationDetailsResult>{result}</GetAccountAuthorizationDetailsResult>\
             <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata>\
             </GetAccountAuthorizationDetailsResponse>"
        )),
    )
}

#[tokio::test]
async fn a_listing_without_its_list_or_truncation_flag_is_retried_then_a_gap() {
    // The SDK would read this answer as "no users, no more pages".
    let bare =
        mock!(Iam::get_account_authorization_details).then_http_response(|| details_answer(""));
    let clients = clients_checking_answers(vec![bare], account_rules(Some(REPORT), 1));
    let inv = crawl(&clients, &economical()).await;
    assert_eq!(inv.users, vec![]);
    assert_eq!(
        inv.gaps,
        vec![CoverageGap {
            user: None,
            access_key_id: None,
            operation: "GetAccountAuthorizationDetails".into(),
            error_code: "InvalidResponse".into(),
            impact: "the user list stopped after 0 users; users beyond them were not audited"
                .into(),
        }]
    );
    // Every attempt was made (fast_retries allows 4).
    assert_eq!(calls(&inv, "GetAccountAuthorizationDetails"), 4);
    assert_eq!(inv.stats.retries, 3);
    // The listing stopped with its own gap: the report's users are not asked one by one.
    assert_eq!(calls(&inv, "ListAccessKeys"), 0);
}

#[tokio::test]
async fn an_empty_listing_is_checked_against_the_credential_report() {
    // Well-formed and empty, while the report fetched in the same crawl lists five users.
    let empty = mock!(Iam::get_account_authorization_details)
        .then_http_response(|| details_answer("<UserDetailList/><IsTruncated>false</IsTruncated>"));
    let clients = clients(vec![empty], account_rules(Some(REPORT), 1));
    let inv = crawl(&clients, &economical()).await;
    assert_eq!(inv.users, vec![]);
    assert!(!inv.is_complete());
    let missing: Vec<(&str, &str, &str)> = inv
        .gaps
        .iter()
        .map(|g| {
            (
                g.user.as_deref().unwrap(),
                g.operation.as_str(),
                g.error_code.as_str(),
            )
        })
        .collect();
    assert_eq!(
        missing,
        ["alice", "bob", "carol", "dave"].map(|u| (
            u,
            "GetAccountAuthorizationDetails",
            "MissingFromListing"
        ))
    );
    // The gap names both sources.
    assert!(
        inv.gaps[0].impact.starts_with(
            "the credential report of 2026-01-16 00:00 UTC lists this user, but GetAccountAuthorizationDetails did not, and ListAccessKeys answers for it (2 keys)"
        ),
        "{}",
        inv.gaps[0].impact
    );
    // erin is gone: deleted since the report, a note.
    assert_eq!(
        inv.removed_during_crawl,
        vec![erin_deleted_since_the_report()]
    );
    assert_eq!(calls(&inv, "ListAccessKeys"), 5);
}

#[tokio::test]
async fn a_key_list_cut_short_is_listed_again_and_its_key_audited() {
    // The first answer for alice leaves out her second key; the second is whole.
    let cut = mock!(Iam::list_access_keys)
        .match_requests(|r| r.user_name() == Some("alice"))
        .sequence()
        .output(|| {
            let mut page = keys_of("alice");
            page.access_key_metadata.truncate(1);
            page
        })
        .output(|| keys_of("alice"))
        .build();
    let clients = clients(
        vec![cut, every_user_in_one_page()],
        account_rules(Some(REPORT), 1),
    );
    let inv = crawl(&clients, &economical()).await;
    assert!(inv.is_complete(), "{:?}", inv.gaps);
    assert_eq!(inv.users, users_from_report());
    assert_eq!(
        inv.removed_during_crawl,
        vec![erin_deleted_since_the_report()]
    );
    assert_eq!(calls(&inv, "ListAccessKeys"), 4 + 1 + 1);
}

#[tokio::test]
async fn a_key_the_report_shows_and_iam_no_longer_lists_was_deleted_since_the_report() {
    // dave's key (active in the report, rotated 2023-04-04) is gone from both answers.
    let gone = mock!(Iam::list_access_keys)
        .match_requests(|r| r.user_name() == Some("dave"))
        .then_compute_output(|_| {
            let mut page = keys_of("dave");
            page.access_key_metadata.clear();
            page
        });
    let clients = clients(
        vec![gone, every_user_in_one_page()],
        account_rules(Some(REPORT), 1),
    );
    let inv = crawl(&clients, &economical()).await;
    assert!(inv.is_complete(), "a deletion is not a gap: {:?}", inv.gaps);
    assert_eq!(
        inv.removed_during_crawl,
        vec![
            Removed {
                user: "dave".into(),
                access_key_id: Some("access key 2".into()),
                operation: "CredentialReport".into(),
            },
            erin_deleted_since_the_report(),
        ]
    );
    let dave = inv.users.iter().find(|u| u.name == "dave").unwrap();
    assert!(dave.keys.is_empty());
    assert_eq!(calls(&inv, "ListAccessKeys"), 4 + 1 + 1);
}
