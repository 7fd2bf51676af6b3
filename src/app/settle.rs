//! Which keys the credential report's last use is good enough for.
//!
//! The economical call plan takes each key's last use from the credential report. The
//! report is only ever older than the truth: a key it shows used on a date was used at least
//! that recently, and a key it shows never used may have been used since. Every rule is
//! monotonic in that date (a later last use never adds a finding, and a later as-of never
//! removes one, nor lowers its severity), so a report value gives exactly the findings
//! GetAccessKeyLastUsed would have given over a window of as-of instants when two
//! evaluations agree: the report values at the window's end (the most findings any true
//! value could give) and every report value replaced by a use at the window's start, judged
//! at the start (the fewest). Keys whose findings differ between the two are asked
//! GetAccessKeyLastUsed; the rest keep the report's value, labelled as such.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};

use crate::crawl::{Clients, CrawlOptions, LastUseCheck};
use crate::findings::{Finding, Severity};
use crate::inventory::{
    AccessKey, CoverageGap, Inventory, LastUse, LastUseSource, SettledWindow, SourceInfo, User,
};
use crate::rules::RuleSettings;

/// How long after a crawl the report values of an inventory that outlives the run (an
/// organization run's accounts, a saved inventory) are kept exact: keys whose findings
/// could change within this time are confirmed during the crawl.
pub const HORIZON_HOURS: i64 = 24;

/// The settle horizon of a run's crawls: how long after its crawl each account's
/// report-sourced last uses must stay exact.
/// - A saved inventory (`saved`) outlives the run: [`HORIZON_HOURS`].
/// - A run that crawls several accounts takes its as-of when the last one settles, after
///   the others: [`HORIZON_HOURS`] (an as-of further away makes the values gaps, see
///   [`check_settled`]).
/// - Otherwise the as-of is the instant the one account settled: nothing to keep.
pub fn horizon(saved: bool, accounts: usize) -> TimeDelta {
    if saved || accounts > 1 {
        TimeDelta::hours(HORIZON_HOURS)
    } else {
        TimeDelta::zero()
    }
}

/// How a crawl settles its report-sourced last-use values.
pub struct Settle<'a> {
    pub rules: &'a RuleSettings,
    /// `--as-of`, when given: the window is that instant alone.
    pub fixed: Option<DateTime<Utc>>,
    /// How long after the crawl the values must stay exact.
    pub horizon: TimeDelta,
}

impl Settle<'_> {
    /// The check the crawl applies to each user once the report has placed its keys: the
    /// keys whose findings a later use could change as of now. Most confirmations then
    /// happen during the crawl, paced with its other calls; [`Settle::run`] confirms what
    /// time has changed since.
    pub fn user_check(&self) -> LastUseCheck {
        let (rules, fixed, horizon) = (self.rules.clone(), self.fixed, self.horizon);
        LastUseCheck::new(move |user| {
            let now = fixed.unwrap_or_else(Utc::now);
            let window = SettledWindow {
                from: now,
                until: fixed.unwrap_or(now + horizon),
            };
            unsettled_user(user, &rules, window, now)
        })
    }

    /// Confirms, round after round, the keys whose findings the report's values could
    /// change, until none remains; returns the instant the values were settled at (the
    /// run's as-of when it has none of its own). Each round confirms at least one key, so
    /// this ends.
    pub async fn run(
        &self,
        clients: &Clients,
        opts: &CrawlOptions,
        inv: &mut Inventory,
    ) -> DateTime<Utc> {
        loop {
            let from = self.fixed.unwrap_or_else(Utc::now);
            let window = SettledWindow {
                from,
                until: self.fixed.unwrap_or(from + self.horizon),
            };
            let ids = unsettled(inv, self.rules, window, from);
            // A round that could ask nothing would repeat forever; it cannot happen (every
            // id picked is a report-sourced key, which the round turns into an API one).
            if ids.is_empty() || crate::crawl::confirm_last_use(clients, opts, inv, &ids).await == 0
            {
                inv.last_use_settled = has_report_values(inv).then_some(window);
                return from;
            }
        }
    }
}

fn has_report_values(inv: &Inventory) -> bool {
    inv.users
        .iter()
        .flat_map(|u| &u.keys)
        .any(|k| k.last_used_source == LastUseSource::CredentialReport)
}

