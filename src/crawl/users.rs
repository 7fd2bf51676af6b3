//! The users of an account, each audited as its page of the listing arrives: its tags
//! (unless the listing gave them), its keys, and the last use of the keys that need asking.

use futures::stream::{self, StreamExt};

use super::errors::{CallFailure, log_failure};
use super::last_use::{Asked, ask_last_uses, unplaced};
use super::listing::{Listed, Listing, pages};
use super::report::SharedReport;
use super::{CallPlan, CrawlOptions, Ctx, LastUseCheck, to_utc};
use crate::inventory::{
    AccessKey, CoverageGap, KeyStatus, LastUse, LastUseSource, Removed, Tag, User, UserRef,
};

/// What the user crawl produced.
#[derive(Default)]
pub(crate) struct UsersOutcome {
    pub users: Vec<User>,
    pub gaps: Vec<CoverageGap>,
    pub removed: Vec<Removed>,
    /// Users the crawl's scope left out by name or path.
    pub not_crawled: Vec<UserRef>,
    /// The operation that listed the users (GetAccountAuthorizationDetails, or ListUsers).
    pub listed_with: &'static str,
}

impl UsersOutcome {
    fn absorb(&mut self, other: UsersOutcome) {
        self.users.extend(other.users);
        self.gaps.extend(other.gaps);
        self.removed.extend(other.removed);
        self.not_crawled.extend(other.not_crawled);
    }

    fn absorb_asked(&mut self, asked: Asked) {
        self.gaps.extend(asked.gaps);
        self.removed.extend(asked.removed);
    }
}

/// Lists every user and audits each one as its page arrives, `concurrency` users at a time
/// (the limiter bounds the API calls themselves).
pub(crate) async fn crawl_users(
    ctx: &Ctx<'_>,
    opts: &CrawlOptions,
    report: &SharedReport<'_>,
) -> UsersOutcome {
    let (concurrency, plan) = (opts.concurrency, opts.plan);
    let used = std::cell::Cell::new(Listing::Details);
    let listed = pages(ctx, plan, &used);
    let mut users_seen = 0usize;
    let work = listed.flat_map(|page| {
        let items: Vec<Result<Listed, CoverageGap>> = match page {
            Ok(users) => {
                users_seen += users.len();
                ctx.progress.users_listed(users.len());
                users.into_iter().map(Ok).collect()
            }
            Err((listing, failure)) => {
                tracing::warn!(
                    "{} failed after {users_seen} users ({})",
                    listing.operation(),
                    failure.code(),
                );
                vec![Err(CoverageGap {
                    user: None,
                    access_key_id: None,
                    operation: listing.operation().into(),
                    error_code: failure.code().to_string(),
                    impact: format!(
                        "the user list stopped after {users_seen} users; users beyond them were not audited"
                    ),
                })]
            }
        };
        stream::iter(items)
    });

    let mut outcome = work
        .map(|item| async move {
            match item {
                Ok(user) if !in_scope(ctx, &user) => {
                    ctx.progress.user_done();
                    UsersOutcome {
                        not_crawled: vec![UserRef {
                            name: user.name,
                            path: user.path,
                        }],
                        ..UsersOutcome::default()
                    }
                }
                Ok(user) => {
                    let outcome = audit_user(ctx, user, plan, report, opts.check.as_ref()).await;
                    ctx.progress.user_done();
                    outcome
                }
                Err(gap) => UsersOutcome {
                    gaps: vec![gap],
                    ..UsersOutcome::default()
                },
            }
        })
        .buffer_unordered(concurrency.max(1))
        .fold(UsersOutcome::default(), |mut all, one| async move {
            all.absorb(one);
            all
        })
        .await;
    outcome.listed_with = used.get().operation();
    outcome
}

/// Whether the crawl's scope keeps this user.
fn in_scope(ctx: &Ctx<'_>, user: &Listed) -> bool {
    ctx.scope
        .is_none_or(|scope| scope.includes(&user.name, &user.path))
}

