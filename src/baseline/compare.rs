//! The comparison itself: a pure function of the baseline, this run's findings and what
//! this run assessed.

use std::collections::{BTreeMap, HashMap};

use crate::findings::{
    EvaluatedFinding, FindingSet, NotAssessed, PastFinding, Status, SuppressionChange, Tracking,
};
use crate::ident::AccountId;
use crate::inventory::{Inventory, ROOT_USER_NAME, RootKeys};
use crate::policy::ScopeOutcome;
use crate::rules::RuleSettings;

use super::Baseline;

/// What this run assessed, account by account.
pub struct Assessment<'a> {
    /// By account id (`None` for an inventory whose account is unknown).
    pub accounts: BTreeMap<Option<AccountId>, AccountAssessment<'a>>,
    /// The rules' settings this run: a disabled rule assessed nothing.
    pub rules: &'a RuleSettings,
}

/// One account in this run.
pub enum AccountAssessment<'a> {
    /// Audited: its inventory (after the scope was applied) and what the scope left out.
    Audited {
        inventory: &'a Inventory,
        scope: Option<&'a ScopeOutcome>,
    },
    /// Selected but not assessed, and why ("not audited: AccessDenied", "out of scope").
    NotAssessed(String),
}

/// Marks each current finding `new`, `unchanged` or `updated` (keeping its first-seen
/// date), and sorts the baseline's other findings into `resolved` and `not_assessed`: the
/// comparison of one batch of findings, all accounts at once.
pub fn compare(baseline: &Baseline, set: &mut FindingSet, assessment: &Assessment<'_>) {
    let mut comparer = Comparer::new(baseline);
    comparer.mark(&mut set.findings);
    comparer.settle_rest(assessment, set);
}

/// The comparison in steps, so a run compares each account when it is done with it:
/// [`Comparer::mark`] its findings, [`Comparer::settle_account`] its gone ones, and at the
/// end [`Comparer::settle_rest`] (accounts not audited or not in the run).
pub struct Comparer<'b> {
    /// The baseline's findings no current finding matched yet, by finding id.
    past: HashMap<&'b str, &'b PastFinding>,
    /// The ids of each account's baseline findings (`""`: account unknown).
    by_account: HashMap<&'b str, Vec<&'b str>>,
}

impl<'b> Comparer<'b> {
    pub fn new(baseline: &'b Baseline) -> Comparer<'b> {
        let mut by_account: HashMap<&str, Vec<&str>> = HashMap::new();
        for p in &baseline.findings {
            by_account
                .entry(p.account_id.as_deref().unwrap_or_default())
                .or_default()
                .push(&p.finding_id);
        }
        Comparer {
            past: baseline
                .findings
                .iter()
                .map(|p| (p.finding_id.as_str(), p))
                .collect(),
            by_account,
        }
    }

    /// Marks each finding `new`, `unchanged` or `updated`.
    pub fn mark(&mut self, findings: &mut [EvaluatedFinding]) {
        for ef in findings {
            ef.tracking = match self.past.remove(ef.finding.finding_id.as_str()) {
                Some(p) => tracking(ef, p),
                None => Tracking::default(),
            };
        }
    }

    /// Sorts the baseline findings of one audited account (`None`: an inventory whose
    /// account is unknown) that no finding matched into `set.resolved` and
    /// `set.not_assessed`, in [`past_order`].
    pub fn settle_account(
        &mut self,
        account: Option<&AccountId>,
        assessment: &Assessment<'_>,
        set: &mut FindingSet,
    ) {
        let gone: Vec<&PastFinding> = self
            .by_account
            .remove(account.map_or("", AccountId::as_str))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|finding_id| self.past.remove(finding_id))
            .collect();
        sort_out(gone, assessment, set);
    }

    /// Sorts every baseline finding no finding matched and no account settled (accounts
    /// not audited, or not in the run) into `set.resolved` and `set.not_assessed`.
    pub fn settle_rest(mut self, assessment: &Assessment<'_>, set: &mut FindingSet) {
        let gone: Vec<&PastFinding> = self.past.drain().map(|(_, p)| p).collect();
        sort_out(gone, assessment, set);
    }
}

/// Puts each gone baseline finding among the resolved or the not assessed, in
/// [`past_order`].
fn sort_out(mut gone: Vec<&PastFinding>, assessment: &Assessment<'_>, set: &mut FindingSet) {
    gone.sort_by(|a, b| past_order(a, b));
    for p in gone {
        match assessment.why_not_assessed(p) {
            None => set.resolved.push(p.clone()),
            Some(reason) => set.not_assessed.push(NotAssessed {
                finding: p.clone(),
                reason,
            }),
        }
    }
}

/// The order of gone baseline findings: by account, worst first, then rule, user, key, id.
pub fn past_order(a: &PastFinding, b: &PastFinding) -> std::cmp::Ordering {
    (
        &a.account_id,
        b.severity,
        &a.rule_id,
        &a.user_name,
        &a.access_key_id,
        &a.finding_id,
    )
        .cmp(&(
            &b.account_id,
            a.severity,
            &b.rule_id,
            &b.user_name,
            &b.access_key_id,
            &b.finding_id,
        ))
}

