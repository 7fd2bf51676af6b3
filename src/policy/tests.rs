use chrono::{DateTime, Utc};

use super::*;
use crate::findings::{FindingSet, Severity};
use crate::inventory::{CoverageGap, Inventory, KeyStatus, LastUse, RootKeys, Tag};
use crate::rules::test_support::*;

fn problems(text: &str) -> Vec<String> {
    parse_str(text, "policy.toml")
        .expect_err("the policy should be rejected")
        .problems
}

fn one_problem(text: &str) -> String {
    let p = problems(text);
    assert_eq!(p.len(), 1, "{p:#?}");
    p[0].clone()
}

fn policy(text: &str) -> Policy {
    match parse_str(text, "policy.toml") {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

// ---- loading ----------------------------------------------------------------------------

#[test]
fn init_config_round_trips_to_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyhygiene.toml");
    std::fs::write(&path, init_config_text()).unwrap();
    assert_eq!(load(&path).unwrap(), Policy::default());
}

#[test]
fn init_config_spells_out_every_default() {
    let text = init_config_text();
    for rule in crate::rules::RULES {
        let info = rule.info();
        assert!(text.contains(&format!("[rules.{}]", info.id)));
        for t in info.thresholds {
            assert!(text.contains(&format!("\n{} = {}\n", t.name, t.default)));
        }
    }
    assert!(text.contains("# [[suppress]]"));
    assert!(text.contains("\n#   account "));
    assert!(text.contains("\n# account = \"123456789012\"\n"));
    assert_eq!(text.matches("\naccounts = []\n").count(), 2);
}

#[test]
fn init_config_example_suppression_parses_when_uncommented() {
    let text = init_config_text();
    let example = &text[text.find("# [[suppress]]").unwrap()..];
    let uncommented: String = example
        .lines()
        .map(|l| format!("{}\n", l.trim_start_matches("# ")))
        .collect();
    let p = policy(&uncommented);
    assert_eq!(p.suppressions.len(), 1);
    assert_eq!(p.suppressions[0].account.as_deref(), Some("123456789012"));
}

#[test]
fn empty_file_is_the_default() {
    assert_eq!(policy(""), Policy::default());
}

#[test]
fn missing_file() {
    let err = load(std::path::Path::new("/nonexistent/keyhygiene.toml")).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(
        err.problems[0].starts_with("/nonexistent/keyhygiene.toml: cannot read the policy file: "),
        "{}",
        err.problems[0]
    );
}

#[test]
fn full_example_parses() {
    let p = policy(
        r#"
[rules.key-not-rotated]
severity = "high"
max-age-days = 180

[rules.key-never-used]
enabled = false

[scope.include]
tags = ["team=payments"]

[scope.exclude]
users = ["break-glass-*"]
paths = ["/service-accounts/"]

[[suppress]]
rule = "*"
user = "legacy-ftp"
access-key-id = "AKIAIOSFODNN7EXAMPLE"
reason = "Vendor appliance; SEC-1234"
expires = 2026-12-31

[[suppress]]
rule = "key-unused"
user = "ci-*"
reason = "CI keys are used monthly"
expires = "2026-06-30"
"#,
    );
    let r = p.rule("key-not-rotated").unwrap();
    assert_eq!(r.severity, Severity::High);
    assert_eq!(r.thresholds["max-age-days"], 180);
    assert!(r.enabled);
    assert!(!p.rule("key-never-used").unwrap().enabled);
    assert_eq!(p.rule("key-unused"), Policy::default().rule("key-unused"));
    assert_eq!(p.scope.include.tags[0].key, "team");
    assert_eq!(p.scope.exclude.paths, vec!["/service-accounts/"]);
    assert_eq!(p.suppressions.len(), 2);
    let s = &p.suppressions[0];
    assert_eq!(s.rule, "*");
    assert_eq!(s.user.as_str(), "legacy-ftp");
    assert_eq!(s.access_key_id.as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
    assert_eq!(s.expires, NaiveDate::from_ymd_opt(2026, 12, 31));
    assert_eq!(s.location, "policy.toml:16");
    assert_eq!(
        p.suppressions[1].expires,
        NaiveDate::from_ymd_opt(2026, 6, 30)
    );
    assert_eq!(p.suppressions[1].location, "policy.toml:23");
}

#[test]
fn inline_tables_work_too() {
    let p = policy(
        "rules = { key-unused = { max-unused-days = 10 } }\n\
         suppress = [{ rule = \"key-unused\", user = \"bob\", reason = \"r\" }]\n",
    );
    assert_eq!(
        p.rule("key-unused").unwrap().thresholds["max-unused-days"],
        10
    );
    assert_eq!(p.suppressions.len(), 1);
}

// ---- every config error, as its exact message ---------------------------------------------

#[test]
fn unknown_top_level_key() {
    assert_eq!(
        one_problem("\n  bogus = 1\n"),
        "policy.toml:2:3: unknown key \"bogus\" in the policy file (expected one of: rules, scope, suppress, report)"
    );
}

#[test]
fn unknown_rule_id_with_and_without_suggestion() {
    assert_eq!(
        one_problem("[rules.key-unsued]\nenabled = true\n"),
        "policy.toml:1:8: unknown rule \"key-unsued\" in [rules] (did you mean \"key-unused\"? `keyhygiene rules` lists every rule)"
    );
    assert_eq!(
        one_problem("[rules.mfa]\n"),
        "policy.toml:1:8: unknown rule \"mfa\" in [rules] (`keyhygiene rules` lists every rule)"
    );
}

#[test]
fn unknown_key_in_a_rule() {
    assert_eq!(
        one_problem("[rules.key-unused]\nmax-age-days = 3\n"),
        "policy.toml:2:1: unknown key \"max-age-days\" in [rules.key-unused] (expected one of: enabled, severity, max-unused-days)"
    );
}

#[test]
fn wrong_types() {
    assert_eq!(
        one_problem("[rules.key-unused]\nenabled = \"yes\"\n"),
        "policy.toml:2:11: \"rules.key-unused.enabled\" must be true or false, found string (write enabled = true or enabled = false)"
    );
    assert_eq!(
        one_problem("[rules.key-unused]\nseverity = 3\n"),
        "policy.toml:2:12: \"rules.key-unused.severity\" must be a string, found integer (use \"low\", \"medium\", \"high\" or \"critical\")"
    );
    assert_eq!(
        one_problem("[rules.key-unused]\nmax-unused-days = \"45\"\n"),
        "policy.toml:2:19: \"rules.key-unused.max-unused-days\" must be a whole number, found string (write max-unused-days = 45, a number of whole days)"
    );
    assert_eq!(
        one_problem("[rules.key-not-rotated]\nmax-age-days = 90.5\n"),
        "policy.toml:2:16: \"rules.key-not-rotated.max-age-days\" must be a whole number, found float (write max-age-days = 90, a number of whole days)"
    );
    assert_eq!(
        one_problem("rules = 1\n"),
        "policy.toml:1:9: \"rules\" must be a table, found integer (write one [rules.<rule-id>] section per rule)"
    );
    assert_eq!(
        one_problem("[scope]\ninclude = [\"x\"]\n"),
        "policy.toml:2:11: \"scope.include\" must be a table, found array (write [scope.include] with users, paths, tags and accounts lists under it)"
    );
    assert_eq!(
        one_problem("[scope.exclude]\nusers = \"bob\"\n"),
        "policy.toml:2:9: \"scope.exclude.users\" must be a list of strings, found string (write users = [\"ci-*\"])"
    );
    assert_eq!(
        one_problem("[scope.exclude]\npaths = [1]\n"),
        "policy.toml:2:10: \"scope.exclude.paths\" must be a list of strings, found integer (write paths = [\"/service-accounts/\"])"
    );
    assert_eq!(
        one_problem("suppress = \"all\"\n"),
        "policy.toml:1:12: \"suppress\" must be a list of tables, found string (write each entry as a [[suppress]] section)"
    );
    assert_eq!(
        one_problem("[[suppress]]\nrule = \"*\"\nuser = [\"bob\"]\nreason = \"r\"\n"),
        "policy.toml:3:8: \"suppress.user\" must be a string, found array (write user = \"<name-or-glob>\")"
    );
    assert_eq!(
        one_problem("[[suppress]]\nrule = \"*\"\nuser = \"bob\"\nreason = \"r\"\nexpires = 5\n"),
        "policy.toml:5:11: \"suppress.expires\" must be a date, found integer (write a date such as expires = 2026-12-31)"
    );
}

#[test]
fn bad_severity_value() {
    assert_eq!(
        one_problem("[rules.key-unused]\nseverity = \"severe\"\n"),
        "policy.toml:2:12: \"rules.key-unused.severity\" must be a severity, found \"severe\" (use \"low\", \"medium\", \"high\" or \"critical\")"
    );
}

#[test]
fn negative_threshold() {
    assert_eq!(
        one_problem("[rules.key-unused]\nmax-unused-days = -1\n"),
        "policy.toml:2:19: \"rules.key-unused.max-unused-days\" must not be negative, found -1 (use 0 or more days)"
    );
}

#[test]
fn scope_errors() {
    assert_eq!(
        one_problem("[scope]\nonly = []\n"),
        "policy.toml:2:1: unknown key \"only\" in [scope] (expected one of: include, exclude)"
    );
    assert_eq!(
        one_problem("[scope.include]\nnames = []\n"),
        "policy.toml:2:1: unknown key \"names\" in [scope.include] (expected one of: users, paths, tags, accounts)"
    );
    assert_eq!(
        one_problem("[scope.include]\nusers = [\"ok\", \"[ci\"]\n"),
        "policy.toml:2:16: invalid glob \"[ci\" in scope.include.users: unclosed character class; missing ']' (globs use *, ?, [abc] and {a,b})"
    );
    assert_eq!(
        one_problem("[scope.exclude]\npaths = [\"service-accounts/\"]\n"),
        "policy.toml:2:10: \"scope.exclude.paths\" entry \"service-accounts/\" is not an IAM path prefix (IAM paths start with \"/\", e.g. \"/service-accounts/\")"
    );
    assert_eq!(
        one_problem("[scope.include]\ntags = [\"team\"]\n"),
        "policy.toml:2:9: \"scope.include.tags\" entry \"team\" is not key=value (write \"team=payments\"; the value may be a glob)"
    );
}

#[test]
fn account_ids_must_be_twelve_digits() {
    let base = "[[suppress]]\nrule = \"*\"\nuser = \"bob\"\nreason = \"r\"\n";
    assert_eq!(
        one_problem(&format!("{base}account = \"1234-5678-9012\"\n")),
        "policy.toml:5:11: \"suppress.account\" is not an account id: \"1234-5678-9012\" (write the 12 digits of the account id, without dashes or spaces, e.g. account = \"123456789012\")"
    );
    assert_eq!(
        one_problem(&format!("{base}account = \"12345678901\"\n")),
        "policy.toml:5:11: \"suppress.account\" is not an account id: \"12345678901\" (write the 12 digits of the account id, without dashes or spaces, e.g. account = \"123456789012\")"
    );
    assert_eq!(
        one_problem(&format!("{base}account = 123456789012\n")),
        "policy.toml:5:11: \"suppress.account\" must be a string, found integer (write account = \"123456789012\", the account id in quotes)"
    );
    assert_eq!(
        one_problem("[scope.exclude]\naccounts = [\"111111111111\", \"12345678901x\"]\n"),
        "policy.toml:2:29: \"scope.exclude.accounts\" entry \"12345678901x\" is not an account id (write the 12 digits of the account id, without dashes or spaces, e.g. \"123456789012\")"
    );
    assert_eq!(
        one_problem("[scope.include]\naccounts = \"111111111111\"\n"),
        "policy.toml:2:12: \"scope.include.accounts\" must be a list of strings, found string (write accounts = [\"123456789012\"])"
    );
    assert_eq!(
        one_problem("[scope.include]\naccounts = [111111111111]\n"),
        "policy.toml:2:13: \"scope.include.accounts\" must be a list of strings, found integer (write accounts = [\"123456789012\"])"
    );
    // Every bad id is reported, each at its own position.
    let p = problems(
        "[scope.include]\naccounts = [\"1\", \"111111111111\", \" 111111111111\"]\n\
         [[suppress]]\nrule = \"*\"\nuser = \"bob\"\nreason = \"r\"\naccount = \"\"\n",
    );
    let positions: Vec<&str> = p.iter().map(|l| l.split(": ").next().unwrap()).collect();
    assert_eq!(
        positions,
        vec!["policy.toml:2:13", "policy.toml:2:34", "policy.toml:7:11"]
    );
}

#[test]
fn typos_of_the_account_keys_list_the_right_names() {
    assert_eq!(
        one_problem(
            "[[suppress]]\nrule = \"*\"\nuser = \"bob\"\nreason = \"r\"\naccount-id = \"123456789012\"\n"
        ),
        "policy.toml:5:1: unknown key \"account-id\" in [[suppress]] (expected one of: rule, user, access-key-id, account, finding-id, reason, expires)"
    );
    assert_eq!(
        one_problem("[scope.exclude]\naccount = [\"123456789012\"]\n"),
        "policy.toml:2:1: unknown key \"account\" in [scope.exclude] (expected one of: users, paths, tags, accounts)"
    );
}

#[test]
fn suppression_errors() {
    assert_eq!(
        one_problem("[[suppress]]\nrule = \"*\"\nuser = \"bob\"\n"),
        "policy.toml:1:1: suppression has no \"reason\" (add reason = \"why this finding is accepted\")"
    );
    assert_eq!(
        one_problem("[[suppress]]\nrule = \"*\"\nuser = \"bob\"\nreason = \"  \"\n"),
        "policy.toml:4:10: suppression has an empty \"reason\" (say why this finding is accepted, e.g. reason = \"vendor key, rotated by the vendor; ticket SEC-123\")"
    );
    assert_eq!(
        problems("[[suppress]]\nreason = \"r\"\n"),
        vec![
            "policy.toml:1:1: suppression has no \"rule\" (add rule = \"<rule-id>\", or rule = \"*\" for every rule)",
            "policy.toml:1:1: suppression has no \"user\" (add user = \"<name-or-glob>\", or user = \"*\" for every user)",
        ]
    );
    assert_eq!(
        one_problem("[[suppress]]\nrule = \"key-not-rotate\"\nuser = \"bob\"\nreason = \"r\"\n"),
        "policy.toml:2:8: unknown rule \"key-not-rotate\" in suppress.rule (did you mean \"key-not-rotated\"? `keyhygiene rules` lists every rule, or \"*\" for every rule)"
    );
    assert_eq!(
        one_problem("[[suppress]]\nrule = \"*\"\nuser = \"bob\"\nreason = \"r\"\nkey = \"AKIA\"\n"),
        "policy.toml:5:1: unknown key \"key\" in [[suppress]] (expected one of: rule, user, access-key-id, account, finding-id, reason, expires)"
    );
    assert_eq!(
        one_problem("[[suppress]]\nrule = \"*\"\nuser = \"{a,b\"\nreason = \"r\"\n"),
        "policy.toml:3:8: invalid glob \"{a,b\" in suppress.user: unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?) (globs use *, ?, [abc] and {a,b})"
    );
}

#[test]
fn unparsable_dates() {
    let base = "[[suppress]]\nrule = \"*\"\nuser = \"bob\"\nreason = \"r\"\n";
    assert_eq!(
        one_problem(&format!("{base}expires = \"2026-13-01\"\n")),
        "policy.toml:5:11: \"suppress.expires\" is not a date: \"2026-13-01\" (write a date such as expires = 2026-12-31)"
    );
    assert_eq!(
        one_problem(&format!("{base}expires = \"31/12/2026\"\n")),
        "policy.toml:5:11: \"suppress.expires\" is not a date: \"31/12/2026\" (write a date such as expires = 2026-12-31)"
    );
    assert_eq!(
        one_problem(&format!("{base}expires = 2026-01-01T00:00:00Z\n")),
        "policy.toml:5:11: \"suppress.expires\" must be a date without a time, found 2026-01-01T00:00:00Z (write a date such as expires = 2026-12-31)"
    );
    assert_eq!(
        one_problem(&format!("{base}expires = 2026-02-30\n")),
        "policy.toml:5:11: invalid TOML: invalid date, expected day between 01 and 28 (fix the syntax; see `keyhygiene init-config` for an example)"
    );
}

#[test]
fn syntax_errors() {
    assert_eq!(
        problems("a = \n[x"),
        vec![
            "policy.toml:1:5: invalid TOML: string values must be quoted, expected literal string (fix the syntax; see `keyhygiene init-config` for an example)",
            "policy.toml:2:3: invalid TOML: unclosed table, expected `]` (fix the syntax; see `keyhygiene init-config` for an example)",
        ]
    );
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let p = problems(
        "bogus = 1\n\
         [rules.key-unused]\n\
         max-unused-days = -4\n\
         [rules.nope]\n\
         [[suppress]]\n\
         rule = \"*\"\n\
         user = \"bob\"\n\
         expires = \"soon\"\n",
    );
    let positions: Vec<&str> = p.iter().map(|l| l.split(": ").next().unwrap()).collect();
    assert_eq!(
        positions,
        vec![
            "policy.toml:1:1",
            "policy.toml:3:19",
            "policy.toml:4:8",
            "policy.toml:5:1",
            "policy.toml:8:11",
        ]
    );
}

#[test]
fn columns_count_characters() {
    assert_eq!(
        one_problem(
            "# é\n[[suppress]]\nrule = \"*\"\nuser = \"é\"\nreason = \"r\"\nexpires = \"x\"\n"
        ),
        "policy.toml:6:11: \"suppress.expires\" is not a date: \"x\" (write a date such as expires = 2026-12-31)"
    );
    assert_eq!(
        one_problem("[scope.include]\ntags = [\"é=a\", \"b\"]\n"),
        "policy.toml:2:16: \"scope.include.tags\" entry \"b\" is not key=value (write \"team=payments\"; the value may be a glob)"
    );
}

// ---- applying the policy ------------------------------------------------------------------

fn sample() -> Inventory {
    let mut svc = user(
        "svc-deploy",
        vec![active("AKIASVC", days_ago(200), used(days_ago(1)))],
    );
    svc.path = "/service-accounts/".to_string();
    let mut pay = user(
        "Pay-Bot",
        vec![active("AKIAPAY", days_ago(200), used(days_ago(1)))],
    );
    pay.tags = vec![Tag {
        key: "team".to_string(),
        value: "payments".to_string(),
    }];
    let alice = user(
        "alice",
        vec![
            active("AKIAALICE1", days_ago(200), used(days_ago(100))),
            key(
                "AKIAALICE2",
                KeyStatus::Inactive,
                days_ago(50),
                LastUse::Never,
            ),
        ],
    );
    let mut inv = inventory(vec![alice, pay, svc]);
    inv.root = RootKeys::AccountSummary { keys_present: true };
    inv
}

fn audit_at(inv: &Inventory, p: &Policy, as_of: DateTime<Utc>) -> FindingSet {
    let mut inv = inv.clone();
    p.scope.restrict(&mut inv);
    let raw = crate::rules::evaluate(&inv, &p.rules, as_of);
    super::apply(p, raw, as_of)
}

fn keys(set: &FindingSet) -> Vec<String> {
    set.findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {}{}",
                f.finding.rule_id,
                f.finding.user_name,
                f.finding.access_key_id.as_deref().unwrap_or("-"),
                if f.suppressed.is_some() {
                    " (suppressed)"
                } else {
                    ""
                }
            )
        })
        .collect()
}

