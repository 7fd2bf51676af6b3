//! Which accounts an organization run audits, decided before any crawl: the accounts the
//! command line names (checked), the listing's accounts, and what to do with each (audit
//! it, or say why not); and the role assumed in each.

use crate::cli::AuditArgs;
use crate::crawl::MemberRole;
use crate::ident::AccountId;
use crate::org::{
    AccessProblem, Account, AccountRecord, OrgListing, Outcome, Shard, parse_account_ids,
    parse_accounts_file,
};
use crate::policy::Policy;

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
pub(super) fn select(
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
