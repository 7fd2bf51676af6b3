//! Listing an organization's accounts, against a mocked Organizations client
//! (aws-smithy-mocks).
//!
//! The mocked organization:
//!
//! ```text
//! Root (r-root)
//! ├── Workloads (ou-root-work)       222222222222 shared
//! │   └── Prod (ou-root-prod)        333333333333 prod-app, 444444444444 old-prod (CLOSED)
//! ├── Sandbox (ou-root-sand)         555555555555 sandbox (SUSPENDED)
//! └──                                111111111111 management
//! ```
//!
//! Error answers are Organizations' JSON error documents sent as HTTP responses, so the
//! SDK's own deserialisers and retry classifiers see what Organizations would send. Like
//! `crawl_mocks.rs`, the tests run on tokio's single-threaded test runtime: the mock
//! interceptor keeps the answer it is about to serve in one slot per client.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_organizations::Client as Org;
use aws_sdk_organizations::operation::describe_organization::DescribeOrganizationOutput;
use aws_sdk_organizations::operation::list_accounts::ListAccountsOutput;
use aws_sdk_organizations::operation::list_accounts_for_parent::ListAccountsForParentOutput;
use aws_sdk_organizations::operation::list_organizational_units_for_parent::ListOrganizationalUnitsForParentOutput;
use aws_sdk_organizations::operation::list_roots::ListRootsOutput;
use aws_sdk_organizations::types::{
    Account as SdkAccount, AccountState as SdkState, AccountStatus as SdkStatus, Organization,
    OrganizationalUnit, Root,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;

use keyhygiene::crawl::{CallStats, OrgError, list_organization};
use keyhygiene::org::{Account, AccountState, OrgListing};

const ORG_ID: &str = "o-abcdef1234";
const MANAGEMENT: &str = "111111111111";

/// (id, name, State, Status, parent)
type MockAccount = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

const ACCOUNTS: &[MockAccount] = &[
    (
        MANAGEMENT,
        "management",
        Some("ACTIVE"),
        Some("ACTIVE"),
        "r-root",
    ),
    // Status only, as older Organizations-compatible endpoints send it.
    (
        "222222222222",
        "shared",
        None,
        Some("ACTIVE"),
        "ou-root-work",
    ),
    (
        "333333333333",
        "prod-app",
        Some("ACTIVE"),
        None,
        "ou-root-prod",
    ),
    // A closed account: State says CLOSED while the retiring Status still says SUSPENDED.
    (
        "444444444444",
        "old-prod",
        Some("CLOSED"),
        Some("SUSPENDED"),
        "ou-root-prod",
    ),
    (
        "555555555555",
        "sandbox",
        Some("SUSPENDED"),
        Some("SUSPENDED"),
        "ou-root-sand",
    ),
];

/// (id, name, parent)
const UNITS: &[(&str, &str, &str)] = &[
    ("ou-root-work", "Workloads", "r-root"),
    ("ou-root-prod", "Prod", "ou-root-work"),
    ("ou-root-sand", "Sandbox", "r-root"),
];

fn sdk_account(a: &MockAccount) -> SdkAccount {
    let (id, name, state, status, _) = *a;
    SdkAccount::builder()
        .id(id)
        .name(name)
        .arn(format!(
            "arn:aws:organizations::{MANAGEMENT}:account/{ORG_ID}/{id}"
        ))
        .email(format!("{name}@example.com"))
        .set_state(state.map(SdkState::from))
        .set_status(status.map(SdkStatus::from))
        .build()
}

fn mock_account(id: &str) -> &'static MockAccount {
    ACCOUNTS.iter().find(|a| a.0 == id).unwrap()
}

fn accounts_page(ids: &[&str], next: Option<&str>) -> ListAccountsOutput {
    ListAccountsOutput::builder()
        .set_accounts(Some(
            ids.iter().map(|id| sdk_account(mock_account(id))).collect(),
        ))
        .set_next_token(next.map(str::to_string))
        .build()
}

/// ListAccounts in three pages, the middle one empty with a token, as Organizations may
/// answer.
fn list_accounts_pages(token: Option<&str>) -> ListAccountsOutput {
    match token {
        None => accounts_page(&[MANAGEMENT, "222222222222"], Some("t1")),
        Some("t1") => accounts_page(&[], Some("t2")),
        Some("t2") => accounts_page(&["333333333333", "444444444444", "555555555555"], None),
        Some(other) => panic!("unexpected ListAccounts token {other}"),
    }
}

