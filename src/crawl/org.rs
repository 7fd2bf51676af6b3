//! The accounts of an organization, from AWS Organizations: the organization's id and
//! management account (DescribeOrganization), every account with its name and state
//! (ListAccounts), and where each sits in the tree of organizational units (ListRoots, then
//! ListOrganizationalUnitsForParent and ListAccountsForParent from each root down).
//!
//! Organizations accepts few requests per second, so at most [`ORG_CONCURRENCY`] calls are in
//! flight at once. Its throttling answer is `TooManyRequestsException` (HTTP 400), which the
//! SDK's retry classifier and [`super::is_throttling_code`] both treat as throttling.
//!
//! With `--ou`, only the selected subtrees' accounts are listed (ListAccountsForParent under
//! them), and ListAccounts is not called at all: it would page through the whole
//! organization to keep a few of its accounts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_organizations::Client;
use aws_sdk_organizations::config::http::HttpResponse;
use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};
use futures::stream::{self, StreamExt, TryStreamExt};
use tokio::sync::Semaphore;

use super::client::retry_partition;
use super::errors::{classify, describe};
use super::stats::{CallStats, StatsInterceptor};
use crate::ident::AccountId;
use crate::org::{Account, AccountState, OrgListing};

/// At most this many Organizations calls in flight at once.
pub const ORG_CONCURRENCY: usize = 4;

/// Accounts per ListAccounts and ListAccountsForParent page: Organizations' maximum.
const ACCOUNTS_PAGE: i32 = 20;

/// Organizations refuses a tree deeper than five levels of units below the root; a deeper
/// walk means the answers are inconsistent.
const MAX_DEPTH: usize = 16;

/// The permissions an organization listing needs, for the error that says they are missing.
const NEEDED_ACTIONS: &str = "organizations:DescribeOrganization, ListAccounts, ListRoots, ListOrganizationalUnitsForParent and ListAccountsForParent";

/// Why the organization's accounts could not be listed. Each renders as one line that names
/// the operation, what AWS answered and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    #[error(
        "organizations:{operation} answered {code}: {message} (the caller's account is not in an organization: name the accounts to audit with --accounts or --accounts-file)"
    )]
    NotInOrganization {
        operation: String,
        code: String,
        message: String,
    },
    #[error(
        "organizations:{operation} answered {code}: {message} (run from the organization's management account or a delegated administrator allowed {NEEDED_ACTIONS}, or name the accounts to audit with --accounts)"
    )]
    AccessDenied {
        operation: String,
        code: String,
        message: String,
    },
    #[error("organizations:{operation} failed after retries: {code}: {message}")]
    Failed {
        operation: String,
        code: String,
        message: String,
    },
    #[error(
        "organizations:{operation} returned the page token {token:?} a second time: the listing would never end (try again later)"
    )]
    RepeatedToken { operation: String, token: String },
    #[error(
        "the organizational unit tree is deeper than {MAX_DEPTH} levels below {parent}: Organizations' answers are inconsistent (try again later)"
    )]
    TooDeep { parent: String },
    #[error(
        "organizations:{operation} answered {detail}, which is not an account id: the answer is damaged or not from AWS Organizations (check --endpoint-url, or try again later)"
    )]
    InvalidAccountId { operation: String, detail: String },
    #[error(
        "organizations:{operation} answered an account that is not AWS's: {problem} (check --endpoint-url, or try again later)"
    )]
    InvalidAccount { operation: String, problem: String },
    #[error(
        "--ou {}: not in the organization (list the root id with `aws organizations list-roots`, then OU ids with `aws organizations list-organizational-units-for-parent --parent-id ROOT_ID`)", ids.join(", ")
    )]
    UnknownOu { ids: Vec<String> },
}

impl OrgError {
    /// The error for a call that failed after its retries.
    fn from_sdk<E, R>(operation: &str, err: &SdkError<E, R>) -> OrgError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = classify(err).code().to_string();
        let message = describe(err);
        let operation = operation.to_string();
        match code.as_str() {
            "AWSOrganizationsNotInUseException" => OrgError::NotInOrganization {
                operation,
                code,
                message,
            },
            "AccessDeniedException" | "AccessDenied" => OrgError::AccessDenied {
                operation,
                code,
                message,
            },
            _ => OrgError::Failed {
                operation,
                code,
                message,
            },
        }
    }
}

/// An Organizations client that counts its calls into `stats` and retries like the crawl's
/// IAM and STS clients (see [`super::Clients::from_config`]).
pub fn organizations_client(config: &SdkConfig, stats: Arc<CallStats>) -> Client {
    let conf = aws_sdk_organizations::config::Builder::from(config)
        .retry_partition(retry_partition())
        .interceptor(StatsInterceptor(stats.clone()))
        .interceptor(super::timeouts::AttemptTimeouts(stats.times.clone()))
        .build();
    Client::from_conf(conf)
}

