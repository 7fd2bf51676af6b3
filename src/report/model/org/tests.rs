use chrono::TimeZone;

use super::*;
use crate::findings::{Figures, FindingSet, PerSeverity};
use crate::inventory::{Coverage, CrawlStats};
use crate::org::{
    AccessProblem, Account, AccountRecord, AccountState, MANIFEST_SCHEMA_VERSION, Outcome,
    Selection,
};

fn record(id: &str, result: Outcome) -> AccountRecord {
    AccountRecord {
        account: Account {
            id: id.parse().unwrap(),
            name: Some(format!("acct {id}")),
            state: AccountState::Active,
            ou_path: Some("Root".into()),
        },
        result,
    }
}

fn audited() -> Outcome {
    Outcome::Audited { file: None }
}

fn unreachable() -> Outcome {
    Outcome::Unreachable(AccessProblem {
        operation: "AssumeRole".into(),
        error_code: "AccessDenied".into(),
        message: "denied".into(),
        role_arn: None,
    })
}

/// An audited account's figures: `open` critical first, `gaps` coverage gaps.
fn figures(open: [usize; 4], gaps: usize) -> Figures {
    Figures {
        coverage: Coverage {
            complete: gaps == 0,
            users_listed: 3,
            users_fully_audited: 3,
            keys: 5,
            keys_with_last_use: 5,
            gaps,
        },
        open: PerSeverity(open),
        worst: Severity::ALL
            .iter()
            .zip(open)
            .find(|(_, n)| *n > 0)
            .map(|(s, _)| *s),
        keys_flagged: open.iter().sum::<usize>().min(5),
        ..Figures::default()
    }
}

#[test]
fn the_overview_ranks_accounts_worst_first_and_the_rank_follows_that_order() {
    let mut views = vec![
        audited_view(
            &record("111111111111", audited()),
            &figures([0, 0, 0, 0], 0),
            "ok",
        ),
        audited_view(
            &record("222222222222", audited()),
            &figures([0, 2, 0, 0], 0),
            "ok",
        ),
        other_view(&record("333333333333", Outcome::Excluded)),
        audited_view(
            &record("444444444444", audited()),
            &figures([1, 0, 0, 0], 0),
            "ok",
        ),
        other_view(&record("555555555555", unreachable())),
        audited_view(
            &record("666666666666", audited()),
            &figures([0, 0, 0, 0], 2),
            "gaps",
        ),
        // Many lower findings never outrank one worse finding.
        audited_view(
            &record("777777777777", audited()),
            &figures([0, 0, 90, 0], 0),
            "ok",
        ),
    ];
    rank_accounts(&mut views);
    let order: Vec<&str> = views.iter().map(|v| &v.id[..1]).collect();
    assert_eq!(order, ["5", "4", "2", "7", "6", "1", "3"]);
    let ranks: Vec<usize> = views.iter().map(|v| v.rank).collect();
    assert_eq!(ranks, [7, 6, 5, 4, 3, 2, 1]);
    let coverage: Vec<&str> = views.iter().map(|v| v.coverage.css()).collect();
    assert_eq!(coverage, ["gap", "ok", "ok", "ok", "gap", "ok", "na"]);
    assert_eq!(views[1].severity_rank(), 4);
    assert_eq!(views[6].severity_rank(), 0);
}

#[test]
fn rows_say_why_an_account_was_not_audited() {
    let unreached = other_view(&record("555555555555", unreachable()));
    assert!(unreached.is_incomplete() && !unreached.audited);
    assert_eq!(
        unreached.coverage_label,
        "AssumeRole failed with AccessDenied"
    );
    assert_eq!(unreached.page, None);
    let shard = other_view(&record("555555555555", Outcome::OtherShard));
    assert_eq!(shard.coverage, AccountCoverage::NotAssessed);
    assert_eq!(
        shard.coverage_label,
        "not assessed: audited by another shard"
    );
    let view = audited_view(
        &record("111111111111", audited()),
        &figures([0, 1, 2, 0], 1),
        "x",
    );
    assert_eq!((view.open_total(), view.gaps, view.keys_flagged), (3, 1, 3));
    assert_eq!(view.page.as_deref(), Some("account-111111111111.html"));
}

#[test]
fn the_overview_reads_the_runs_totals() {
    let mut totals = Totals::new();
    totals.add_audited(&figures([0, 1, 0, 0], 0), &CrawlStats::default());
    totals.add_audited(&figures([0, 0, 3, 0], 2), &CrawlStats::default());
    totals.add_unreachable();
    totals.add_not_assessed();
    let manifest = Manifest {
        schema_version: MANIFEST_SCHEMA_VERSION,
        listed_at: Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
        organization_id: Some("o-abc123".into()),
        management_account_id: None,
        caller_account_id: None,
        selection: Selection::default(),
        accounts: Vec::new(),
    };
    let context = RunContext {
        title: org_title(&manifest),
        as_of: manifest.listed_at,
        fail_on: Some(Severity::High),
        fail_on_new: false,
        policy_file: None,
        saved_inventories: Vec::new(),
        comparison: None,
        owners: crate::policy::Owners::default(),
        split_by_owner: false,
    };
    let model = OrgModel::build(Overview {
        context: &context,
        manifest: &manifest,
        totals: &totals,
        accounts: Vec::new(),
        notices: &FindingSet::default(),
        tracking: &crate::baseline::RunTracking {
            comparison: None,
            trend: None,
            history_dir: None,
        },
        id_source: IdSource::Api,
        endpoint: None,
        collected: None,
    });
    assert!(!model.complete);
    assert!(model.fails_threshold);
    assert_eq!(model.title, "organization o-abc123");
    assert_eq!(
        model.coverage_label(),
        "INCOMPLETE: 2 of 3 active accounts audited, 1 account with gaps (2 gaps); 1 account not assessed (not active, excluded, out of scope or in another shard)"
    );
    let cards: Vec<usize> = model.by_severity.iter().map(|c| c.active).collect();
    assert_eq!(cards, [0, 1, 3, 0]);
}
