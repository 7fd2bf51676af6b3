//! An organization run: choose the accounts, collect each one's inventory (crawled
//! concurrently and in isolation, or read from saved files), then evaluate and write them
//! one account at a time into one report.
//!
//! An account is the unit of isolation: its own credentials, its own pace, its own
//! coverage. A failure stays inside its account and becomes that account's record; every
//! other account completes normally.
//!
//! Memory is bounded by the accounts in flight, not by the organization's size: a crawled
//! account's inventory is spilled to disk as soon as it is done ([`store`]), and each
//! account is then read back, evaluated, compared with the baseline and written (its page
//! staged, its rows spilled: [`crate::report::OrgWriter`]) before the next one is read.
//! What stays in memory is one row per account, the organization's sums, and, with a
//! baseline or a history, the findings' short records.

mod crawl;
pub(super) mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::baseline::{AccountAssessment, Assessment, Audited, Comparer, RunIdentity, past_order};
use crate::cli::{AuditArgs, Endpoint};
use crate::findings::FindingSet;
use crate::fsio::FileSet;
use crate::org::{AccountRecord, Manifest, Outcome};
use crate::policy::{Applier, Policy};
use crate::report::{self, OrgRunInfo, OrgWriter, PageContext};

use super::saved::{load_saved, stage_inventory, stage_manifest};
use super::tracking::{Begun, Tracking};
use super::{commit_run, exit_code, formats};
use store::InventoryStore;

/// What an organization run collected: every selected account's record, and where the
/// audited ones' inventories are.
pub struct Collected {
    pub manifest: Manifest,
    pub store: InventoryStore,
    /// Where the data came from, for messages: the endpoint or the files read.
    pub origin: String,
}

/// An organization's run, once its folders are ready: the exit code, or the one-line error
/// that stopped it (nothing written then).
pub(super) fn audit(
    args: &AuditArgs,
    policy: &Policy,
    endpoint: Option<&Endpoint>,
    tracking: &Tracking,
) -> Result<u8, String> {
    let collected = if args.from_inventory.is_empty() {
        crawl::crawl_organization(args, policy, endpoint)
    } else {
        load_saved(&args.from_inventory, args.only_shard)
    };
    let Collected {
        mut manifest,
        mut store,
        origin,
    } = collected?;
    let as_of = args.as_of.unwrap_or_else(Utc::now);
    // An account that the policy's scope leaves out is listed as such, also offline.
    for record in &mut manifest.accounts {
        if matches!(record.result, Outcome::Audited { .. })
            && !policy.scope.includes_account(&record.account.id)
        {
            record.result = Outcome::OutOfScope;
            store.remove(&record.account.id);
        }
    }
    let identity = RunIdentity {
        audited: Audited::Organization(manifest.organization_id.clone()),
        id_source: store.id_source(),
        slice: manifest
            .selection
            .shard
            .map(|s| format!("shard-{}-of-{}", s.index, s.count)),
    };
    let selected: Vec<crate::ident::AccountId> = manifest
        .accounts
        .iter()
        .map(|r| r.account.id.clone())
        .collect();
    let begun = tracking.begin(&identity, &selected, as_of)?;
    let Done {
        model,
        written,
        recorded,
    } = write_run(
        args,
        policy,
        tracking,
        begun,
        &mut manifest,
        &mut store,
        &origin,
        as_of,
    )?;
    if !args.quiet {
        print!("{}", report::org_summary_text(&model, &written));
        if let Some(dir) = &args.save_inventory {
            println!("inventories saved to {}", super::terminal_path(dir));
        }
        if let Some(path) = recorded {
            println!("history: recorded {}", super::terminal_path(&path));
        }
    }
    let complete = model.complete;
    // The exit code reads the figures the reports show.
    let code = exit_code(complete, model.fails_threshold);
    if !complete {
        eprintln!(
            "keyhygiene: coverage is incomplete: {} of {} selected accounts not audited, {} gap(s) inside audited accounts; the reports say what is missing",
            model.totals.unreachable, model.totals.selected, model.totals.gaps
        );
    }
    Ok(code)
}

/// What a finished organization run wrote.
struct Done {
    model: crate::report::OrgModel,
    written: Vec<PathBuf>,
    /// This run's history record, when it keeps a history.
    recorded: Option<PathBuf>,
}

/// Evaluates and writes every account in turn, then the organization's files, the saved
/// inventories and the history record. Nothing is visible until the very end.
#[allow(clippy::too_many_arguments)]
fn write_run(
    args: &AuditArgs,
    policy: &Policy,
    tracking: &Tracking,
    begun: Begun<'_>,
    manifest: &mut Manifest,
    store: &mut InventoryStore,
    origin: &str,
    as_of: DateTime<Utc>,
) -> Result<Done, String> {
    let mut saved = match &args.save_inventory {
        Some(dir) => Some(FileSet::new(dir).map_err(|e| e.to_string())?),
        None => None,
    };
    let context = PageContext {
        title: report::org_title(manifest),
        as_of,
        fail_on: args.fail_on.threshold(),
        policy_file: args.config.clone(),
        fail_on_new: tracking.fail_on_new,
        comparison: begun.baseline().map(crate::baseline::ComparisonInfo::of),
    };
    let mut writer = OrgWriter::new(&args.out_dir, &formats(&args.format), context)
        .map_err(|e| e.to_string())?;
    let mut pass = Pass {
        policy,
        as_of,
        origin,
        applier: Applier::new(policy, as_of),
        comparer: begun.baseline().map(Comparer::new),
        record: begun.recording(),
        notices: FindingSet::default(),
        complete: true,
    };
    for record in &mut manifest.accounts {
        pass.account(record, store, saved.as_mut(), &mut writer)?;
    }
    let Finished {
        notices,
        complete,
        record,
    } = pass.finish(manifest);
    if let Some(set) = &mut saved {
        stage_manifest(set, manifest)?;
    }
    let mut tracked = begun.finish(complete, record)?;
    let run = OrgRunInfo {
        manifest,
        findings_notices: &notices,
        as_of,
        fail_on: args.fail_on.threshold(),
        policy_file: args.config.as_deref(),
        saved_inventories: &args.from_inventory,
        fail_on_new: tracking.fail_on_new,
        tracking: Some(&tracked.run),
    };
    let (model, reports) = writer
        .finish(&run, tracking.signer.as_ref())
        .map_err(|e| e.to_string())?;
    let (written, recorded) = commit_run(reports, saved, &mut tracked.pending)?;
    Ok(Done {
        model,
        written,
        recorded,
    })
}

