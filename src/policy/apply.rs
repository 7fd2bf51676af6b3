//! The one place the policy takes effect on findings: scope, suppressions, order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Policy, Suppression};
use crate::findings::{
    AppliedSuppression, EvaluatedFinding, Finding, FindingSet, SuppressionNotice, Tracking,
};

/// Turns the rules' findings into the run's [`FindingSet`] (the scope was applied to the
/// inventory before the rules ran, by [`super::Scope::restrict`]):
/// 1. the first unexpired `[[suppress]]` entry that matches a finding marks it suppressed;
///    it stays in the set, with the reason (an entry with an `account` only matches
///    findings in that account, so not findings whose account is unknown);
/// 2. expired entries are listed as expired and suppress nothing; unexpired entries that
///    matched nothing are listed as unused;
/// 3. findings are sorted by severity (highest first), rule id, user name, key.
pub fn apply(policy: &Policy, findings: Vec<Finding>, as_of: DateTime<Utc>) -> FindingSet {
    let mut applier = Applier::new(policy, as_of);
    let findings = applier.apply(findings);
    let (expired_suppressions, unused_suppressions) = applier.finish();
    FindingSet {
        findings,
        expired_suppressions,
        unused_suppressions,
        resolved: Vec::new(),
        not_assessed: Vec::new(),
    }
}

/// [`apply`] one batch at a time (an organization run's accounts, each in turn), with the
/// suppressions' use counted over every batch: an entry is unused only if it matched
/// nothing in any of them.
pub struct Applier<'p> {
    expired: Vec<&'p Suppression>,
    live: Vec<&'p Suppression>,
    used: Vec<bool>,
    index: Index<'p>,
}

impl<'p> Applier<'p> {
    pub fn new(policy: &'p Policy, as_of: DateTime<Utc>) -> Applier<'p> {
        let today = as_of.date_naive();
        let (expired, live): (Vec<&Suppression>, Vec<&Suppression>) = policy
            .suppressions
            .iter()
            .partition(|s| s.expires.is_some_and(|d| today > d));
        let index = Index::new(&live);
        Applier {
            expired,
            used: vec![false; live.len()],
            live,
            index,
        }
    }

    /// One batch of findings with the suppressions applied, in report order.
    pub fn apply(&mut self, findings: Vec<Finding>) -> Vec<EvaluatedFinding> {
        let mut out: Vec<EvaluatedFinding> = findings
            .into_iter()
            .map(|finding| {
                let hit = self.index.first_match(&self.live, &finding);
                let suppressed = hit.map(|i| {
                    self.used[i] = true;
                    AppliedSuppression {
                        reason: self.live[i].reason.clone(),
                        expires: self.live[i].expires,
                    }
                });
                EvaluatedFinding {
                    finding,
                    suppressed,
                    tracking: Tracking::default(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.finding.report_order(&b.finding));
        out
    }

    /// The expired entries and the entries no batch used.
    pub fn finish(self) -> (Vec<SuppressionNotice>, Vec<SuppressionNotice>) {
        (
            self.expired.into_iter().map(notice).collect(),
            self.live
                .iter()
                .zip(&self.used)
                .filter(|(_, used)| !**used)
                .map(|(s, _)| notice(s))
                .collect(),
        )
    }
}

/// The live suppressions grouped so that a finding is only tried against the entries that
/// can match it, instead of every entry: a policy file may hold tens of thousands. Each
/// group lists positions in `live` in file order, and every entry is in exactly one group:
/// - an entry with a finding id, under that id;
/// - an entry with an access key id, under its rule (or `*`) and that key id;
/// - an entry for one user name (no wildcard), under its rule and the name in ASCII lower
///   case (the case a plain glob ignores);
/// - any other entry, under its rule.
struct Index<'a> {
    by_id: HashMap<&'a str, Vec<usize>>,
    by_key: HashMap<(&'a str, &'a str), Vec<usize>>,
    by_user: HashMap<(&'a str, &'a [u8]), Vec<usize>>,
    by_rule: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(live: &[&'a Suppression]) -> Index<'a> {
        let mut index = Index {
            by_id: HashMap::new(),
            by_key: HashMap::new(),
            by_user: HashMap::new(),
            by_rule: HashMap::new(),
        };
        for (i, s) in live.iter().enumerate() {
            let rule = s.rule.as_str();
            let group = match (&s.finding_id, &s.access_key_id, s.user.literal()) {
                (Some(id), _, _) => index.by_id.entry(id.as_str()).or_default(),
                (None, Some(key), _) => index.by_key.entry((rule, key.as_str())).or_default(),
                (None, None, Some(name)) => index.by_user.entry((rule, name)).or_default(),
                (None, None, None) => index.by_rule.entry(rule).or_default(),
            };
            group.push(i);
        }
        index
    }

    /// The position in `live` of the first entry, in file order, that matches `f`.
    fn first_match(&self, live: &[&Suppression], f: &Finding) -> Option<usize> {
        let name = f.user_name.to_ascii_lowercase().into_bytes();
        let mut groups: Vec<&Vec<usize>> = Vec::new();
        groups.extend(self.by_id.get(f.finding_id.as_str()));
        for rule in [f.rule_id.as_str(), "*"] {
            if let Some(key) = &f.access_key_id {
                groups.extend(self.by_key.get(&(rule, key.as_str())));
            }
            groups.extend(self.by_user.get(&(rule, name.as_slice())));
            groups.extend(self.by_rule.get(rule));
        }
        let mut first: Option<usize> = None;
        for group in groups {
            let earlier = group
                .iter()
                .take_while(|&&i| first.is_none_or(|found| i < found))
                .find(|&&i| matches(live[i], f));
            if let Some(&i) = earlier {
                first = Some(i);
            }
        }
        first
    }
}

fn matches(s: &Suppression, f: &Finding) -> bool {
    (s.rule == "*" || s.rule == f.rule_id)
        && s.user.is_match(&f.user_name)
        && s.access_key_id
            .as_ref()
            .is_none_or(|id| f.access_key_id.as_ref() == Some(id))
        && s.account
            .as_ref()
            .is_none_or(|id| f.account_id.as_ref() == Some(id))
        && s.finding_id.as_ref().is_none_or(|id| *id == f.finding_id)
}

fn notice(s: &Suppression) -> SuppressionNotice {
    SuppressionNotice {
        rule: s.rule.clone(),
        user: s.user.as_str().to_string(),
        access_key_id: s.access_key_id.clone(),
        account: s.account.as_ref().map(|id| id.to_string()),
        finding_id: s.finding_id.clone(),
        reason: s.reason.clone(),
        expires: s.expires,
        location: s.location.clone(),
    }
}
