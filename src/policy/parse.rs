//! Reading and validating the policy file, with the position of every problem.
//!
//! The file is parsed into a spanned TOML tree first, then walked by hand so that every
//! problem (unknown keys, wrong types, unknown rule ids, bad globs, negative thresholds,
//! suppressions without a reason, unparsable dates, malformed account ids) is collected
//! with its line and column before anything is returned.

use std::ops::Range;

use chrono::NaiveDate;
use toml::de::{DeTable, DeValue};

use super::{Pattern, Policy, PolicyError, Suppression, TagFilter, UserFilter};
use crate::findings::Severity;
use crate::ident::AccountId;
use crate::rules::find;

const TOP_KEYS: &[&str] = &["rules", "scope", "suppress", "report"];
const REPORT_KEYS: &[&str] = &["owner-tags", "owner-fallback"];
/// IAM's longest tag key and value.
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;
const SCOPE_KEYS: &[&str] = &["include", "exclude"];
const FILTER_KEYS: &[&str] = &["users", "paths", "tags", "accounts"];
const SUPPRESS_KEYS: &[&str] = &[
    "rule",
    "user",
    "access-key-id",
    "account",
    "finding-id",
    "reason",
    "expires",
];

use super::checker::{Checker, LineIndex, Value};

/// The fix for a malformed account id.
const ACCOUNT_FIX: &str = "write the 12 digits of the account id, without dashes or spaces";

/// Validates `text`; `file` names it in problems and suppression locations.
pub(super) fn parse(text: &str, file: &str) -> Result<Policy, PolicyError> {
    let mut c = Checker {
        text,
        file,
        lines: LineIndex::new(text),
        problems: Vec::new(),
    };
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            c.problem(
                span,
                format!(
                    "invalid TOML: {} (fix the syntax; see `keyhygiene init-config` for an example)",
                    e.message().trim()
                ),
            );
        }
        return Err(PolicyError {
            problems: c.finish(),
        });
    }

    let mut policy = Policy::default();
    for (key, value) in doc.get_ref() {
        match key.get_ref().as_ref() {
            "rules" => rules(&mut c, value, &mut policy),
            "scope" => scope(&mut c, value, &mut policy),
            "suppress" => suppressions(&mut c, value, &mut policy),
            "report" => report(&mut c, value, &mut policy),
            _ => c.unknown_key(key, "the policy file", TOP_KEYS),
        }
    }
    if c.problems.is_empty() {
        Ok(policy)
    } else {
        Err(PolicyError {
            problems: c.finish(),
        })
    }
}

fn rules(c: &mut Checker<'_>, value: &Value<'_>, policy: &mut Policy) {
    let Some(table) = c.table(
        value,
        "rules",
        "write one [rules.<rule-id>] section per rule",
    ) else {
        return;
    };
    for (key, value) in table {
        let id = key.get_ref().as_ref();
        if !c.rule_id(id, key.span(), "[rules]", false) {
            continue;
        }
        let rule = find(id).expect("checked above").info();
        let Some(settings) = c.table(
            value,
            &format!("rules.{id}"),
            &format!("write [rules.{id}] with enabled, severity and thresholds under it"),
        ) else {
            continue;
        };
        let config = policy.rules.get_mut(id).expect("every rule has a config");
        let mut expected = vec!["enabled", "severity"];
        expected.extend(rule.thresholds.iter().map(|t| t.name));
        for (key, value) in settings {
            let name = key.get_ref().as_ref();
            let path = format!("rules.{id}.{name}");
            match name {
                "enabled" => match value.get_ref() {
                    DeValue::Boolean(b) => config.enabled = *b,
                    other => c.wrong_type(
                        value.span(),
                        &path,
                        "true or false",
                        other,
                        "write enabled = true or enabled = false",
                    ),
                },
                "severity" => {
                    let fix = "use \"low\", \"medium\", \"high\" or \"critical\"";
                    if let Some(s) = c.string(value, &path, fix) {
                        match Severity::parse(s) {
                            Some(sev) => config.severity = sev,
                            None => c.problem(
                                value.span(),
                                format!("\"{path}\" must be a severity, found \"{s}\" ({fix})"),
                            ),
                        }
                    }
                }
                _ => match rule.thresholds.iter().find(|t| t.name == name) {
                    Some(t) => {
                        let fix = format!("write {name} = {}, a number of whole days", t.default);
                        match value.get_ref() {
                            DeValue::Integer(i) => {
                                match i64::from_str_radix(i.as_str(), i.radix()) {
                                    Ok(n) if n < 0 => c.problem(
                                        value.span(),
                                        format!(
                                            "\"{path}\" must not be negative, found {n} (use 0 or more days)"
                                        ),
                                    ),
                                    Ok(n) => {
                                        config.thresholds.insert(name.to_string(), n);
                                    }
                                    Err(_) => c.problem(
                                        value.span(),
                                        format!("\"{path}\" is too large ({fix})"),
                                    ),
                                }
                            }
                            other => {
                                c.wrong_type(value.span(), &path, "a whole number", other, &fix)
                            }
                        }
                    }
                    None => c.unknown_key(key, &format!("[rules.{id}]"), &expected),
                },
            }
        }
    }
}

