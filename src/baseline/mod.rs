//! Runs that remember: this run's findings compared with an earlier run's, by finding id.
//!
//! A baseline is an earlier run's `report.json` (`--baseline`) or the last record of a
//! history folder (`--history`). Each current finding is `new`, `unchanged` or `updated`
//! and keeps the date it was first seen; each baseline finding that is gone is `resolved`
//! only when this run assessed what it was about (the account was audited, the user's
//! keys were read, the key was listed), and `not assessed` otherwise, so a coverage gap
//! never passes for a fix. Not-assessed findings are carried into this run's outputs with
//! their first-seen date.

mod checks;
mod compare;
pub mod history;
mod load;
pub mod record;
pub mod signing;

use chrono::{DateTime, Utc};

use crate::findings::{FindingSet, IdSource, PastFinding, Status};

pub use compare::{AccountAssessment, Assessment, Comparer, compare, past_order};
pub use history::History;
pub use load::{NEWEST_REPORT_SCHEMA, load_baseline, parse_baseline};
pub use record::TrendPoint;

/// Where a baseline came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `--baseline FILE|DIR`.
    Baseline,
    /// The last run recorded in `--history DIR`.
    History,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Baseline => "baseline",
            Origin::History => "history",
        }
    }
}

/// What a run audited: a baseline of something else is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audited {
    /// One account (its id, when known).
    Account(Option<crate::ident::AccountId>),
    /// Several accounts (the organization's id, when known).
    Organization(Option<String>),
}

impl Audited {
    fn describe(&self) -> String {
        match self {
            Audited::Account(Some(id)) => format!("account {id}"),
            Audited::Account(None) => "an account of unknown id".to_string(),
            Audited::Organization(Some(id)) => format!("organization {id}"),
            Audited::Organization(None) => "a list of accounts".to_string(),
        }
    }
}

/// What a run is, for matching baselines and naming history records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunIdentity {
    pub audited: Audited,
    pub id_source: IdSource,
    /// The slice of a sharded run (`shard-2-of-8`): each shard keeps its own history.
    pub slice: Option<String>,
}

impl RunIdentity {
    /// Refuses a baseline of another account or organization, or of another kind of
    /// source, with one line naming the file and the fix.
    pub fn check(&self, baseline: &Baseline) -> Result<(), String> {
        let file = &baseline.file;
        let mismatch = match (&self.audited, &baseline.audited) {
            (Audited::Account(_), Audited::Organization(_))
            | (Audited::Organization(_), Audited::Account(_)) => true,
            (Audited::Account(Some(a)), Audited::Account(Some(b))) => a != b,
            (Audited::Organization(Some(a)), Audited::Organization(Some(b))) => a != b,
            _ => false,
        };
        if mismatch {
            return Err(format!(
                "{file}: the baseline is a run of {}, this run audits {} (pass a report.json of the same {})",
                baseline.audited.describe(),
                self.audited.describe(),
                match self.audited {
                    Audited::Account(_) => "account",
                    Audited::Organization(_) => "organization",
                }
            ));
        }
        if baseline.id_source != self.id_source {
            return Err(format!(
                "{file}: the baseline's finding ids come from {}, this run's from {}: they cannot be compared (pass a baseline read from the same kind of source)",
                source_words(baseline.id_source),
                source_words(self.id_source)
            ));
        }
        Ok(())
    }
}

fn source_words(source: IdSource) -> &'static str {
    match source {
        IdSource::Api => "the IAM API",
        IdSource::CredentialReport => "a credential report",
    }
}

/// An earlier run's findings, as a comparison needs them.
#[derive(Clone, Debug)]
pub struct Baseline {
    /// The file read, as the user gave it (or as found in the history folder).
    pub file: String,
    pub origin: Origin,
    pub as_of: DateTime<Utc>,
    pub audited: Audited,
    pub id_source: IdSource,
    /// Its open and suppressed findings, and the not-assessed ones it carried.
    pub findings: Vec<PastFinding>,
}

/// What the reports say about the comparison.
#[derive(Clone, Debug)]
pub struct ComparisonInfo {
    pub file: String,
    pub origin: Origin,
    /// The baseline's as-of date, `YYYY-MM-DD`.
    pub since_text: String,
}

impl ComparisonInfo {
    pub fn of(baseline: &Baseline) -> ComparisonInfo {
        ComparisonInfo {
            file: baseline.file.clone(),
            origin: baseline.origin,
            since_text: baseline.as_of.format("%Y-%m-%d").to_string(),
        }
    }
}

/// What a run's reports show about earlier runs.
#[derive(Clone, Debug, Default)]
pub struct RunTracking {
    /// The baseline compared with, if any.
    pub comparison: Option<ComparisonInfo>,
    /// Open findings over the runs recorded in the history folder, this run last.
    pub trend: Option<Vec<TrendPoint>>,
    /// The history folder, when `--history` was given.
    pub history_dir: Option<String>,
}

impl RunTracking {
    /// The summary's line about the comparison, or `None` when there was nothing to say.
    pub fn summary_line(&self, changes: Changes) -> Option<String> {
        match (&self.comparison, &self.history_dir) {
            (Some(c), _) => Some(format!(
                "{} since {} ({}: {})",
                changes.line(),
                c.since_text,
                c.origin.as_str(),
                c.file
            )),
            (None, Some(dir)) => Some(format!(
                "no earlier run in {dir}: nothing to compare, every finding is new"
            )),
            _ => None,
        }
    }
}

/// The run's changes, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub resolved: usize,
    pub not_assessed: usize,
}

impl Changes {
    pub fn of(set: &FindingSet) -> Changes {
        Changes {
            new: set.count(Status::New),
            updated: set.count(Status::Updated),
            unchanged: set.count(Status::Unchanged),
            resolved: set.resolved.len(),
            not_assessed: set.not_assessed.len(),
        }
    }

    /// "4 new, 0 updated, 2 resolved, 251 unchanged, 0 not assessed".
    pub fn line(&self) -> String {
        format!(
            "{} new, {} updated, {} resolved, {} unchanged, {} not assessed",
            self.new, self.updated, self.resolved, self.unchanged, self.not_assessed
        )
    }
}
