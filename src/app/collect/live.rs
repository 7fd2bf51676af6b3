//! A live run's collection: connect once, then crawl the caller's own account (a plain
//! run), or list and select an organization's accounts and crawl them concurrently and in
//! isolation, each through its assumed role. Every account is crawled and settled the same
//! way ([`crawl_and_settle`]); each finished account of an organization goes to the run's
//! [`InventoryStore`] at once, so the run holds only the accounts in flight.

use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tracing::Instrument;

use crate::cli::{AuditArgs, Endpoint};
use crate::crawl::{
    AwsOptions, Caller, Clients, Connected, CrawlOptions, CrawlScope, MemberRole, ProgressMode,
};
use crate::inventory::Inventory;
use crate::org::{
    AccessProblem, Account, AccountState, MANIFEST_SCHEMA_VERSION, Manifest, Outcome, Selection,
};
use crate::policy::{Policy, Scope};

use super::super::settle::{Settle, horizon};
use super::select::{member_role, named_accounts, select};
use super::store::InventoryStore;
use super::{Accounts, Collected, DefaultAsOf, stats_line};

/// A plain live run: the caller's own account.
pub(super) fn crawl_caller(
    args: &AuditArgs,
    policy: &Policy,
    endpoint: Option<&Endpoint>,
) -> Result<Collected, String> {
    let origin = match endpoint {
        Some(endpoint) => format!("the IAM API at {endpoint}"),
        None => "the IAM API".to_string(),
    };
    let settle = Settle {
        rules: &policy.rules,
        fixed: args.fixed_as_of(),
        horizon: horizon(outlives(args), 1),
    };
    let (inventory, settled_at) = runtime()?.block_on(async {
        let connected = connect(args, endpoint).await?;
        let opts = CrawlOptions {
            progress: ProgressMode::detect(args.quiet),
            account_id: Some(connected.caller.account_id.clone()).filter(|id| !id.is_empty()),
            ..crawl_options(args, endpoint, policy, &settle)
        };
        Ok::<_, String>(crawl_and_settle(&connected.clients, &opts, &settle).await)
    })?;
    if !args.quiet {
        eprintln!("{}", stats_line(&inventory));
    }
    inventory.validate(&origin).map_err(|e| e.to_string())?;
    Ok(Collected {
        accounts: Accounts::One(Box::new(inventory)),
        origin,
        default_as_of: DefaultAsOf::Settled(settled_at),
    })
}

/// An organization's live run: list and select its accounts, then crawl the selected ones.
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
        let connected = connect(args, endpoint).await?;
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
        let settle = Settle {
            rules: &policy.rules,
            fixed: args.fixed_as_of(),
            horizon: horizon(outlives(args), total),
        };
        let opts = CrawlOptions {
            progress: ProgressMode::Quiet,
            ..crawl_options(args, endpoint, policy, &settle)
        };
        // Each finished account's inventory goes to the store at once: at most
        // --account-concurrency inventories are in memory.
        let mut store = InventoryStore::new();
        let mut failures: Vec<(usize, AccessProblem)> = Vec::new();
        let mut spill_error: Option<String> = None;
        let mut settled_at: Option<DateTime<Utc>> = None;
        let mut done = 0usize;
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
                .and_then(|(inv, settled_at)| {
                    inv.validate(origin).map_err(|e| AccessProblem {
                        operation: "crawl".into(),
                        error_code: "InvalidData".into(),
                        message: e.to_string(),
                        role_arn: None,
                    })?;
                    Ok((inv, settled_at))
                });
                (index, account, result, started.elapsed())
            }
            .instrument(span)
        }))
        .buffer_unordered(args.account_concurrency);
        while let Some((index, account, result, elapsed)) = finished.next().await {
            done += 1;
            if !args.quiet {
                let line = account_line(&account, &result, elapsed, done, total);
                eprintln!("{}", crate::text::for_terminal(&redact(line)));
            }
            match result {
                Ok((mut inventory, at)) => {
                    settled_at = settled_at.max(Some(at));
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
        let manifest = Manifest {
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
        };
        let default_as_of = settled_at.map_or(DefaultAsOf::Now, DefaultAsOf::Settled);
        Ok(Collected::organization(
            manifest,
            store,
            origin,
            default_as_of,
        ))
    })
}

/// Whether the inventories are judged later than the instant they settle: saved for later
/// runs, or judged as of the moment the run ends (`--as-of now`).
fn outlives(args: &AuditArgs) -> bool {
    args.save_inventory.is_some() || args.as_of == Some(crate::cli::AsOf::Now)
}

/// One crawl: the inventory, its report-sourced last uses settled, and the instant they
/// were settled at.
async fn crawl_and_settle(
    clients: &Clients,
    opts: &CrawlOptions,
    settle: &Settle<'_>,
) -> (Inventory, DateTime<Utc>) {
    let mut inventory = crate::crawl::crawl(clients, opts).await;
    let settled_at = settle.run(clients, opts, &mut inventory).await;
    (inventory, settled_at)
}

/// What every account's crawl shares: the pace, the endpoint, the scope, the call plan
/// and the settling check.
fn crawl_options(
    args: &AuditArgs,
    endpoint: Option<&Endpoint>,
    policy: &Policy,
    settle: &Settle<'_>,
) -> CrawlOptions {
    CrawlOptions {
        concurrency: args.concurrency,
        max_rps: args.max_rps,
        endpoint: endpoint.map(Endpoint::to_string),
        scope: crawl_scope(&policy.scope),
        plan: args.call_plan.plan(),
        check: Some(settle.user_check()),
        ..CrawlOptions::default()
    }
}

/// One member account's crawl, through its assumed role, bounded by `--account-timeout`.
async fn crawl_account(
    connected: &Connected,
    account: &Account,
    role: &MemberRole,
    opts: &CrawlOptions,
    settle: &Settle<'_>,
    timeout: std::time::Duration,
) -> Result<(Inventory, DateTime<Utc>), AccessProblem> {
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
        Ok(crawl_and_settle(&clients, &opts, settle).await)
    };
    let (inventory, settled_at) = match tokio::time::timeout(timeout, work).await {
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
    Ok((inventory, settled_at))
}

/// The progress line of one finished account.
fn account_line(
    account: &Account,
    result: &Result<(Inventory, DateTime<Utc>), AccessProblem>,
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
        Ok((inventory, _)) => format!(
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

/// Connects with the command line's profile, region and endpoint; the endpoint's
/// user:password never appears in a message.
async fn connect(args: &AuditArgs, endpoint: Option<&Endpoint>) -> Result<Connected, String> {
    let options = AwsOptions {
        profile: args.profile.clone(),
        region: args.region.clone(),
        endpoint_url: endpoint.map(|e| e.url().to_string()),
        ..AwsOptions::default()
    };
    crate::crawl::connect(&options)
        .await
        .map_err(|e| endpoint.map_or(e.to_string(), |ep| ep.redact(&e.to_string())))
}

/// When names and paths decide the scope, excluded users are not crawled.
fn crawl_scope(scope: &Scope) -> Option<CrawlScope> {
    (!scope.is_everyone() && scope.decided_by_name_and_path()).then(|| {
        let scope = scope.clone();
        CrawlScope::new(move |name, path| scope.may_include(name, path))
    })
}

/// The runtime a crawl runs on: one thread, since the crawl waits on the network.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
