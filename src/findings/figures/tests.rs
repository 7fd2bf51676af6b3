use chrono::{TimeZone, Utc};

use super::*;
use crate::findings::{AppliedSuppression, EvaluatedFinding, Finding, Tracking};
use crate::inventory::{
    AccessKey, CoverageGap, KeyStatus, LastUse, LastUseSource, RootKey, RootKeys, SourceInfo, User,
};

fn key(id: &str) -> AccessKey {
    AccessKey {
        id: Some(id.to_string()),
        slot: None,
        status: KeyStatus::Active,
        created: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        last_used: LastUse::Never,
        last_used_source: LastUseSource::Api,
        description: None,
    }
}

fn user(name: &str, keys: &[&str]) -> User {
    User {
        name: name.to_string(),
        arn: format!("arn:aws:iam::111111111111:user/{name}"),
        path: "/".into(),
        user_id: String::new(),
        created: None,
        tags: Vec::new(),
        keys: keys.iter().map(|k| key(k)).collect(),
        login: None,
    }
}

/// alice: two keys; bob: one key; the root user: one key from the credential report.
fn account() -> Inventory {
    let mut inv = Inventory::new(
        SourceInfo::Live { endpoint: None },
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
    );
    inv.users = vec![user("alice", &["AKIA1", "AKIA2"]), user("bob", &["AKIA3"])];
    inv.root = RootKeys::CredentialReport {
        arn: None,
        keys: vec![RootKey {
            slot: 1,
            active: true,
            last_rotated: None,
            last_used: LastUse::Never,
        }],
    };
    inv
}

fn finding(
    rule: &str,
    severity: Severity,
    user: &str,
    key: Option<&str>,
    suppressed: bool,
) -> EvaluatedFinding {
    let mut f = Finding::new(rule, severity, None);
    f.user_name = user.to_string();
    f.access_key_id = key.map(str::to_string);
    f.compliance = vec![format!("{rule}-ref")];
    EvaluatedFinding {
        finding: f,
        suppressed: suppressed.then(|| AppliedSuppression {
            reason: "accepted".into(),
            expires: None,
        }),
        tracking: Tracking::default(),
    }
}

fn set(findings: Vec<EvaluatedFinding>) -> FindingSet {
    FindingSet {
        findings,
        ..FindingSet::default()
    }
}

#[test]
fn an_account_counts_findings_keys_and_users_once() {
    let findings = set(vec![
        finding(
            "key-not-rotated",
            Severity::High,
            "alice",
            Some("AKIA1"),
            false,
        ),
        finding(
            "key-unused",
            Severity::Medium,
            "alice",
            Some("AKIA1"),
            false,
        ),
        finding("key-unused", Severity::Medium, "bob", Some("AKIA3"), true),
        finding(
            "root-access-key-present",
            Severity::Critical,
            ROOT_USER_NAME,
            Some("access key 1"),
            false,
        ),
        finding("user-two-active-keys", Severity::Low, "alice", None, false),
        // A finding about a key the data does not list is counted, but flags no key.
        finding(
            "key-unused",
            Severity::Medium,
            "carol",
            Some("AKIA9"),
            false,
        ),
    ]);
    let f = Figures::of(&account(), &findings);
    assert_eq!(f.open.0, [1, 1, 2, 1]);
    assert_eq!(f.suppressed.0, [0, 0, 1, 0]);
    assert_eq!((f.open.total(), f.suppressed.total()), (5, 1));
    // AKIA1 (two findings) and the root key; bob's key is only suppressed.
    assert_eq!(f.keys_flagged, 2);
    // alice, carol and the root user.
    assert_eq!(f.users_flagged, 3);
    assert_eq!(f.worst, Some(Severity::Critical));
    assert_eq!(f.coverage.keys, 4);
    // Every finding is new without a baseline, so every one is a regression.
    assert_eq!((f.new, f.worst_regression), (6, Some(Severity::Critical)));
    let rules: Vec<(&str, Severity, usize, usize)> = f
        .by_rule
        .iter()
        .map(|t| (t.rule_id.as_str(), t.severity, t.open, t.suppressed))
        .collect();
    assert_eq!(
        rules,
        vec![
            ("root-access-key-present", Severity::Critical, 1, 0),
            ("key-not-rotated", Severity::High, 1, 0),
            ("key-unused", Severity::Medium, 2, 1),
            ("user-two-active-keys", Severity::Low, 1, 0),
        ]
    );
}