/// Lists the organization and its accounts, sorted by id, each with its OU path
/// (`Root/Workloads/Prod`). With `ous` (OU or root ids), only the accounts under those
/// units, nested units included.
pub async fn list_organization(client: &Client, ous: &[String]) -> Result<OrgListing, OrgError> {
    let permits = Semaphore::new(ORG_CONCURRENCY);
    let (organization_id, management_account_id) = describe_organization(client).await?;

    let accounts = if ous.is_empty() {
        let (listed, placed) = tokio::try_join!(
            list_accounts(client, &permits),
            place_accounts(client, &permits, ous)
        )?;
        merge(listed, placed)
    } else {
        place_accounts(client, &permits, ous).await?
    };

    Ok(OrgListing {
        organization_id,
        management_account_id,
        accounts: accounts.into_values().collect(),
    })
}

async fn describe_organization(
    client: &Client,
) -> Result<(Option<String>, Option<AccountId>), OrgError> {
    let out = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| OrgError::from_sdk("DescribeOrganization", &e))?;
    let org = out.organization();
    let management = org
        .and_then(|o| o.master_account_id())
        .map(|id| parse_id("DescribeOrganization", id))
        .transpose()?;
    let id = org.and_then(|o| o.id());
    if let Some(id) = id.filter(|id| !crate::org::is_organization_id(id)) {
        return Err(OrgError::InvalidAccount {
            operation: "DescribeOrganization".into(),
            problem: format!(
                "the organization id `{}` is not one",
                crate::text::shown(id, 40)
            ),
        });
    }
    Ok((id.map(str::to_string), management))
}

/// Every account of the organization, without OU paths.
async fn list_accounts(client: &Client, permits: &Semaphore) -> Result<Vec<Account>, OrgError> {
    let call = |token| {
        let request = client.list_accounts().max_results(ACCOUNTS_PAGE);
        request.set_next_token(token).send()
    };
    every_page("ListAccounts", permits, call, |page| {
        Ok((
            accounts("ListAccounts", page.accounts(), None)?,
            page.next_token,
        ))
    })
    .await
}

/// The listed accounts, with the OU path of those the walk placed; accounts the walk found
/// but ListAccounts did not (created in between) are kept too.
fn merge(
    listed: Vec<Account>,
    mut placed: BTreeMap<AccountId, Account>,
) -> BTreeMap<AccountId, Account> {
    let mut out = BTreeMap::new();
    for mut account in listed {
        if let Some(walked) = placed.remove(&account.id) {
            account.ou_path = walked.ou_path;
        }
        out.insert(account.id.clone(), account);
    }
    out.extend(placed);
    out
}

/// One unit of the tree: a root or an organizational unit.
struct Unit {
    name: String,
    /// `None` for a root.
    parent: Option<String>,
}

