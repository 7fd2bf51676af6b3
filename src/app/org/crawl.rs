//! Phase one of an organization run that crawls: list and select the accounts, then crawl
//! them concurrently and in isolation. Each finished account's inventory goes to the
//! run's [`InventoryStore`] at once, so the run holds only the accounts in flight.

use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use tracing::Instrument;

use crate::cli::{AuditArgs, Endpoint};
use crate::crawl::{Caller, CrawlOptions, MemberRole, ProgressMode};
use crate::ident::AccountId;
use crate::inventory::Inventory;
use crate::org::{
    AccessProblem, Account, AccountRecord, AccountState, MANIFEST_SCHEMA_VERSION, Manifest,
    OrgListing, Outcome, Selection, Shard, parse_account_ids, parse_accounts_file,
};
use crate::policy::Policy;

use super::super::settle::Settle;
use super::super::{aws_options, crawl_scope, runtime, stats_line};
use super::Collected;
use super::store::InventoryStore;

/// The largest `--accounts-file` read.
const ACCOUNTS_FILE_LIMIT: u64 = 4 * 1024 * 1024;

/// The accounts the command line names, checked: `--accounts`, `--accounts-file`, and
/// `--exclude-accounts`.
pub(super) fn named_accounts(args: &AuditArgs) -> Result<(Vec<AccountId>, Vec<AccountId>), String> {
    let mut named = parse_account_ids("--accounts", &args.accounts)?;
    let mut excluded = parse_account_ids("--exclude-accounts", &args.exclude_accounts)?;
    if let Some(path) = &args.accounts_file {
        let text = crate::fsio::read_limited_text(path, "accounts file", ACCOUNTS_FILE_LIMIT)
            .map_err(|e| e.to_string())?;
        named.extend(parse_accounts_file(&text, &path.display().to_string())?);
        if named.is_empty() {
            return Err(format!(
                "{}: names no account (one 12-digit id per line)",
                path.display()
            ));
        }
    }
    named.sort();
    named.dedup();
    excluded.sort();
    excluded.dedup();
    Ok((named, excluded))
}

/// The selected accounts and what to do with each, before any crawl: those to crawl are
/// [`Outcome::Audited`] (provisionally), the others say why not.
fn select(
    listing: Option<&OrgListing>,
    named: &[AccountId],
    excluded: &[AccountId],
    shard: Option<Shard>,
    policy: &Policy,
) -> Vec<AccountRecord> {
    let mut accounts: Vec<(Account, Option<Outcome>)> = match listing {
        Some(listing) => {
            let mut chosen: Vec<(Account, Option<Outcome>)> = listing
                .accounts
                .iter()
                .filter(|a| named.is_empty() || named.contains(&a.id))
                .map(|a| (a.clone(), None))
                .collect();
            for id in named {
                if !listing.accounts.iter().any(|a| &a.id == id) {
                    chosen.push((
                        Account::named(id),
                        Some(Outcome::Unreachable(AccessProblem {
                            operation: "ListAccounts".into(),
                            error_code: "NotInSelection".into(),
                            message: "named with --accounts, but Organizations did not list it (not a member of the organization, or not under the OUs asked for)".into(),
                            role_arn: None,
                        })),
                    ));
                }
            }
            chosen
        }
        None => named.iter().map(|id| (Account::named(id), None)).collect(),
    };
    accounts.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    accounts
        .into_iter()
        .map(|(account, decided)| {
            let result = decided.unwrap_or_else(|| {
                // Every shard decides exclusion, scope and state alike; only the accounts
                // to audit are divided.
                if excluded.contains(&account.id) {
                    Outcome::Excluded
                } else if !policy.scope.includes_account(&account.id) {
                    Outcome::OutOfScope
                } else if !account.state.is_crawled() {
                    Outcome::NotActive
                } else if shard.is_some_and(|s| !s.owns(&account.id)) {
                    Outcome::OtherShard
                } else {
                    Outcome::Audited { file: None }
                }
            });
            AccountRecord { account, result }
        })
        .collect()
}