#[test]
fn default_policy_finds_everything_in_stable_order() {
    let set = audit_at(&sample(), &Policy::default(), as_of());
    assert_eq!(
        keys(&set),
        vec![
            "root-access-key-present <root_account> -",
            "key-not-rotated Pay-Bot AKIAPAY",
            "key-not-rotated alice AKIAALICE1",
            "key-not-rotated svc-deploy AKIASVC",
            "key-unused alice AKIAALICE1",
            "key-inactive-not-deleted alice AKIAALICE2",
        ]
    );
    assert!(set.expired_suppressions.is_empty());
    assert!(set.unused_suppressions.is_empty());
    assert_eq!(set.worst(), Some(Severity::Critical));
}

#[test]
fn rule_settings_take_effect() {
    let p = policy(
        "[rules.root-access-key-present]\nenabled = false\n\
         [rules.key-not-rotated]\nmax-age-days = 200\n\
         [rules.key-unused]\nseverity = \"high\"\n",
    );
    let set = audit_at(&sample(), &p, as_of());
    assert_eq!(
        keys(&set),
        vec![
            "key-unused alice AKIAALICE1",
            "key-inactive-not-deleted alice AKIAALICE2",
        ]
    );
    assert_eq!(set.findings[0].finding.severity, Severity::High);
}