fn tracking(ef: &EvaluatedFinding, p: &PastFinding) -> Tracking {
    let now_suppressed = ef.suppressed.is_some();
    Tracking {
        status: if ef.finding.severity == p.severity {
            Status::Unchanged
        } else {
            Status::Updated
        },
        first_seen: Some(p.first_seen),
        previous_severity: (ef.finding.severity != p.severity).then_some(p.severity),
        suppression_change: match (p.suppressed, now_suppressed) {
            (false, true) => Some(SuppressionChange::NowSuppressed),
            (true, false) => Some(SuppressionChange::NoLongerSuppressed),
            _ => None,
        },
    }
}

impl Assessment<'_> {
    /// `None` when this run assessed what `p` was about (so its absence means it was
    /// fixed); otherwise why not, in words.
    pub fn why_not_assessed(&self, p: &PastFinding) -> Option<String> {
        match self.rules.get(&p.rule_id) {
            None => return Some(format!("rule {} is not known to this version", p.rule_id)),
            Some(rule) if !rule.enabled => {
                return Some(format!(
                    "rule {} is disabled in this run's policy",
                    p.rule_id
                ));
            }
            Some(_) => {}
        }
        let (inventory, scope) = match self.accounts.get(&p.account_id) {
            None => return Some("account not in this run".to_string()),
            Some(AccountAssessment::NotAssessed(why)) => return Some(why.clone()),
            Some(AccountAssessment::Audited { inventory, scope }) => (*inventory, *scope),
        };
        if p.user_name == ROOT_USER_NAME {
            return match &inventory.root {
                RootKeys::Unknown => {
                    Some("coverage gap: the root user's access keys could not be read".into())
                }
                RootKeys::AccountSummary { keys_present: true } => Some(
                    "the root user's key details are unknown this run (account summary only)"
                        .into(),
                ),
                _ => None,
            };
        }
        let by_id = p
            .user_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .and_then(|id| inventory.users.iter().find(|u| u.user_id == id));
        let user = by_id.or_else(|| inventory.users.iter().find(|u| u.name == p.user_name));
        let excluded = scope.is_some_and(|s| {
            s.excluded_users.contains(&p.user_name)
                || p.user_id
                    .as_ref()
                    .is_some_and(|id| s.excluded_user_ids.contains(id))
        });
        if user.is_none() && excluded {
            return Some("out of scope".to_string());
        }
        let name = user.map_or(p.user_name.as_str(), |u| u.name.as_str());
        let blocking = inventory.gaps.iter().find(|g| {
            g.operation != "ListUserTags"
                && g.user.as_deref() == Some(name)
                && (g.access_key_id.is_none() || g.access_key_id == p.access_key_id)
        });
        if let Some(g) = blocking {
            return Some(format!(
                "coverage gap: {} failed with {}",
                g.operation, g.error_code
            ));
        }
        if user.is_none()
            && let Some(g) = inventory
                .gaps
                .iter()
                .find(|g| g.user.is_none() && g.operation == "ListUsers")
        {
            return Some(format!(
                "coverage gap: {} failed with {}",
                g.operation, g.error_code
            ));
        }
        // The user was read (the finding is gone), or is gone from a complete user list.
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{Audited, Origin};
    use crate::findings::{IdSource, Severity};
    use crate::inventory::CoverageGap;
    use crate::policy::Policy;
    use crate::rules::test_support::{active, as_of, days_ago, inventory, used, user};

    /// alice: one key 200 days old (key-not-rotated); bob: one fresh key.
    fn account() -> Inventory {
        let mut alice = user(
            "alice",
            vec![active("AKIAALICE", days_ago(200), used(days_ago(1)))],
        );
        alice.user_id = "AIDAALICE".into();
        let mut bob = user(
            "bob",
            vec![active("AKIABOB", days_ago(5), used(days_ago(1)))],
        );
        bob.user_id = "AIDABOB".into();
        let mut inv = inventory(vec![alice, bob]);
        inv.root = RootKeys::CredentialReport {
            arn: None,
            keys: Vec::new(),
        };
        inv
    }

    fn run(inv: &Inventory, policy: &Policy) -> FindingSet {
        let raw = crate::rules::evaluate(inv, &policy.rules, as_of());
        crate::policy::apply(policy, raw, as_of())
    }

    /// The baseline a run of `inv` would leave.
    fn baseline_of(inv: &Inventory) -> Baseline {
        let set = run(inv, &Policy::default());
        Baseline {
            file: "baseline.json".into(),
            origin: Origin::Baseline,
            as_of: as_of(),
            audited: Audited::Account(inv.account_id.clone()),
            id_source: IdSource::Api,
            findings: set
                .findings
                .iter()
                .map(|ef| PastFinding::of(&ef.finding, days_ago(30).date_naive(), false))
                .collect(),
        }
    }

    fn compare_with(baseline: &Baseline, inv: &Inventory, policy: &Policy) -> FindingSet {
        let mut set = run(inv, policy);
        let assessment = Assessment {
            accounts: [(
                inv.account_id.clone(),
                AccountAssessment::Audited {
                    inventory: inv,
                    scope: None,
                },
            )]
            .into(),
            rules: &policy.rules,
        };
        compare(baseline, &mut set, &assessment);
        set
    }

    fn gap(user: Option<&str>, key: Option<&str>, operation: &str) -> CoverageGap {
        CoverageGap {
            user: user.map(str::to_string),
            access_key_id: key.map(str::to_string),
            operation: operation.into(),
            error_code: "AccessDenied".into(),
            impact: "unknown".into(),
        }
    }

    #[test]
    fn a_renamed_user_keeps_its_findings() {
        let before = account();
        let baseline = baseline_of(&before);
        let mut after = before.clone();
        after.users[0].name = "alice-renamed".into();
        let set = compare_with(&baseline, &after, &Policy::default());
        assert_eq!(set.findings.len(), 1);
        let t = &set.findings[0].tracking;
        assert_eq!(t.status, Status::Unchanged);
        assert_eq!(t.first_seen, Some(days_ago(30).date_naive()));
        assert!(set.resolved.is_empty() && set.not_assessed.is_empty());
    }

    #[test]
    fn a_deleted_key_is_resolved_and_a_gap_is_never_a_fix() {
        let before = account();
        let baseline = baseline_of(&before);
        let mut deleted = before.clone();
        deleted.users[0].keys.clear();
        let set = compare_with(&baseline, &deleted, &Policy::default());
        assert_eq!(set.resolved.len(), 1);
        // The same absence behind a gap: the user's keys, the key's last use, the user
        // list itself.
        for g in [
            gap(Some("alice"), None, "ListAccessKeys"),
            gap(Some("alice"), Some("AKIAALICE"), "GetAccessKeyLastUsed"),
        ] {
            let mut inv = deleted.clone();
            inv.gaps.push(g.clone());
            let set = compare_with(&baseline, &inv, &Policy::default());
            assert!(set.resolved.is_empty(), "{g:?}");
            assert_eq!(
                set.not_assessed[0].reason,
                format!("coverage gap: {} failed with AccessDenied", g.operation)
            );
        }
        let mut unlisted = before.clone();
        unlisted.users.remove(0);
        unlisted.gaps.push(gap(None, None, "ListUsers"));
        let set = compare_with(&baseline, &unlisted, &Policy::default());
        assert_eq!(set.not_assessed.len(), 1);
        // A user whose tags could not be read still had its keys read: resolved.
        let mut tags = deleted.clone();
        tags.gaps.push(gap(Some("alice"), None, "ListUserTags"));
        assert_eq!(
            compare_with(&baseline, &tags, &Policy::default())
                .resolved
                .len(),
            1
        );
        // A deleted user, from a complete list: resolved.
        let mut gone = before.clone();
        gone.users.remove(0);
        assert_eq!(
            compare_with(&baseline, &gone, &Policy::default())
                .resolved
                .len(),
            1
        );
    }

    #[test]
    fn a_severity_change_and_a_disabled_rule_say_so() {
        let before = account();
        let mut baseline = baseline_of(&before);
        baseline.findings[0].severity = Severity::Low;
        let set = compare_with(&baseline, &before, &Policy::default());
        let t = &set.findings[0].tracking;
        assert_eq!(
            (t.status, t.previous_severity),
            (Status::Updated, Some(Severity::Low))
        );
        assert!(set.findings[0].is_regression());
        baseline.findings[0].severity = Severity::Critical;
        let set = compare_with(&baseline, &before, &Policy::default());
        assert!(
            !set.findings[0].is_regression(),
            "a lower severity is no regression"
        );

        let mut policy = Policy::default();
        policy.rules.get_mut("key-not-rotated").unwrap().enabled = false;
        let set = compare_with(&baseline_of(&before), &before, &policy);
        assert_eq!(
            set.not_assessed[0].reason,
            "rule key-not-rotated is disabled in this run's policy"
        );
    }

    #[test]
    fn root_findings_need_the_root_keys_read() {
        let mut before = account();
        before.root = RootKeys::AccountSummary { keys_present: true };
        let baseline = baseline_of(&before);
        assert!(
            baseline
                .findings
                .iter()
                .any(|p| p.user_name == ROOT_USER_NAME)
        );
        let mut unknown = before.clone();
        unknown.root = RootKeys::Unknown;
        let set = compare_with(&baseline, &unknown, &Policy::default());
        assert_eq!(set.not_assessed.len(), 1);
        let mut removed = before.clone();
        removed.root = RootKeys::AccountSummary {
            keys_present: false,
        };
        let set = compare_with(&baseline, &removed, &Policy::default());
        assert_eq!(set.resolved.len(), 1);
    }
}