/// `[report]`: `owner-tags` (tag keys, the first present wins) and `owner-fallback`.
fn report(c: &mut Checker<'_>, value: &Value<'_>, policy: &mut Policy) {
    let Some(table) = c.table(
        value,
        "report",
        "write a [report] section with owner-tags and owner-fallback",
    ) else {
        return;
    };
    for (key, value) in table {
        match key.get_ref().as_ref() {
            "owner-tags" => {
                let fix = "write owner-tags = [\"team\", \"owner\"]: tag keys, the first a user carries names its owner";
                let mut tags = Vec::new();
                for (tag, span) in c.strings(value, "report.owner-tags", fix) {
                    if tag.is_empty() || tag.chars().count() > MAX_TAG_KEY {
                        c.problem(
                            span,
                            format!("\"report.owner-tags\": a tag key has 1 to {MAX_TAG_KEY} characters ({fix})"),
                        );
                    } else {
                        tags.push(tag.to_string());
                    }
                }
                policy.owners.tags = tags;
            }
            "owner-fallback" => {
                let fix =
                    "write owner-fallback = \"unowned\": the owner of users no owner tag names";
                if let Some(text) = c.string(value, "report.owner-fallback", fix) {
                    if text.trim().is_empty() || text.chars().count() > MAX_TAG_VALUE {
                        c.problem(
                            value.span(),
                            format!("\"report.owner-fallback\" has 1 to {MAX_TAG_VALUE} characters, not all blank ({fix})"),
                        );
                    } else {
                        policy.owners.fallback = text.to_string();
                    }
                }
            }
            _ => c.unknown_key(key, "[report]", REPORT_KEYS),
        }
    }
}

fn scope(c: &mut Checker<'_>, value: &Value<'_>, policy: &mut Policy) {
    let Some(table) = c.table(
        value,
        "scope",
        "write [scope.include] and [scope.exclude] sections",
    ) else {
        return;
    };
    for (key, value) in table {
        let scope = &mut policy.scope;
        let (target, accounts) = match key.get_ref().as_ref() {
            "include" => (&mut scope.include, &mut scope.accounts.include),
            "exclude" => (&mut scope.exclude, &mut scope.accounts.exclude),
            _ => {
                c.unknown_key(key, "[scope]", SCOPE_KEYS);
                continue;
            }
        };
        let which = key.get_ref().as_ref();
        if let Some(filters) = c.table(
            value,
            &format!("scope.{which}"),
            &format!("write [scope.{which}] with users, paths, tags and accounts lists under it"),
        ) {
            user_filter(c, which, filters, target, accounts);
        }
    }
}