/// The role assumed in member accounts, checked before any call: its name and session
/// name by IAM's rules, and the external id (`--external-id`, `--external-id-file`, else
/// `KEYHYGIENE_EXTERNAL_ID`) by STS's, without ever showing it.
pub(super) fn member_role(args: &AuditArgs) -> Result<MemberRole, String> {
    crate::ident::check_role_name(&args.role_name)?;
    crate::ident::check_session_name(&args.role_session_name)?;
    let external_id = if let Some(text) = &args.external_id {
        Some(crate::ident::ExternalId::parse(text, "--external-id")?)
    } else if let Some(path) = &args.external_id_file {
        let text = crate::fsio::read_limited_text(path, "external id file", 4096)
            .map_err(|e| e.to_string())?;
        let first = text.lines().next().unwrap_or_default().trim();
        Some(crate::ident::ExternalId::parse(
            first,
            &path.display().to_string(),
        )?)
    } else {
        match std::env::var("KEYHYGIENE_EXTERNAL_ID") {
            Ok(text) if !text.is_empty() => Some(crate::ident::ExternalId::parse(
                text.trim_end_matches(['\r', '\n']),
                "KEYHYGIENE_EXTERNAL_ID",
            )?),
            _ => None,
        }
    };
    Ok(MemberRole {
        name: args.role_name.clone(),
        external_id,
        session_name: args.role_session_name.clone(),
    })
}

pub(super) fn crawl_organization(
    args: &AuditArgs,
    policy: &Policy,
    endpoint: Option<&Endpoint>,
) -> Result<Collected, String> {
    let (named, excluded) = named_accounts(args)?;
    let role = member_role(args)?;
    let origin = match endpoint {
        Some(endpoint) => format!("the AWS APIs at {endpoint}"),
        None => "the AWS APIs".to_string(),
    };
    let redact = |text: String| endpoint.map_or(text.clone(), |ep| ep.redact(&text));
    runtime()?.block_on(async {
        let connected = crate::crawl::connect(&aws_options(args, endpoint))
            .await
        .map_err(|e| redact(e.to_string()))?;
        let listed_at = Utc::now();
        let listing = if args.org || !args.ous.is_empty() {
            let client = crate::crawl::organizations_client(
                &connected.config,
                connected.clients.stats.clone(),
            );
            let started = Instant::now();
            let listing = crate::crawl::list_organization(&client, &args.ous)
                .await
                .map_err(|e| redact(e.to_string()))?;
            if !args.quiet {
                let active = listing
                    .accounts
                    .iter()
                    .filter(|a| a.state == AccountState::Active)
                    .count();
                eprintln!(
                    "keyhygiene: organization {}: {} accounts listed ({active} active) in {:.1}s",
                    crate::text::for_terminal(
                        listing.organization_id.as_deref().unwrap_or("(unknown id)")
                    ),
                    listing.accounts.len(),
                    started.elapsed().as_secs_f64()
                );
            }
            Some(listing)
        } else {
            None
        };
        let mut records = select(listing.as_ref(), &named, &excluded, args.shard, policy);
        let targets: Vec<usize> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.result, Outcome::Audited { .. }))
            .map(|(i, _)| i)
            .collect();
        let total = targets.len();
        let done = std::cell::Cell::new(0usize);
        // The run's as-of is taken when the last account is done: each account's report
        // values are kept exact for a day after its crawl.
        let settle = Settle {
            rules: &policy.rules,
            fixed: args.as_of,
            horizon: chrono::TimeDelta::hours(super::super::settle::HORIZON_HOURS),
        };
        let opts = CrawlOptions {
            concurrency: args.concurrency,
            max_rps: args.max_rps,
            progress: ProgressMode::Quiet,
            endpoint: endpoint.map(Endpoint::to_string),
            scope: crawl_scope(&policy.scope),
            plan: args.call_plan.plan(),
            check: Some(settle.user_check()),
            ..CrawlOptions::default()
        };
        // Each finished account's inventory goes to the store at once: at most
        // --account-concurrency inventories are in memory.
        let mut store = InventoryStore::new();
        let mut failures: Vec<(usize, AccessProblem)> = Vec::new();
        let mut spill_error: Option<String> = None;
        let mut finished = futures::stream::iter(targets.into_iter().map(|index| {
            let account = records[index].account.clone();
            let (connected, role, opts, origin, settle) =
                (&connected, &role, &opts, &origin, &settle);
            let span = tracing::warn_span!("account", id = %account.id);
            async move {
                let started = Instant::now();
                let result = crawl_account(
                    connected,
                    &account,
                    role,
                    opts,
                    settle,
                    args.account_timeout,
                )
                .await
                .and_then(|inv| {
                    inv.validate(origin).map_err(|e| AccessProblem {
                        operation: "crawl".into(),
                        error_code: "InvalidData".into(),
                        message: e.to_string(),
                        role_arn: None,
                    })?;
                    Ok(inv)
                });
                (index, account, result, started.elapsed())
            }
            .instrument(span)
        }))
        .buffer_unordered(args.account_concurrency);
        while let Some((index, account, result, elapsed)) = finished.next().await {
            done.set(done.get() + 1);
            if !args.quiet {
                eprintln!(
                    "{}",
                    crate::text::for_terminal(&redact(account_line(
                        &account,
                        &result,
                        elapsed,
                        done.get(),
                        total
                    )))
                );
            }
            match result {
                Ok(mut inventory) => {
                    if let Err(e) = store.put(&account.id, &mut inventory) {
                        spill_error.get_or_insert_with(|| {
                            format!("cannot keep account {}'s inventory on disk: {e} (check the space in the temporary directory, TMPDIR)", account.id)
                        });
                    }
                }
                Err(problem) => failures.push((index, problem)),
            }
        }
        drop(finished);
        if let Some(message) = spill_error {
            return Err(message);
        }
        for (index, problem) in failures {
            records[index].result = Outcome::Unreachable(problem);
        }
        Ok(Collected {
            manifest: Manifest {
                schema_version: MANIFEST_SCHEMA_VERSION,
                listed_at,
                organization_id: listing.as_ref().and_then(|l| l.organization_id.clone()),
                management_account_id: listing
                    .as_ref()
                    .and_then(|l| l.management_account_id.clone()),
                caller_account_id: Some(connected.caller.account_id.clone())
                    .filter(|id| !id.is_empty()),
                selection: Selection {
                    org: args.org,
                    ous: args.ous.clone(),
                    accounts: named,
                    exclude_accounts: excluded,
                    role_name: Some(args.role_name.clone()),
                    shard: args.shard,
                },
                accounts: records,
            },
            store,
            origin,
        })
    })
}