#[test]
fn scope_exclude_by_path_user_glob_and_tag() {
    let by_path = policy("[scope.exclude]\npaths = [\"/service-accounts/\"]\n");
    let set = audit_at(&sample(), &by_path, as_of());
    assert!(!keys(&set).iter().any(|k| k.contains("svc-deploy")));
    assert!(keys(&set).iter().any(|k| k.contains("<root_account>")));

    let by_glob = policy("[scope.exclude]\nusers = [\"pay-*\", \"ALICE\"]\n");
    let k = keys(&audit_at(&sample(), &by_glob, as_of()));
    assert_eq!(
        k,
        vec![
            "root-access-key-present <root_account> -",
            "key-not-rotated svc-deploy AKIASVC",
        ]
    );

    let by_tag = policy("[scope.exclude]\ntags = [\"team=pay*\"]\n");
    let k = keys(&audit_at(&sample(), &by_tag, as_of()));
    assert!(!k.iter().any(|k| k.contains("Pay-Bot")));
    assert_eq!(k.len(), 5);
}

#[test]
fn scope_include_lists_must_all_match() {
    let only_payments = policy("[scope.include]\ntags = [\"team=payments\"]\n");
    assert_eq!(
        keys(&audit_at(&sample(), &only_payments, as_of())),
        vec![
            "root-access-key-present <root_account> -",
            "key-not-rotated Pay-Bot AKIAPAY",
        ]
    );
    let both = policy("[scope.include]\ntags = [\"team=payments\"]\nusers = [\"alice\"]\n");
    assert_eq!(
        keys(&audit_at(&sample(), &both, as_of())),
        vec!["root-access-key-present <root_account> -"]
    );
    let paths = policy("[scope.include]\npaths = [\"/service-\"]\n");
    assert_eq!(
        keys(&audit_at(&sample(), &paths, as_of())),
        vec![
            "root-access-key-present <root_account> -",
            "key-not-rotated svc-deploy AKIASVC",
        ]
    );
}

