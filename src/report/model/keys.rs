//! The key inventory: one entry per key, worst first, and each key's row as the reports show it.

use super::*;

/// One access key of the inventory, as the model keeps it: where it is in the inventory,
/// its worst open finding, and where its findings are. [`ReportModel::key_row`] turns it
/// into a [`KeyRow`] when a renderer needs one.
#[derive(Clone, Copy, Debug)]
pub struct KeyEntry<'a> {
    pub(super) key: KeyRef<'a>,
    /// The worst unsuppressed finding about the key.
    pub worst: Option<Severity>,
    /// The key's findings, a range of [`ReportModel::key_findings`].
    pub(super) findings: (u32, u32),
}

#[derive(Clone, Copy, Debug)]
pub(super) enum KeyRef<'a> {
    User { user: &'a User, key: &'a AccessKey },
    Root { arn: &'a str, key: &'a RootKey },
}

impl KeyEntry<'_> {
    pub fn status(&self) -> KeyStatus {
        match self.key {
            KeyRef::User { key, .. } => key.status,
            KeyRef::Root { key, .. } if key.active => KeyStatus::Active,
            KeyRef::Root { .. } => KeyStatus::Inactive,
        }
    }

    /// When the key was created (a root key: last rotated), when known.
    pub fn created(&self) -> Option<DateTime<Utc>> {
        match self.key {
            KeyRef::User { key, .. } => Some(key.created),
            KeyRef::Root { key, .. } => key.last_rotated,
        }
    }
}

/// One row of the key inventory, built from a [`KeyEntry`] when a renderer reaches it. It
/// borrows names and rule ids from the inventory and the findings.
#[derive(Clone, Debug)]
pub struct KeyRow<'a> {
    pub user_name: &'a str,
    pub user_path: &'a str,
    pub user_arn: &'a str,
    pub is_root: bool,
    /// The key id, when the source knows it.
    pub access_key_id: Option<String>,
    /// The key id or "access key N".
    pub key_label: String,
    pub status: KeyStatus,
    pub created: Option<DateTime<Utc>>,
    pub age_days: Option<i64>,
    /// `used`, `never` or `unknown`.
    pub last_use_state: &'static str,
    pub last_used: Option<DateTime<Utc>>,
    pub last_used_display: String,
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
    pub last_used_where: String,
    /// `api` or `credential-report`: which source gave the last use.
    pub last_used_source: &'static str,
    /// When that source's value was current: the credential report's generation time, or
    /// the end of the crawl for GetAccessKeyLastUsed.
    pub last_used_source_time: Option<DateTime<Utc>>,
    /// For the page: "credential report, 3 h old", or empty for GetAccessKeyLastUsed.
    pub last_used_source_note: String,
    pub days_since_last_use: Option<i64>,
    pub description: Option<&'a str>,
    pub password_enabled: Option<bool>,
    pub mfa_active: Option<bool>,
    pub login_display: &'static str,
    /// `risk` for a console password without MFA, otherwise empty; for styling.
    pub login_state: &'static str,
    /// Rules that fired on the key and are not suppressed, worst first.
    pub rules: Vec<KeyRule<'a>>,
    /// Rules that fired on the key but are suppressed.
    pub suppressed_rules: Vec<&'a str>,
    pub worst: Option<Severity>,
    /// 0 when nothing fired, 1 (low) to 4 (critical); used by the HTML sort and filter.
    pub severity_rank: u8,
    /// Beyond the first [`KEY_ROWS_SHOWN`] rows: rendered hidden until "show all". Only
    /// the rows of [`ReportModel::page_key_rows`] are ever folded.
    pub folded: bool,
    // Pre-formatted sort values for the HTML table; empty when unknown.
    pub age_sort: String,
    pub idle_sort: String,
    pub last_used_sort: String,
}

#[derive(Clone, Debug)]
pub struct KeyRule<'a> {
    pub rule_id: &'a str,
    pub severity: Severity,
}

pub(super) struct LastUseParts {
    state: &'static str,
    date: Option<DateTime<Utc>>,
    service: Option<String>,
    region: Option<String>,
}

