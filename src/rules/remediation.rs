//! Remediation steps: exact AWS CLI commands with the real user name and key id, in the
//! order AWS recommends. Every line is either a command or a `# ` comment, so the list can
//! be read as a script.

use crate::inventory::{AccessKey, User};

/// Quotes `arg` for a POSIX shell: bare when it only has characters that are safe
/// unquoted (which covers every IAM user name and key id), single-quoted otherwise.
pub fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && !arg.starts_with('-')
        && !arg.starts_with('=')
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/:".contains(c));
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The `--access-key-id` argument for a key, and a step to look it up first when the
/// source had no ids (a credential report names keys by slot only).
fn key_id_arg(user: &User, key: &AccessKey, steps: &mut Vec<String>) -> String {
    match &key.id {
        Some(id) => shell_quote(id),
        None => {
            steps.push(format!(
                "# The credential report has no key ids: find the id of {} (created {}) and use it as ACCESS_KEY_ID below.",
                key.label(),
                key.created.format("%Y-%m-%d")
            ));
            steps.push(format!(
                "aws iam list-access-keys --user-name {}",
                shell_quote(&user.name)
            ));
            "\"$ACCESS_KEY_ID\"".to_string()
        }
    }
}

/// For a key that may still be in use: create the replacement, move applications,
/// confirm the old key is idle, deactivate it, then delete it.
pub fn rotate(user: &User, key: &AccessKey) -> Vec<String> {
    let u = shell_quote(&user.name);
    let mut steps = Vec::new();
    let k = key_id_arg(user, key, &mut steps);
    if user.keys.len() >= 2 {
        steps.push(
            "# The user already has two keys, the most IAM allows: delete the other key first if it is not needed."
                .to_string(),
        );
    }
    steps.push(format!("aws iam create-access-key --user-name {u}"));
    steps.push(format!(
        "# Move every application that uses {} to the new key.",
        key.label()
    ));
    steps.push(format!(
        "aws iam get-access-key-last-used --access-key-id {k}"
    ));
    steps.push(
        "# Repeat the check above until LastUsedDate stops advancing, then deactivate the old key."
            .to_string(),
    );
    deactivate_and_delete(&u, &k, &mut steps);
    steps
}

/// The last two steps for every key: deactivate it, and delete it once nothing broke.
fn deactivate_and_delete(u: &str, k: &str, steps: &mut Vec<String>) {
    steps.push(format!(
        "aws iam update-access-key --user-name {u} --access-key-id {k} --status Inactive"
    ));
    steps.push(
        "# If nothing breaks while the key is inactive, delete it (reactivate it instead if something does)."
            .to_string(),
    );
    steps.push(format!(
        "aws iam delete-access-key --user-name {u} --access-key-id {k}"
    ));
}

/// For a key nobody uses: deactivate it, wait, then delete it.
pub fn deactivate_then_delete(user: &User, key: &AccessKey) -> Vec<String> {
    let u = shell_quote(&user.name);
    let mut steps = Vec::new();
    let k = key_id_arg(user, key, &mut steps);
    deactivate_and_delete(&u, &k, &mut steps);
    steps
}

/// For a key that is already inactive: confirm it stayed idle, then delete it.
pub fn delete_inactive(user: &User, key: &AccessKey) -> Vec<String> {
    let u = shell_quote(&user.name);
    let mut steps = Vec::new();
    let k = key_id_arg(user, key, &mut steps);
    steps.push(format!(
        "aws iam get-access-key-last-used --access-key-id {k}"
    ));
    steps.push(
        "# The key is already inactive; if LastUsedDate is from before it was deactivated, delete it."
            .to_string(),
    );
    steps.push(format!(
        "aws iam delete-access-key --user-name {u} --access-key-id {k}"
    ));
    steps
}

/// Console steps for the root user's keys: an IAM user cannot manage them through the API.
pub fn root_console_steps() -> Vec<String> {
    vec![
        "# Root access keys can only be managed by the root user, in the console.".to_string(),
        "# 1. Sign in to the AWS Management Console as the root user (email address and password, then MFA).".to_string(),
        "# 2. Open the account menu (top right) and choose Security credentials.".to_string(),
        "# 3. Under Access keys, choose Actions > Deactivate for each key, and watch for anything that breaks.".to_string(),
        "# 4. Move whatever still needs the key to an IAM role (or an IAM user's key), then choose Actions > Delete.".to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("alice"), "alice");
        assert_eq!(shell_quote("svc+ci=1,a.b@c-d_e"), "svc+ci=1,a.b@c-d_e");
        assert_eq!(shell_quote("AKIAIOSFODNN7EXAMPLE"), "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(shell_quote("-leading"), "'-leading'");
        assert_eq!(shell_quote("=x"), "'=x'");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf)"), "'$(rm -rf)'");
        assert_eq!(shell_quote(""), "''");
    }
}
