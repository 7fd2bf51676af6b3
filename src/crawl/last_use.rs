//! GetAccessKeyLastUsed: during the crawl, each user's task asks about its own keys (all
//! of them with the full plan; with the economical plan, those the credential report does
//! not place, or whose findings a later use could change); after the crawl,
//! [`confirm_last_use`] asks about the keys whose report value the run's as-of could not
//! settle.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::Utc;

use super::errors::{CallFailure, log_failure};
use super::{Clients, CrawlOptions, Ctx, progress, to_utc};
use crate::inventory::{AccessKey, CoverageGap, Inventory, LastUse, LastUseSource, Removed};

/// What asking about some keys left besides their last use: gaps for failed calls, and the
/// keys deleted meanwhile.
#[derive(Default)]
pub(crate) struct Asked {
    pub gaps: Vec<CoverageGap>,
    pub removed: Vec<Removed>,
}

/// Asks GetAccessKeyLastUsed for the keys of `user` at positions `which`, all at once (the
/// limiter bounds the calls). A key deleted meanwhile leaves `keys` and is recorded as
/// removed; a failed call leaves the last use unknown, with a gap.
pub(crate) async fn ask_last_uses(
    ctx: &Ctx<'_>,
    user: &str,
    keys: &mut Vec<AccessKey>,
    which: &[usize],
) -> Asked {
    let mut out = Asked::default();
    let answers = futures::future::join_all(
        which
            .iter()
            .map(|&i| last_use(ctx, keys[i].id.as_deref().unwrap_or_default())),
    )
    .await;
    let mut gone = Vec::new();
    for (&i, answer) in which.iter().zip(answers) {
        let key = &mut keys[i];
        let id = key.id.clone().unwrap_or_default();
        match answer {
            Ok(last) => {
                key.last_used = last;
                key.last_used_source = LastUseSource::Api;
            }
            Err(CallFailure::Gone) => {
                out.removed.push(Removed {
                    user: user.to_string(),
                    access_key_id: Some(id),
                    operation: "GetAccessKeyLastUsed".into(),
                });
                gone.push(i);
            }
            Err(CallFailure::Failed { code }) => {
                key.last_used = LastUse::Unknown;
                key.last_used_source = LastUseSource::Api;
                out.gaps.push(CoverageGap {
                    user: Some(user.to_string()),
                    access_key_id: Some(id),
                    operation: "GetAccessKeyLastUsed".into(),
                    error_code: code,
                    impact: "the key's last use is unknown; rules that need it were not applied"
                        .into(),
                });
            }
        }
    }
    let mut index = 0;
    keys.retain(|_| {
        index += 1;
        !gone.contains(&(index - 1))
    });
    out
}

async fn last_use(ctx: &Ctx<'_>, key_id: &str) -> Result<LastUse, CallFailure> {
    let _permit = ctx.limiter.acquire("GetAccessKeyLastUsed").await;
    let out = ctx
        .iam
        .get_access_key_last_used()
        .access_key_id(key_id)
        .send()
        .await
        .map_err(|err| log_failure("GetAccessKeyLastUsed", key_id, &err))?;
    Ok(match out.access_key_last_used() {
        Some(used) => match used.last_used_date().and_then(to_utc) {
            Some(date) => LastUse::Used {
                date,
                service: meaningful(used.service_name()),
                region: meaningful(used.region()),
            },
            None => LastUse::Never,
        },
        None => LastUse::Never,
    })
}

/// IAM answers "N/A" for the service and region of a key with no recorded use.
fn meaningful(value: &str) -> Option<String> {
    (!value.is_empty() && !value.eq_ignore_ascii_case("N/A")).then(|| value.to_string())
}

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
    let outcomes: Vec<Asked> = futures::future::join_all(work).await;
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
