//! Users, their tags, their keys and each key's last use.

use futures::stream::{self, StreamExt};

use super::errors::{CallFailure, classify, describe};
use super::{Ctx, to_utc};
use crate::inventory::{AccessKey, CoverageGap, KeyStatus, LastUse, Removed, Tag, User, UserRef};

/// What the user crawl produced.
#[derive(Default)]
pub(crate) struct UsersOutcome {
    pub users: Vec<User>,
    pub gaps: Vec<CoverageGap>,
    pub removed: Vec<Removed>,
    /// Users the crawl's scope left out by name or path.
    pub not_crawled: Vec<UserRef>,
}

impl UsersOutcome {
    fn absorb(&mut self, other: UsersOutcome) {
        self.users.extend(other.users);
        self.gaps.extend(other.gaps);
        self.removed.extend(other.removed);
        self.not_crawled.extend(other.not_crawled);
    }
}

/// Lists every user and audits each one as its page arrives, `concurrency` users at a time
/// (the limiter bounds the API calls themselves).
pub(crate) async fn crawl_users(ctx: &Ctx<'_>, concurrency: usize) -> UsersOutcome {
    // IAM serves at most 1,000 users a page; fewer, larger pages mean fewer sequential calls.
    let pages = ctx.iam.list_users().into_paginator().page_size(1000).send();
    let listed = stream::unfold(Some(pages), |pages| async move {
        let mut pages = pages?;
        // Each page is one API call: it counts against the in-flight bound like any other.
        let page = {
            let _permit = ctx.limiter.acquire("ListUsers").await;
            pages.next().await?
        };
        match page {
            Ok(page) => Some((Ok(page.users), Some(pages))),
            // A failed page ends the listing: the marker for the next page is unknown.
            Err(err) => Some((Err(err), None)),
        }
    });
    let mut users_seen = 0usize;
    let work = listed.flat_map(|page| {
        let items: Vec<Result<aws_sdk_iam::types::User, CoverageGap>> = match page {
            Ok(users) => {
                users_seen += users.len();
                ctx.progress.users_listed(users.len());
                users.into_iter().map(Ok).collect()
            }
            Err(err) => {
                let failure = classify(&err);
                tracing::warn!(
                    "ListUsers failed after {users_seen} users ({}): {}",
                    failure.code(),
                    describe(&err)
                );
                vec![Err(CoverageGap {
                    user: None,
                    access_key_id: None,
                    operation: "ListUsers".into(),
                    error_code: failure.code().to_string(),
                    impact: format!(
                        "the user list stopped after {users_seen} users; users beyond them were not audited"
                    ),
                })]
            }
        };
        stream::iter(items)
    });

    work.map(|item| async move {
        match item {
            Ok(user) if !in_scope(ctx, &user) => {
                ctx.progress.user_done();
                UsersOutcome {
                    not_crawled: vec![UserRef {
                        name: user.user_name().to_string(),
                        path: user.path().to_string(),
                    }],
                    ..UsersOutcome::default()
                }
            }
            Ok(user) => {
                let outcome = audit_user(ctx, user).await;
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
    .await
}

/// Whether the crawl's scope keeps this user.
fn in_scope(ctx: &Ctx<'_>, user: &aws_sdk_iam::types::User) -> bool {
    ctx.scope
        .is_none_or(|scope| scope.includes(user.user_name(), user.path()))
}

/// Tags and keys of one user, then the last use of each key.
async fn audit_user(ctx: &Ctx<'_>, sdk_user: aws_sdk_iam::types::User) -> UsersOutcome {
    let name = sdk_user.user_name().to_string();
    let mut out = UsersOutcome::default();
    let gap = |operation: &str, code: &str, impact: &str| CoverageGap {
        user: Some(name.clone()),
        access_key_id: None,
        operation: operation.to_string(),
        error_code: code.to_string(),
        impact: impact.to_string(),
    };

    let (tags, keys) = tokio::join!(list_tags(ctx, &name), list_keys(ctx, &name));

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
            Ok(key) => keys.push(key),
            Err(bad) => out.gaps.push(bad),
        }
    }

    let last_uses = futures::future::join_all(
        keys.iter()
            .map(|k| last_use(ctx, k.id.as_deref().unwrap_or_default())),
    )
    .await;
    let mut kept = Vec::with_capacity(keys.len());
    for (mut key, result) in keys.into_iter().zip(last_uses) {
        let id = key.id.clone().unwrap_or_default();
        match result {
            Ok(last) => key.last_used = last,
            Err(CallFailure::Gone) => {
                out.removed.push(Removed {
                    user: name.clone(),
                    access_key_id: Some(id),
                    operation: "GetAccessKeyLastUsed".into(),
                });
                continue;
            }
            Err(CallFailure::Failed { code }) => {
                key.last_used = LastUse::Unknown;
                out.gaps.push(CoverageGap {
                    access_key_id: Some(id.clone()),
                    ..gap(
                        "GetAccessKeyLastUsed",
                        &code,
                        "the key's last use is unknown; rules that need it were not applied",
                    )
                });
            }
        }
        key.description = tags.iter().find(|t| t.key == id).map(|t| t.value.clone());
        kept.push(key);
    }

    out.users.push(User {
        name: name.clone(),
        arn: sdk_user.arn().to_string(),
        path: sdk_user.path().to_string(),
        user_id: sdk_user.user_id().to_string(),
        created: to_utc(sdk_user.create_date()),
        tags,
        keys: kept,
        login: None,
    });
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

async fn list_keys(
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

fn log_failure<E, R>(
    operation: &str,
    subject: &str,
    err: &aws_sdk_iam::error::SdkError<E, R>,
) -> CallFailure
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let failure = classify(err);
    if failure != CallFailure::Gone {
        tracing::warn!(
            "{operation} for {subject} failed ({}): {}",
            failure.code(),
            describe(err)
        );
    }
    failure
}

/// An access key from ListAccessKeys, or a gap when IAM answered something we can't judge.
fn key_from_metadata(
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
        description: None,
    })
}
