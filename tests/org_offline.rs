//! Organization reports from saved inventories: several files, directories written by an
//! organization run (one file per account and a manifest), and the bad inputs an offline
//! organization audit must refuse. No network is involved.

mod support;

use std::path::Path;

use keyhygiene::inventory::LastUse;
use serde_json::{Value, json};
use support::saved::{AS_OF, account, audit, inventory, manifest, report, save, t};
use support::{keyhygiene, stderr, stdout};

#[test]
fn several_saved_files_make_one_organization_report() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(
        dir.path(),
        "a.json",
        &inventory("111111111111", "alice", 10),
    );
    let b = save(dir.path(), "b.json", &inventory("222222222222", "bob", 200));
    let out = dir.path().join("out");
    // Both spellings: one flag with two values, and the flag repeated.
    for args in [
        vec!["--from-inventory", a.to_str().unwrap(), b.to_str().unwrap()],
        vec![
            "--from-inventory",
            a.to_str().unwrap(),
            "--from-inventory",
            b.to_str().unwrap(),
        ],
    ] {
        let mut all = args.clone();
        all.extend(["--out-dir", out.to_str().unwrap()]);
        let output = audit(&all);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let doc = report(&out);
        assert_eq!(doc["kind"], "organization");
        assert_eq!(doc["schema_version"], 4);
        let ids: Vec<&str> = doc["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["account_id"].as_str().unwrap())
            .collect();
        // Worst first: bob's 200-day-old key.
        assert_eq!(ids, ["222222222222", "111111111111"]);
        assert_eq!(doc["coverage"]["keys"], 2);
        let findings = doc["findings"].as_array().unwrap();
        assert!(!findings.is_empty());
        assert!(findings.iter().all(|f| f["account_id"] == "222222222222"));
        // One CSV for the organization, with the account column first and the name last.
        let keys = std::fs::read_to_string(out.join("keys.csv")).unwrap();
        assert_eq!(keys.lines().count(), 3, "{keys}");
        assert!(
            keys.lines()
                .next()
                .unwrap()
                .ends_with(",account_name,last_used_source,last_used_source_time,owner")
        );
        assert!(out.join("account-111111111111.html").exists());
        assert!(out.join("account-222222222222.html").exists());
        let page = std::fs::read_to_string(out.join("account-222222222222.html")).unwrap();
        assert!(
            page.contains("href=\"report.html\""),
            "a way back to the overview"
        );
        assert!(
            page.contains("# In account 222222222222: run these with that account"),
            "an account's commands say where to run them"
        );
        let overview = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(overview.contains("href=\"account-222222222222.html\""));
    }
}