fn user_filter(
    c: &mut Checker<'_>,
    which: &str,
    table: &DeTable<'_>,
    filter: &mut UserFilter,
    accounts: &mut Vec<AccountId>,
) {
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        let path = format!("scope.{which}.{name}");
        match name {
            "users" => {
                for (text, span) in c.strings(value, &path, "write users = [\"ci-*\"]") {
                    if let Some(p) = c.pattern(text, span, &path) {
                        filter.users.push(p);
                    }
                }
            }
            "paths" => {
                for (text, span) in
                    c.strings(value, &path, "write paths = [\"/service-accounts/\"]")
                {
                    if text.starts_with('/') {
                        filter.paths.push(text.to_string());
                    } else {
                        c.problem(
                            span,
                            format!(
                                "\"{path}\" entry \"{text}\" is not an IAM path prefix (IAM paths start with \"/\", e.g. \"/service-accounts/\")"
                            ),
                        );
                    }
                }
            }
            "tags" => {
                for (text, span) in c.strings(value, &path, "write tags = [\"team=payments\"]") {
                    match text.split_once('=') {
                        Some((k, v)) if !k.is_empty() => {
                            if let Some(value) = c.pattern(v, span, &path) {
                                filter.tags.push(TagFilter {
                                    key: k.to_string(),
                                    value,
                                });
                            }
                        }
                        _ => c.problem(
                            span,
                            format!(
                                "\"{path}\" entry \"{text}\" is not key=value (write \"team=payments\"; the value may be a glob)"
                            ),
                        ),
                    }
                }
            }
            "accounts" => {
                for (text, span) in c.strings(value, &path, "write accounts = [\"123456789012\"]") {
                    match AccountId::parse(text) {
                        Ok(id) => accounts.push(id),
                        Err(_) => c.problem(
                            span,
                            format!(
                                "\"{path}\" entry \"{}\" is not an account id ({ACCOUNT_FIX}, e.g. \"123456789012\")",
                                crate::text::shown(text, 40)
                            ),
                        ),
                    }
                }
            }
            _ => c.unknown_key(key, &format!("[scope.{which}]"), FILTER_KEYS),
        }
    }
}

fn suppressions(c: &mut Checker<'_>, value: &Value<'_>, policy: &mut Policy) {
    let DeValue::Array(entries) = value.get_ref() else {
        c.wrong_type(
            value.span(),
            "suppress",
            "a list of tables",
            value.get_ref(),
            "write each entry as a [[suppress]] section",
        );
        return;
    };
    for entry in entries {
        let Some(table) = c.table(
            entry,
            "suppress",
            "write each entry as a [[suppress]] section",
        ) else {
            continue;
        };
        if let Some(s) = suppression(c, entry.span(), table) {
            policy.suppressions.push(s);
        }
    }
}

