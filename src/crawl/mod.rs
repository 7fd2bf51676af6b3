//! The crawler: the only code that talks to AWS.
//!
//! One crawl runs four things at once: the account id (STS), the credential report
//! (generate, then poll), the account summary (the root-key fallback) and the user crawl.
//! Users stream from ListUsers pages straight into per-user work (tags, keys, then each
//! key's last use), under one bound on in-flight API calls. Every failure becomes either a
//! "removed during the crawl" record (NoSuchEntity) or a coverage gap; nothing is dropped.

mod accounts;
mod answers;
mod client;
mod crosscheck;
mod errors;
mod last_use;
mod limiter;
mod listing;
mod org;
mod preflight;
mod progress;
mod report;
mod stats;
mod timeouts;
mod users;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::FutureExt;

use crate::ident::AccountId;
use crate::inventory::{CoverageGap, Inventory, RootKeys, SourceInfo};

pub use accounts::{
    AccessFailure, AssumeFailure, Caller, MemberRole, REFRESH_BEFORE_EXPIRY, RoleCredentials,
    account_clients, role_identity_cache,
};
pub use answers::{MissingElements, RequiredElements};
pub use client::{AwsOptions, Clients, FALLBACK_REGION, retry_partition, sdk_config};
pub use crosscheck::SINCE_REPORT;
pub use errors::{CallFailure, classify};
pub use last_use::confirm_last_use;
pub use limiter::{Limiter, OperationPace};
pub use org::{ORG_CONCURRENCY, OrgError, list_organization, organizations_client};
pub use preflight::{ConnectError, Connected, PREFLIGHT_LIMIT, connect};
pub use progress::ProgressMode;
pub use report::ReportPolling;
pub use stats::{CallStats, StatsInterceptor, StatsSnapshot, is_throttling_code};
pub use timeouts::{AttemptTimeouts, AttemptTimes};

/// Which calls give each key's last use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CallPlan {
    /// Users and their tags from GetAccountAuthorizationDetails, each key's last use from
    /// the credential report; GetAccessKeyLastUsed only for keys the report cannot place,
    /// and for the keys the caller then asks to confirm ([`confirm_last_use`]).
    #[default]
    Economical,
    /// ListUsers, ListUserTags per user, GetAccessKeyLastUsed per key.
    Full,
}

/// Default bound on in-flight API calls.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Default number of accounts an organization run crawls at once. Each account has its own
/// IAM throttles, so accounts crawled at once do not slow each other: on the benchmark
/// organization (10 accounts, each throttled on its own) 16 finished in 1.25 × the slowest
/// account's floor, 8 in 2.2 × (two waves). See BENCHMARKS.md.
pub const DEFAULT_ACCOUNT_CONCURRENCY: usize = 16;

#[derive(Clone, Debug)]
pub struct CrawlOptions {
    /// At most this many API calls in flight at once.
    pub concurrency: usize,
    /// At most this many API calls started per second, when set.
    pub max_rps: Option<u32>,
    pub report: ReportPolling,
    pub progress: ProgressMode,
    /// Recorded in the inventory's source, when the endpoint was overridden.
    pub endpoint: Option<String>,
    /// The account id, when already known (from [`connect`]): the crawl then
    /// does not ask STS again.
    pub account_id: Option<crate::ident::AccountId>,
    /// Which users to crawl, when the scope is decided by name and path alone: the keys of
    /// the others are never read.
    pub scope: Option<CrawlScope>,
    pub plan: CallPlan,
    /// With the economical plan: which keys of a user, their last use taken from the
    /// credential report, to ask GetAccessKeyLastUsed about during the crawl.
    pub check: Option<LastUseCheck>,
}

/// Picks, from a user whose keys carry the credential report's last use, the ids of the keys
/// whose findings that value could change. The caller knows the rules; the crawl does not.
#[derive(Clone)]
pub struct LastUseCheck(std::sync::Arc<KeyPicker>);

/// `user -> ids of keys to confirm`
type KeyPicker = dyn Fn(&crate::inventory::User) -> Vec<String> + Send + Sync;

impl LastUseCheck {
    pub fn new(
        pick: impl Fn(&crate::inventory::User) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        LastUseCheck(std::sync::Arc::new(pick))
    }

    pub fn keys(&self, user: &crate::inventory::User) -> Vec<String> {
        (self.0)(user)
    }
}

impl std::fmt::Debug for LastUseCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LastUseCheck")
    }
}

/// Decides from a user's name and path (both given by ListUsers) whether to crawl it.
#[derive(Clone)]
pub struct CrawlScope(std::sync::Arc<UserPredicate>);

/// `(name, path) -> crawl it?`
type UserPredicate = dyn Fn(&str, &str) -> bool + Send + Sync;

impl CrawlScope {
    pub fn new(includes: impl Fn(&str, &str) -> bool + Send + Sync + 'static) -> Self {
        CrawlScope(std::sync::Arc::new(includes))
    }

    pub fn includes(&self, name: &str, path: &str) -> bool {
        (self.0)(name, path)
    }
}

impl std::fmt::Debug for CrawlScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CrawlScope")
    }
}

impl Default for CrawlOptions {
    fn default() -> Self {
        CrawlOptions {
            concurrency: DEFAULT_CONCURRENCY,
            max_rps: None,
            report: ReportPolling::default(),
            progress: ProgressMode::Quiet,
            endpoint: None,
            account_id: None,
            scope: None,
            plan: CallPlan::default(),
            check: None,
        }
    }
}

