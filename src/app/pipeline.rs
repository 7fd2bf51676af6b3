//! The one pipeline of an audit. Whatever the source and the layout, every account of the
//! run goes through the same steps, one account at a time:
//!
//!   settle → scope → rules → policy → compare with the baseline → figures → writer
//!
//! then the run's notices, its one aggregate of figures ([`Totals`]), the history record,
//! the commit of every file, the summary and the exit code. A plain run is a run of one
//! account; the two layouts differ only in their writer ([`crate::report::writer`]) and in
//! what they save ([`Saving`]).
//!
//! The run's parameters are decided once, here:
//! - **as-of**: `--as-of` (an instant, or `now`), else an instant at which every value
//!   judged is exact: the instant a live crawl settled its last-use values (the last
//!   account's), the latest instant at which all the saved inventories read are exact
//!   ([`super::collect::Exact`]), or now for a credential report;
//! - **an account out of the policy's scope**: in the organization layout it is a report
//!   row ("out of scope", not assessed); in a plain run it is an input error (exit 2),
//!   since a run whose only account is out of scope would report nothing and pass;
//! - **the settle horizon** of a live crawl: [`super::settle::horizon`].
//!
//! Memory is bounded by the accounts in flight, not by the organization's size: a crawled
//! account's inventory waits on disk ([`super::collect::InventoryStore`]) and each account
//! is read back, judged and written before the next one is read. What stays in memory is
//! one row per account, the run's totals, and, with a baseline or a history, the findings'
//! short records.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::baseline::record::RecordBuilder;
use crate::baseline::{AccountAssessment, Assessment, Audited, Comparer, RunIdentity, past_order};
use crate::cli::{AsOf, AuditArgs};
use crate::findings::{Figures, FindingSet, IdSource, Totals};
use crate::ident::AccountId;
use crate::inventory::Inventory;
use crate::org::{AccountRecord, Manifest, Outcome};
use crate::policy::{Applier, Policy};
use crate::report::{JudgedAccount, Layout, RunContext, RunEnd, Writer, summary};

use super::collect::{Accounts, Collected};
use super::memory::{Begun, Memory};
use super::saving::Saving;
use super::{commit_run, exit_code, formats, terminal_path};

/// What the policy's scope does to an account it leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OutOfScope {
    /// An input error: the run's only account would be audited for nothing.
    Refuse,
    /// A row of the report: the account is not assessed.
    Record,
}

impl OutOfScope {
    pub fn of(layout: Layout) -> OutOfScope {
        match layout {
            Layout::Account => OutOfScope::Refuse,
            Layout::Organization => OutOfScope::Record,
        }
    }
}

/// Runs the pipeline over the collected accounts: the exit code, or the one-line error
/// that stopped the run (nothing written then).
pub(super) fn run(
    args: &AuditArgs,
    policy: &Policy,
    memory: &Memory,
    layout: Layout,
    collected: Collected,
) -> Result<u8, String> {
    let Collected {
        mut accounts,
        origin,
        default_as_of,
    } = collected;
    let as_of = match args.as_of {
        Some(AsOf::At(at)) => at,
        Some(AsOf::Now) => Utc::now(),
        None => default_as_of.instant()?,
    };
    leave_out_of_scope(&mut accounts, policy, OutOfScope::of(layout))?;
    let (identity, selected) = identity(&accounts);
    let begun = memory.begin(&identity, &selected, as_of)?;
    let context = RunContext {
        title: match &accounts {
            Accounts::Organization { manifest, .. } => crate::report::org_title(manifest),
            Accounts::One(_) => String::new(),
        },
        as_of,
        fail_on: args.fail_on.threshold(),
        fail_on_new: memory.fail_on_new,
        policy_file: args.config.clone(),
        saved_inventories: args.from_inventory.clone(),
        comparison: begun.baseline().map(crate::baseline::ComparisonInfo::of),
        owners: policy.owners.clone(),
        split_by_owner: args.split_by_owner,
    };
    let writer =
        crate::report::writer::writer(layout, &args.out_dir, &formats(&args.format), context)
            .map_err(|e| e.to_string())?;
    let mut pass = Pass {
        policy,
        as_of,
        origin: &origin,
        applier: Applier::new(policy, as_of),
        comparer: begun.baseline().map(Comparer::new),
        record: begun.recording(),
        notices: FindingSet::default(),
        totals: Totals::new(),
        saving: Saving::new(args.save_inventory.as_deref(), layout)?,
        writer,
    };
    let manifest = match accounts {
        Accounts::One(inventory) => {
            pass.audited(None, *inventory)?;
            None
        }
        Accounts::Organization {
            mut manifest,
            mut store,
        } => {
            for record in &mut manifest.accounts {
                let inventory = match record.result {
                    Outcome::Audited { .. } => store.take(&record.account.id)?,
                    _ => None,
                };
                match inventory {
                    Some(inventory) => pass.audited(Some(record), inventory)?,
                    None => pass.other(record)?,
                }
            }
            Some(*manifest)
        }
    };
    let settled = pass.settle(manifest.as_ref());
    end(
        args,
        memory,
        begun,
        layout,
        identity.id_source,
        manifest.as_ref(),
        settled,
    )
}

