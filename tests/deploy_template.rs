//! deploy/member-role.yaml, the CloudFormation template of the read-only member role that
//! an organization run assumes in each account.
//!
//! The template must pass the pinned cfn-lint (scripts/requirements.txt) with no error,
//! warning or informational message, and a stack created from it on a local CloudFormation
//! endpoint (moto's server) must create exactly the role the README documents: the given
//! name, a trust policy naming the trusted account with the `sts:ExternalId` condition, one
//! inline policy with exactly the seven read-only IAM actions, and the role's ARN as output.
//! The template must also be fit for a service-managed StackSet: no account id and no
//! partition written into it, the ExternalId a required, hidden parameter.
//!
//! What only AWS can show (IAM enforcing the ExternalId condition, a StackSet roll-out,
//! other partitions) is out of reach here.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use support::{Moto, ROOT, venv_python};

const TEMPLATE: &str = "deploy/member-role.yaml";
const TRUSTED_ACCOUNT: &str = "111122223333";
/// Uses every kind of character IAM allows in an external id besides letters and digits.
const EXTERNAL_ID: &str = "kh-ext_7f3a:9/b=c+d,e.f@g";
const ROLE_NAME: &str = "KeyHygieneAuditTest";
const DEFAULT_ROLE_NAME: &str = "KeyHygieneAudit";

/// The IAM actions the audit needs in each account: these, and nothing else.
const READ_ONLY_ACTIONS: [&str; 8] = [
    "iam:GetAccountAuthorizationDetails",
    "iam:ListUsers",
    "iam:ListUserTags",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
    "iam:GetAccountSummary",
];

fn template() -> PathBuf {
    Path::new(ROOT).join(TEMPLATE)
}

/// `value` as a list of strings: IAM accepts a single string where it accepts a list.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().expect("a string in the list").to_string())
            .collect(),
        other => panic!("expected a string or a list of strings, got {other}"),
    }
}

fn statements(document: &Value) -> &Vec<Value> {
    assert_eq!(
        document["Version"], "2012-10-17",
        "policy document: {document:#}"
    );
    document["Statement"]
        .as_array()
        .unwrap_or_else(|| panic!("no Statement list in {document:#}"))
}