/// One account's crawl, bounded by `--account-timeout`.
async fn crawl_account(
    connected: &crate::crawl::Connected,
    account: &Account,
    role: &MemberRole,
    opts: &CrawlOptions,
    settle: &Settle<'_>,
    timeout: std::time::Duration,
) -> Result<Inventory, AccessProblem> {
    let caller: &Caller = &connected.caller;
    let role_arn =
        (account.id != caller.account_id).then(|| caller.role_arn(&account.id, &role.name));
    let work = async {
        let clients = crate::crawl::account_clients(&connected.config, caller, &account.id, role)
            .await
            .map_err(|f| AccessProblem {
                operation: f.operation,
                error_code: f.error_code,
                message: f.message,
                role_arn: Some(f.role_arn),
            })?;
        let opts = CrawlOptions {
            account_id: Some(account.id.clone()),
            ..opts.clone()
        };
        let mut inventory = crate::crawl::crawl(&clients, &opts).await;
        settle.run(&clients, &opts, &mut inventory).await;
        Ok(inventory)
    };
    let inventory = match tokio::time::timeout(timeout, work).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(AccessProblem {
                operation: "crawl".into(),
                error_code: "Timeout".into(),
                message: format!(
                    "the account's crawl ran past --account-timeout ({} s)",
                    timeout.as_secs()
                ),
                role_arn,
            });
        }
    };
    // The users' ARNs must name the account asked for: a role that leads elsewhere would
    // report another account's keys under this one's id.
    if let Some(other) = inventory
        .users
        .iter()
        .filter_map(|u| crate::ident::Arn::iam_user(&u.arn).ok())
        .map(|arn| arn.account)
        .find(|id| *id != account.id)
    {
        return Err(AccessProblem {
            operation: "ListUsers".into(),
            error_code: "WrongAccount".into(),
            message: format!(
                "the credentials for account {} listed users of account {other}",
                account.id
            ),
            role_arn,
        });
    }
    Ok(inventory)
}

/// The progress line of one finished account.
fn account_line(
    account: &Account,
    result: &Result<Inventory, AccessProblem>,
    elapsed: std::time::Duration,
    done: usize,
    total: usize,
) -> String {
    let name = account
        .name
        .as_deref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    match result {
        Ok(inventory) => format!(
            "keyhygiene: [{done}/{total}] account {}{name}: {}",
            account.id,
            stats_line(inventory).trim_start_matches("keyhygiene: ")
        ),
        Err(problem) => format!(
            "keyhygiene: [{done}/{total}] account {}{name}: NOT AUDITED after {:.1}s: {} failed with {}: {}{}",
            account.id,
            elapsed.as_secs_f64(),
            problem.operation,
            problem.error_code,
            problem.message,
            problem
                .role_arn
                .as_deref()
                .map(|arn| format!(" (role {arn})"))
                .unwrap_or_default()
        ),
    }
}