#[test]
fn a_single_saved_file_is_still_a_single_account_report() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(
        dir.path(),
        "a.json",
        &inventory("111111111111", "alice", 10),
    );
    let out = dir.path().join("out");
    let output = audit(&[
        "--from-inventory",
        a.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let doc = report(&out);
    assert_eq!(doc["kind"], "account");
    assert_eq!(doc["account_id"], "111111111111");
    assert!(doc["organization"].is_null());
    assert_eq!(doc["accounts"].as_array().unwrap().len(), 1);
    assert!(!out.join("account-111111111111.html").exists());
    assert!(stdout(&output).contains("account 111111111111"));
}

#[test]
fn a_saved_folder_of_one_account_keeps_the_organization_layout() {
    // The layout follows the mode: a folder (an organization run's saved form) gives the
    // overview and the account's page, even when it holds one account.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("saved");
    std::fs::create_dir(&folder).unwrap();
    save(
        &folder,
        "account-111111111111.json",
        &inventory("111111111111", "alice", 200),
    );
    let out = dir.path().join("out");
    let output = audit(&[
        "--from-inventory",
        folder.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let doc = report(&out);
    assert_eq!(doc["kind"], "organization");
    assert!(doc["account_id"].is_null());
    assert_eq!(doc["organization"]["accounts_audited"], 1);
    assert!(out.join("account-111111111111.html").exists());
    let text = stdout(&output);
    assert!(text.contains("accounts: 1 selected, 1 audited"), "{text}");
    // The overview says what it read: the folder, what run saved it, when the data is from.
    let overview = std::fs::read_to_string(out.join("report.html")).unwrap();
    let source = format!(
        "saved inventories {} (1 account); collected 2026-06-01 12:00 UTC",
        folder.display()
    );
    assert!(overview.contains(&source), "{source}");
}

/// Without `--as-of`, saved inventories are judged at the latest instant at which all of
/// them are exact: the end of the windows their crawls settled their last uses for, not
/// before the newest data of the others; no such instant is an input error naming both.
#[test]
fn saved_inventories_are_judged_where_all_of_them_are_exact() {
    use keyhygiene::inventory::SettledWindow;
    let dir = tempfile::tempdir().unwrap();
    let settled = |from: i64, until: i64| {
        let mut inv = inventory("111111111111", "alice", 200);
        inv.last_use_settled = Some(SettledWindow {
            from: t(from),
            until: t(until),
        });
        inv
    };
    let a = save(dir.path(), "a.json", &settled(1, -1));
    // Collected at t(0): exact from then on.
    let b = save(dir.path(), "b.json", &inventory("222222222222", "bob", 10));
    let out = dir.path().join("out");
    let run = |files: &[&Path], out: &Path| {
        keyhygiene()
            .args(["audit", "--from-inventory"])
            .args(files)
            .arg("--out-dir")
            .arg(out)
            .output()
            .unwrap()
    };
    let output = run(&[&a, &b], &out);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        report(&out)["as_of"],
        "2026-06-02T12:00:00Z",
        "a's window ends a day later"
    );
    let alone = dir.path().join("alone");
    let output = run(&[&b], &alone);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        report(&alone)["as_of"],
        "2026-06-01T12:00:00Z",
        "b was collected then"
    );

    // A window that ends before the other's data: no instant is exact for both.
    let early = save(dir.path(), "early.json", &settled(5, 3));
    let refused = dir.path().join("refused");
    let output = run(&[&early, &b], &refused);
    assert_refused(&output, &refused, "no instant judges both exactly");
    let text = stderr(&output);
    assert!(
        text.contains("early.json") && text.contains("b.json"),
        "{text}"
    );
    // An --as-of of one's own is taken: the values it cannot judge become gaps.
    let output = audit(&[
        "--from-inventory",
        early.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out-dir",
        refused.to_str().unwrap(),
    ]);
    assert_eq!(report(&refused)["as_of"], AS_OF, "{}", stderr(&output));
}

#[test]
fn a_manifest_tells_inactive_accounts_from_unaudited_ones() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    save(
        &saved,
        "account-111111111111.json",
        &inventory("111111111111", "alice", 10),
    );
    let write_manifest = |accounts: Value| {
        std::fs::write(
            saved.join("manifest.json"),
            serde_json::to_string_pretty(&manifest(accounts)).unwrap(),
        )
        .unwrap();
    };
    let audited = account(
        "111111111111",
        "prod",
        "ACTIVE",
        json!({"outcome": "audited", "file": "account-111111111111.json"}),
    );
    let closed = account(
        "333333333333",
        "old",
        "CLOSED",
        json!({"outcome": "not-active"}),
    );
    let out = dir.path().join("out");
    let run = || {
        audit(&[
            "--from-inventory",
            saved.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ])
    };

    // A closed account is listed as not assessed and does not make the run incomplete.
    write_manifest(json!([audited.clone(), closed.clone()]));
    let output = run();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let doc = report(&out);
    assert_eq!(doc["organization"]["id"], "o-exampleorg");
    assert_eq!(doc["organization"]["accounts_not_assessed"], 1);
    assert!(doc["coverage"]["complete"].as_bool().unwrap());
    let closed_entry = doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == "333333333333")
        .unwrap();
    assert_eq!(closed_entry["state"], "CLOSED");
    assert_eq!(closed_entry["outcome"], "not active");

    // An active account that could not be audited is a gap, named with the role tried.
    let denied = account(
        "444444444444",
        "payments",
        "ACTIVE",
        json!({"outcome": "unreachable", "operation": "AssumeRole", "error_code": "AccessDenied",
               "message": "not authorized to perform sts:AssumeRole",
               "role_arn": "arn:aws:iam::444444444444:role/OrganizationAccountAccessRole"}),
    );
    write_manifest(json!([audited, closed, denied]));
    let output = run();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let doc = report(&out);
    assert!(!doc["coverage"]["complete"].as_bool().unwrap());
    assert_eq!(
        doc["accounts"][0]["account_id"], "444444444444",
        "worst first"
    );
    assert_eq!(
        doc["accounts"][0]["problem"]["role_arn"],
        "arn:aws:iam::444444444444:role/OrganizationAccountAccessRole"
    );
    let text = stdout(&output);
    assert!(
        text.contains("not audited: account 444444444444: AssumeRole failed with AccessDenied"),
        "{text}"
    );
    let overview = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(overview.contains("arn:aws:iam::444444444444:role/OrganizationAccountAccessRole"));
}

