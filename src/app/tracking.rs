//! The run-to-run part of a run: `--baseline`, `--history`, `--history-keep` and
//! `--fail-on-new`.
//!
//! Everything that can be checked offline (the flags, the baseline file, the history
//! folder) is checked before any network call; the history's records are looked up once
//! the run knows what it audited, and this run's record is written after its reports.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::baseline::record::{Record, RecordBuilder, key_for};
use crate::baseline::{
    Assessment, Baseline, ComparisonInfo, History, Origin, RunIdentity, RunTracking, compare,
    load_baseline,
};
use crate::cli::AuditArgs;
use crate::findings::FindingSet;

/// The flags, checked, and the `--baseline` file, read.
pub(super) struct Tracking {
    baseline: Option<Baseline>,
    history: Option<(PathBuf, usize)>,
    pub fail_on_new: bool,
}

/// What a run's comparison gave the reports, and the record still to write.
pub(super) struct Tracked {
    pub run: RunTracking,
    /// This run's record, written after the reports.
    pub pending: Pending,
}

/// The history folder and this run's record, when `--history` was given.
pub(super) struct Pending(Option<(History, Record)>);

impl Tracking {
    pub fn prepare(args: &AuditArgs) -> Result<Tracking, String> {
        if args.fail_on_new && args.baseline.is_none() && args.history.is_none() {
            return Err(
                "--fail-on-new needs a run to compare with: add --baseline FILE or --history DIR"
                    .to_string(),
            );
        }
        if let Some(dir) = &args.history {
            History::check_dir(dir)?;
        }
        let baseline = args
            .baseline
            .as_deref()
            .map(|path| load_baseline(path, Origin::Baseline))
            .transpose()?;
        Ok(Tracking {
            baseline,
            history: args
                .history
                .clone()
                .map(|dir| (dir, args.history_keep as usize)),
            fail_on_new: args.fail_on_new,
        })
    }

    /// Compares `set` (every account's findings, with the policy applied) with the
    /// baseline: `--baseline`, else the last run in `--history`. `accounts` are the
    /// selected account ids (they name the history of a run without an organization id).
    pub fn compare(
        &self,
        identity: &RunIdentity,
        accounts: &[crate::ident::AccountId],
        as_of: DateTime<Utc>,
        complete: bool,
        set: &mut FindingSet,
        assessment: &Assessment<'_>,
    ) -> Result<Tracked, String> {
        let begun = self.begin(identity, accounts, as_of)?;
        if let Some(b) = begun.baseline() {
            compare(b, set, assessment);
        }
        let mut record = begun.recording();
        if let Some(record) = &mut record {
            record.add(set);
        }
        begun.finish(complete, record)
    }

    /// The comparison of a run that compares its accounts one at a time: the baseline
    /// chosen and checked against what the run is.
    pub fn begin(
        &self,
        identity: &RunIdentity,
        accounts: &[crate::ident::AccountId],
        as_of: DateTime<Utc>,
    ) -> Result<Begun<'_>, String> {
        let history = self.history.as_ref().map(|(dir, keep)| History {
            dir: dir.clone(),
            key: key_for(identity, accounts),
            keep: *keep,
        });
        let from_history = match (&self.baseline, &history) {
            (None, Some(h)) => h.latest(as_of)?,
            _ => None,
        };
        let begun = Begun {
            given: self.baseline.as_ref(),
            from_history,
            history,
            identity: identity.clone(),
            as_of,
        };
        if let Some(b) = begun.baseline() {
            identity.check(b)?;
        }
        Ok(begun)
    }
}

/// A comparison under way: [`Begun::baseline`] to compare with, [`Begun::recording`] to
/// gather this run's record into, [`Begun::finish`] when every finding was compared.
pub(super) struct Begun<'t> {
    given: Option<&'t Baseline>,
    from_history: Option<Baseline>,
    history: Option<History>,
    identity: RunIdentity,
    as_of: DateTime<Utc>,
}

impl Begun<'_> {
    /// The baseline, when there is one.
    pub fn baseline(&self) -> Option<&Baseline> {
        self.given.or(self.from_history.as_ref())
    }

    /// This run's record, to fill, when the run keeps a history.
    pub fn recording(&self) -> Option<RecordBuilder> {
        self.history
            .as_ref()
            .map(|_| RecordBuilder::new(self.as_of))
    }

    /// What the reports say about the comparison and the trend, and the record to write.
    pub fn finish(self, complete: bool, record: Option<RecordBuilder>) -> Result<Tracked, String> {
        let mut tracked = Tracked {
            run: RunTracking {
                comparison: self.baseline().map(ComparisonInfo::of),
                trend: None,
                history_dir: self.history.as_ref().map(|h| h.dir.display().to_string()),
            },
            pending: Pending(None),
        };
        if let (Some(h), Some(record)) = (self.history, record) {
            let record = record.finish(&h.key, &self.identity, complete);
            tracked.run.trend = Some(h.trend(record.trend_point())?);
            tracked.pending = Pending(Some((h, record)));
        }
        Ok(tracked)
    }
}

impl Pending {
    /// Records the run in the history folder, once its reports are written.
    pub fn record(&mut self) -> Result<Option<PathBuf>, String> {
        self.0
            .take()
            .map(|(h, record)| h.write(&record))
            .transpose()
    }
}
