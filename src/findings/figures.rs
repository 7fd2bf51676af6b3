//! The figures of a run, computed once: each audited account's from its inventory and its
//! judged findings ([`Figures::of`]), and the run's added up over its accounts
//! ([`Totals`]). The terminal summary, the HTML and JSON reports, the history record and the
//! exit code all read these, so they cannot disagree.

use std::collections::BTreeMap;
use std::collections::HashSet;

use crate::inventory::{AccessKey, Coverage, CrawlStats, Inventory, ROOT_USER_NAME};

use super::{FindingSet, Severity, Status};

/// A count for each severity, critical first (the order of [`Severity::ALL`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerSeverity(pub [usize; 4]);

impl PerSeverity {
    pub fn get(&self, severity: Severity) -> usize {
        self.0[severity.index()]
    }

    pub fn add(&mut self, severity: Severity, n: usize) {
        self.0[severity.index()] += n;
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    /// Each severity with its count, critical first.
    pub fn iter(&self) -> impl Iterator<Item = (Severity, usize)> + '_ {
        Severity::ALL.iter().map(|&s| (s, self.get(s)))
    }

    fn add_all(&mut self, other: &PerSeverity) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}

/// The findings of one rule at one severity. A rule whose findings differ in severity has
/// one tally per severity, so the tallies add up to the severity counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleTally {
    pub rule_id: String,
    pub severity: Severity,
    pub open: usize,
    pub suppressed: usize,
    /// The compliance references of its findings, in the order first met.
    pub compliance: Vec<String>,
}

/// What one audited account (or, added up, a whole run) amounts to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Users, keys and gaps of the inventory the rules judged (after the scope).
    pub coverage: Coverage,
    /// Unsuppressed findings.
    pub open: PerSeverity,
    pub suppressed: PerSeverity,
    /// Rules by their worst severity, then by id; a rule's tallies worst first.
    pub by_rule: Vec<RuleTally>,
    /// Keys with at least one open finding.
    pub keys_flagged: usize,
    /// Users with at least one open finding (added up per account).
    pub users_flagged: usize,
    /// The highest severity among open findings.
    pub worst: Option<Severity>,
    /// The highest severity among open findings new or worse since the baseline.
    pub worst_regression: Option<Severity>,
    /// Findings new, updated and unchanged since the baseline.
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Open findings new since the baseline.
    pub new_open: usize,
}

impl Figures {
    /// The figures of one audited account: `set` holds its findings, judged and compared.
    pub fn of(inventory: &Inventory, set: &FindingSet) -> Figures {
        let mut figures = Figures {
            coverage: inventory.compute_coverage(),
            worst: set.worst(),
            worst_regression: set.worst_regression(),
            new: set.count(Status::New),
            updated: set.count(Status::Updated),
            unchanged: set.count(Status::Unchanged),
            ..Figures::default()
        };
        let mut flagged_keys: HashSet<(&str, &str)> = HashSet::new();
        let mut flagged_users: HashSet<&str> = HashSet::new();
        for ef in &set.findings {
            let f = &ef.finding;
            if ef.suppressed.is_some() {
                figures.suppressed.add(f.severity, 1);
            } else {
                figures.open.add(f.severity, 1);
                figures.new_open += usize::from(ef.tracking.status == Status::New);
                flagged_users.insert(&f.user_name);
                if let Some(key) = &f.access_key_id {
                    flagged_keys.insert((&f.user_name, key));
                }
            }
        }
        figures.by_rule = tallies(set);
        // A key counts once, whatever the number of its findings, and only if the data
        // lists it (the keys every output counts).
        let root = inventory
            .root_keys()
            .iter()
            .map(|k| (ROOT_USER_NAME, k.label()));
        let users = inventory.users.iter().flat_map(|u| {
            u.keys
                .iter()
                .map(move |k| (u.name.as_str(), AccessKey::label(k)))
        });
        figures.keys_flagged = root
            .chain(users)
            .filter(|(user, label)| flagged_keys.contains(&(*user, label.as_str())))
            .count();
        figures.users_flagged = flagged_users.len();
        figures
    }

    /// Adds another account's figures.
    pub fn add(&mut self, other: &Figures) {
        let (c, o) = (&mut self.coverage, &other.coverage);
        c.complete = c.complete && o.complete;
        c.users_listed += o.users_listed;
        c.users_fully_audited += o.users_fully_audited;
        c.keys += o.keys;
        c.keys_with_last_use += o.keys_with_last_use;
        c.gaps += o.gaps;
        self.open.add_all(&other.open);
        self.suppressed.add_all(&other.suppressed);
        for tally in &other.by_rule {
            match self
                .by_rule
                .iter_mut()
                .find(|t| t.rule_id == tally.rule_id && t.severity == tally.severity)
            {
                Some(mine) => {
                    mine.open += tally.open;
                    mine.suppressed += tally.suppressed;
                    for c in &tally.compliance {
                        if !mine.compliance.contains(c) {
                            mine.compliance.push(c.clone());
                        }
                    }
                }
                None => self.by_rule.push(tally.clone()),
            }
        }
        sort_tallies(&mut self.by_rule);
        self.keys_flagged += other.keys_flagged;
        self.users_flagged += other.users_flagged;
        self.worst = self.worst.max(other.worst);
        self.worst_regression = self.worst_regression.max(other.worst_regression);
        self.new += other.new;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.new_open += other.new_open;
    }

