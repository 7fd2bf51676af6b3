//! Organization runs end to end, against a local organization on moto's server (seeded by
//! scripts/seed_org.py under libfaketime): every key of every reachable account with its
//! account id, a member whose AssumeRole is denied named as a gap with the role ARN tried,
//! a suspended account listed but not counted, `--ou` and `--accounts` selecting exactly
//! what they say, ListAccounts paged with small pages, and only read-only requests.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use keyhygiene::inventory::{Inventory, LastUse};
use serde_json::{Value, json};
use support::{FaultProxy, Moto, audit_at, spec_key as key, spec_user as user, stderr, stdout};

const NOW: &str = "2026-06-01T12:00:00Z";
/// The role an organization run assumes by default: the member-role template's.
const ROLE: &str = keyhygiene::cli::DEFAULT_ROLE_NAME;

/// The management account, three active members (one in a nested unit, one to be denied)
/// and a closed one.
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
            {"name": "locked", "ou": null, "users": [
                user("carol", 300, vec![key(250, "Active", None)]),
            ]},
            {"name": "legacy", "ou": null, "close": true, "users": [
                user("alice", 2000, vec![key(1999, "Active", None)]),
            ]},
        ]
    })
}

struct Org {
    moto: Moto,
    manifest: Value,
}

impl Org {
    fn seed(moto: Moto) -> Org {
        let spec_file = moto.dir.path().join("org-spec.json");
        std::fs::write(&spec_file, spec().to_string()).expect("write the spec");
        let manifest = moto.seed_org_spec(&spec_file);
        Org { moto, manifest }
    }

