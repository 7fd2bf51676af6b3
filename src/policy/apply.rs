//! The one place the policy takes effect on findings: scope, suppressions, order.

use chrono::{DateTime, Utc};

use super::{Policy, Suppression};
use crate::findings::{
    AppliedSuppression, EvaluatedFinding, Finding, FindingSet, SuppressionNotice,
};

/// Turns the rules' findings into the run's [`FindingSet`] (the scope was applied to the
/// inventory before the rules ran, by [`super::Scope::restrict`]):
/// 1. the first unexpired `[[suppress]]` entry that matches a finding marks it suppressed;
///    it stays in the set, with the reason;
/// 2. expired entries are listed as expired and suppress nothing; unexpired entries that
///    matched nothing are listed as unused;
/// 3. findings are sorted by severity (highest first), rule id, user name, key.
pub fn apply(policy: &Policy, findings: Vec<Finding>, as_of: DateTime<Utc>) -> FindingSet {
    let today = as_of.date_naive();
    let (expired, live): (Vec<&Suppression>, Vec<&Suppression>) = policy
        .suppressions
        .iter()
        .partition(|s| s.expires.is_some_and(|d| today > d));
    let mut used = vec![false; live.len()];

    let mut out: Vec<EvaluatedFinding> = findings
        .into_iter()
        .map(|finding| {
            let hit = live.iter().position(|s| matches(s, &finding));
            let suppressed = hit.map(|i| {
                used[i] = true;
                AppliedSuppression {
                    reason: live[i].reason.clone(),
                    expires: live[i].expires,
                }
            });
            EvaluatedFinding {
                finding,
                suppressed,
            }
        })
        .collect();
    out.sort_by(|a, b| a.finding.report_order(&b.finding));

    FindingSet {
        findings: out,
        expired_suppressions: expired.into_iter().map(notice).collect(),
        unused_suppressions: live
            .iter()
            .zip(&used)
            .filter(|(_, used)| !**used)
            .map(|(s, _)| notice(s))
            .collect(),
    }
}

fn matches(s: &Suppression, f: &Finding) -> bool {
    (s.rule == "*" || s.rule == f.rule_id)
        && s.user.is_match(&f.user_name)
        && s.access_key_id
            .as_ref()
            .is_none_or(|id| f.access_key_id.as_ref() == Some(id))
}

fn notice(s: &Suppression) -> SuppressionNotice {
    SuppressionNotice {
        rule: s.rule.clone(),
        user: s.user.as_str().to_string(),
        access_key_id: s.access_key_id.clone(),
        reason: s.reason.clone(),
        expires: s.expires,
        location: s.location.clone(),
    }
}