/// Shared by every task of one crawl.
pub(crate) struct Ctx<'a> {
    pub iam: &'a aws_sdk_iam::Client,
    pub scope: Option<&'a CrawlScope>,
    pub limiter: Limiter,
    pub progress: progress::Progress,
}

/// Crawls the account behind `clients` and returns its inventory. Never fails: what could
/// not be collected is recorded as coverage gaps in the inventory.
pub async fn crawl(clients: &Clients, opts: &CrawlOptions) -> Inventory {
    let started = Instant::now();
    let ctx = Ctx {
        iam: &clients.iam,
        scope: opts.scope.as_ref(),
        limiter: Limiter::new(opts.concurrency, opts.max_rps, clients.stats.pace.clone()),
        progress: progress::Progress::new(opts.progress),
    };

    // Users wait for the report (with the economical plan) to take their keys' last use
    // from it; the report is fetched once, while the users are listed.
    let report = async {
        std::sync::Arc::new(report::fetch(&ctx, &opts.report).await.map(|fetched| {
            let index = crate::credential_report::RowIndex::new(&fetched.report);
            report::PlacedReport { fetched, index }
        }))
    }
    .boxed_local()
    .shared();
    let (account, report, summary, users) = tokio::join!(
        async {
            match &opts.account_id {
                Some(id) => Ok(id.clone()),
                None => account_id(clients, &ctx).await,
            }
        },
        report.clone(),
        report::root_from_summary(&ctx),
        users::crawl_users(&ctx, opts, &report),
    );
    ctx.progress.finish();

    let mut inv = Inventory::new(
        SourceInfo::Live {
            endpoint: opts.endpoint.clone(),
        },
        Utc::now(),
    );
    inv.users = users.users;
    inv.gaps = users.gaps;
    inv.removed_during_crawl = users.removed;
    inv.not_crawled = users.not_crawled;
    if let Ok(placed) = &*report {
        let views = crosscheck::Views {
            report: &placed.fetched.report,
            generated_at: placed.fetched.generated_at,
            listed_with: users.listed_with,
        };
        crosscheck::cross_check(&ctx, opts.plan, &mut inv, views).await;
    }

    inv.account_id = match account {
        Ok(id) => Some(id),
        Err(gap) => match account_from_arns(&inv) {
            Some(id) => Some(id),
            None => {
                inv.gaps.push(gap);
                None
            }
        },
    };

    match &*report {
        Ok(placed) => {
            crate::credential_report::merge_into(
                &mut inv,
                &placed.fetched.report,
                Some(placed.fetched.generated_at),
            );
        }
        Err(gap) => inv.gaps.push(gap.clone()),
    }
    if inv.root == RootKeys::Unknown {
        // No root row in the report (or no report): fall back to the account summary.
        match summary {
            Ok(root) => inv.root = root,
            Err(gap) => inv.gaps.push(gap),
        }
    }

    record_stats(&mut inv, clients, started.elapsed().as_millis() as u64);
    inv.normalize();
    inv
}

/// Copies the clients' call counts into the inventory and adds `elapsed_ms` to its wall time.
fn record_stats(inv: &mut Inventory, clients: &Clients, elapsed_ms: u64) {
    let calls = clients.stats.snapshot();
    inv.stats.calls = calls.requests;
    inv.stats.retries = calls.retries;
    inv.stats.throttled = calls.throttled;
    inv.stats.bytes_received = calls.bytes_received;
    inv.stats.attempts_cut = clients.stats.times.cut();
    inv.stats.gaps = inv.gaps.len() as u64;
    inv.stats.wall_ms += elapsed_ms;
}

async fn account_id(clients: &Clients, ctx: &Ctx<'_>) -> Result<AccountId, CoverageGap> {
    let _permit = ctx.limiter.acquire("GetCallerIdentity").await;
    match clients.sts.get_caller_identity().send().await {
        Ok(out) => AccountId::parse(out.account().unwrap_or_default()).map_err(|e| CoverageGap {
            user: None,
            access_key_id: None,
            operation: "GetCallerIdentity".into(),
            error_code: "InvalidResponse".into(),
            impact: format!("the response had no account id: {e}"),
        }),
        Err(err) => {
            let failure = errors::classify(&err);
            tracing::warn!(
                "GetCallerIdentity failed ({}): {}",
                failure.code(),
                errors::describe(&err)
            );
            Err(CoverageGap {
                user: None,
                access_key_id: None,
                operation: "GetCallerIdentity".into(),
                error_code: failure.code().to_string(),
                impact: "the account id is unknown".into(),
            })
        }
    }
}

/// The account id from a user ARN (`arn:aws:iam::123456789012:user/name`), when STS
/// could not be asked.
fn account_from_arns(inv: &Inventory) -> Option<AccountId> {
    inv.users
        .iter()
        .find_map(|u| crate::ident::Arn::iam_user(&u.arn).ok())
        .map(|arn| arn.account)
}

/// Converts an SDK timestamp to chrono.
pub(crate) fn to_utc(dt: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(dt.secs(), dt.subsec_nanos())
}

/// A short pause between polls, doubling up to `max`.
pub(crate) fn next_delay(current: Duration, max: Duration) -> Duration {
    (current * 2).min(max)
}