/// One line on stderr naming the problem, exit code 2, nothing written.
fn assert_refused(output: &std::process::Output, out: &Path, expect: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(expect), "expected {expect:?} in {err}");
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn contradictory_or_hostile_saved_organizations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let a = save(
        dir.path(),
        "a.json",
        &inventory("111111111111", "alice", 10),
    );
    let again = save(
        dir.path(),
        "again.json",
        &inventory("111111111111", "alice", 10),
    );
    let output = audit(&[
        "--from-inventory",
        a.to_str().unwrap(),
        again.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert_refused(&output, &out, "account 111111111111 is also in");

    // A manifest that points outside its directory.
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    let escape = manifest(json!([account(
        "111111111111",
        "prod",
        "ACTIVE",
        json!({"outcome": "audited", "file": "../a.json"})
    )]));
    std::fs::write(saved.join("manifest.json"), escape.to_string()).unwrap();
    let output = audit(&[
        "--from-inventory",
        saved.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert_refused(&output, &out, "not its own file account-111111111111.json");

    // A manifest whose file holds another account.
    save(
        &saved,
        "account-111111111111.json",
        &inventory("555555555555", "eve", 10),
    );
    let wrong = manifest(json!([account(
        "111111111111",
        "prod",
        "ACTIVE",
        json!({"outcome": "audited", "file": "account-111111111111.json"})
    )]));
    std::fs::write(saved.join("manifest.json"), wrong.to_string()).unwrap();
    let output = audit(&[
        "--from-inventory",
        saved.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert_refused(&output, &out, "holds account 555555555555");

    // A manifest from a newer keyhygiene, and one that is not a manifest.
    let mut newer = manifest(json!([]));
    newer["schema_version"] = json!(99);
    std::fs::write(saved.join("manifest.json"), newer.to_string()).unwrap();
    let output = audit(&[
        "--from-inventory",
        saved.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert_refused(&output, &out, "newer than this keyhygiene reads");
    std::fs::write(saved.join("manifest.json"), "{\"accounts\": [tru").unwrap();
    let output = audit(&[
        "--from-inventory",
        saved.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert_refused(&output, &out, "manifest.json:1:");
}

#[test]
fn bad_account_lists_are_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let file = dir.path().join("accounts.txt");
    std::fs::write(&file, "# prod\n111122223333\n12345\n").unwrap();
    // An unreachable endpoint: the list is checked first, so no call is attempted.
    let output = keyhygiene()
        .args([
            "audit",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--accounts-file",
            file.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_refused(
        &output,
        &out,
        &format!("{}:3: `12345` is not an AWS account id", file.display()),
    );
    let output = keyhygiene()
        .args([
            "audit",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--accounts",
            "111122223333,abc",
            "--out-dir",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_refused(&output, &out, "--accounts: `abc` is not an AWS account id");
    // A FIFO as the accounts file is refused, not waited on.
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let output = keyhygiene()
        .args([
            "audit",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--accounts-file",
            fifo.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn the_policy_scope_and_suppressions_name_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(
        dir.path(),
        "a.json",
        &inventory("111111111111", "alice", 200),
    );
    let b = save(
        dir.path(),
        "b.json",
        &inventory("222222222222", "alice", 200),
    );
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[scope.exclude]\naccounts = [\"333333333333\"]\n\n\
         [[suppress]]\nrule = \"*\"\nuser = \"alice\"\naccount = \"111111111111\"\nreason = \"migrating\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = audit(&[
        "--from-inventory",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--config",
        policy.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let doc = report(&out);
    // The suppression names one account: the same user's findings in the other stay open.
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["account_id"] == "222222222222")
    );
    assert!(
        doc["suppressed_findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["account_id"] == "111111111111")
    );
    assert!(!doc["suppressed_findings"].as_array().unwrap().is_empty());

    // An account the scope leaves out is listed as out of scope, not audited.
    std::fs::write(&policy, "[scope.exclude]\naccounts = [\"222222222222\"]\n").unwrap();
    let output = audit(&[
        "--from-inventory",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--config",
        policy.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
    let doc = report(&out);
    let outcome = |id: &str| {
        doc["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["account_id"] == id)
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(outcome("222222222222"), "out of scope");
    assert_eq!(outcome("111111111111"), "audited");
    assert!(doc["coverage"]["complete"].as_bool().unwrap());
    assert_eq!(doc["coverage"]["keys"], 1);

    // A single-account run of an account the scope leaves out is a configuration error.
    let single = dir.path().join("single");
    let output = audit(&[
        "--from-inventory",
        b.to_str().unwrap(),
        "--config",
        policy.to_str().unwrap(),
        "--out-dir",
        single.to_str().unwrap(),
    ]);
    assert_refused(
        &output,
        &single,
        "account 222222222222 is out of the policy's scope",
    );
}

#[test]
fn the_overview_runs_in_chromium_and_filters_and_sorts_the_accounts() {
    use scraper::{Html, Selector};
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    // Three accounts: one key each, 10, 200 and 400 days old.
    for (account, age) in [
        ("111111111111", 10),
        ("222222222222", 200),
        ("333333333333", 400),
    ] {
        save(
            &saved,
            &format!("account-{account}.json"),
            &inventory(account, "alice", age),
        );
    }
    let out = dir.path().join("out");
    let output = audit(&[
        "--from-inventory",
        saved.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let open = |fragment: &str| support::open_in_chromium(&out.join("report.html"), fragment);
    let sel = |s: &str| Selector::parse(s).unwrap();
    let shown = |doc: &Html| -> Vec<String> {
        doc.select(&sel("#account-rows > tr"))
            .filter(|r| r.value().attr("hidden").is_none())
            .map(|r| r.select(&sel("td code")).next().unwrap().text().collect())
            .collect()
    };
    let ready = |doc: &Html| {
        let body = doc.select(&sel("body")).next().unwrap();
        assert_eq!(body.value().attr("data-js-errors"), Some("0"));
        assert_eq!(body.value().attr("data-js-ready"), Some("1"));
    };

    let plain = open("");
    ready(&plain);
    // Worst first: the two old keys' accounts (one medium finding each, then by id), then
    // the clean one.
    assert_eq!(
        shown(&plain),
        ["222222222222", "333333333333", "111111111111"]
    );
    let filtered = open("filter=2222");
    ready(&filtered);
    assert_eq!(shown(&filtered), ["222222222222"]);
    let count: String = filtered
        .select(&sel("#key-count"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert_eq!(count, "1 of 3 accounts");
    let by_id = open("sort=account-asc");
    ready(&by_id);
    assert_eq!(
        shown(&by_id),
        ["111111111111", "222222222222", "333333333333"]
    );
    // Each row links to the account's own page, which links back.
    let links: Vec<String> = plain
        .select(&sel("#account-rows a"))
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    assert_eq!(links.len(), 3);
    for link in links {
        let page = std::fs::read_to_string(out.join(&link)).unwrap();
        assert!(page.contains("href=\"report.html\""), "{link}");
    }
}

#[test]
fn an_organization_run_compares_each_account_with_the_last_run() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    let history = dir.path().join("history");
    let write_manifest = |accounts: Value| {
        std::fs::write(
            saved.join("manifest.json"),
            serde_json::to_string_pretty(&manifest(accounts)).unwrap(),
        )
        .unwrap();
    };
    let audited = |id: &str| {
        account(
            id,
            "acct",
            "ACTIVE",
            json!({"outcome": "audited", "file": format!("account-{id}.json")}),
        )
    };
    // Run 1: three accounts with one old key each.
    for id in ["111111111111", "222222222222", "333333333333"] {
        save(
            &saved,
            &format!("account-{id}.json"),
            &inventory(id, "alice", 200),
        );
    }
    write_manifest(json!([
        audited("111111111111"),
        audited("222222222222"),
        audited("333333333333")
    ]));
    let output = audit(&[
        "--from-inventory",
        saved.to_str().unwrap(),
        "--out-dir",
        dir.path().join("one").to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let names: Vec<String> = std::fs::read_dir(&history)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(
        names[0].starts_with("organization-o-exampleorg."),
        "{names:?}"
    );

    // Run 2: account 111 deleted its key (resolved), account 222 could not be audited (not
    // assessed), account 333 got a second user (new).
    let mut fixed = inventory("111111111111", "alice", 200);
    fixed.users[0].keys.clear();
    save(&saved, "account-111111111111.json", &fixed);
    std::fs::remove_file(saved.join("account-222222222222.json")).unwrap();
    let mut grown = inventory("333333333333", "alice", 200);
    let mut bob = grown.users[0].clone();
    bob.name = "bob".into();
    bob.arn = "arn:aws:iam::333333333333:user/bob".into();
    bob.user_id = "AIDABOB".into();
    bob.keys[0].id = Some("AKIABOB0000000000001".into());
    grown.users.push(bob);
    grown.normalize();
    save(&saved, "account-333333333333.json", &grown);
    write_manifest(json!([
        audited("111111111111"),
        account(
            "222222222222",
            "acct",
            "ACTIVE",
            json!({"outcome": "unreachable", "operation": "AssumeRole", "error_code": "AccessDenied",
                   "message": "not authorized", "role_arn": "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"})
        ),
        audited("333333333333")
    ]));
    // The same as-of (the saved data did not age), so the first run's report is named as
    // the baseline: a history folder never compares a run with one of the same instant.
    let out = dir.path().join("two");
    let output = audit(&[
        "--from-inventory",
        saved.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--baseline",
        dir.path().join("one").to_str().unwrap(),
        "--fail-on-new",
    ]);
    // Account 222 was not audited: incomplete coverage wins.
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let doc = report(&out);
    let c = &doc["comparison"];
    assert_eq!(
        (
            &c["new"],
            &c["unchanged"],
            &c["resolved"],
            &c["not_assessed"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1)),
        "{c}"
    );
    assert_eq!(doc["resolved"][0]["account_id"], "111111111111");
    assert_eq!(doc["not_assessed"][0]["account_id"], "222222222222");
    assert_eq!(
        doc["not_assessed"][0]["reason"],
        "account not audited: AssumeRole failed with AccessDenied"
    );
    let new: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "new")
        .collect();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["user_name"], "bob");
    assert!(
        stdout(&output).contains(
            "changes: 1 new, 0 updated, 1 resolved, 1 unchanged, 1 not assessed since 2026-06-01"
        ),
        "{}",
        stdout(&output)
    );
    // The overview has the changes, the lists and a "New" column; the account's page its
    // own resolved finding.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("id=\"resolved-findings\"") && html.contains("id=\"not-assessed-findings\"")
    );
    assert!(html.contains("data-sort=\"new\""));
    let page = std::fs::read_to_string(out.join("account-111111111111.html")).unwrap();
    assert!(
        page.contains("id=\"resolved-findings\""),
        "the account page lists its resolved finding"
    );
    // A baseline of another organization is refused.
    let mut other: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("one/report.json")).unwrap())
            .unwrap();
    other["organization"]["id"] = json!("o-another");
    let other_file = dir.path().join("other.json");
    std::fs::write(&other_file, other.to_string()).unwrap();
    let output = audit(&[
        "--from-inventory",
        saved.to_str().unwrap(),
        "--out-dir",
        dir.path().join("three").to_str().unwrap(),
        "--baseline",
        other_file.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("the baseline is a run of organization o-another, this run audits organization o-exampleorg"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_account_found_bad_while_writing_leaves_nothing_behind() {
    // The accounts are evaluated and written one at a time: the second account's data is
    // newer than --as-of, found after the first account's page was staged. The run stops
    // with one line and exit 2, and neither the report folder nor the --save-inventory
    // folder it created is left behind.
    let tmp = tempfile::tempdir().unwrap();
    let saved = tmp.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    let mut first = inventory("111111111111", "alice", 30);
    first.collected_at = t(10);
    if let LastUse::Used { date, .. } = &mut first.users[0].keys[0].last_used {
        *date = t(12);
    }
    first.normalize();
    save(&saved, "account-111111111111.json", &first);
    save(
        &saved,
        "account-222222222222.json",
        &inventory("222222222222", "bob", 30),
    );
    let out = tmp.path().join("out");
    let kept = tmp.path().join("kept");
    let output = keyhygiene()
        .args([
            "audit",
            "--as-of",
            "2026-05-27T12:00:00Z",
            "--from-inventory",
        ])
        .arg(&saved)
        .arg("--out-dir")
        .arg(&out)
        .arg("--save-inventory")
        .arg(&kept)
        .output()
        .unwrap();
    assert_refused(&output, &out, "after --as-of 2026-05-27T12:00:00Z");
    assert!(!kept.exists(), "no --save-inventory folder is left behind");
}