const SUPPRESS_ALICE_KEY: &str = "[[suppress]]\nrule = \"key-not-rotated\"\nuser = \"ali*\"\naccess-key-id = \"AKIAALICE1\"\nreason = \"migrating in SEC-1\"\n";

#[test]
fn suppression_by_rule_user_glob_and_key() {
    let set = audit_at(&sample(), &policy(SUPPRESS_ALICE_KEY), as_of());
    let k = keys(&set);
    assert!(k.contains(&"key-not-rotated alice AKIAALICE1 (suppressed)".to_string()));
    assert!(k.contains(&"key-unused alice AKIAALICE1".to_string()));
    assert_eq!(set.suppressed().count(), 1);
    assert_eq!(
        set.suppressed().next().unwrap().suppressed,
        Some(crate::findings::AppliedSuppression {
            reason: "migrating in SEC-1".to_string(),
            expires: None,
        })
    );
    assert!(set.unused_suppressions.is_empty());
    assert!(set.expired_suppressions.is_empty());
}

#[test]
fn star_suppresses_every_rule_and_the_key_id_narrows() {
    let p = policy("[[suppress]]\nrule = \"*\"\nuser = \"alice\"\nreason = \"leaving Friday\"\n");
    let set = audit_at(&sample(), &p, as_of());
    assert_eq!(set.suppressed().count(), 3);
    assert_eq!(set.worst(), Some(Severity::Critical));

    let p = policy(
        "[[suppress]]\nrule = \"*\"\nuser = \"alice\"\naccess-key-id = \"AKIAALICE2\"\nreason = \"r\"\n\
         [[suppress]]\nrule = \"*\"\nuser = \"<root_account>\"\nreason = \"closing the account\"\n",
    );
    let set = audit_at(&sample(), &p, as_of());
    assert_eq!(
        keys(&set)
            .iter()
            .filter(|k| k.ends_with("(suppressed)"))
            .collect::<Vec<_>>(),
        vec![
            "root-access-key-present <root_account> - (suppressed)",
            "key-inactive-not-deleted alice AKIAALICE2 (suppressed)",
        ]
    );
    assert_eq!(set.worst(), Some(Severity::Medium));
}