/// Tags (unless the listing gave them) and keys of one user; with the full plan, the last
/// use of each key too.
async fn audit_user(
    ctx: &Ctx<'_>,
    listed: Listed,
    plan: CallPlan,
    report: &SharedReport<'_>,
    check: Option<&LastUseCheck>,
) -> UsersOutcome {
    let name = listed.name.clone();
    let mut out = UsersOutcome::default();
    let gap = |operation: &str, code: &str, impact: &str| CoverageGap {
        user: Some(name.clone()),
        access_key_id: None,
        operation: operation.to_string(),
        error_code: code.to_string(),
        impact: impact.to_string(),
    };

    let known_tags = listed.tags.clone();
    let (tags, keys) = tokio::join!(
        async {
            match known_tags {
                Some(tags) => Ok(tags),
                None => list_tags(ctx, &name).await,
            }
        },
        list_keys(ctx, &name)
    );

    let tags = match tags {
        Ok(tags) => tags,
        Err(CallFailure::Gone) => return removed_user(name, "ListUserTags"),
        Err(CallFailure::Failed { code }) => {
            out.gaps.push(gap(
                "ListUserTags",
                &code,
                "the user's tags and key descriptions are unknown",
            ));
            Vec::new()
        }
    };
    let key_metadata = match keys {
        Ok(keys) => keys,
        Err(CallFailure::Gone) => return removed_user(name, "ListAccessKeys"),
        Err(CallFailure::Failed { code }) => {
            out.gaps.push(gap(
                "ListAccessKeys",
                &code,
                "the user's access keys were not listed; none of them was audited",
            ));
            Vec::new()
        }
    };

    let mut keys = Vec::with_capacity(key_metadata.len());
    for meta in &key_metadata {
        match key_from_metadata(meta, &name) {
            Ok(mut key) => {
                let id = key.id.as_deref().unwrap_or_default();
                key.description = tags.iter().find(|t| t.key == id).map(|t| t.value.clone());
                keys.push(key);
            }
            Err(bad) => out.gaps.push(bad),
        }
    }
    let mut user = User {
        name: listed.name,
        arn: listed.arn,
        path: listed.path,
        user_id: listed.user_id,
        created: listed.created,
        tags,
        keys,
        login: None,
    };
    let ask: Vec<usize> = match plan {
        CallPlan::Full => (0..user.keys.len()).collect(),
        CallPlan::Economical if user.keys.is_empty() => Vec::new(),
        CallPlan::Economical => {
            // The keys the report places keep its last use, unless the caller's check says
            // a later use could change their findings; the others are asked about.
            if let Ok(placed) = &*report.clone().await {
                let row = placed.index.row(&placed.fetched.report, &user.name);
                crate::credential_report::fill_user(&mut user, row);
            }
            let confirm = check.map(|c| c.keys(&user)).unwrap_or_default();
            (0..user.keys.len())
                .filter(|&i| {
                    let key = &user.keys[i];
                    unplaced(key) || key.id.as_ref().is_some_and(|id| confirm.contains(id))
                })
                .collect()
        }
    };
    if !ask.is_empty() {
        out.absorb_asked(ask_last_uses(ctx, &name, &mut user.keys, &ask).await);
    }
    out.users.push(user);
    out
}

fn removed_user(name: String, operation: &str) -> UsersOutcome {
    tracing::info!("user {name} was deleted while the crawl ran");
    UsersOutcome {
        removed: vec![Removed {
            user: name,
            access_key_id: None,
            operation: operation.to_string(),
        }],
        ..UsersOutcome::default()
    }
}

async fn list_tags(ctx: &Ctx<'_>, user: &str) -> Result<Vec<Tag>, CallFailure> {
    let _permit = ctx.limiter.acquire("ListUserTags").await;
    let tags = ctx
        .iam
        .list_user_tags()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| log_failure("ListUserTags", user, &err))?;
    Ok(tags
        .into_iter()
        .map(|t| Tag {
            key: t.key,
            value: t.value,
        })
        .collect())
}

pub(super) async fn list_keys(
    ctx: &Ctx<'_>,
    user: &str,
) -> Result<Vec<aws_sdk_iam::types::AccessKeyMetadata>, CallFailure> {
    let _permit = ctx.limiter.acquire("ListAccessKeys").await;
    ctx.iam
        .list_access_keys()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| log_failure("ListAccessKeys", user, &err))
}

/// An access key from ListAccessKeys, or a gap when IAM answered something we can't judge.
pub(super) fn key_from_metadata(
    meta: &aws_sdk_iam::types::AccessKeyMetadata,
    user: &str,
) -> Result<AccessKey, CoverageGap> {
    let bad = |key_id: Option<&str>, what: String| CoverageGap {
        user: Some(user.to_string()),
        access_key_id: key_id.map(str::to_string),
        operation: "ListAccessKeys".into(),
        error_code: "UnexpectedResponse".into(),
        impact: what,
    };
    let Some(id) = meta.access_key_id() else {
        return Err(bad(None, "a key was listed without an id".into()));
    };
    let status = match meta.status() {
        Some(aws_sdk_iam::types::StatusType::Active) => KeyStatus::Active,
        Some(aws_sdk_iam::types::StatusType::Inactive) => KeyStatus::Inactive,
        other => {
            return Err(bad(
                Some(id),
                format!(
                    "the key has status {:?}, which keyhygiene does not know how to judge",
                    other.map(|s| s.as_str()).unwrap_or("(none)")
                ),
            ));
        }
    };
    let Some(created) = meta.create_date().and_then(to_utc) else {
        return Err(bad(
            Some(id),
            "the key was listed without a creation date".into(),
        ));
    };
    Ok(AccessKey {
        id: Some(id.to_string()),
        slot: None,
        status,
        created,
        last_used: LastUse::Unknown,
        last_used_source: LastUseSource::Api,
        description: None,
    })
}