fn suppression(
    c: &mut Checker<'_>,
    span: Range<usize>,
    table: &DeTable<'_>,
) -> Option<Suppression> {
    let mut ok = true;
    let mut rule = None;
    let mut user = None;
    let mut access_key_id = None;
    let mut account = None;
    let mut finding_id = None;
    let mut reason = None;
    let mut expires = None;
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        let path = format!("suppress.{name}");
        match name {
            "rule" => match c.string(value, &path, "write rule = \"<rule-id>\" or rule = \"*\"") {
                Some(id) if c.rule_id(id, value.span(), "suppress.rule", true) => {
                    rule = Some(id.to_string())
                }
                _ => ok = false,
            },
            "user" => match c.string(value, &path, "write user = \"<name-or-glob>\"") {
                Some(text) => match c.pattern(text, value.span(), &path) {
                    Some(p) => user = Some(p),
                    None => ok = false,
                },
                None => ok = false,
            },
            "access-key-id" => match c.string(value, &path, "write access-key-id = \"AKIA...\"") {
                Some(id) => access_key_id = Some(id.to_string()),
                None => ok = false,
            },
            "account" => match c.string(
                value,
                &path,
                "write account = \"123456789012\", the account id in quotes",
            ) {
                Some(id) => match AccountId::parse(id) {
                    Ok(id) => account = Some(id),
                    Err(_) => {
                        c.problem(
                            value.span(),
                            format!(
                                "\"{path}\" is not an account id: \"{}\" ({ACCOUNT_FIX}, e.g. account = \"123456789012\")",
                                crate::text::shown(id, 40)
                            ),
                        );
                        ok = false;
                    }
                },
                None => ok = false,
            },
            "finding-id" => match c.string(
                value,
                &path,
                "write finding-id = \"kh1-…\", copied from findings.csv or report.json",
            ) {
                Some(id) if crate::findings::is_finding_id(id) => finding_id = Some(id.to_string()),
                Some(id) => {
                    c.problem(
                        value.span(),
                        format!(
                            "\"{path}\" is not a finding id: \"{id}\" (copy the finding_id column of findings.csv, e.g. finding-id = \"kh1-0123456789abcdef0123456789abcdef\")"
                        ),
                    );
                    ok = false;
                }
                None => ok = false,
            },
            "reason" => match c.string(
                value,
                &path,
                "write reason = \"why this finding is accepted\"",
            ) {
                Some(text) if text.trim().is_empty() => {
                    c.problem(
                        value.span(),
                        "suppression has an empty \"reason\" (say why this finding is accepted, e.g. reason = \"vendor key, rotated by the vendor; ticket SEC-123\")".to_string(),
                    );
                    ok = false;
                }
                Some(text) => reason = Some(text.to_string()),
                None => ok = false,
            },
            "expires" => match date(c, value, &path) {
                Some(d) => expires = Some(d),
                None => ok = false,
            },
            _ => {
                c.unknown_key(key, "[[suppress]]", SUPPRESS_KEYS);
                ok = false;
            }
        }
    }
    let present = |k: &str| table.keys().any(|key| key.get_ref().as_ref() == k);
    // An entry that names a finding id needs no rule or user: the id says both.
    let by_id = present("finding-id");
    for (required, fix) in [
        (
            "rule",
            "add rule = \"<rule-id>\", or rule = \"*\" for every rule",
        ),
        (
            "user",
            "add user = \"<name-or-glob>\", or user = \"*\" for every user",
        ),
        ("reason", "add reason = \"why this finding is accepted\""),
    ] {
        let implied = by_id && required != "reason";
        if !present(required) && !implied {
            c.problem(
                span.clone(),
                format!("suppression has no \"{required}\" ({fix})"),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let line = c.line(span.start);
    Some(Suppression {
        rule: rule.unwrap_or_else(|| "*".to_string()),
        user: match user {
            Some(user) => user,
            None => Pattern::new("*").ok()?,
        },
        access_key_id,
        account,
        finding_id,
        reason: reason?,
        expires,
        location: format!("{}:{line}", c.file),
    })
}

fn date(c: &mut Checker<'_>, value: &Value<'_>, path: &str) -> Option<NaiveDate> {
    let fix = "write a date such as expires = 2026-12-31";
    match value.get_ref() {
        DeValue::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => {
                NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into()).or_else(|| {
                    c.problem(
                        value.span(),
                        format!("\"{path}\" is not a valid date: {dt} ({fix})"),
                    );
                    None
                })
            }
            _ => {
                c.problem(
                    value.span(),
                    format!("\"{path}\" must be a date without a time, found {dt} ({fix})"),
                );
                None
            }
        },
        DeValue::String(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) if s.len() == 10 => Some(d),
            _ => {
                c.problem(
                    value.span(),
                    format!("\"{path}\" is not a date: \"{s}\" ({fix})"),
                );
                None
            }
        },
        other => {
            c.wrong_type(value.span(), path, "a date", other, fix);
            None
        }
    }
}