/// Leaves out the audited accounts the policy's scope excludes, as `out_of_scope` says.
fn leave_out_of_scope(
    accounts: &mut Accounts,
    policy: &Policy,
    out_of_scope: OutOfScope,
) -> Result<(), String> {
    let scope = &policy.scope;
    match accounts {
        // A plain run has no row to record its account in: refused either way.
        Accounts::One(inventory) => match &inventory.account_id {
            Some(id) if !scope.includes_account(id) => Err(format!(
                "account {id} is out of the policy's scope ({}): nothing to audit (change the scope's accounts lists, or audit another account)",
                scope.accounts_description().unwrap_or_default()
            )),
            _ => Ok(()),
        },
        Accounts::Organization { manifest, store } => {
            // Also offline: a saved run may have been judged with another scope.
            for record in &mut manifest.accounts {
                if matches!(record.result, Outcome::Audited { .. })
                    && !scope.includes_account(&record.account.id)
                {
                    match out_of_scope {
                        OutOfScope::Record => {
                            record.result = Outcome::OutOfScope;
                            store.remove(&record.account.id);
                        }
                        OutOfScope::Refuse => {
                            return Err(format!(
                                "account {} is out of the policy's scope",
                                record.account.id
                            ));
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

/// What the run is, for its baseline and its history: the account or organization
/// audited, what the finding ids come from, the shard; and the selected accounts.
fn identity(accounts: &Accounts) -> (RunIdentity, Vec<AccountId>) {
    match accounts {
        Accounts::One(inventory) => (
            RunIdentity {
                audited: Audited::Account(inventory.account_id.clone()),
                id_source: IdSource::of(inventory),
                slice: None,
            },
            Vec::new(),
        ),
        Accounts::Organization { manifest, store } => (
            RunIdentity {
                audited: Audited::Organization(manifest.organization_id.clone()),
                id_source: store.id_source(),
                slice: manifest
                    .selection
                    .shard
                    .map(|s| format!("shard-{}-of-{}", s.index, s.count)),
            },
            manifest
                .accounts
                .iter()
                .map(|r| r.account.id.clone())
                .collect(),
        ),
    }
}

/// The run, one account at a time.
struct Pass<'p> {
    policy: &'p Policy,
    as_of: DateTime<Utc>,
    origin: &'p str,
    /// The suppressions, their use counted over every account.
    applier: Applier<'p>,
    /// The comparison with the baseline, when there is one.
    comparer: Option<Comparer<'p>>,
    /// This run's history record, when the run keeps a history.
    record: Option<RecordBuilder>,
    /// What belongs to the run as a whole: every account's resolved and not-assessed
    /// baseline findings, then the suppressions' notices.
    notices: FindingSet,
    /// The run's one aggregate of figures.
    totals: Totals,
    saving: Option<Saving>,
    writer: Box<dyn Writer>,
}

impl Pass<'_> {
    /// One audited account: checked, saved as collected, settled, scoped, judged,
    /// compared, counted and written.
    fn audited(
        &mut self,
        mut record: Option<&mut AccountRecord>,
        mut inventory: Inventory,
    ) -> Result<(), String> {
        inventory
            .check_as_of(self.as_of, self.origin)
            .map_err(|e| e.to_string())?;
        if let Some(saving) = &mut self.saving {
            saving.stage(record.as_deref_mut(), &mut inventory)?;
        }
        let rules = &self.policy.rules;
        // Judged at an as-of its crawl did not settle, a report value that could change
        // a finding becomes a gap (after the inventory was saved as collected).
        super::settle::check_settled(&mut inventory, rules, self.as_of);
        // The scope is decided once: users out of scope leave the inventory before the
        // rules.
        let scope = self.policy.scope.restrict(&mut inventory);
        let raw = crate::rules::evaluate(&inventory, rules, self.as_of);
        let mut findings = FindingSet {
            findings: self.applier.apply(raw),
            ..FindingSet::default()
        };
        if let Some(comparer) = &mut self.comparer {
            comparer.mark(&mut findings.findings);
            let assessment = Assessment {
                accounts: BTreeMap::from([(
                    inventory.account_id.clone(),
                    AccountAssessment::Audited {
                        inventory: &inventory,
                        scope: Some(&scope),
                    },
                )]),
                rules,
            };
            comparer.settle_account(inventory.account_id.as_ref(), &assessment, &mut findings);
            self.notices
                .resolved
                .extend(findings.resolved.iter().cloned());
            self.notices
                .not_assessed
                .extend(findings.not_assessed.iter().cloned());
        }
        if let Some(r) = &mut self.record {
            r.add(&findings);
        }
        let figures = Figures::of(&inventory, &findings);
        self.totals.add_audited(&figures, &inventory.stats);
        self.writer
            .audited(JudgedAccount {
                record: record.as_deref(),
                inventory,
                findings,
                scope,
                figures,
            })
            .map_err(|e| e.to_string())
    }

    /// A selected account that was not audited: a gap of the run, or left out on purpose.
    fn other(&mut self, record: &AccountRecord) -> Result<(), String> {
        match record.result {
            Outcome::Unreachable(_) => self.totals.add_unreachable(),
            _ => self.totals.add_not_assessed(),
        }
        self.writer.other(record).map_err(|e| e.to_string())
    }

    /// The baseline findings no account settled, and the suppressions' notices.
    fn settle(self, manifest: Option<&Manifest>) -> Settled {
        let Pass {
            policy,
            applier,
            comparer,
            mut record,
            mut notices,
            totals,
            saving,
            writer,
            ..
        } = self;
        if let Some(comparer) = comparer {
            let assessment = Assessment {
                accounts: manifest
                    .iter()
                    .flat_map(|m| &m.accounts)
                    .map(|r| {
                        (
                            Some(r.account.id.clone()),
                            AccountAssessment::NotAssessed(not_assessed_reason(r)),
                        )
                    })
                    .collect(),
                rules: &policy.rules,
            };
            let mut rest = FindingSet::default();
            comparer.settle_rest(&assessment, &mut rest);
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
        Settled {
            notices,
            record,
            totals,
            saving,
            writer,
        }
    }
}

/// What the pass leaves once every account was written.
struct Settled {
    notices: FindingSet,
    record: Option<RecordBuilder>,
    totals: Totals,
    saving: Option<Saving>,
    writer: Box<dyn Writer>,
}

/// The run's end: the history record, every file staged and committed together, the
/// summary, and the exit code, all from the run's totals.
fn end(
    args: &AuditArgs,
    memory: &Memory,
    begun: Begun<'_>,
    layout: Layout,
    id_source: IdSource,
    manifest: Option<&Manifest>,
    settled: Settled,
) -> Result<u8, String> {
    let Settled {
        notices,
        record,
        totals,
        saving,
        writer,
    } = settled;
    let saved = saving.map(|s| s.finish(manifest)).transpose()?;
    let complete = totals.complete();
    let mut compared = begun.finish(complete, record)?;
    let finished = writer
        .finish(RunEnd {
            totals: &totals,
            notices,
            manifest,
            tracking: &compared.run,
            id_source,
            signer: memory.signer.as_ref(),
        })
        .map_err(|e| e.to_string())?;
    let fail_on = args.fail_on.threshold();
    let fails_threshold = totals.reach(fail_on, memory.fail_on_new);
    let owner_folders = finished
        .by_owner
        .iter()
        .filter(|s| s.names().next().is_some())
        .count();
    let (written, recorded) = commit_run(
        finished.set,
        finished.by_owner,
        saved,
        &mut compared.pending,
    )?;
    if let Some(path) = &args.summary_to {
        use std::io::Write as _;
        crate::fsio::open_append(path)
            .and_then(|mut f| f.write_all(&finished.markdown))
            .map_err(|e| super::outputs::summary_error(path, &e))?;
    }
    if !args.quiet {
        print!(
            "{}{}",
            finished.summary,
            summary::closing(fail_on, fails_threshold, &written)
        );
        if args.split_by_owner {
            println!(
                "by owner: {owner_folders} folder(s) under {}",
                terminal_path(&args.out_dir.join(crate::report::by_owner::BY_OWNER))
            );
        }
        if let Some(path) = &args.save_inventory {
            println!("{}", Saving::saved_line(path, layout));
        }
        if let Some(path) = recorded {
            println!("history: recorded {}", terminal_path(&path));
        }
    }
    // The exit code reads the figures the reports show.
    let code = exit_code(complete, fails_threshold);
    if !complete {
        eprintln!(
            "{}",
            summary::incomplete(&totals, layout == Layout::Organization)
        );
    }
    Ok(code)
}

/// Why a selected account's baseline findings are not assessed this run.
fn not_assessed_reason(record: &AccountRecord) -> String {
    match &record.result {
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