/// The report-sourced keys (by id) whose findings could differ from GetAccessKeyLastUsed's
/// at some instant of `window`, if their true last use were as late as `latest_use`. Every
/// rule judges one user (or the root user) at a time, so each user is judged alone: the
/// test never holds more than one user's copy and findings.
pub fn unsettled(
    inv: &Inventory,
    rules: &RuleSettings,
    window: SettledWindow,
    latest_use: DateTime<Utc>,
) -> BTreeSet<String> {
    inv.users
        .iter()
        .flat_map(|user| unsettled_user(user, rules, window, latest_use))
        .collect()
}

/// [`unsettled`] for one user.
fn unsettled_user(
    user: &User,
    rules: &RuleSettings,
    window: SettledWindow,
    latest_use: DateTime<Utc>,
) -> Vec<String> {
    let reported = |key: &AccessKey| {
        key.id.is_some() && key.last_used_source == LastUseSource::CredentialReport
    };
    if !user.keys.iter().any(reported) {
        return Vec::new();
    }
    let mut alone = Inventory::new(SourceInfo::Live { endpoint: None }, window.from);
    alone.users = vec![user.clone()];
    let most = crate::rules::evaluate(&alone, rules, window.until);
    for key in alone.users[0].keys.iter_mut().filter(|k| reported(k)) {
        key.last_used = LastUse::Used {
            date: latest_use.max(key.created),
            service: None,
            region: None,
        };
    }
    let fewest = crate::rules::evaluate(&alone, rules, window.from);
    let identity = |f: &Finding| -> (String, Option<String>, Severity) {
        (f.rule_id.clone(), f.access_key_id.clone(), f.severity)
    };
    let most: BTreeSet<_> = most.iter().map(identity).collect();
    let fewest: BTreeSet<_> = fewest.iter().map(identity).collect();
    let mut ids = Vec::new();
    for (_, key_id, _) in most.symmetric_difference(&fewest) {
        for key in user.keys.iter().filter(|k| reported(k)) {
            // A key finding names its key; a user finding depends on all the user's keys.
            let id = key.id.as_ref().expect("reported keys have ids");
            if key_id.as_ref().is_none_or(|k| k == id) && !ids.contains(id) {
                ids.push(id.clone());
            }
        }
    }
    ids
}

/// For an inventory judged at an as-of outside the window its crawl settled (a saved
/// inventory read later, or an organization run longer than [`HORIZON_HOURS`]): report
/// values that could now change a finding lose their value and become coverage gaps, so a
/// finding is never decided by a value that may be stale. Returns how many.
pub fn check_settled(inv: &mut Inventory, rules: &RuleSettings, as_of: DateTime<Utc>) -> usize {
    let Some(settled) = inv.last_use_settled else {
        return 0;
    };
    if settled.contains(as_of) {
        return 0;
    }
    let at = SettledWindow {
        from: as_of,
        until: as_of,
    };
    let ids = unsettled(inv, rules, at, inv.collected_at.min(as_of));
    let report_date = inv
        .credential_report
        .as_ref()
        .and_then(|r| r.generated_at)
        .map_or("(unknown)".to_string(), |d| {
            d.format("%Y-%m-%d %H:%M UTC").to_string()
        });
    let window = format!(
        "{} to {}",
        settled.from.format("%Y-%m-%dT%H:%M:%SZ"),
        settled.until.format("%Y-%m-%dT%H:%M:%SZ")
    );
    for user in &mut inv.users {
        for key in &mut user.keys {
            if key.id.as_ref().is_some_and(|id| ids.contains(id)) {
                key.last_used = LastUse::Unknown;
                inv.gaps.push(CoverageGap {
                    user: Some(user.name.clone()),
                    access_key_id: key.id.clone(),
                    operation: "GetAccessKeyLastUsed".into(),
                    error_code: "NotConfirmed".into(),
                    impact: format!(
                        "the key's last use is known only from the credential report of {report_date}, which could change a finding at this as-of; the crawl settled it for {window} (pass an --as-of in that window, or audit the account again)"
                    ),
                });
            }
        }
    }
    if !ids.is_empty() {
        inv.stats.gaps = inv.gaps.len() as u64;
        inv.normalize();
    }
    ids.len()
}

#[cfg(test)]
mod tests;
