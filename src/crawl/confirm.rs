//! GetAccessKeyLastUsed for chosen keys, after the crawl: the keys whose findings the
//! credential report's value could change by the time the run takes its as-of (asked for by
//! the caller, which knows the rules). During the crawl each user's task asks about its own
//! keys (`users::audit_user`).

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::Utc;

use super::users::{UsersOutcome, ask_last_uses};
use super::{Clients, CrawlOptions, Ctx, progress};
use crate::inventory::{AccessKey, Inventory, LastUse, LastUseSource};

/// Asks GetAccessKeyLastUsed for every key `wanted` picks, all users at once.
pub(crate) async fn ask_for(
    ctx: &Ctx<'_>,
    inv: &mut Inventory,
    wanted: impl Fn(&AccessKey) -> bool,
) -> usize {
    let mut asked = 0;
    let work: Vec<_> = inv
        .users
        .iter_mut()
        .filter_map(|user| {
            let which: Vec<usize> = (0..user.keys.len())
                .filter(|&i| user.keys[i].id.is_some() && wanted(&user.keys[i]))
                .collect();
            asked += which.len();
            (!which.is_empty()).then_some(async move {
                ask_last_uses(ctx, &user.name, &mut user.keys, &which).await
            })
        })
        .collect();
    let outcomes: Vec<UsersOutcome> = futures::future::join_all(work).await;
    for outcome in outcomes {
        inv.gaps.extend(outcome.gaps);
        inv.removed_during_crawl.extend(outcome.removed);
    }
    asked
}

/// Keys the credential report did not place, right after it placed the others: their last
/// use is still unknown and no call has been made for them yet.
pub(crate) fn unplaced(key: &AccessKey) -> bool {
    key.last_used == LastUse::Unknown && key.last_used_source == LastUseSource::Api
}

/// Replaces the credential report's last use of the keys in `key_ids` with
/// GetAccessKeyLastUsed's, and updates the inventory's statistics and collection time.
/// Never fails: a call that fails leaves a coverage gap, as in the crawl. Returns how many
/// keys were asked for.
pub async fn confirm_last_use(
    clients: &Clients,
    opts: &CrawlOptions,
    inv: &mut Inventory,
    key_ids: &BTreeSet<String>,
) -> usize {
    let started = Instant::now();
    let ctx = Ctx {
        iam: &clients.iam,
        scope: None,
        limiter: super::Limiter::new(opts.concurrency, opts.max_rps, clients.stats.pace.clone()),
        progress: progress::Progress::new(super::ProgressMode::Quiet),
    };
    let asked = ask_for(&ctx, inv, |key| {
        key.last_used_source == LastUseSource::CredentialReport
            && key.id.as_ref().is_some_and(|id| key_ids.contains(id))
    })
    .await;
    if asked > 0 {
        inv.collected_at = Utc::now();
        super::record_stats(inv, clients, started.elapsed().as_millis() as u64);
        inv.normalize();
    }
    asked
}