/// The longest run of ASCII digits in `text`.
fn longest_digit_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[test]
fn template_passes_cfn_lint() {
    let cfn_lint = venv_python()
        .parent()
        .expect("the venv's bin directory")
        .join("cfn-lint");
    assert!(
        cfn_lint.exists(),
        "{} is missing: run scripts/setup (or scripts/test), which installs the pinned cfn-lint \
         from scripts/requirements.txt into the project's virtualenv",
        cfn_lint.display()
    );
    // Errors and warnings are shown by default; informational messages are asked for too.
    let out = Command::new(&cfn_lint)
        .args(["--include-checks", "I", "--"])
        .arg(template())
        .output()
        .expect("run cfn-lint");
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "cfn-lint found problems in {TEMPLATE} (exit {:?}):\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stack_creates_the_read_only_member_role() {
    let moto = Moto::start();
    let out = Command::new(venv_python())
        .arg(Path::new(ROOT).join("scripts/check_member_role.py"))
        .args(["--endpoint", &moto.endpoint, "--template"])
        .arg(template())
        .args(["--trusted-account", TRUSTED_ACCOUNT])
        .args(["--external-id", EXTERNAL_ID])
        .args(["--role-name", ROLE_NAME])
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run scripts/check_member_role.py");
    assert!(
        out.status.success(),
        "scripts/check_member_role.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("the helper prints JSON");

    // The stack.
    assert_eq!(
        got["stack_status"], "CREATE_COMPLETE",
        "the stack did not complete: {}",
        got["stack_status_reason"]
    );
    assert_eq!(
        got["resources"],
        json!([{"type": "AWS::IAM::Role", "physical_id": ROLE_NAME}]),
        "the stack creates the role and nothing else"
    );
    assert_eq!(got["roles"], json!([ROLE_NAME]), "roles in the account");

    // The role and the output.
    let role = &got["role"];
    assert_eq!(role["name"], ROLE_NAME);
    let arn = role["arn"].as_str().expect("the role's ARN");
    assert!(
        arn.starts_with("arn:aws:iam::") && arn.ends_with(&format!(":role/{ROLE_NAME}")),
        "role ARN {arn}"
    );
    assert_eq!(
        got["outputs"],
        json!({"RoleArn": arn}),
        "the stack's outputs"
    );
    assert_eq!(role["max_session_duration"], 3600);

    // The trust policy: the trusted account, with the external id, and nothing more.
    let trust = statements(&role["trust_policy"]);
    assert_eq!(trust.len(), 1, "one trust statement: {trust:#?}");
    let statement = trust[0].as_object().expect("a statement object");
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(
        statement["Principal"],
        json!({"AWS": format!("arn:aws:iam::{TRUSTED_ACCOUNT}:root")}),
        "the trusted principal"
    );
    assert_eq!(strings(&statement["Action"]), ["sts:AssumeRole"]);
    assert_eq!(
        statement["Condition"],
        json!({"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}),
        "the trust condition"
    );
    for key in statement.keys() {
        assert!(
            ["Sid", "Effect", "Principal", "Action", "Condition"].contains(&key.as_str()),
            "unexpected {key} in the trust statement: {statement:#?}"
        );
    }

    // The permissions: one inline policy, exactly the seven read-only actions.
    assert_eq!(
        got["attached_policies"],
        json!([]),
        "no managed policy attached"
    );
    let inline = got["inline_policies"]
        .as_object()
        .expect("inline policies by name");
    assert_eq!(inline.len(), 1, "one inline policy: {inline:#?}");
    let mut actions = BTreeSet::new();
    for statement in inline.values().flat_map(statements) {
        let statement = statement.as_object().expect("a statement object");
        assert_eq!(statement["Effect"], "Allow", "{statement:#?}");
        assert_eq!(strings(&statement["Resource"]), ["*"], "{statement:#?}");
        for key in statement.keys() {
            assert!(
                ["Sid", "Effect", "Action", "Resource"].contains(&key.as_str()),
                "unexpected {key} in the permissions: {statement:#?}"
            );
        }
        for action in strings(&statement["Action"]) {
            assert!(
                !action.contains(['*', '?']),
                "wildcard action {action} in the permissions"
            );
            assert!(actions.insert(action.clone()), "{action} listed twice");
        }
    }
    let expected: BTreeSet<String> = READ_ONLY_ACTIONS.iter().map(|a| a.to_string()).collect();
    assert_eq!(actions, expected, "the role's permissions");

    // Without an ExternalId there is no stack.
    assert!(
        got["missing_external_id_refused"].is_string(),
        "a stack without the ExternalId parameter was created"
    );

    // The template as written: what moto does not enforce, and what a StackSet needs.
    let t = &got["template"];
    let parameters = t["Parameters"].as_object().expect("Parameters");
    let external_id = &parameters["ExternalId"];
    assert_eq!(external_id["NoEcho"], true, "ExternalId is NoEcho");
    assert!(
        external_id.get("Default").is_none(),
        "ExternalId must have no default"
    );
    assert!(
        external_id["MinLength"].as_u64().is_some_and(|n| n >= 2),
        "ExternalId must be non-empty (IAM's minimum is 2 characters): {external_id:#}"
    );
    assert!(
        parameters["TrustedAccountId"].get("Default").is_none(),
        "TrustedAccountId must have no default"
    );
    assert_eq!(parameters["RoleName"]["Default"], DEFAULT_ROLE_NAME);
    assert_eq!(
        t["Resources"]["MemberRole"]["Properties"]["MaxSessionDuration"],
        3600
    );
    let text = std::fs::read_to_string(template()).expect("read the template");
    assert!(
        longest_digit_run(&text) < 12,
        "{TEMPLATE} holds an account id; every account-specific value must be a parameter"
    );
    assert!(
        !text.contains("arn:aws"),
        "{TEMPLATE} writes a partition into an ARN; use ${{AWS::Partition}}"
    );
}