#[test]
fn expiry_holds_through_the_whole_day() {
    let text = format!("{SUPPRESS_ALICE_KEY}expires = 2026-01-31\n");
    let p = policy(&text);
    for as_of in [
        "2026-01-31T00:00:00Z",
        "2026-01-31T12:00:00Z",
        "2026-01-31T23:59:59Z",
    ] {
        let set = audit_at(&sample(), &p, as_of.parse().unwrap());
        assert_eq!(set.suppressed().count(), 1, "{as_of}");
        assert!(set.expired_suppressions.is_empty());
    }
    let set = audit_at(&sample(), &p, "2026-02-01T00:00:00Z".parse().unwrap());
    assert_eq!(set.suppressed().count(), 0);
    assert!(set.unused_suppressions.is_empty());
    assert_eq!(set.expired_suppressions.len(), 1);
    let n = &set.expired_suppressions[0];
    assert_eq!(n.rule, "key-not-rotated");
    assert_eq!(n.user, "ali*");
    assert_eq!(n.access_key_id.as_deref(), Some("AKIAALICE1"));
    assert_eq!(n.reason, "migrating in SEC-1");
    assert_eq!(n.expires, NaiveDate::from_ymd_opt(2026, 1, 31));
    assert_eq!(n.location, "policy.toml:1");
}