/// Walks the tree of units from each root, then lists the accounts directly under every
/// unit selected by `ous` (all of them when `ous` is empty), each with its OU path.
async fn place_accounts(
    client: &Client,
    permits: &Semaphore,
    ous: &[String],
) -> Result<BTreeMap<AccountId, Account>, OrgError> {
    let units = walk_units(client, permits).await?;

    let unknown: Vec<String> = ous
        .iter()
        .filter(|id| !units.contains_key(id.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(OrgError::UnknownOu { ids: unknown });
    }
    let selected: Vec<&String> = units
        .keys()
        .filter(|id| ous.is_empty() || under_any(&units, id, ous))
        .collect();

    let per_parent: Vec<Vec<Account>> = stream::iter(selected)
        .map(|parent| {
            let path = ou_path(&units, parent);
            list_accounts_for_parent(client, permits, parent, path)
        })
        .buffer_unordered(ORG_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(per_parent
        .into_iter()
        .flatten()
        .map(|a| (a.id.clone(), a))
        .collect())
}

/// Every root and organizational unit, by id.
async fn walk_units(
    client: &Client,
    permits: &Semaphore,
) -> Result<HashMap<String, Unit>, OrgError> {
    let mut units = HashMap::new();
    let mut level = Vec::new();
    for (id, name) in list_roots(client, permits).await? {
        level.push(id.clone());
        units.insert(id, Unit { name, parent: None });
    }
    let mut depth = 0;
    while !level.is_empty() {
        depth += 1;
        if depth > MAX_DEPTH {
            return Err(OrgError::TooDeep {
                parent: level[0].clone(),
            });
        }
        let children: Vec<(String, Vec<(String, String)>)> = stream::iter(level)
            .map(|parent| async move {
                let children = list_child_units(client, permits, &parent).await?;
                Ok::<_, OrgError>((parent, children))
            })
            .buffer_unordered(ORG_CONCURRENCY)
            .try_collect()
            .await?;
        level = Vec::new();
        for (parent, kids) in children {
            for (id, name) in kids {
                // A unit seen before (answers changing during the walk) is not walked twice.
                if units.contains_key(&id) {
                    continue;
                }
                level.push(id.clone());
                units.insert(
                    id,
                    Unit {
                        name,
                        parent: Some(parent.clone()),
                    },
                );
            }
        }
    }
    Ok(units)
}

async fn list_roots(
    client: &Client,
    permits: &Semaphore,
) -> Result<Vec<(String, String)>, OrgError> {
    let call = |token| client.list_roots().set_next_token(token).send();
    every_page("ListRoots", permits, call, |page| {
        let roots = page.roots().iter();
        let units = roots.filter_map(|r| unit(r.id(), r.name(), "Root"));
        Ok((units.collect(), page.next_token))
    })
    .await
}

/// The organizational units directly under `parent`: (id, name).
async fn list_child_units(
    client: &Client,
    permits: &Semaphore,
    parent: &str,
) -> Result<Vec<(String, String)>, OrgError> {
    let call = |token| {
        let request = client.list_organizational_units_for_parent();
        request.parent_id(parent).set_next_token(token).send()
    };
    every_page("ListOrganizationalUnitsForParent", permits, call, |page| {
        let found = page.organizational_units().iter();
        let units = found.filter_map(|u| unit(u.id(), u.name(), u.id().unwrap_or_default()));
        Ok((units.collect(), page.next_token))
    })
    .await
}

/// The accounts directly under `parent`, with `path` as their OU path.
async fn list_accounts_for_parent(
    client: &Client,
    permits: &Semaphore,
    parent: &str,
    path: String,
) -> Result<Vec<Account>, OrgError> {
    const OP: &str = "ListAccountsForParent";
    let call = |token| {
        let request = client.list_accounts_for_parent().parent_id(parent);
        request
            .max_results(ACCOUNTS_PAGE)
            .set_next_token(token)
            .send()
    };
    every_page(OP, permits, call, |page| {
        Ok((accounts(OP, page.accounts(), Some(&path))?, page.next_token))
    })
    .await
}

/// A unit of the tree as (id, name): `None` without an id; an unnamed one is `fallback`.
fn unit(id: Option<&str>, name: Option<&str>, fallback: &str) -> Option<(String, String)> {
    Some((id?.to_string(), name.unwrap_or(fallback).to_string()))
}

/// A page's accounts, each checked ([`account`]), with `ou_path`.
fn accounts(
    operation: &str,
    page: &[aws_sdk_organizations::types::Account],
    ou_path: Option<&str>,
) -> Result<Vec<Account>, OrgError> {
    page.iter()
        .map(|a| account(operation, a, ou_path.map(str::to_string)))
        .collect()
}

/// Every item of one listing, page after page: `call` asks for the page after a token (the
/// first with none), each fetched while holding one of the in-flight permits; `take` gives
/// a page's items and its next token. Only a page without a token ends the listing (an
/// empty page with one does not), and a token seen before is an error ([`Tokens`]).
async fn every_page<O, E, T, Fut>(
    operation: &'static str,
    permits: &Semaphore,
    mut call: impl FnMut(Option<String>) -> Fut,
    mut take: impl FnMut(O) -> Result<(Vec<T>, Option<String>), OrgError>,
) -> Result<Vec<T>, OrgError>
where
    Fut: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut tokens = Tokens::new(operation);
    let (mut items, mut token) = (Vec::new(), None);
    loop {
        let page = {
            let _permit = permits.acquire().await.expect("open semaphore");
            call(token).await
        };
        let page = page.map_err(|e| OrgError::from_sdk(operation, &e))?;
        let (found, next) = take(page)?;
        items.extend(found);
        let next = next.filter(|t| !t.is_empty());
        tokens.check(next.as_deref())?;
        match next {
            Some(next) => token = Some(next),
            None => return Ok(items),
        }
    }
}

/// The page tokens of one listing. The SDK's paginator ends a listing quietly when a token
/// comes back twice in a row; a cycle of tokens would never end. Either way the listing
/// would be incomplete without saying so, so a token seen before is an error.
struct Tokens {
    operation: &'static str,
    seen: HashSet<String>,
}

impl Tokens {
    fn new(operation: &'static str) -> Self {
        Tokens {
            operation,
            seen: HashSet::new(),
        }
    }

    fn check(&mut self, next: Option<&str>) -> Result<(), OrgError> {
        match next {
            Some(token) if !token.is_empty() && !self.seen.insert(token.to_string()) => {
                Err(OrgError::RepeatedToken {
                    operation: self.operation.to_string(),
                    token: token.to_string(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// The plain account. An entry without an id, or whose id is not one, is an error: an
/// account is never dropped from the listing unseen.
fn account(
    operation: &str,
    a: &aws_sdk_organizations::types::Account,
    ou_path: Option<String>,
) -> Result<Account, OrgError> {
    let account = Account {
        id: parse_id(operation, a.id().unwrap_or_default())?,
        name: a.name().map(str::to_string),
        state: account_state(
            a.state().map(|s| s.as_str()),
            a.status().map(|s| s.as_str()),
        ),
        ou_path,
    };
    account
        .check()
        .map_err(|problem| OrgError::InvalidAccount {
            operation: operation.to_string(),
            problem,
        })?;
    Ok(account)
}

/// An account id from an Organizations answer.
fn parse_id(operation: &str, text: &str) -> Result<AccountId, OrgError> {
    AccountId::parse(text).map_err(|_| OrgError::InvalidAccountId {
        operation: operation.to_string(),
        detail: format!("`{}`", crate::text::shown(text, 40)),
    })
}

/// `State` when Organizations sends it; the retiring `Status` only when it does not (some
/// Organizations-compatible endpoints send only `Status`).
fn account_state(state: Option<&str>, status: Option<&str>) -> AccountState {
    match state.or(status) {
        Some(text) => AccountState::from(text.to_string()),
        None => AccountState::Other("UNKNOWN".to_string()),
    }
}

/// `Root/Workloads/Prod` for the unit `id`: its root's name, then the units' names down to it.
fn ou_path(units: &HashMap<String, Unit>, id: &str) -> String {
    let mut names = Vec::new();
    let mut at = Some(id);
    while let Some(current) = at {
        let Some(unit) = units.get(current) else {
            break;
        };
        names.push(unit.name.as_str());
        at = unit.parent.as_deref();
    }
    names.reverse();
    names.join("/")
}

/// Whether the unit `id` is one of `ous` or below one of them.
fn under_any(units: &HashMap<String, Unit>, id: &str, ous: &[String]) -> bool {
    let mut at = Some(id);
    while let Some(current) = at {
        if ous.iter().any(|o| o == current) {
            return true;
        }
        at = units.get(current).and_then(|u| u.parent.as_deref());
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> HashMap<String, Unit> {
        let unit = |name: &str, parent: Option<&str>| Unit {
            name: name.to_string(),
            parent: parent.map(str::to_string),
        };
        HashMap::from([
            ("r-1".to_string(), unit("Root", None)),
            ("ou-w".to_string(), unit("Workloads", Some("r-1"))),
            ("ou-p".to_string(), unit("Prod", Some("ou-w"))),
            ("ou-s".to_string(), unit("Sandbox", Some("r-1"))),
        ])
    }

    #[test]
    fn paths_run_from_the_root_name_down() {
        let units = tree();
        assert_eq!(ou_path(&units, "r-1"), "Root");
        assert_eq!(ou_path(&units, "ou-p"), "Root/Workloads/Prod");
        assert_eq!(ou_path(&units, "ou-s"), "Root/Sandbox");
    }

    #[test]
    fn selection_includes_nested_units() {
        let units = tree();
        let ous = ["ou-w".to_string()];
        assert!(under_any(&units, "ou-w", &ous));
        assert!(under_any(&units, "ou-p", &ous));
        assert!(!under_any(&units, "ou-s", &ous));
        assert!(!under_any(&units, "r-1", &ous));
        assert!(under_any(&units, "ou-s", &["r-1".to_string()]));
    }

    #[test]
    fn state_wins_over_status() {
        assert_eq!(
            account_state(Some("SUSPENDED"), Some("ACTIVE")),
            AccountState::Suspended
        );
        assert_eq!(account_state(None, Some("ACTIVE")), AccountState::Active);
        assert_eq!(
            account_state(None, None),
            AccountState::Other("UNKNOWN".into())
        );
        assert_eq!(
            account_state(Some("PENDING_ACTIVATION"), None),
            AccountState::Other("PENDING_ACTIVATION".into())
        );
    }

    #[test]
    fn a_token_seen_before_is_an_error() {
        let mut tokens = Tokens::new("ListAccounts");
        assert!(tokens.check(Some("a")).is_ok());
        assert!(tokens.check(Some("b")).is_ok());
        assert!(tokens.check(None).is_ok());
        assert!(tokens.check(Some("")).is_ok());
        let err = tokens.check(Some("a")).unwrap_err();
        assert!(err.to_string().contains("ListAccounts"), "{err}");
    }

    #[test]
    fn unknown_ous_name_the_ids_and_how_to_find_them() {
        let err = OrgError::UnknownOu {
            ids: vec!["ou-zzzz-nope".into()],
        };
        let text = err.to_string();
        assert!(text.contains("ou-zzzz-nope"), "{text}");
        assert!(
            text.contains(
                "aws organizations list-organizational-units-for-parent --parent-id ROOT_ID"
            ),
            "{text}"
        );
    }
}