/// ListAccountsForParent: one account a page, so every parent with more than one account
/// takes several pages.
fn accounts_for_parent(parent: &str, token: Option<&str>) -> ListAccountsForParentOutput {
    let under: Vec<&MockAccount> = ACCOUNTS.iter().filter(|a| a.4 == parent).collect();
    let at: usize = token.map(|t| t.parse().unwrap()).unwrap_or(0);
    let next = (at + 1 < under.len()).then(|| (at + 1).to_string());
    ListAccountsForParentOutput::builder()
        .set_accounts(Some(
            under
                .get(at)
                .map(|a| vec![sdk_account(a)])
                .unwrap_or_default(),
        ))
        .set_next_token(next)
        .build()
}

fn units_for_parent(parent: &str) -> ListOrganizationalUnitsForParentOutput {
    ListOrganizationalUnitsForParentOutput::builder()
        .set_organizational_units(Some(
            UNITS
                .iter()
                .filter(|u| u.2 == parent)
                .map(|(id, name, _)| OrganizationalUnit::builder().id(*id).name(*name).build())
                .collect(),
        ))
        .build()
}

/// An Organizations error answer (awsJson1_1).
fn org_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(serde_json::json!({"__type": code, "Message": message}).to_string()),
    );
    response
        .headers_mut()
        .insert("Content-Type", "application/x-amz-json-1.1");
    response
}

fn too_many_requests() -> HttpResponse {
    org_error(
        400,
        "TooManyRequestsException",
        "AWS Organizations can't complete your request because another request is already in progress. Try again later.",
    )
}

/// The healthy organization's answers. Rules given to [`client`] come before these, so a
/// test overrides a call by adding a rule that matches it.
fn organization_rules() -> Vec<Rule> {
    vec![
        mock!(Org::describe_organization).then_output(|| {
            DescribeOrganizationOutput::builder()
                .organization(
                    Organization::builder()
                        .id(ORG_ID)
                        .master_account_id(MANAGEMENT)
                        .build(),
                )
                .build()
        }),
        mock!(Org::list_accounts).then_compute_output(|r| list_accounts_pages(r.next_token())),
        mock!(Org::list_roots).then_output(|| {
            ListRootsOutput::builder()
                .roots(Root::builder().id("r-root").name("Root").build())
                .build()
        }),
        mock!(Org::list_organizational_units_for_parent)
            .then_compute_output(|r| units_for_parent(r.parent_id().unwrap())),
        mock!(Org::list_accounts_for_parent)
            .then_compute_output(|r| accounts_for_parent(r.parent_id().unwrap(), r.next_token())),
    ]
}

/// Retries that really happen, with a fixed backoff of 1, 2, then 4 ms (no jitter).
fn fast_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(4))
        .with_use_static_exponential_base(true)
}

/// A mocked client: `overrides` first, then the healthy organization's answers.
fn client(overrides: Vec<Rule>, stats: &Arc<CallStats>) -> Org {
    let rules: Vec<Rule> = overrides.into_iter().chain(organization_rules()).collect();
    let interceptor = stats.interceptor();
    mock_client!(
        aws_sdk_organizations,
        RuleMode::MatchAny,
        rules.iter(),
        move |b: aws_sdk_organizations::config::Builder| b
            .retry_config(fast_retries())
            .retry_partition(keyhygiene::crawl::retry_partition())
            .interceptor(interceptor.clone())
    )
}

async fn list(overrides: Vec<Rule>, ous: &[&str]) -> Result<OrgListing, OrgError> {
    let stats = Arc::new(CallStats::default());
    let ous: Vec<String> = ous.iter().map(|s| s.to_string()).collect();
    list_organization(&client(overrides, &stats), &ous).await
}

fn expected(id: &str, state: AccountState, path: &str) -> Account {
    Account {
        id: id.parse().unwrap(),
        name: Some(mock_account(id).1.to_string()),
        state,
        ou_path: Some(path.to_string()),
    }
}

