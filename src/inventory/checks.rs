//! What an inventory must hold to be judged: every unknown explained by a coverage gap, no
//! record twice, no impossible date.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use super::{
    CLOCK_SKEW_MINUTES, CoverageGap, EARLIEST_PLAUSIBLE_YEAR, Inventory, LastUse, ROOT_USER_NAME,
    RootKeys, SourceInfo,
};

/// The operations whose account-level gap explains an unknown root user: the account
/// summary (the live fallback) and the credential report's missing root row.
const ROOT_GAP_OPERATIONS: [&str; 2] = ["GetAccountSummary", "CredentialReport"];

/// The error code of a gap that the records imply but no failure explains.
const NOT_RECORDED: &str = "NotRecorded";

impl Inventory {
    /// Adds a coverage gap for every fact the records leave unknown that no recorded gap
    /// explains: the root user's keys, a key's last use. Coverage is derived from the records
    /// themselves, so a source that states unknowns (a credential report without a
    /// `<root_account>` row, a hand-edited inventory whose gap list was emptied) can never
    /// pass as complete.
    pub(super) fn reconcile_gaps(&mut self) {
        let root_explained = self
            .gaps
            .iter()
            .any(|g| g.user.is_none() && ROOT_GAP_OPERATIONS.contains(&g.operation.as_str()));
        if self.root == RootKeys::Unknown && !root_explained {
            let gap = match self.source {
                SourceInfo::CredentialReport { .. } => CoverageGap {
                    user: None,
                    access_key_id: None,
                    operation: ROOT_GAP_OPERATIONS[1].into(),
                    error_code: "NoRootRow".into(),
                    impact: format!(
                        "the credential report has no {ROOT_USER_NAME} row: whether the root user has access keys is unknown"
                    ),
                },
                SourceInfo::Live { .. } => CoverageGap {
                    user: None,
                    access_key_id: None,
                    operation: ROOT_GAP_OPERATIONS[0].into(),
                    error_code: NOT_RECORDED.into(),
                    impact: "whether the root user has access keys is unknown, and the inventory records no reason".into(),
                },
            };
            self.gaps.push(gap);
        }
        let mut implied = Vec::new();
        for user in &self.users {
            for key in user.keys.iter().filter(|k| k.last_used == LastUse::Unknown) {
                let label = key.label();
                let explained = self.gaps.iter().any(|g| {
                    g.user.as_deref() == Some(user.name.as_str())
                        && g.access_key_id.as_deref().is_none_or(|id| id == label)
                });
                if !explained {
                    implied.push(CoverageGap {
                        user: Some(user.name.clone()),
                        access_key_id: Some(label),
                        operation: "GetAccessKeyLastUsed".into(),
                        error_code: NOT_RECORDED.into(),
                        impact: "the key's last use is unknown, and the inventory records no reason; rules that need it were not applied".into(),
                    });
                }
            }
        }
        self.gaps.extend(implied);
    }

