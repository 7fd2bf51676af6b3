//! The local organization the organization tests run against: seeded by scripts/seed_org.py
//! on moto's server, it must look to an AWS client like a real organization does (each member
//! reached through its OrganizationAccountAccessRole, each holding only its own users and
//! keys with the seeded ages, the account listing paged).

mod support;

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_types::date_time::Format;
use serde_json::{Value, json};
use support::{AUDIT_KEY_ID, AUDIT_SECRET, Moto, ORG_PAGE_CAP, spec_key as key, spec_user as user};

const NOW: &str = "2026-06-01T12:00:00Z";

fn credentials(key: &str, secret: &str, token: Option<&str>) -> Credentials {
    Credentials::new(
        key,
        secret,
        token.map(str::to_string),
        None,
        "seed-org-test",
    )
}

fn sts(endpoint: &str, creds: Credentials) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .build(),
    )
}

fn iam(endpoint: &str, creds: Credentials) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .build(),
    )
}

fn organizations(endpoint: &str, creds: Credentials) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::from_conf(
        aws_sdk_organizations::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .build(),
    )
}

fn spec() -> Value {
    json!({
        "now": NOW,
        "management": {"users": [
            user("org-admin", 900, vec![key(500, "Active", Some((100, "iam", "us-east-1")))]),
        ]},
        "ous": ["Workloads/Prod", "Sandbox"],
        "accounts": [
            {"name": "prod-payments", "ou": "Workloads/Prod", "users": [
                user("alice", 400, vec![
                    key(120, "Active", Some((3, "s3", "eu-west-1"))),
                    key(300, "Inactive", None),
                ]),
                user("ci-deploy", 200, vec![key(150, "Active", Some((60, "sts", "us-east-1")))]),
            ]},
            {"name": "sandbox-1", "ou": "Sandbox", "users": [
                user("bob", 50, vec![key(40, "Active", Some((39, "sqs", "us-west-2")))]),
            ]},
            // The same user name as in prod-payments: each account has its own IAM.
            {"name": "legacy", "ou": null, "close": true, "users": [
                user("alice", 2000, vec![key(1999, "Active", None)]),
            ]},
        ]
    })
}