/// The evaluation of an organization run, one account at a time.
struct Pass<'p> {
    policy: &'p Policy,
    as_of: DateTime<Utc>,
    origin: &'p str,
    /// The suppressions, their use counted over every account.
    applier: Applier<'p>,
    /// The comparison with the baseline, when there is one.
    comparer: Option<Comparer<'p>>,
    /// This run's history record, when the run keeps a history.
    record: Option<crate::baseline::record::RecordBuilder>,
    /// What belongs to the run as a whole: the suppressions' notices and every account's
    /// resolved and not-assessed baseline findings.
    notices: FindingSet,
    /// No account unreachable, and every audited account complete.
    complete: bool,
}

/// What the pass leaves once every account was written.
struct Finished {
    notices: FindingSet,
    complete: bool,
    record: Option<crate::baseline::record::RecordBuilder>,
}

impl<'p> Pass<'p> {
    /// Reads one account's inventory back, evaluates it, compares it and writes it.
    fn account(
        &mut self,
        record: &mut AccountRecord,
        store: &mut InventoryStore,
        saved: Option<&mut FileSet>,
        writer: &mut OrgWriter,
    ) -> Result<(), String> {
        let audited = matches!(record.result, Outcome::Audited { .. });
        let inventory = if audited {
            store.take(&record.account.id)?
        } else {
            None
        };
        let Some(mut inventory) = inventory else {
            self.complete &= !matches!(record.result, Outcome::Unreachable(_));
            return writer.add_other(record).map_err(|e| e.to_string());
        };
        inventory
            .check_as_of(self.as_of, self.origin)
            .map_err(|e| e.to_string())?;
        if let Some(set) = saved {
            stage_inventory(set, record, &mut inventory)?;
        }
        let rules = &self.policy.rules;
        super::settle::check_settled(&mut inventory, rules, self.as_of);
        let scope = self.policy.scope.restrict(&mut inventory);
        let raw = crate::rules::evaluate(&inventory, rules, self.as_of);
        let mut set = FindingSet {
            findings: self.applier.apply(raw),
            ..FindingSet::default()
        };
        if let Some(comparer) = &mut self.comparer {
            comparer.mark(&mut set.findings);
            let assessment = Assessment {
                accounts: BTreeMap::from([(
                    Some(record.account.id.clone()),
                    AccountAssessment::Audited {
                        inventory: &inventory,
                        scope: Some(&scope),
                    },
                )]),
                rules,
            };
            comparer.settle(Some(&record.account.id), &assessment, &mut set);
            self.notices.resolved.extend(set.resolved.iter().cloned());
            self.notices
                .not_assessed
                .extend(set.not_assessed.iter().cloned());
        }
        if let Some(r) = &mut self.record {
            r.add(&set);
        }
        self.complete &= inventory.is_complete();
        writer
            .add_audited(record, &inventory, &set, Some(&scope))
            .map_err(|e| e.to_string())
    }

    /// Settles the baseline findings of the accounts no inventory was read for, and the
    /// suppressions' notices.
    fn finish(self, manifest: &Manifest) -> Finished {
        let Pass {
            policy,
            applier,
            comparer,
            mut record,
            mut notices,
            complete,
            ..
        } = self;
        if let Some(mut comparer) = comparer {
            let assessment = Assessment {
                accounts: manifest
                    .accounts
                    .iter()
                    .map(|r| {
                        (
                            Some(r.account.id.clone()),
                            AccountAssessment::NotAssessed(not_assessed_reason(r, &r.result)),
                        )
                    })
                    .collect(),
                rules: &policy.rules,
            };
            let mut rest = FindingSet::default();
            comparer.settle(None, &assessment, &mut rest);
            if let Some(r) = &mut record {
                r.add(&rest);
            }
            notices.resolved.extend(rest.resolved);
            notices.not_assessed.extend(rest.not_assessed);
            notices.resolved.sort_by(past_order);
            notices
                .not_assessed
                .sort_by(|a, b| past_order(&a.finding, &b.finding));
        }
        let (expired, unused) = applier.finish();
        notices.expired_suppressions = expired;
        notices.unused_suppressions = unused;
        Finished {
            notices,
            complete,
            record,
        }
    }
}

/// Why a selected account's baseline findings are not assessed this run.
fn not_assessed_reason(record: &AccountRecord, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Unreachable(p) => format!(
            "account not audited: {} failed with {}",
            p.operation, p.error_code
        ),
        Outcome::NotActive => format!("account not active ({})", record.account.state.as_str()),
        Outcome::Excluded => "account excluded (--exclude-accounts)".to_string(),
        Outcome::OutOfScope => "out of scope".to_string(),
        Outcome::OtherShard => "account in another shard".to_string(),
        Outcome::Audited { .. } => "account not audited".to_string(),
    }
}