#[test]
fn unused_suppressions_are_listed() {
    let p = policy(&format!(
        "{SUPPRESS_ALICE_KEY}\n[[suppress]]\nrule = \"key-unused\"\nuser = \"nobody\"\nreason = \"old\"\nexpires = 2027-01-01\n\
         [[suppress]]\nrule = \"key-never-used\"\nuser = \"*\"\nreason = \"old\"\n"
    ));
    let set = audit_at(&sample(), &p, as_of());
    assert_eq!(set.suppressed().count(), 1);
    let unused: Vec<&str> = set
        .unused_suppressions
        .iter()
        .map(|n| n.location.as_str())
        .collect();
    assert_eq!(unused, vec!["policy.toml:7", "policy.toml:12"]);
}

const OTHER_ACCOUNT: &str = "210987654321";

/// The findings of two accounts with the same users: `sample()` in [`ACCOUNT`] and in
/// [`OTHER_ACCOUNT`], with the policy applied to both at once.
fn audit_two_accounts(p: &Policy) -> FindingSet {
    let mut raw = Vec::new();
    for account in [ACCOUNT, OTHER_ACCOUNT] {
        let mut inv = sample();
        inv.account_id = Some(account.parse().unwrap());
        p.scope.restrict(&mut inv);
        raw.extend(crate::rules::evaluate(&inv, &p.rules, as_of()));
    }
    super::apply(p, raw, as_of())
}

fn suppressed_accounts(set: &FindingSet) -> Vec<String> {
    set.suppressed()
        .map(|f| {
            format!(
                "{} {} {}",
                f.finding.account_id.as_deref().unwrap_or("-"),
                f.finding.rule_id,
                f.finding.user_name
            )
        })
        .collect()
}

#[test]
fn an_account_suppression_matches_only_its_account() {
    let p = policy(&format!(
        "[[suppress]]\nrule = \"key-unused\"\nuser = \"alice\"\naccount = \"{OTHER_ACCOUNT}\"\nreason = \"r\"\n"
    ));
    assert_eq!(p.suppressions[0].account.as_deref(), Some(OTHER_ACCOUNT));
    let set = audit_two_accounts(&p);
    assert_eq!(
        suppressed_accounts(&set),
        vec![format!("{OTHER_ACCOUNT} key-unused alice")]
    );
    assert!(set.unused_suppressions.is_empty());

    // Alone with the other account's findings, the entry matches nothing.
    let set = audit_at(&sample(), &p, as_of());
    assert_eq!(set.suppressed().count(), 0);
    assert_eq!(set.unused_suppressions.len(), 1);

    // A finding whose account is unknown is in no particular account.
    let mut unknown = sample();
    unknown.account_id = None;
    let set = audit_at(&unknown, &p, as_of());
    assert_eq!(set.suppressed().count(), 0);
}

#[test]
fn a_suppression_without_an_account_matches_in_every_account() {
    let p = policy("[[suppress]]\nrule = \"key-unused\"\nuser = \"alice\"\nreason = \"r\"\n");
    assert_eq!(p.suppressions[0].account, None);
    let set = audit_two_accounts(&p);
    assert_eq!(
        suppressed_accounts(&set),
        vec![
            format!("{ACCOUNT} key-unused alice"),
            format!("{OTHER_ACCOUNT} key-unused alice"),
        ]
    );
    let mut unknown = sample();
    unknown.account_id = None;
    assert_eq!(audit_at(&unknown, &p, as_of()).suppressed().count(), 1);
}

#[test]
fn an_entry_for_another_account_does_not_take_the_finding_from_a_later_entry() {
    let p = policy(&format!(
        "[[suppress]]\nrule = \"*\"\nuser = \"alice\"\naccount = \"{OTHER_ACCOUNT}\"\nreason = \"other\"\n\
         [[suppress]]\nrule = \"*\"\nuser = \"alice\"\nreason = \"everywhere\"\n"
    ));
    let set = audit_at(&sample(), &p, as_of());
    assert_eq!(set.suppressed().count(), 3);
    assert!(
        set.suppressed()
            .all(|f| f.suppressed.as_ref().unwrap().reason == "everywhere")
    );
    assert_eq!(set.unused_suppressions.len(), 1);
    assert_eq!(set.unused_suppressions[0].location, "policy.toml:1");
}

#[test]
fn unused_and_expired_notices_carry_the_account() {
    let p = policy(&format!(
        "[[suppress]]\nrule = \"key-unused\"\nuser = \"nobody\"\naccount = \"{OTHER_ACCOUNT}\"\nreason = \"old\"\n\
         [[suppress]]\nrule = \"key-unused\"\nuser = \"alice\"\naccount = \"{ACCOUNT}\"\nreason = \"gone\"\nexpires = 2020-01-01\n\
         [[suppress]]\nrule = \"key-unused\"\nuser = \"nobody\"\nreason = \"old\"\n"
    ));
    let set = audit_at(&sample(), &p, as_of());
    let unused: Vec<(&str, Option<&str>)> = set
        .unused_suppressions
        .iter()
        .map(|n| (n.location.as_str(), n.account.as_deref()))
        .collect();
    assert_eq!(
        unused,
        vec![
            ("policy.toml:1", Some(OTHER_ACCOUNT)),
            ("policy.toml:12", None)
        ]
    );
    assert_eq!(set.expired_suppressions.len(), 1);
    assert_eq!(
        set.expired_suppressions[0].account.as_deref(),
        Some(ACCOUNT)
    );
    assert_eq!(
        set.suppressed().count(),
        0,
        "the expired entry suppresses nothing"
    );
}