fn text(value: &Value) -> &str {
    value.as_str().expect("a string in the manifest")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_organization_looks_like_one_to_aws_clients() {
    let moto = Moto::start_org();
    let spec_file = moto.dir.path().join("org-spec.json");
    std::fs::write(&spec_file, spec().to_string()).expect("write the spec");
    let manifest = moto.seed_org_spec(&spec_file);
    let endpoint = moto.endpoint.as_str();
    let caller = credentials(AUDIT_KEY_ID, AUDIT_SECRET, None);

    // An unknown key is the management account's.
    let management = text(&manifest["management_account_id"]);
    let identity = sts(endpoint, caller.clone())
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(identity.account(), Some(management));
    let orgs = organizations(endpoint, caller.clone());
    let described = orgs.describe_organization().send().await.expect("describe");
    let organization = described.organization().expect("an organization");
    assert_eq!(organization.id(), Some(text(&manifest["organization_id"])));
    assert_eq!(organization.master_account_id(), Some(management));

    // ListAccounts: the management account, then the members in the order they joined,
    // at most MaxResults a page.
    let accounts = manifest["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 4);
    let (mut listed, mut pages, mut token) = (Vec::new(), 0, None);
    loop {
        let page = orgs
            .list_accounts()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .expect("ListAccounts");
        assert!(page.accounts().len() <= 2);
        pages += 1;
        listed.extend(page.accounts().iter().map(|a| {
            (
                a.id().unwrap_or_default().to_string(),
                a.state().map(|s| s.as_str().to_string()),
            )
        }));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 2);
    let expected: Vec<_> = accounts
        .iter()
        .map(|a| {
            (
                text(&a["id"]).to_string(),
                Some(text(&a["state"]).to_string()),
            )
        })
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(accounts[3]["state"], "SUSPENDED");
    assert!(accounts[..3].iter().all(|a| a["state"] == "ACTIVE"));
    // Without MaxResults the server's cap still pages.
    let first = orgs.list_accounts().send().await.expect("ListAccounts");
    assert_eq!(first.accounts().len(), ORG_PAGE_CAP);
    assert!(first.next_token().is_some());

    // The nested unit holds its account.
    let prod = text(&manifest["ous"]["Workloads/Prod"]);
    let in_prod = orgs
        .list_accounts_for_parent()
        .parent_id(prod)
        .send()
        .await
        .expect("ListAccountsForParent");
    let ids: Vec<_> = in_prod.accounts().iter().filter_map(|a| a.id()).collect();
    assert_eq!(ids, [text(&accounts[1]["id"])]);
    assert_eq!(accounts[1]["ou_path"], "Root/Workloads/Prod");

    // Each account: only its own users, keys with the seeded dates and last use.
    for account in accounts {
        let id = text(&account["id"]);
        let creds = if account["management"] == true {
            caller.clone()
        } else {
            let assumed = sts(endpoint, caller.clone())
                .assume_role()
                .role_arn(format!(
                    "arn:aws:iam::{id}:role/OrganizationAccountAccessRole"
                ))
                .role_session_name("seed-org-test")
                .send()
                .await
                .expect("AssumeRole");
            let c = assumed.credentials().expect("credentials");
            // The endpoint's clock is back at the real time: the credentials are fresh.
            assert!(c.expiration().secs() > chrono::Utc::now().timestamp());
            credentials(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token()),
            )
        };
        let client = iam(endpoint, creds);
        let users = client.list_users().send().await.expect("ListUsers");
        let mut names: Vec<_> = users.users().iter().map(|u| u.user_name()).collect();
        names.sort_unstable();
        let mut seeded: Vec<_> = account["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| text(&u["name"]))
            .collect();
        seeded.sort_unstable();
        assert_eq!(names, seeded, "users of {}", account["name"]);
        for u in users.users() {
            assert!(u.arn().contains(&format!(":{id}:")), "{}", u.arn());
        }
        for seeded_user in account["users"].as_array().expect("users") {
            let keys = client
                .list_access_keys()
                .user_name(text(&seeded_user["name"]))
                .send()
                .await
                .expect("ListAccessKeys");
            let seeded_keys = seeded_user["keys"].as_array().expect("keys");
            assert_eq!(keys.access_key_metadata().len(), seeded_keys.len());
            for seeded_key in seeded_keys {
                let key_id = text(&seeded_key["id"]);
                let listed = keys
                    .access_key_metadata()
                    .iter()
                    .find(|k| k.access_key_id() == Some(key_id))
                    .expect("the seeded key is listed");
                let created = listed.create_date().expect("CreateDate");
                assert_eq!(
                    created.fmt(Format::DateTime).expect("date"),
                    text(&seeded_key["created"])
                );
                let age = chrono::DateTime::parse_from_rfc3339(NOW)
                    .expect("now")
                    .timestamp()
                    - created.secs();
                assert_eq!(
                    age,
                    seeded_key["created_days_ago"].as_i64().expect("age") * 86_400
                );
                assert_eq!(
                    listed.status().map(|s| s.as_str()),
                    Some(text(&seeded_key["status"]))
                );
                let last = client
                    .get_access_key_last_used()
                    .access_key_id(key_id)
                    .send()
                    .await
                    .expect("GetAccessKeyLastUsed");
                let last = last.access_key_last_used().expect("AccessKeyLastUsed");
                match seeded_key["used"].as_object() {
                    Some(used) => {
                        let date = last.last_used_date().expect("LastUsedDate");
                        assert_eq!(
                            date.fmt(Format::DateTime).expect("date"),
                            text(&used["date"])
                        );
                        assert_eq!(last.service_name(), text(&used["service"]));
                        assert_eq!(last.region(), text(&used["region"]));
                    }
                    None => assert!(last.last_used_date().is_none(), "{key_id} was never used"),
                }
            }
        }
    }
}