pub(super) fn last_use_parts(l: &LastUse) -> LastUseParts {
    match l {
        LastUse::Used {
            date,
            service,
            region,
        } => LastUseParts {
            state: "used",
            date: Some(*date),
            service: service.clone(),
            region: region.clone(),
        },
        LastUse::Never => LastUseParts {
            state: "never",
            date: None,
            service: None,
            region: None,
        },
        LastUse::Unknown => LastUseParts {
            state: "unknown",
            date: None,
            service: None,
            region: None,
        },
    }
}

#[allow(clippy::too_many_arguments)]
/// What a key row says about the key and its owner, whatever kind of key it is.
pub(super) struct KeySubject<'a> {
    user_name: &'a str,
    user_path: &'a str,
    user_arn: &'a str,
    is_root: bool,
    access_key_id: Option<String>,
    key_label: String,
    status: KeyStatus,
    created: Option<DateTime<Utc>>,
    last_used: &'a LastUse,
    last_used_source: LastUseSource,
    description: Option<&'a str>,
    user: Option<&'a User>,
}

/// When each last-use source's values were current, for the key rows.
#[derive(Clone, Copy, Debug)]
pub(super) struct SourceTimes {
    pub report: Option<DateTime<Utc>>,
    pub collected: DateTime<Utc>,
}

impl<'a> KeyEntry<'a> {
    /// The key and its owner, as a row shows them.
    pub(super) fn subject(&self) -> KeySubject<'a> {
        match self.key {
            KeyRef::Root { arn, key } => KeySubject {
                user_name: ROOT_USER_NAME,
                user_path: "",
                user_arn: arn,
                is_root: true,
                access_key_id: None,
                key_label: key.label(),
                status: self.status(),
                created: key.last_rotated,
                last_used: &key.last_used,
                last_used_source: LastUseSource::CredentialReport,
                description: None,
                user: None,
            },
            KeyRef::User { user, key } => KeySubject {
                user_name: &user.name,
                user_path: &user.path,
                user_arn: &user.arn,
                is_root: false,
                access_key_id: key.id.clone(),
                key_label: AccessKey::label(key),
                status: key.status,
                created: Some(key.created),
                last_used: &key.last_used,
                last_used_source: key.last_used_source,
                description: key.description.as_deref(),
                user: Some(user),
            },
        }
    }
}

/// The display row of one key, from the key and the findings that fired on it.
pub(super) fn key_row<'a>(
    subject: KeySubject<'a>,
    fired: &[&'a EvaluatedFinding],
    as_of: DateTime<Utc>,
    times: SourceTimes,
) -> KeyRow<'a> {
    let KeySubject {
        user_name,
        user_path,
        user_arn,
        is_root,
        access_key_id,
        key_label,
        status,
        created,
        last_used,
        last_used_source,
        description,
        user,
    } = subject;
    let last_used_source_time = match last_used_source {
        LastUseSource::Api => Some(times.collected),
        LastUseSource::CredentialReport => times.report,
    };
    let last_used_source_note = match (last_used_source, last_used) {
        (_, LastUse::Unknown) | (LastUseSource::Api, _) => String::new(),
        (LastUseSource::CredentialReport, _) => match times.report {
            Some(at) => format!(
                "credential report, {} old",
                crate::report::model::age_text(as_of - at)
            ),
            None => "credential report".to_string(),
        },
    };
    let lu = last_use_parts(last_used);
    let age_days = created.map(|c| whole_days(as_of - c));
    let days_since_last_use = lu.date.map(|d| whole_days(as_of - d));
    let mut rules: Vec<KeyRule<'a>> = Vec::new();
    let mut suppressed_rules: Vec<&'a str> = Vec::new();
    for &ef in fired {
        let f = &ef.finding;
        if ef.suppressed.is_some() {
            if !suppressed_rules.contains(&f.rule_id.as_str()) {
                suppressed_rules.push(&f.rule_id);
            }
        } else if let Some(existing) = rules.iter_mut().find(|r| r.rule_id == f.rule_id) {
            existing.severity = existing.severity.max(f.severity);
        } else {
            rules.push(KeyRule {
                rule_id: &f.rule_id,
                severity: f.severity,
            });
        }
    }
    rules.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule_id.cmp(b.rule_id)));
    suppressed_rules.sort();
    let worst = rules.iter().map(|r| r.severity).max();
    let login = user.and_then(|u| u.login.as_ref());
    let login_display = match login {
        None if is_root => "root user",
        None => "unknown",
        Some(l) if !l.password_enabled => "no password",
        Some(l) if l.mfa_active => "password, MFA",
        Some(_) => "password, NO MFA",
    };
    let last_used_display = match lu.state {
        "used" => lu.date.map(display_date).unwrap_or_default(),
        other => other.to_string(),
    };
    let last_used_where = [&lu.service, &lu.region]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" · ");
    KeyRow {
        user_name,
        user_path,
        user_arn,
        is_root,
        access_key_id,
        key_label,
        status,
        created,
        age_days,
        last_use_state: lu.state,
        last_used: lu.date,
        last_used_display,
        last_used_service: lu.service,
        last_used_region: lu.region,
        last_used_where,
        last_used_source: last_used_source.as_str(),
        last_used_source_time,
        last_used_source_note,
        days_since_last_use,
        description,
        password_enabled: login.map(|l| l.password_enabled),
        mfa_active: login.map(|l| l.mfa_active),
        login_display,
        login_state: if login.is_some_and(|l| l.password_enabled && !l.mfa_active) {
            "risk"
        } else {
            ""
        },
        rules,
        suppressed_rules,
        worst,
        severity_rank: Severity::rank(worst),
        folded: false,
        age_sort: age_days.map(|d| d.to_string()).unwrap_or_default(),
        idle_sort: days_since_last_use
            .map(|d| d.to_string())
            .unwrap_or_default(),
        last_used_sort: lu
            .date
            .map(|c| c.timestamp().to_string())
            .unwrap_or_default(),
    }
}