#[test]
fn scope_includes_and_excludes_accounts() {
    let everyone = Policy::default().scope;
    assert!(everyone.includes_account(ACCOUNT));
    assert_eq!(everyone.accounts_description(), None);

    let p = policy("[scope.exclude]\naccounts = [\"111111111111\", \"222222222222\"]\n");
    assert!(p.scope.includes_account(ACCOUNT));
    assert!(!p.scope.includes_account("111111111111"));
    assert!(!p.scope.includes_account("222222222222"));
    assert_eq!(
        p.scope.accounts_description().as_deref(),
        Some("exclude accounts 111111111111, 222222222222")
    );

    let p = policy(
        "[scope.include]\naccounts = [\"111111111111\", \"222222222222\"]\n\
         [scope.exclude]\naccounts = [\"222222222222\"]\n",
    );
    assert!(p.scope.includes_account("111111111111"));
    assert!(!p.scope.includes_account("222222222222"), "exclude wins");
    assert!(
        !p.scope.includes_account(ACCOUNT),
        "not in the include list"
    );
    assert_eq!(
        p.scope.accounts_description().as_deref(),
        Some("include accounts 111111111111, 222222222222; exclude accounts 222222222222")
    );
}

#[test]
fn accounts_leave_the_users_of_an_audited_account_alone() {
    let p = policy(&format!(
        "[scope.include]\naccounts = [\"{ACCOUNT}\"]\nusers = [\"alice\"]\n\
         [scope.exclude]\naccounts = [\"111111111111\"]\n"
    ));
    assert_eq!(p.scope.accounts.include, vec![ACCOUNT]);
    assert_eq!(p.scope.accounts.exclude, vec!["111111111111"]);
    assert_eq!(p.scope.include.users.len(), 1);
    assert_eq!(p.scope.describe(), "include users alice");
    assert!(p.scope.decided_by_name_and_path());

    let only_accounts = policy("[scope.exclude]\naccounts = [\"111111111111\"]\n");
    assert!(only_accounts.scope.is_everyone());
    assert_eq!(only_accounts.scope.describe(), "");
    let mut inv = sample();
    let outcome = only_accounts.scope.restrict(&mut inv);
    assert_eq!(outcome, ScopeOutcome::default());
    assert_eq!(inv.users.len(), 3);
}

#[test]
fn suppressing_an_out_of_scope_finding_counts_as_unused() {
    let p = policy(&format!(
        "{SUPPRESS_ALICE_KEY}[scope.exclude]\nusers = [\"alice\"]\n"
    ));
    let set = audit_at(&sample(), &p, as_of());
    assert_eq!(set.suppressed().count(), 0);
    assert_eq!(set.unused_suppressions.len(), 1);
}

fn gap(user: &str, operation: &str) -> CoverageGap {
    CoverageGap {
        user: Some(user.to_string()),
        access_key_id: None,
        operation: operation.to_string(),
        error_code: "AccessDenied".to_string(),
        impact: "unknown".to_string(),
    }
}

#[test]
fn the_scope_leaves_users_out_of_the_inventory_with_their_gaps() {
    let p = policy("[scope.exclude]\npaths = [\"/service-accounts/\"]\n");
    let mut inv = sample();
    inv.gaps.push(gap("svc-deploy", "GetAccessKeyLastUsed"));
    inv.gaps.push(gap("alice", "ListUserTags"));
    let outcome = p.scope.restrict(&mut inv);
    assert_eq!(outcome.users_excluded, 1);
    assert_eq!(outcome.keys_excluded, 1);
    assert_eq!(outcome.gaps_excluded, 1);
    assert_eq!(outcome.description, "exclude paths /service-accounts/");
    assert!(inv.users.iter().all(|u| u.name != "svc-deploy"));
    assert_eq!(inv.gaps.len(), 1, "the in-scope user's gap stays");
    assert_eq!(inv.compute_coverage().keys, 3);
}

#[test]
fn a_user_whose_tags_are_unknown_stays_in_a_tag_scope() {
    let p = policy("[scope.include]\ntags = [\"team=payments\"]\n");
    let mut inv = sample();
    inv.gaps.push(gap("alice", "ListUserTags"));
    let outcome = p.scope.restrict(&mut inv);
    let names: Vec<&str> = inv.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        ["alice", "Pay-Bot"],
        "alice's exclusion cannot be proven"
    );
    assert_eq!(outcome.users_excluded, 1);
    assert!(!inv.is_complete(), "alice's gap still counts");
}

#[test]
fn users_the_collecting_run_did_not_crawl_are_excluded_or_gaps() {
    let not_crawled = |name: &str| crate::inventory::UserRef {
        name: name.to_string(),
        path: "/".to_string(),
    };
    let p = policy("[scope.exclude]\nusers = [\"pay-*\"]\n");
    let mut inv = sample();
    inv.not_crawled = vec![not_crawled("pay-2"), not_crawled("bob")];
    let outcome = p.scope.restrict(&mut inv);
    // pay-2 is out of this scope too; bob is in it, but his keys were never read.
    assert_eq!(outcome.users_excluded, 2, "Pay-Bot and pay-2");
    assert_eq!(inv.gaps.len(), 1);
    assert_eq!(inv.gaps[0].user.as_deref(), Some("bob"));
    assert_eq!(inv.gaps[0].error_code, "NotCrawled");
    assert!(inv.not_crawled.is_empty());

    let mut inv = sample();
    inv.not_crawled = vec![not_crawled("bob")];
    Policy::default().scope.restrict(&mut inv);
    assert!(!inv.is_complete(), "everyone is in scope now: bob is a gap");
}