#[test]
fn a_rules_tallies_stay_together_worst_first() {
    let findings = set(vec![
        finding("user-two-active-keys", Severity::Low, "alice", None, false),
        finding("user-two-active-keys", Severity::High, "bob", None, false),
        finding("key-unused", Severity::Medium, "bob", Some("AKIA3"), false),
    ]);
    let order: Vec<(String, Severity)> = Figures::of(&account(), &findings)
        .by_rule
        .into_iter()
        .map(|t| (t.rule_id, t.severity))
        .collect();
    assert_eq!(
        order,
        vec![
            ("user-two-active-keys".to_string(), Severity::High),
            ("user-two-active-keys".to_string(), Severity::Low),
            ("key-unused".to_string(), Severity::Medium),
        ]
    );
}

#[test]
fn a_runs_totals_add_up_its_accounts() {
    let a = Figures::of(
        &account(),
        &set(vec![finding(
            "key-unused",
            Severity::Medium,
            "bob",
            Some("AKIA3"),
            false,
        )]),
    );
    let mut gappy = account();
    gappy.gaps.push(CoverageGap {
        user: Some("bob".into()),
        access_key_id: None,
        operation: "ListAccessKeys".into(),
        error_code: "AccessDenied".into(),
        impact: "unknown".into(),
    });
    let b = Figures::of(
        &gappy,
        &set(vec![
            finding(
                "key-unused",
                Severity::Medium,
                "alice",
                Some("AKIA2"),
                false,
            ),
            finding(
                "key-not-rotated",
                Severity::High,
                "alice",
                Some("AKIA2"),
                true,
            ),
        ]),
    );
    let stats = |wall_ms, calls| CrawlStats {
        calls: [("ListUsers".to_string(), calls)].into(),
        wall_ms,
        ..CrawlStats::default()
    };
    let mut totals = Totals::new();
    assert!(totals.complete());
    totals.add_audited(&a, &stats(900, 3));
    totals.add_audited(&b, &stats(400, 5));
    totals.add_not_assessed();
    assert_eq!(
        (totals.selected, totals.audited, totals.not_assessed),
        (3, 2, 1)
    );
    assert_eq!(totals.accounts_with_gaps, 1);
    assert!(!totals.complete(), "a gap in an audited account");
    assert_eq!(totals.figures.coverage.keys, 8);
    assert_eq!(totals.figures.open.get(Severity::Medium), 2);
    assert_eq!(totals.figures.suppressed.get(Severity::High), 1);
    assert_eq!(totals.figures.keys_flagged, 2);
    assert_eq!(totals.stats.calls["ListUsers"], 8);
    assert_eq!(totals.stats.wall_ms, 900, "the longest crawl");
    let medium: Vec<usize> = totals
        .figures
        .by_rule
        .iter()
        .filter(|t| t.rule_id == "key-unused")
        .map(|t| t.open)
        .collect();
    assert_eq!(medium, vec![2]);

    let mut unreachable = Totals::new();
    unreachable.add_audited(&a, &stats(1, 1));
    assert!(unreachable.complete());
    unreachable.add_unreachable();
    assert!(!unreachable.complete());
}

#[test]
fn the_threshold_reads_the_worst_or_the_worst_regression() {
    let mut f = Figures {
        worst: Some(Severity::High),
        worst_regression: Some(Severity::Low),
        ..Figures::default()
    };
    assert!(f.reach(Some(Severity::High), false));
    assert!(!f.reach(Some(Severity::High), true));
    assert!(!f.reach(None, false));
    f.worst_regression = None;
    assert!(!f.reach(Some(Severity::Low), true));
}

#[test]
fn severities_index_their_counts_critical_first() {
    for (i, s) in Severity::ALL.iter().enumerate() {
        assert_eq!(s.index(), i);
    }
    assert_eq!(Severity::rank(None), 0);
    assert_eq!(Severity::rank(Some(Severity::Low)), 1);
    assert_eq!(Severity::rank(Some(Severity::Critical)), 4);
    let mut counts = PerSeverity::default();
    counts.add(Severity::High, 2);
    assert_eq!(counts.iter().collect::<Vec<_>>()[1], (Severity::High, 2));
}
