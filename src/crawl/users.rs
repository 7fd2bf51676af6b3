//! Users, their tags, their keys and each key's last use.

use futures::stream::{self, StreamExt};

use super::errors::{CallFailure, classify, describe};
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
}

/// A user as the listing gave it: from GetAccountAuthorizationDetails (tags included) or
/// from ListUsers (tags to be asked for with ListUserTags).
pub(crate) struct Listed {
    name: String,
    path: String,
    arn: String,
    user_id: String,
    created: Option<chrono::DateTime<chrono::Utc>>,
    tags: Option<Vec<Tag>>,
}

impl Listed {
    fn from_user(user: aws_sdk_iam::types::User) -> Self {
        Listed {
            created: to_utc(user.create_date()),
            name: user.user_name,
            path: user.path,
            arn: user.arn,
            user_id: user.user_id,
            tags: None,
        }
    }

    /// `None` when the details lack what a user must have (the listing then records a gap).
    fn from_details(user: aws_sdk_iam::types::UserDetail) -> Option<Self> {
        Some(Listed {
            created: user.create_date.as_ref().and_then(to_utc),
            name: user.user_name?,
            path: user.path.unwrap_or_else(|| "/".to_string()),
            arn: user.arn?,
            user_id: user.user_id.unwrap_or_default(),
            tags: Some(
                user.tags
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| Tag {
                        key: t.key,
                        value: t.value,
                    })
                    .collect(),
            ),
        })
    }
}

/// Which call lists the users.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// GetAccountAuthorizationDetails (Filter=User): users and their tags, up to 1,000 a page.
    Details,
    /// ListUsers, then one ListUserTags per user.
    Users,
}

impl Listing {
    fn operation(self) -> &'static str {
        match self {
            Listing::Details => "GetAccountAuthorizationDetails",
            Listing::Users => "ListUsers",
        }
    }
}

struct ListingState {
    listing: Listing,
    marker: Option<String>,
    first: bool,
}

/// One page of users, or the failure that ended the listing.
type Page = Result<Vec<Listed>, (Listing, CallFailure)>;

async fn next_page(ctx: &Ctx<'_>, state: &mut ListingState) -> Page {
    let listing = state.listing;
    let _permit = ctx.limiter.acquire(listing.operation()).await;
    let (users, truncated, marker) = match listing {
        Listing::Details => {
            let out = ctx
                .iam
                .get_account_authorization_details()
                .filter(aws_sdk_iam::types::EntityType::User)
                .max_items(1000)
                .set_marker(state.marker.clone())
                .send()
                .await
                .map_err(|err| {
                    (
                        listing,
                        log_failure(listing.operation(), "the account", &err),
                    )
                })?;
            let mut users = Vec::new();
            for detail in out.user_detail_list.unwrap_or_default() {
                users.push(Listed::from_details(detail).ok_or((
                    listing,
                    CallFailure::Failed {
                        code: "InvalidResponse".into(),
                    },
                ))?);
            }
            (users, out.is_truncated, out.marker)
        }
        Listing::Users => {
            let out = ctx
                .iam
                .list_users()
                .max_items(1000)
                .set_marker(state.marker.clone())
                .send()
                .await
                .map_err(|err| {
                    (
                        listing,
                        log_failure(listing.operation(), "the account", &err),
                    )
                })?;
            let users = out.users.into_iter().map(Listed::from_user).collect();
            (users, out.is_truncated, out.marker)
        }
    };
    state.first = false;
    if truncated {
        if marker.is_none() || marker == state.marker {
            // A truncated page without a new marker would loop forever.
            return Err((
                listing,
                CallFailure::Failed {
                    code: "InvalidResponse".into(),
                },
            ));
        }
        state.marker = marker;
    } else {
        state.marker = None;
    }
    Ok(users)
}

/// Whether a refusal of GetAccountAuthorizationDetails means "use ListUsers instead": the
/// caller may list users but not read authorization details (an older read-only policy).
fn falls_back(failure: &CallFailure) -> bool {
    matches!(
        failure.code(),
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "InvalidAction"
    )
}

/// Lists every user and audits each one as its page arrives, `concurrency` users at a time
/// (the limiter bounds the API calls themselves).
pub(crate) async fn crawl_users(
    ctx: &Ctx<'_>,
    opts: &CrawlOptions,
    report: &SharedReport<'_>,
) -> UsersOutcome {
    let (concurrency, plan) = (opts.concurrency, opts.plan);
    let state = ListingState {
        listing: match plan {
            CallPlan::Economical => Listing::Details,
            CallPlan::Full => Listing::Users,
        },
        marker: None,
        first: true,
    };
    let used = std::cell::Cell::new(state.listing);
    let used = &used;
    let listed = stream::unfold(Some(state), move |state| async move {
        let mut state = state?;
        loop {
            let was_first = state.first;
            match next_page(ctx, &mut state).await {
                Ok(users) => {
                    let more = state.marker.is_some();
                    return Some((Ok(users), more.then_some(state)));
                }
                Err((Listing::Details, failure)) if was_first && falls_back(&failure) => {
                    tracing::warn!(
                        "GetAccountAuthorizationDetails was refused ({}): listing users with ListUsers and each user's tags with ListUserTags instead, one more call per user (allow iam:GetAccountAuthorizationDetails to save them)",
                        failure.code()
                    );
                    state = ListingState {
                        listing: Listing::Users,
                        marker: None,
                        first: true,
                    };
                    used.set(Listing::Users);
                }
                // A failed page ends the listing: the marker for the next page is unknown.
                Err(failed) => return Some((Err(failed), None)),
            }
        }
    });
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
                    super::confirm::unplaced(key)
                        || key.id.as_ref().is_some_and(|id| confirm.contains(id))
                })
                .collect()
        }
    };
    if !ask.is_empty() {
        out.absorb(ask_last_uses(ctx, &name, &mut user.keys, &ask).await);
    }
    out.users.push(user);
    out
}

/// Asks GetAccessKeyLastUsed for the keys of `user` at positions `which`, all at once (the
/// limiter bounds the calls). A key deleted meanwhile leaves `keys` and is recorded as
/// removed; a failed call leaves the last use unknown, with a gap.
pub(crate) async fn ask_last_uses(
    ctx: &Ctx<'_>,
    user: &str,
    keys: &mut Vec<AccessKey>,
    which: &[usize],
) -> UsersOutcome {
    let mut out = UsersOutcome::default();
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