fn whole_organization() -> Vec<Account> {
    vec![
        expected(MANAGEMENT, AccountState::Active, "Root"),
        expected("222222222222", AccountState::Active, "Root/Workloads"),
        expected("333333333333", AccountState::Active, "Root/Workloads/Prod"),
        expected("444444444444", AccountState::Closed, "Root/Workloads/Prod"),
        expected("555555555555", AccountState::Suspended, "Root/Sandbox"),
    ]
}

#[tokio::test]
async fn every_account_is_listed_across_an_empty_page() {
    let listing = list(Vec::new(), &[]).await.unwrap();
    assert_eq!(
        listing,
        OrgListing {
            organization_id: Some(ORG_ID.to_string()),
            management_account_id: Some(MANAGEMENT.parse().unwrap()),
            accounts: whole_organization(),
        }
    );
}

#[tokio::test]
async fn an_empty_first_page_with_a_token_does_not_end_the_listing() {
    let pages = mock!(Org::list_accounts).then_compute_output(|r| match r.next_token() {
        None => accounts_page(&[], Some("a")),
        Some("a") => accounts_page(&[], Some("b")),
        Some("b") => accounts_page(&["555555555555", MANAGEMENT], None),
        Some(other) => panic!("unexpected token {other}"),
    });
    let listing = list(vec![pages], &[]).await.unwrap();
    let ids: Vec<&str> = listing.accounts.iter().map(|a| a.id.as_str()).collect();
    // Sorted by id. The walk finds the accounts ListAccounts did not list, too.
    assert_eq!(
        ids,
        [
            MANAGEMENT,
            "222222222222",
            "333333333333",
            "444444444444",
            "555555555555"
        ]
    );
}

#[tokio::test]
async fn a_token_that_repeats_is_an_error_not_an_endless_listing() {
    let pages = mock!(Org::list_accounts).then_compute_output(|r| match r.next_token() {
        None => accounts_page(&[MANAGEMENT], Some("a")),
        Some("a") => accounts_page(&[], Some("b")),
        Some(_) => accounts_page(&[], Some("a")),
    });
    let err = list(vec![pages], &[]).await.unwrap_err();
    assert!(
        matches!(&err, OrgError::RepeatedToken { operation, token } if operation == "ListAccounts" && token == "a"),
        "{err}"
    );
}

#[tokio::test]
async fn too_many_requests_is_retried_and_counted_as_throttling() {
    let throttled = mock!(Org::list_accounts)
        .match_requests(|r| r.next_token().is_none())
        .sequence()
        .http_response(too_many_requests)
        .times(2)
        .output(|| list_accounts_pages(None))
        .build();
    let stats = Arc::new(CallStats::default());
    let listing = list_organization(&client(vec![throttled], &stats), &[])
        .await
        .unwrap();
    assert_eq!(listing.accounts, whole_organization());

    let calls = stats.snapshot();
    assert_eq!(calls.throttled, 2);
    assert_eq!(calls.retries, 2);
    // The first page three times (two throttled), then the two pages after it.
    assert_eq!(calls.requests["ListAccounts"], 5);
}

#[tokio::test]
async fn too_many_requests_on_every_attempt_fails_with_the_code() {
    let throttled = mock!(Org::list_roots).then_http_response(too_many_requests);
    let err = list(vec![throttled], &[]).await.unwrap_err();
    assert!(
        matches!(&err, OrgError::Failed { operation, code, .. } if operation == "ListRoots" && code == "TooManyRequestsException"),
        "{err}"
    );
    assert!(err.to_string().contains("after retries"), "{err}");
}

#[tokio::test]
async fn an_ou_selects_its_accounts_and_those_of_nested_ous() {
    let listing = list(Vec::new(), &["ou-root-work"]).await.unwrap();
    assert_eq!(
        listing.accounts,
        [
            expected("222222222222", AccountState::Active, "Root/Workloads"),
            expected("333333333333", AccountState::Active, "Root/Workloads/Prod"),
            expected("444444444444", AccountState::Closed, "Root/Workloads/Prod"),
        ]
    );
    assert_eq!(listing.organization_id.as_deref(), Some(ORG_ID));

    let two = list(Vec::new(), &["ou-root-prod", "ou-root-sand"])
        .await
        .unwrap();
    let ids: Vec<&str> = two.accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["333333333333", "444444444444", "555555555555"]);

    // A root id selects the whole tree.
    let root = list(Vec::new(), &["r-root"]).await.unwrap();
    assert_eq!(root.accounts, whole_organization());
}

