//! The file `keyhygiene init-config` writes: every setting at its default, with comments.
//! It is generated from the rule registry, so it always lists every rule.

use crate::rules::RULES;

pub(super) fn init_config_text() -> String {
    let mut out = String::from(
        r#"# keyhygiene policy file.
#
# Use it with: keyhygiene audit --config keyhygiene.toml
# Every value below is the default, so this file behaves exactly like no file at all.
# The file is checked before any AWS call; every problem is reported with its line and column.
#
# Days are whole days: floor((as-of - date) / 24 h). Every threshold is strict:
# "more than N days". `keyhygiene rules` describes each rule.

# ---------------------------------------------------------------------------------------
# Rules: each can be turned off (enabled = false), given another severity
# ("low", "medium", "high" or "critical"), and have its thresholds changed.
# ---------------------------------------------------------------------------------------
"#,
    );
    for rule in RULES {
        let info = rule.info();
        out.push('\n');
        out.push_str(&comment(info.summary));
        if !info.compliance.is_empty() {
            out.push_str(&comment(&format!(
                "Maps to: {}.",
                info.compliance.join(", ")
            )));
        }
        out.push_str(&format!("[rules.{}]\n", info.id));
        out.push_str("enabled = true\n");
        out.push_str(&format!("severity = \"{}\"\n", info.default_severity));
        for t in info.thresholds {
            out.push_str(&comment(&format!("{}.", capitalize(t.meaning))));
            out.push_str(&format!("{} = {}\n", t.name, t.default));
        }
    }
    out.push_str(
        r#"
# ---------------------------------------------------------------------------------------
# Scope: which accounts and IAM users are audited. A user is audited when it matches every
# non-empty include list (any entry in it) and no exclude entry. Empty lists mean everyone.
# users:    name globs (case-insensitive), e.g. "ci-*"
# paths:    IAM path prefixes, e.g. "/service-accounts/"
# tags:     "key=value"; the value may be a glob, e.g. "team=payments" or "owner=*"
# accounts: 12-digit account ids, e.g. "123456789012". An account is audited when it is
#           in the include list (or that list is empty) and not in the exclude list; an
#           account out of scope is not audited.
# The root user of an audited account is always audited.
# ---------------------------------------------------------------------------------------

[scope.include]
users = []
paths = []
tags = []
accounts = []

[scope.exclude]
users = []
paths = []
tags = []
accounts = []

# ---------------------------------------------------------------------------------------
# Owners: who owns a user, for the `owner` column of findings.csv and keys.csv, the
# `owner` of report.json's findings and the HTML report's by-owner table.
#   owner-tags      tag keys; the first one a user carries (with a value) names its owner,
#                   e.g. ["team", "owner", "cost-center"]
#   owner-fallback  the owner of users without any of them, and of the root user
# ---------------------------------------------------------------------------------------
[report]
owner-tags = []
owner-fallback = "unowned"

# ---------------------------------------------------------------------------------------
# Suppressions: accepted findings. A suppressed finding stays in every report, with the
# reason, but does not count toward the exit code.
#   rule           a rule id, or "*" for every rule (required unless finding-id is set)
#   user           a user name glob; "<root_account>" is the root user (required unless
#                  finding-id is set)
#   access-key-id  only the finding about this key (optional; "access key 1" or
#                  "access key 2" for keys read from a credential report)
#   account        only findings in this account, its 12-digit id (optional; without
#                  it the suppression applies in every account)
#   finding-id     only the finding with this id, "kh1-..." from the finding_id column
#                  of findings.csv (optional)
#   reason         why the finding is accepted (required)
#   expires        a date; the suppression holds through that whole day (UTC) and is
#                  reported as expired afterwards (optional)
# A suppression that matches nothing is reported as unused.
# ---------------------------------------------------------------------------------------

# [[suppress]]
# rule = "key-not-rotated"
# user = "legacy-ftp"
# access-key-id = "AKIAIOSFODNN7EXAMPLE"
# account = "123456789012"
# reason = "Vendor appliance, key rotation planned in SEC-1234"
# expires = 2026-12-31
"#,
    );
    out
}

/// `text` as `# ` comment lines of at most 90 characters.
fn comment(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() > 1 && line.len() + 1 + word.len() > 90 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