/// Every key of the inventory with its worst open finding, flagged keys first, worst first
/// (the inventory's order otherwise: root keys, then users by name), and the findings about
/// keys, ordered so that each entry's findings are one range.
pub(super) fn key_entries<'a>(
    inv: &'a Inventory,
    findings: &'a [EvaluatedFinding],
) -> (Vec<KeyEntry<'a>>, Vec<&'a EvaluatedFinding>) {
    let mut key_findings: Vec<&EvaluatedFinding> = findings
        .iter()
        .filter(|ef| ef.finding.access_key_id.is_some())
        .collect();
    key_findings.sort_by(|a, b| {
        (&a.finding.user_name, &a.finding.access_key_id)
            .cmp(&(&b.finding.user_name, &b.finding.access_key_id))
    });
    fn of<'f>(ef: &&'f EvaluatedFinding) -> (&'f str, &'f str) {
        (
            ef.finding.user_name.as_str(),
            ef.finding.access_key_id.as_deref().unwrap_or_default(),
        )
    }
    let range = |user: &str, label: &str| {
        let start = key_findings.partition_point(|ef| of(ef) < (user, label));
        let end = start + key_findings[start..].partition_point(|ef| of(ef) == (user, label));
        (start, end)
    };
    let entry = |key: KeyRef<'a>, user: &str, label: &str| {
        let (start, end) = range(user, label);
        let worst = key_findings[start..end]
            .iter()
            .filter(|ef| ef.suppressed.is_none())
            .map(|ef| ef.finding.severity)
            .max();
        KeyEntry {
            key,
            worst,
            findings: (index_u32(start), index_u32(end)),
        }
    };
    let mut entries = Vec::with_capacity(inv.compute_coverage().keys);
    if let RootKeys::CredentialReport { arn, keys } = &inv.root {
        let arn = arn.as_deref().unwrap_or_default();
        for key in keys {
            entries.push(entry(
                KeyRef::Root { arn, key },
                ROOT_USER_NAME,
                &key.label(),
            ));
        }
    }
    for user in &inv.users {
        for key in &user.keys {
            entries.push(entry(
                KeyRef::User { user, key },
                &user.name,
                &AccessKey::label(key),
            ));
        }
    }
    // A stable sort: keys with the same worst severity keep the inventory's order.
    entries.sort_by_key(|e| std::cmp::Reverse(e.worst));
    (entries, key_findings)
}

/// A position in the model's lists, which hold fewer than 2^32 items (IAM's quotas allow
/// far fewer users and keys).
pub(super) fn index_u32(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 findings")
}