#[tokio::test]
async fn with_ous_the_whole_organization_is_not_paged_through() {
    let never = mock!(Org::list_accounts)
        .then_compute_output(|_| -> ListAccountsOutput { panic!("ListAccounts was called") });
    let listing = list(vec![never], &["ou-root-sand"]).await.unwrap();
    assert_eq!(
        listing.accounts,
        [expected(
            "555555555555",
            AccountState::Suspended,
            "Root/Sandbox"
        )]
    );
}

#[tokio::test]
async fn an_unknown_ou_is_an_error_that_says_how_to_find_ou_ids() {
    let err = list(Vec::new(), &["ou-root-work", "ou-root-nope"])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OrgError::UnknownOu {
            ids: vec!["ou-root-nope".to_string()]
        }
    );
    let text = err.to_string();
    assert!(text.contains("ou-root-nope"), "{text}");
    assert!(
        text.contains("aws organizations list-organizational-units-for-parent --parent-id ROOT_ID"),
        "{text}"
    );
}

#[tokio::test]
async fn state_wins_over_status_and_status_is_the_fallback() {
    let pages = mock!(Org::list_accounts).then_output(|| {
        ListAccountsOutput::builder()
            .accounts(
                SdkAccount::builder()
                    .id("666666666666")
                    .name("no-state")
                    .build(),
            )
            .accounts(
                SdkAccount::builder()
                    .id("777777777777")
                    .name("pending")
                    .state(SdkState::PendingClosure)
                    .status(SdkStatus::Active)
                    .build(),
            )
            .build()
    });
    let listing = list(vec![pages], &[]).await.unwrap();
    let state_of = |id: &str| {
        listing
            .accounts
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.state.clone())
            .unwrap()
    };
    // State wins: CLOSED over Status SUSPENDED, and PENDING_CLOSURE over Status ACTIVE.
    assert_eq!(state_of("444444444444"), AccountState::Closed);
    assert_eq!(state_of("777777777777"), AccountState::PendingClosure);
    // Status only.
    assert_eq!(state_of("222222222222"), AccountState::Active);
    // Neither.
    assert_eq!(
        state_of("666666666666"),
        AccountState::Other("UNKNOWN".to_string())
    );
    // Suspended and closed accounts are listed, with their state.
    assert_eq!(state_of("555555555555"), AccountState::Suspended);
    // Accounts ListAccounts did not list but the walk did are placed; those only
    // ListAccounts listed have no path.
    let pending = listing
        .accounts
        .iter()
        .find(|a| a.id == "777777777777")
        .unwrap();
    assert_eq!(pending.ou_path, None);
}

#[tokio::test]
async fn access_denied_says_where_to_run_from() {
    let denied = mock!(Org::list_accounts).then_http_response(|| {
        org_error(
            400,
            "AccessDeniedException",
            "You don't have permissions to access this resource.",
        )
    });
    let err = list(vec![denied], &[]).await.unwrap_err();
    assert!(
        matches!(&err, OrgError::AccessDenied { operation, code, .. } if operation == "ListAccounts" && code == "AccessDeniedException"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    for needed in [
        "organizations:ListAccounts answered AccessDeniedException",
        "You don't have permissions to access this resource.",
        "management account or a delegated administrator",
        "organizations:DescribeOrganization, ListAccounts, ListRoots, ListOrganizationalUnitsForParent and ListAccountsForParent",
        "--accounts",
    ] {
        assert!(text.contains(needed), "{needed:?} not in {text}");
    }
}

#[tokio::test]
async fn outside_an_organization_the_error_says_to_name_the_accounts() {
    let not_in_use = mock!(Org::describe_organization).then_http_response(|| {
        org_error(
            400,
            "AWSOrganizationsNotInUseException",
            "Your account is not a member of an organization.",
        )
    });
    let err = list(vec![not_in_use], &[]).await.unwrap_err();
    assert!(
        matches!(&err, OrgError::NotInOrganization { operation, .. } if operation == "DescribeOrganization"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("not in an organization"), "{text}");
    assert!(text.contains("--accounts or --accounts-file"), "{text}");
}
