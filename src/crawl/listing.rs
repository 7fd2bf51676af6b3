//! The user listing: GetAccountAuthorizationDetails (users and their tags, up to 1,000 a
//! page), or ListUsers when the caller may not read authorization details, page after page
//! until IAM says the list is whole.

use futures::stream::{self, Stream};

use super::errors::{CallFailure, log_failure};
use super::{CallPlan, Ctx, to_utc};
use crate::inventory::Tag;

/// A user as the listing gave it: from GetAccountAuthorizationDetails (tags included) or
/// from ListUsers (tags to be asked for with ListUserTags).
pub(crate) struct Listed {
    pub name: String,
    pub path: String,
    pub arn: String,
    pub user_id: String,
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    pub tags: Option<Vec<Tag>>,
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
pub(crate) enum Listing {
    /// GetAccountAuthorizationDetails (Filter=User): users and their tags, up to 1,000 a page.
    Details,
    /// ListUsers, then one ListUserTags per user.
    Users,
}

impl Listing {
    pub fn operation(self) -> &'static str {
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
pub(crate) type Page = Result<Vec<Listed>, (Listing, CallFailure)>;

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
                .map_err(|err| page_failure(listing, &err))?;
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
                .map_err(|err| page_failure(listing, &err))?;
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

/// A page that failed after its retries ends the listing.
fn page_failure<E, R>(
    listing: Listing,
    err: &aws_sdk_iam::error::SdkError<E, R>,
) -> (Listing, CallFailure)
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    (
        listing,
        log_failure(listing.operation(), "the account", err),
    )
}

/// Whether a refusal of GetAccountAuthorizationDetails means "use ListUsers instead": the
/// caller may list users but not read authorization details (an older read-only policy).
fn falls_back(failure: &CallFailure) -> bool {
    matches!(
        failure.code(),
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "InvalidAction"
    )
}

/// The pages of users, in order. GetAccountAuthorizationDetails, when the plan asks for it
/// and the caller may read it; else ListUsers. `used` ends as the operation that listed
/// the users. A failed page ends the listing: the marker for the next page is unknown.
pub(crate) fn pages<'a>(
    ctx: &'a Ctx<'a>,
    plan: CallPlan,
    used: &'a std::cell::Cell<Listing>,
) -> impl Stream<Item = Page> + 'a {
    let state = ListingState {
        listing: match plan {
            CallPlan::Economical => Listing::Details,
            CallPlan::Full => Listing::Users,
        },
        marker: None,
        first: true,
    };
    used.set(state.listing);
    stream::unfold(Some(state), move |state| async move {
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
                Err(failed) => return Some((Err(failed), None)),
            }
        }
    })
}