    /// Whether these findings reach `--fail-on` (`None`: `--fail-on none`); with
    /// `--fail-on-new`, only new and worse findings count.
    pub fn reach(&self, fail_on: Option<Severity>, fail_on_new: bool) -> bool {
        let gate = if fail_on_new {
            self.worst_regression
        } else {
            self.worst
        };
        Severity::reaches(gate, fail_on)
    }
}

/// One tally per rule and severity that has findings, suppressed or not.
fn tallies(set: &FindingSet) -> Vec<RuleTally> {
    let mut by: BTreeMap<(&str, Severity), RuleTally> = BTreeMap::new();
    for ef in &set.findings {
        let f = &ef.finding;
        let tally = by
            .entry((&f.rule_id, f.severity))
            .or_insert_with(|| RuleTally {
                rule_id: f.rule_id.clone(),
                severity: f.severity,
                open: 0,
                suppressed: 0,
                compliance: Vec::new(),
            });
        if ef.suppressed.is_some() {
            tally.suppressed += 1;
        } else {
            tally.open += 1;
        }
        for c in &f.compliance {
            if !tally.compliance.contains(c) {
                tally.compliance.push(c.clone());
            }
        }
    }
    let mut tallies: Vec<RuleTally> = by.into_values().collect();
    sort_tallies(&mut tallies);
    tallies
}

/// A rule's tallies stay together: rules by their worst severity, then by id; a rule's
/// tallies worst first.
fn sort_tallies(tallies: &mut [RuleTally]) {
    let mut worst: BTreeMap<String, Severity> = BTreeMap::new();
    for t in tallies.iter() {
        let w = worst.entry(t.rule_id.clone()).or_insert(t.severity);
        *w = (*w).max(t.severity);
    }
    tallies.sort_by(|a, b| {
        worst[&b.rule_id]
            .cmp(&worst[&a.rule_id])
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| b.severity.cmp(&a.severity))
    });
}

/// The figures of a whole run: its accounts by outcome, and the audited accounts' figures
/// and crawl statistics added up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Accounts the run selected (listed, named or read).
    pub selected: usize,
    pub audited: usize,
    /// Active accounts that could not be audited: coverage gaps.
    pub unreachable: usize,
    /// Not active, excluded, out of scope or in another shard: not assessed on purpose.
    pub not_assessed: usize,
    /// Audited accounts with gaps of their own.
    pub accounts_with_gaps: usize,
    pub figures: Figures,
    /// The crawls' statistics added up (the longest crawl's wall time).
    pub stats: CrawlStats,
}

impl Totals {
    pub fn new() -> Totals {
        Totals {
            figures: Figures {
                coverage: Coverage {
                    complete: true,
                    ..Coverage::default()
                },
                ..Figures::default()
            },
            ..Totals::default()
        }
    }

    /// An audited account: its figures and its crawl's statistics.
    pub fn add_audited(&mut self, figures: &Figures, stats: &CrawlStats) {
        self.selected += 1;
        self.audited += 1;
        self.accounts_with_gaps += usize::from(figures.coverage.gaps > 0);
        self.figures.add(figures);
        let s = &mut self.stats;
        for (op, n) in &stats.calls {
            *s.calls.entry(op.clone()).or_default() += n;
        }
        s.retries += stats.retries;
        s.throttled += stats.throttled;
        s.gaps += stats.gaps;
        s.wall_ms = s.wall_ms.max(stats.wall_ms);
        s.bytes_received += stats.bytes_received;
        s.attempts_cut += stats.attempts_cut;
    }

    /// A selected account that could not be audited: a coverage gap of the run.
    pub fn add_unreachable(&mut self) {
        self.selected += 1;
        self.unreachable += 1;
    }

    /// A selected account left out on purpose.
    pub fn add_not_assessed(&mut self) {
        self.selected += 1;
        self.not_assessed += 1;
    }

    /// Every selected active account audited, each with complete coverage.
    pub fn complete(&self) -> bool {
        self.unreachable == 0 && self.figures.coverage.gaps == 0
    }

    /// Whether the run's findings reach `--fail-on`.
    pub fn reach(&self, fail_on: Option<Severity>, fail_on_new: bool) -> bool {
        self.figures.reach(fail_on, fail_on_new)
    }

    /// Users listed in the audited accounts.
    pub fn users(&self) -> usize {
        self.figures.coverage.users_listed
    }

    /// Keys in the audited accounts ([`Coverage::keys`]).
    pub fn keys(&self) -> usize {
        self.figures.coverage.keys
    }

    /// Gaps inside the audited accounts.
    pub fn gaps(&self) -> usize {
        self.figures.coverage.gaps
    }

    pub fn open_total(&self) -> usize {
        self.figures.open.total()
    }

    pub fn suppressed_total(&self) -> usize {
        self.figures.suppressed.total()
    }

    pub fn keys_flagged(&self) -> usize {
        self.figures.keys_flagged
    }
}

#[cfg(test)]
mod tests;
