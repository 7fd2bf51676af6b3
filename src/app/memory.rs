//! A run's memory of earlier runs: `--baseline`, `--history`, `--history-keep` and
//! `--fail-on-new`.
//!
//! Everything that can be checked offline (the flags, the history key, the baseline file,
//! the history folder) is checked before any network call; the history's records are
//! looked up once the run knows what it audited, and this run's record is staged with the
//! reports and committed with them.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::baseline::record::{Record, RecordBuilder, key_for};
use crate::baseline::signing::HistoryKey;
use crate::baseline::{
    Baseline, ComparisonInfo, History, Origin, RunIdentity, RunTracking, load_baseline,
};
use crate::cli::AuditArgs;
use crate::fsio::FileSet;

/// The flags, checked, and the `--baseline` file, read.
pub(super) struct Memory {
    baseline: Option<Baseline>,
    history: Option<(PathBuf, usize)>,
    pub fail_on_new: bool,
    /// The key that signs what the run remembers and checks what it reads back
    /// (`--history-key-file`, else `KEYHYGIENE_HISTORY_KEY`).
    pub signer: Option<HistoryKey>,
}

/// What a run's comparison gave the reports, and the record still to write.
pub(super) struct Compared {
    pub run: RunTracking,
    /// This run's record, written after the reports.
    pub pending: Pending,
}

/// The history folder and this run's record, when `--history` was given.
pub(super) struct Pending(Option<(History, Record)>);

/// This run's record, staged in the history folder (its set is committed with the reports).
pub(super) struct StagedRecord {
    history: History,
    name: String,
    as_of: DateTime<Utc>,
}

impl StagedRecord {
    /// The record's path, once committed.
    pub fn path(&self) -> PathBuf {
        self.history.dir.join(&self.name)
    }

    /// After the commit: removes this key's records beyond `--history-keep`.
    pub fn prune(&self) -> Result<(), String> {
        self.history.prune(self.as_of, &self.name)
    }
}

impl Memory {
    pub fn prepare(args: &AuditArgs) -> Result<Memory, String> {
        if args.fail_on_new && args.baseline.is_none() && args.history.is_none() {
            return Err(
                "--fail-on-new needs a run to compare with: add --baseline FILE or --history DIR"
                    .to_string(),
            );
        }
        if let Some(dir) = &args.history {
            History::check_dir(dir)?;
        }
        let signer = history_key(args.history_key_file.as_deref())?;
        let baseline = args
            .baseline
            .as_deref()
            .map(|path| load_baseline(path, Origin::Baseline, signer.as_ref()))
            .transpose()?;
        Ok(Memory {
            baseline,
            history: args
                .history
                .clone()
                .map(|dir| (dir, args.history_keep as usize)),
            fail_on_new: args.fail_on_new,
            signer,
        })
    }

    /// The run's comparison, begun once the run knows what it audits: the baseline
    /// (`--baseline`, else the last run in `--history`) chosen and checked against what
    /// the run is. `accounts` are the selected account ids (they name the history of a run
    /// without an organization id).
    pub fn begin(
        &self,
        identity: &RunIdentity,
        accounts: &[crate::ident::AccountId],
        as_of: DateTime<Utc>,
    ) -> Result<Begun<'_>, String> {
        let history = self.history.as_ref().map(|(dir, keep)| {
            History::new(
                dir.clone(),
                key_for(identity, accounts),
                *keep,
                self.signer.clone(),
            )
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
    pub fn finish(self, complete: bool, record: Option<RecordBuilder>) -> Result<Compared, String> {
        let mut compared = Compared {
            run: RunTracking {
                comparison: self.baseline().map(ComparisonInfo::of),
                trend: None,
                history_dir: self
                    .history
                    .as_ref()
                    .map(|h| crate::storage::shown::path(&h.dir)),
            },
            pending: Pending(None),
        };
        if let (Some(h), Some(record)) = (self.history, record) {
            let record = record.finish(&h.key, &self.identity, complete);
            compared.run.trend = Some(h.trend(record.trend_point())?);
            compared.pending = Pending(Some((h, record)));
        }
        Ok(compared)
    }
}

impl Pending {
    /// Stages this run's record in the history folder, to commit with the reports.
    pub fn stage(&mut self) -> Result<Option<(FileSet, StagedRecord)>, String> {
        let Some((history, record)) = self.0.take() else {
            return Ok(None);
        };
        let name = history.record_name(&record);
        let mut set = FileSet::new(&history.dir).map_err(|e| e.to_string())?;
        set.stage_new(&name, |out| history.write_record(&record, out))
            .map_err(|e| e.to_string())?;
        Ok(Some((
            set,
            StagedRecord {
                history,
                name,
                as_of: record.as_of,
            },
        )))
    }
}

/// The history key: `--history-key-file FILE`, else `KEYHYGIENE_HISTORY_KEY`; none when
/// neither is given. The key is never printed.
fn history_key(file: Option<&std::path::Path>) -> Result<Option<HistoryKey>, String> {
    if let Some(path) = file {
        let text = crate::fsio::read_limited_text(path, "history key file", 4096)
            .map_err(|e| e.to_string())?;
        return HistoryKey::parse(&text, &path.display().to_string()).map(Some);
    }
    match std::env::var("KEYHYGIENE_HISTORY_KEY") {
        Ok(text) if !text.trim().is_empty() => {
            HistoryKey::parse(&text, "KEYHYGIENE_HISTORY_KEY").map(Some)
        }
        _ => Ok(None),
    }
}