    /// Refuses an inventory that contradicts itself or holds impossible dates: a user listed
    /// twice, a key id under two users, a date before AWS existed or after the data was
    /// collected (beyond [`CLOCK_SKEW_MINUTES`]). `origin` names the data in the message (a
    /// file, or the endpoint of a live crawl).
    pub fn validate(&self, origin: &str) -> Result<(), DataError> {
        let bad = |record: String, problem: String, fix: &'static str| DataError {
            origin: origin.to_string(),
            record,
            problem,
            fix,
        };
        let mut names = std::collections::HashMap::new();
        let mut ids = std::collections::HashMap::new();
        let mut keys = std::collections::HashMap::new();
        for user in &self.users {
            check_limits(user).map_err(|problem| {
                bad(
                    format!("user {}", crate::text::shown(&user.name, 64)),
                    problem,
                    FIX_LIMITS,
                )
            })?;
            // The user's ARN names the account the inventory is of: the account part of an
            // ARN goes through the one account-id parser like every other.
            match crate::ident::Arn::iam_user(&user.arn) {
                Ok(arn) if self.account_id.as_ref().is_none_or(|id| *id == arn.account) => {}
                Ok(arn) => {
                    return Err(bad(
                        format!("user {}", crate::text::shown(&user.name, 64)),
                        format!(
                            "has an ARN of account {}, but the data is of account {}",
                            arn.account,
                            self.account_id.as_ref().map_or("", |id| id.as_str())
                        ),
                        FIX_DUPLICATE,
                    ));
                }
                Err(e) => {
                    return Err(bad(
                        format!("user {}", crate::text::shown(&user.name, 64)),
                        format!("has an ARN that is not one: {e}"),
                        FIX_DAMAGED,
                    ));
                }
            }
            // IAM user names are unique regardless of letter case.
            if let Some(first) = names.insert(user.name.to_lowercase(), &user.name) {
                return Err(bad(
                    format!("user {}", user.name),
                    format!("is listed twice (also as {first})"),
                    FIX_DUPLICATE,
                ));
            }
            if !user.user_id.is_empty()
                && let Some(first) = ids.insert(user.user_id.as_str(), &user.name)
            {
                return Err(bad(
                    format!("user {}", user.name),
                    format!("has the same user id {} as user {first}", user.user_id),
                    FIX_DUPLICATE,
                ));
            }
            for key in &user.keys {
                if let Some(id) = &key.id
                    && let Some(first) = keys.insert(id.as_str(), &user.name)
                {
                    return Err(bad(
                        format!("access key {id}"),
                        format!(
                            "is listed under user {first} and again under user {}",
                            user.name
                        ),
                        FIX_DUPLICATE,
                    ));
                }
            }
        }
        let latest = self.collected_at + TimeDelta::minutes(CLOCK_SKEW_MINUTES);
        let earliest = earliest_plausible();
        for (record, date) in self.dated_records() {
            if date > latest {
                return Err(bad(
                    record,
                    format!(
                        "is {}, after the data was collected ({})",
                        date.to_rfc3339_opts(SecondsFormat::Secs, true),
                        self.collected_at.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                    FIX_DATE,
                ));
            }
            if date < earliest {
                return Err(bad(
                    record,
                    format!(
                        "is {}, before AWS existed",
                        date.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                    FIX_DATE,
                ));
            }
        }
        Ok(())
    }

    /// Refuses an as-of instant earlier than a date the data holds: ages would come out
    /// negative and findings wrong. Any instant from the newest date in the data on is legal.
    pub fn check_as_of(&self, as_of: DateTime<Utc>, origin: &str) -> Result<(), DataError> {
        match self.dated_records().max_by_key(|(_, date)| *date) {
            Some((record, newest)) if newest > as_of => Err(DataError {
                origin: origin.to_string(),
                record,
                problem: format!(
                    "is {}, after --as-of {}",
                    newest.to_rfc3339_opts(SecondsFormat::Secs, true),
                    as_of.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
                fix: "pass an --as-of at or after the newest date in the data, or none to evaluate as of now",
            }),
            _ => Ok(()),
        }
    }

    /// The newest date the records hold: no as-of before it can judge them.
    pub fn newest_date(&self) -> Option<DateTime<Utc>> {
        self.dated_records().map(|(_, date)| date).max()
    }

    /// Every date the records hold, with the record it belongs to, in words.
    fn dated_records(&self) -> impl Iterator<Item = (String, DateTime<Utc>)> + '_ {
        let users = self.users.iter().flat_map(|u| {
            let created = u
                .created
                .map(|d| (format!("user {}'s creation date", u.name), d));
            let login = u
                .login
                .as_ref()
                .and_then(|l| l.password_last_used)
                .map(|d| (format!("user {}'s last console sign-in", u.name), d));
            let keys = u.keys.iter().flat_map(move |k| {
                let what = match &k.id {
                    Some(id) => format!("user {}'s access key {id}", u.name),
                    None => format!("user {}'s {}", u.name, k.label()),
                };
                [
                    Some((format!("{what} creation date"), k.created)),
                    k.last_used.date().map(|d| (format!("{what} last use"), d)),
                ]
                .into_iter()
                .flatten()
            });
            created.into_iter().chain(login).chain(keys)
        });
        let root_keys = match &self.root {
            RootKeys::CredentialReport { keys, .. } => keys.as_slice(),
            _ => &[],
        };
        let root = root_keys.iter().flat_map(|k| {
            let what = format!("the root user's access key {}", k.slot);
            [
                k.last_rotated.map(|d| (format!("{what} rotation date"), d)),
                k.last_used.date().map(|d| (format!("{what} last use"), d)),
            ]
            .into_iter()
            .flatten()
        });
        users.chain(root)
    }
}

/// IAM's own limits on a user: a longer value is not IAM's.
const MAX_USER_NAME: usize = 64;
const MAX_USER_PATH: usize = 512;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;
const MAX_TAGS: usize = 50;

/// Refuses a user no IAM answer holds: a name, path or tag over IAM's limits. (A 10 MB name
/// would otherwise grow every report by as much, once per mention.)
fn check_limits(user: &crate::inventory::User) -> Result<(), String> {
    let over = |what: &str, len: usize, max: usize| {
        format!("has a {what} of {len} characters, more than IAM allows ({max})")
    };
    let chars = |s: &str| s.chars().count();
    if chars(&user.name) > MAX_USER_NAME {
        return Err(over("name", chars(&user.name), MAX_USER_NAME));
    }
    if chars(&user.path) > MAX_USER_PATH {
        return Err(over("path", chars(&user.path), MAX_USER_PATH));
    }
    if user.tags.len() > MAX_TAGS {
        return Err(format!(
            "has {} tags, more than IAM allows ({MAX_TAGS})",
            user.tags.len()
        ));
    }
    for tag in &user.tags {
        if chars(&tag.key) > MAX_TAG_KEY {
            return Err(over("tag key", chars(&tag.key), MAX_TAG_KEY));
        }
        if chars(&tag.value) > MAX_TAG_VALUE {
            return Err(over("tag value", chars(&tag.value), MAX_TAG_VALUE));
        }
    }
    Ok(())
}

const FIX_LIMITS: &str = "the data is not IAM's; collect it again rather than editing it by hand";

const FIX_DUPLICATE: &str =
    "the data contradicts itself; collect it again rather than editing it by hand";
const FIX_DAMAGED: &str =
    "the record is damaged; collect the data again rather than editing it by hand";
const FIX_DATE: &str = "the record is damaged or a clock was wrong; collect the data again rather than editing it by hand";

fn earliest_plausible() -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(EARLIEST_PLAUSIBLE_YEAR, 1, 1)
        .expect("a valid date")
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

/// Data that contradicts itself or holds an impossible date. Displays as one line.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {record} {problem} ({fix})")]
pub struct DataError {
    pub origin: String,
    pub record: String,
    pub problem: String,
    pub fix: &'static str,
}
