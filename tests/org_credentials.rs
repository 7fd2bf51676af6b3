//! Member-account credentials: the first AssumeRole's failure is the account's, and an
//! assumed role's credentials are renewed before they expire, so a crawl that outlasts a
//! role session (at most an hour for a chained role) keeps working.
//!
//! The SDK is mocked here: a local endpoint cannot make credentials expire in the middle of
//! a crawl.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_iam::operation::list_users::ListUsersOutput;
use aws_sdk_sts::operation::assume_role::{AssumeRoleError, AssumeRoleOutput};
use aws_sdk_sts::types::Credentials as StsCredentials;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use keyhygiene::crawl::{MemberRole, RoleCredentials, role_identity_cache};

const ROLE: &str = "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole";

fn role() -> MemberRole {
    MemberRole {
        name: "OrganizationAccountAccessRole".into(),
        external_id: Some(keyhygiene::ident::ExternalId::parse("ext-123", "test").unwrap()),
        session_name: "keyhygiene".into(),
    }
}

/// The fixed "now" of clients built with the SDK's test defaults.
fn test_clock() -> SystemTime {
    std::time::UNIX_EPOCH + Duration::from_secs(1_234_567_890)
}

/// An STS client whose AssumeRole hands out credentials valid for `lifetime`, numbered
/// ASIA…0001, ASIA…0002…, and that checks the request.
fn sts_issuing(lifetime: Duration, issued: Arc<Mutex<u32>>) -> aws_sdk_sts::Client {
    let rule = mock!(aws_sdk_sts::Client::assume_role)
        .match_requests(|req| {
            req.role_arn() == Some(ROLE)
                && req.external_id() == Some("ext-123")
                && req.role_session_name() == Some("keyhygiene")
        })
        .then_output(move || {
            let mut n = issued.lock().unwrap();
            *n += 1;
            // Relative to the clock of the mocked clients (the SDK's test defaults fix it).
            let expires = test_clock() + lifetime;
            AssumeRoleOutput::builder()
                .credentials(
                    StsCredentials::builder()
                        .access_key_id(format!("ASIATESTROLE{:08}", *n))
                        .secret_access_key("not-a-secret")
                        .session_token("not-a-token")
                        .expiration(aws_smithy_types::DateTime::from(expires))
                        .build()
                        .unwrap(),
                )
                .build()
        });
    mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&rule])
}

/// Records the access key id each IAM request was signed with.
#[derive(Debug, Clone, Default)]
struct SignedWith(Arc<Mutex<Vec<String>>>);

impl Intercept for SignedWith {
    fn name(&self) -> &'static str {
        "SignedWith"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let auth = context
            .request()
            .headers()
            .get("authorization")
            .unwrap_or_default();
        let key = auth
            .split("Credential=")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_string();
        self.0.lock().unwrap().push(key);
        Ok(())
    }
}

/// An IAM client whose credentials come from `provider` through the member accounts'
/// identity cache, as the crawl builds it.
fn iam_with(provider: RoleCredentials, signed: SignedWith) -> aws_sdk_iam::Client {
    let provider = aws_sdk_iam::config::SharedCredentialsProvider::new(provider);
    let list = mock!(aws_sdk_iam::Client::list_users).then_output(|| {
        ListUsersOutput::builder()
            .set_users(Some(vec![]))
            .build()
            .unwrap()
    });
    mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&list],
        move |b: aws_sdk_iam::config::Builder| b
            .credentials_provider(provider.clone())
            .identity_cache(role_identity_cache())
            .interceptor(signed.clone())
    )
}

#[tokio::test]
async fn credentials_near_expiry_are_renewed_before_the_next_call() {
    let issued = Arc::new(Mutex::new(0));
    // Two minutes left: inside the five minutes before expiry in which they are renewed.
    let provider = RoleCredentials::new(
        sts_issuing(Duration::from_secs(120), issued.clone()),
        ROLE,
        &role(),
    );
    provider.open().await.expect("the role can be assumed");
    assert_eq!(*issued.lock().unwrap(), 1);
    let signed = SignedWith::default();
    let iam = iam_with(provider, signed.clone());
    for _ in 0..3 {
        iam.list_users().send().await.expect("the call succeeds");
    }
    let keys = signed.0.lock().unwrap().clone();
    assert_eq!(keys.len(), 3);
    assert!(
        *issued.lock().unwrap() >= 3,
        "credentials about to expire were not renewed: {} AssumeRole calls, keys used {keys:?}",
        issued.lock().unwrap()
    );
    assert_ne!(keys[0], keys[2], "the later call used renewed credentials");
}

#[tokio::test]
async fn credentials_far_from_expiry_are_reused() {
    let issued = Arc::new(Mutex::new(0));
    let provider = RoleCredentials::new(
        sts_issuing(Duration::from_secs(3600), issued.clone()),
        ROLE,
        &role(),
    );
    provider.open().await.expect("the role can be assumed");
    let signed = SignedWith::default();
    let iam = iam_with(provider, signed.clone());
    for _ in 0..5 {
        iam.list_users().send().await.expect("the call succeeds");
    }
    assert_eq!(*issued.lock().unwrap(), 1, "one AssumeRole serves an hour");
    let keys = signed.0.lock().unwrap().clone();
    assert!(keys.iter().all(|k| k == "ASIATESTROLE00000001"), "{keys:?}");
}

#[tokio::test]
async fn a_denied_assume_role_names_the_error() {
    let denied = mock!(aws_sdk_sts::Client::assume_role).then_error(|| {
        AssumeRoleError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User: arn:aws:iam::111111111111:user/auditor is not authorized to perform: sts:AssumeRole")
                .build(),
        )
    });
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&denied]);
    let provider = RoleCredentials::new(sts, ROLE, &role());
    let failure = provider.open().await.expect_err("denied");
    assert_eq!(failure.code, "AccessDenied");
    assert!(failure.message.contains("not authorized"), "{failure:?}");
}