#[test]
fn names_and_paths_decide_before_the_keys_are_crawled() {
    let p = policy("[scope.exclude]\nusers = [\"pay-*\"]\npaths = [\"/service-accounts/\"]\n");
    assert!(p.scope.decided_by_name_and_path());
    assert!(!p.scope.may_include("Pay-Bot", "/"));
    assert!(!p.scope.may_include("x", "/service-accounts/ci/"));
    assert!(p.scope.may_include("alice", "/"));
    let tags = policy("[scope.include]\ntags = [\"team=payments\"]\n");
    assert!(!tags.scope.decided_by_name_and_path());
    assert!(
        tags.scope.may_include("alice", "/"),
        "tags are not known yet"
    );
}

#[test]
fn first_matching_suppression_wins() {
    let p = policy(&format!(
        "[[suppress]]\nrule = \"*\"\nuser = \"alice\"\nreason = \"first\"\n{SUPPRESS_ALICE_KEY}"
    ));
    let set = audit_at(&sample(), &p, as_of());
    assert!(
        set.suppressed()
            .all(|f| f.suppressed.as_ref().unwrap().reason == "first")
    );
    assert_eq!(set.unused_suppressions.len(), 1);
    assert_eq!(set.unused_suppressions[0].location, "policy.toml:5");
}

#[test]
fn same_input_gives_identical_output() {
    let p = policy(SUPPRESS_ALICE_KEY);
    assert_eq!(
        audit_at(&sample(), &p, as_of()),
        audit_at(&sample(), &p, as_of())
    );
}

// ---- exit codes ---------------------------------------------------------------------------

#[test]
fn exit_code_matrix() {
    use crate::app::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_INCOMPLETE, exit_code};
    let inv = sample();
    // Worst unsuppressed finding: critical (root key).
    let all = audit_at(&inv, &Policy::default(), as_of());
    // Root suppressed: worst is medium.
    let medium = audit_at(
        &inv,
        &policy("[[suppress]]\nrule = \"*\"\nuser = \"<root_account>\"\nreason = \"r\"\n"),
        as_of(),
    );
    // Everything suppressed.
    let none = audit_at(
        &inv,
        &policy("[[suppress]]\nrule = \"*\"\nuser = \"*\"\nreason = \"r\"\n"),
        as_of(),
    );
    let empty = FindingSet::default();
    let (low, med, high, crit) = (
        Some(Severity::Low),
        Some(Severity::Medium),
        Some(Severity::High),
        Some(Severity::Critical),
    );
    let cases = [
        (true, &all, low, EXIT_FINDINGS),
        (true, &all, crit, EXIT_FINDINGS),
        (true, &all, None, EXIT_CLEAN),
        (true, &medium, med, EXIT_FINDINGS),
        (true, &medium, high, EXIT_CLEAN),
        (true, &none, low, EXIT_CLEAN),
        (true, &empty, low, EXIT_CLEAN),
        (false, &empty, low, EXIT_INCOMPLETE),
        (false, &all, low, EXIT_INCOMPLETE),
        (false, &all, None, EXIT_INCOMPLETE),
    ];
    for (i, (complete, set, fail_on, expected)) in cases.into_iter().enumerate() {
        assert_eq!(
            exit_code(complete, Severity::reaches(set.worst(), fail_on)),
            expected,
            "case {i}"
        );
    }
    assert_eq!(none.suppressed().count(), none.findings.len());
    assert!(!none.findings.is_empty());
}

#[test]
fn a_suppression_can_name_a_finding_id_alone() {
    let set = audit_at(&sample(), &Policy::default(), as_of());
    let target = set
        .findings
        .iter()
        .find(|f| f.finding.rule_id == "key-not-rotated" && f.finding.user_name == "alice")
        .expect("alice's key is too old");
    let id = target.finding.finding_id.clone();
    let p = policy(&format!(
        "[[suppress]]\nfinding-id = \"{id}\"\nreason = \"rotation booked, SEC-7\"\n"
    ));
    let set = audit_at(&sample(), &p, as_of());
    let suppressed: Vec<String> = keys(&set)
        .into_iter()
        .filter(|k| k.ends_with("(suppressed)"))
        .collect();
    assert_eq!(
        suppressed,
        vec!["key-not-rotated alice AKIAALICE1 (suppressed)"]
    );
    assert!(set.unused_suppressions.is_empty());
    // With a rule that contradicts the id, the entry matches nothing.
    let p = policy(&format!(
        "[[suppress]]\nrule = \"key-unused\"\nuser = \"*\"\nfinding-id = \"{id}\"\nreason = \"r\"\n"
    ));
    let set = audit_at(&sample(), &p, as_of());
    assert_eq!(set.suppressed().count(), 0);
    assert_eq!(set.unused_suppressions.len(), 1);
    assert_eq!(
        set.unused_suppressions[0].finding_id.as_deref(),
        Some(id.as_str())
    );
}

#[test]
fn a_malformed_finding_id_is_refused_with_its_position() {
    assert_eq!(
        one_problem("[[suppress]]\nfinding-id = \"AKIAALICE1\"\nreason = \"r\"\n"),
        "policy.toml:2:14: \"suppress.finding-id\" is not a finding id: \"AKIAALICE1\" (copy the finding_id column of findings.csv, e.g. finding-id = \"kh1-0123456789abcdef0123456789abcdef\")"
    );
}