    fn account(&self, name: &str) -> &Value {
        self.manifest["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name || (name == "management" && a["management"] == true))
            .unwrap_or_else(|| panic!("no account {name} in the manifest"))
    }

    fn id(&self, name: &str) -> String {
        self.account(name)["id"].as_str().unwrap().to_string()
    }
}

fn report(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

fn account_ids(doc: &Value, outcome: &str) -> BTreeSet<String> {
    doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["outcome"] == outcome)
        .map(|a| a["account_id"].as_str().unwrap().to_string())
        .collect()
}

fn time(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Every seeded key of `seeded` (an account of the manifest) is in `inv`, with the same
/// status, creation date and last use, under the account's id.
fn assert_same_keys(inv: &Inventory, seeded: &Value) {
    let id = seeded["id"].as_str().unwrap();
    assert_eq!(inv.account_id.as_deref(), Some(id));
    let mut expected = BTreeMap::new();
    for u in seeded["users"].as_array().unwrap() {
        for k in u["keys"].as_array().unwrap() {
            let used = k["used"].get("date").map(time);
            expected.insert(
                k["id"].as_str().unwrap().to_string(),
                (
                    u["name"].as_str().unwrap().to_string(),
                    k["status"].as_str().unwrap().to_string(),
                    time(&k["created"]),
                    used,
                ),
            );
        }
    }
    let mut crawled = BTreeMap::new();
    for u in &inv.users {
        assert!(u.arn.contains(&format!(":{id}:")), "{} is in {id}", u.arn);
        for k in &u.keys {
            let used = match &k.last_used {
                LastUse::Used { date, .. } => Some(*date),
                LastUse::Never => None,
                LastUse::Unknown => panic!("{id}: last use of {:?} unknown", k.id),
            };
            crawled.insert(
                k.id.clone().unwrap(),
                (
                    u.name.clone(),
                    k.status.as_str().to_string(),
                    k.created,
                    used,
                ),
            );
        }
    }
    assert_eq!(crawled, expected, "account {id}: every key, as seeded");
}

#[test]
fn an_organization_run_audits_every_reachable_account_and_names_the_one_it_could_not() {
    let org = Org::seed(Moto::start_org());
    let denied = org.id("locked");
    let denied_role = format!("arn:aws:iam::{denied}:role/{ROLE}");
    let proxy = FaultProxy::start(
        &org.moto.endpoint,
        &["--deny", &format!("AssumeRole:RoleArn={denied_role}")],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let saved = dir.path().join("saved");
    let output = audit_at(
        &proxy.endpoint,
        &[
            "--org",
            "--as-of",
            NOW,
            "--out-dir",
            out.to_str().unwrap(),
            "--save-inventory",
            saved.to_str().unwrap(),
        ],
    );
    let (text, err) = (stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(3), "{text}\n{err}");

    let doc = report(&out);
    assert_eq!(doc["kind"], "organization");
    assert_eq!(
        doc["organization"]["id"], org.manifest["organization_id"],
        "the organization is named"
    );
    let reachable: BTreeSet<String> = ["management", "prod-payments", "sandbox-1"]
        .iter()
        .map(|n| org.id(n))
        .collect();
    assert_eq!(account_ids(&doc, "audited"), reachable);
    assert_eq!(
        account_ids(&doc, "not audited"),
        BTreeSet::from([denied.clone()])
    );
    assert_eq!(
        account_ids(&doc, "not active"),
        BTreeSet::from([org.id("legacy")]),
        "the closed account is listed, not crawled"
    );
    let locked = doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == denied.as_str())
        .unwrap();
    assert_eq!(locked["problem"]["operation"], "AssumeRole");
    assert_eq!(locked["problem"]["error_code"], "AccessDenied");
    assert_eq!(locked["problem"]["role_arn"], denied_role.as_str());
    // IAM answers a missing role and a trust policy that refuses the caller alike: the
    // message names both causes and both fixes.
    let message = locked["problem"]["message"].as_str().unwrap();
    for needed in [
        "does not exist in this account, or its trust policy does not admit the caller",
        "deploy/member-role.yaml",
        "--role-name",
    ] {
        assert!(message.contains(needed), "{needed}: {message}");
    }
    assert!(
        text.contains(&format!(
            "not audited: account {denied}: AssumeRole failed with AccessDenied"
        )),
        "{text}"
    );
    assert!(text.contains(&denied_role), "{text}");
    let prod = doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == org.id("prod-payments").as_str())
        .unwrap();
    assert_eq!(prod["ou_path"], "Root/Workloads/Prod");
    assert_eq!(prod["name"], "prod-payments");
    assert_eq!(prod["state"], "ACTIVE");

    // Every key of every reachable account, with its account id, in the saved inventories,
    // in keys.csv and in report.json's findings.
    for name in ["management", "prod-payments", "sandbox-1"] {
        let seeded = org.account(name);
        let id = org.id(name);
        let inv = Inventory::from_json_file(&saved.join(format!("account-{id}.json"))).unwrap();
        assert!(inv.is_complete(), "{name}: {:?}", inv.gaps);
        assert_same_keys(&inv, seeded);
    }
    let keys_csv = std::fs::read_to_string(out.join("keys.csv")).unwrap();
    let seeded_keys: usize = ["management", "prod-payments", "sandbox-1"]
        .iter()
        .map(|n| {
            org.account(n)["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["keys"].as_array().unwrap().len())
                .sum::<usize>()
        })
        .sum();
    assert_eq!(keys_csv.lines().count(), seeded_keys + 1, "{keys_csv}");
    assert!(
        keys_csv
            .lines()
            .skip(1)
            .all(|l| reachable.iter().any(|id| l.starts_with(id.as_str()))),
        "every row names its account"
    );
    assert!(
        keys_csv.contains(",prod-payments"),
        "account names are in keys.csv"
    );

    // The manifest lists every account, how it was chosen and what happened to it; the
    // saved directory gives the same report offline.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(saved.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["accounts"].as_array().unwrap().len(), 5);
    assert_eq!(manifest["selection"]["org"], true);
    let offline = dir.path().join("offline");
    let again = support::keyhygiene()
        .args([
            "audit",
            "--from-inventory",
            saved.to_str().unwrap(),
            "--as-of",
            NOW,
            "--out-dir",
            offline.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    assert_eq!(
        std::fs::read(offline.join("keys.csv")).unwrap(),
        keys_csv.as_bytes(),
        "the offline report lists the same keys"
    );
    let offline_doc = report(&offline);
    assert_eq!(offline_doc["findings"], doc["findings"]);
    assert_eq!(
        account_ids(&offline_doc, "not audited"),
        BTreeSet::from([denied])
    );
}

#[test]
fn ou_and_accounts_select_exactly_what_they_say() {
    let org = Org::seed(Moto::start_org());
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = dir
            .path()
            .join(format!("out-{}", args.join("-").replace('/', "_")));
        let mut all = vec!["--as-of", NOW, "--out-dir", out.to_str().unwrap()];
        all.extend_from_slice(args);
        let output = audit_at(&org.moto.endpoint, &all);
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{}",
            stderr(&output)
        );
        report(&out)
    };

    // The Workloads unit holds Workloads/Prod, which holds prod-payments.
    let workloads = org.manifest["ous"]["Workloads"].as_str().unwrap();
    let doc = run(&["--ou", workloads]);
    assert_eq!(
        account_ids(&doc, "audited"),
        BTreeSet::from([org.id("prod-payments")])
    );
    assert_eq!(doc["accounts"].as_array().unwrap().len(), 1);
    let sandbox = org.manifest["ous"]["Sandbox"].as_str().unwrap();
    let doc = run(&["--ou", workloads, "--ou", sandbox]);
    assert_eq!(
        account_ids(&doc, "audited"),
        BTreeSet::from([org.id("prod-payments"), org.id("sandbox-1")])
    );

    // An explicit list needs no Organizations call; the caller's own account is audited
    // with its own credentials.
    let ids = format!("{},{}", org.id("sandbox-1"), org.id("management"));
    let doc = run(&["--accounts", &ids]);
    assert_eq!(
        account_ids(&doc, "audited"),
        BTreeSet::from([org.id("sandbox-1"), org.id("management")])
    );
    assert!(
        doc["organization"]["id"].is_null(),
        "Organizations was not asked"
    );

    // --exclude-accounts and --org: every active account but the excluded one.
    let doc = run(&["--org", "--exclude-accounts", &org.id("locked")]);
    assert_eq!(
        account_ids(&doc, "excluded"),
        BTreeSet::from([org.id("locked")])
    );
    assert_eq!(account_ids(&doc, "audited").len(), 3);

    // An unknown unit is refused with one line.
    let out = dir.path().join("bad-ou");
    let output = audit_at(
        &org.moto.endpoint,
        &[
            "--ou",
            "ou-zzzz-zzzzzzzz",
            "--out-dir",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("ou-zzzz-zzzzzzzz"),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists());
}

#[test]
fn an_organization_run_sends_only_read_only_requests() {
    let org = Org::seed(Moto::start_with(true));
    org.moto.control("/moto-api/recorder/reset-recording");
    org.moto.control("/moto-api/recorder/start-recording");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let ou = org.manifest["ous"]["Workloads"]
        .as_str()
        .unwrap()
        .to_string();
    for args in [
        vec!["--org"],
        vec!["--ou", ou.as_str()],
        vec!["--accounts", &org.id("sandbox-1")],
    ] {
        let mut all = vec!["--as-of", NOW, "--out-dir", out.to_str().unwrap()];
        all.extend(args);
        let output = audit_at(&org.moto.endpoint, &all);
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{}",
            stderr(&output)
        );
    }
    org.moto.control("/moto-api/recorder/stop-recording");

    let mut actions = BTreeMap::<String, usize>::new();
    for (action, _) in support::recorded_requests(org.moto.recording.as_ref().unwrap()) {
        *actions.entry(action).or_default() += 1;
    }
    // IAM and STS in every audited account, plus Organizations and the members' roles.
    let allowed = support::apis::organization_run();
    let sent: BTreeSet<&str> = actions.keys().map(String::as_str).collect();
    assert!(
        sent.is_subset(&allowed),
        "only documented read-only actions: {actions:?}"
    );
    for needed in [
        "ListAccounts",
        "DescribeOrganization",
        "AssumeRole",
        "GetAccountAuthorizationDetails",
    ] {
        assert!(sent.contains(needed), "{needed} was used: {actions:?}");
    }
}

#[test]
fn an_account_past_its_timeout_is_named_and_the_others_complete() {
    let org = Org::seed(Moto::start_org());
    // sandbox-1's AssumeRole is answered after 11 s, far past the account timeout; the
    // other accounts answer at once.
    let held = format!(
        "AssumeRole:RoleArn=arn:aws:iam::{}:role/{ROLE}",
        org.id("sandbox-1")
    );
    let proxy = FaultProxy::start(&org.moto.endpoint, &["--hold", &held]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = audit_at(
        &proxy.endpoint,
        &[
            "--org",
            "--account-timeout",
            "6s",
            "--as-of",
            NOW,
            "--out-dir",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let doc = report(&out);
    let entry = |name: &str| {
        let id = org.id(name);
        doc["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{name} is in the report"))
            .clone()
    };
    let slow = entry("sandbox-1");
    assert_eq!(slow["problem"]["error_code"], "Timeout", "{doc}");
    assert!(
        slow["problem"]["message"]
            .as_str()
            .unwrap()
            .contains("--account-timeout")
    );
    assert_eq!(
        slow["problem"]["role_arn"],
        format!("arn:aws:iam::{}:role/{ROLE}", org.id("sandbox-1")).as_str()
    );
    // Every other active account completes: the slow one never holds them up.
    for name in ["management", "prod-payments", "locked"] {
        let a = entry(name);
        assert_eq!(a["outcome"], "audited", "{name}: {a}");
        assert_eq!(a["coverage"]["complete"], true, "{name}: {a}");
    }
    assert_eq!(doc["organization"]["accounts_not_audited"], 1);
    assert!(stdout(&output).contains(&format!("not audited: account {}", org.id("sandbox-1"))));
}

#[test]
fn a_failure_inside_one_account_stays_in_that_account() {
    let org = Org::seed(Moto::start_org());
    // bob exists only in sandbox-1: its keys cannot be listed, however often it is retried.
    let proxy = FaultProxy::start(
        &org.moto.endpoint,
        &["--deny", "ListAccessKeys:UserName=bob"],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = audit_at(
        &proxy.endpoint,
        &[
            "--org",
            "--exclude-accounts",
            &org.id("locked"),
            "--as-of",
            NOW,
            "--out-dir",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let doc = report(&out);
    let gaps = doc["coverage"]["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["account_id"], org.id("sandbox-1").as_str());
    assert_eq!(gaps[0]["user"], "bob");
    assert_eq!(gaps[0]["operation"], "ListAccessKeys");
    for entry in doc["accounts"].as_array().unwrap() {
        if entry["outcome"] != "audited" {
            continue;
        }
        let complete = entry["coverage"]["complete"].as_bool().unwrap();
        assert_eq!(
            complete,
            entry["account_id"] != org.id("sandbox-1").as_str(),
            "only sandbox-1 is incomplete: {entry}"
        );
    }
    let overview = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(overview.contains("id=\"coverage-banner\""));
    assert!(overview.contains(&format!("account-{}.html#coverage", org.id("sandbox-1"))));
}

/// (account, rule, key, severity, finding id) of every finding in a report.json.
fn finding_rows(doc: &Value) -> BTreeSet<(String, String, String, String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or("-").to_string();
            (
                text("account_id"),
                text("rule_id"),
                text("access_key_id"),
                text("severity"),
                text("finding_id"),
            )
        })
        .collect()
}

/// account id -> outcome, from a report.json.
fn outcomes(doc: &Value) -> BTreeMap<String, String> {
    doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account_id"].as_str().unwrap().to_string(),
                a["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn three_shards_on_three_processes_merge_into_the_unsharded_report() {
    let org = Org::seed(Moto::start_org());
    let endpoint = org.moto.endpoint.clone();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let common = ["--org", "--as-of", NOW, "--fail-on", "none"];

    let whole_out = path("whole");
    let mut args = common.to_vec();
    args.extend(["--out-dir", whole_out.to_str().unwrap()]);
    let output = audit_at(&endpoint, &args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let whole = report(&whole_out);

    // Three shards at once, as three processes, saving into one shared folder.
    let shared = path("shared");
    let shard_outs: Vec<_> = (1..=3).map(|k| path(&format!("shard-{k}"))).collect();
    let children: Vec<_> = (1..=3)
        .map(|k| {
            let shard = format!("{k}/3");
            let mut args = common.to_vec();
            args.extend([
                "--shard",
                &shard,
                "--out-dir",
                shard_outs[k - 1].to_str().unwrap(),
                "--save-inventory",
                shared.to_str().unwrap(),
                "--quiet",
            ]);
            support::audit_command(&endpoint, &args)
                .spawn()
                .expect("start a shard")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    // Each shard audited its own accounts and named the others to audit as another
    // shard's; every shard judged the closed account alike.
    let owner = |id: &str| keyhygiene::org::Shard::of(id, 3) as usize;
    for (k, out) in shard_outs.iter().enumerate() {
        for (id, outcome) in outcomes(&report(out)) {
            if owner(&id) == k + 1 || outcomes(&whole)[&id] != "audited" {
                assert_eq!(
                    outcome,
                    outcomes(&whole)[&id],
                    "shard {} account {id}",
                    k + 1
                );
            } else {
                assert_eq!(outcome, "in another shard", "shard {} account {id}", k + 1);
            }
        }
    }
    let mut names: Vec<String> = std::fs::read_dir(&shared)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary files left: {names:?}"
    );
    for k in 1..=3 {
        assert!(
            names.contains(&format!("manifest-shard-{k}-of-3.json")),
            "{names:?}"
        );
    }

    // The merge is the unsharded report: the same accounts, outcomes and findings.
    let merged_out = path("merged");
    let output = keyhygiene_offline(&shared, &merged_out);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let merged = report(&merged_out);
    assert_eq!(outcomes(&merged), outcomes(&whole));
    assert_eq!(finding_rows(&merged), finding_rows(&whole));
    assert!(!finding_rows(&whole).is_empty());

    // Without one shard's output, its accounts are named as not covered, not dropped.
    let missing = owner(&org.id("management"));
    let partial = path("partial");
    std::fs::create_dir(&partial).unwrap();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(shared.join(format!("manifest-shard-{missing}-of-3.json"))).unwrap(),
    )
    .unwrap();
    let owned_files: BTreeSet<String> = manifest["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["result"]["file"].as_str().map(str::to_string))
        .collect();
    for name in &names {
        if !owned_files.contains(name) && *name != format!("manifest-shard-{missing}-of-3.json") {
            std::fs::copy(shared.join(name), partial.join(name)).unwrap();
        }
    }
    let partial_out = path("partial-out");
    let output = keyhygiene_offline(&partial, &partial_out);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let doc = report(&partial_out);
    for (id, outcome) in outcomes(&doc) {
        let whole_outcome = &outcomes(&whole)[&id];
        if owner(&id) == missing && whole_outcome == "audited" {
            assert_eq!(outcome, "not audited", "{id}");
            let entry = doc["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["account_id"] == id.as_str())
                .unwrap();
            assert_eq!(entry["problem"]["error_code"], "NotCovered");
        } else {
            assert_eq!(&outcome, whole_outcome, "{id}");
        }
    }

    // The same shard twice in the merge is an overlap, refused.
    let twice = path("twice");
    std::fs::create_dir(&twice).unwrap();
    let output = support::keyhygiene()
        .args(["audit", "--as-of", NOW, "--from-inventory"])
        .arg(&shared)
        .arg(merged_out.join("..").join("shared"))
        .args(["--out-dir"])
        .arg(&twice)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("give each account once"),
        "{}",
        stderr(&output)
    );
}

/// An offline audit of saved inventories.
#[test]
fn three_shards_save_into_one_s3_prefix_and_the_merge_reads_it() {
    let org = Org::seed(Moto::start_org());
    let endpoint = org.moto.endpoint.clone();
    support::s3::create_bucket(&endpoint, "org-store");
    let dir = tempfile::tempdir().unwrap();
    let common = ["--org", "--as-of", NOW, "--fail-on", "none"];
    let whole_out = dir.path().join("whole");
    let mut args = common.to_vec();
    args.extend(["--out-dir", whole_out.to_str().unwrap()]);
    let output = audit_at(&endpoint, &args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let whole = report(&whole_out);

    // Three shards at once, saving into one S3 prefix.
    let inventories = "s3://org-store/keyhygiene/inventories/run-1/";
    let children: Vec<_> = (1..=3)
        .map(|k| {
            let shard = format!("{k}/3");
            let out = dir.path().join(format!("shard-{k}"));
            let mut args = common.to_vec();
            args.extend([
                "--shard",
                &shard,
                "--out-dir",
                out.to_str().unwrap(),
                "--save-inventory",
                inventories,
                "--quiet",
            ]);
            support::audit_command(&endpoint, &args)
                .spawn()
                .expect("start a shard")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    let saved = support::s3::keys(&endpoint, "org-store", "keyhygiene/inventories/run-1/");
    for k in 1..=3 {
        assert!(
            saved.contains(&format!(
                "keyhygiene/inventories/run-1/manifest-shard-{k}-of-3.json"
            )),
            "{saved:?}"
        );
    }

    // The merge reads the prefix and publishes to S3, with the history there too: the
    // unsharded report.
    let mut args = common.to_vec();
    args.retain(|a| *a != "--org");
    args.extend([
        "--from-inventory",
        inventories,
        "--out-dir",
        "s3://org-store/keyhygiene/reports/",
        "--history",
        "s3://org-store/keyhygiene/history/",
    ]);
    let output = audit_at(&endpoint, &args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let merged = support::s3::current_report(&endpoint, "org-store", "keyhygiene/reports/");
    assert_eq!(outcomes(&merged), outcomes(&whole));
    assert_eq!(finding_rows(&merged), finding_rows(&whole));
    assert!(!finding_rows(&whole).is_empty());
    let history = support::s3::keys(&endpoint, "org-store", "keyhygiene/history/");
    assert_eq!(
        history
            .iter()
            .filter(|k| k.contains("organization-"))
            .count(),
        1,
        "{history:?}"
    );
}

fn keyhygiene_offline(saved: &Path, out: &Path) -> std::process::Output {
    support::keyhygiene()
        .args([
            "audit",
            "--as-of",
            NOW,
            "--fail-on",
            "none",
            "--from-inventory",
        ])
        .arg(saved)
        .arg("--out-dir")
        .arg(out)
        .output()
        .unwrap()
}
