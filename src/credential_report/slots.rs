//! Which credential report slot is which access key: the report names keys by slot (1 or
//! 2), ListAccessKeys by id, and only the creation time ties them together.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{CredentialReport, ReportRow};
use crate::inventory::{Inventory, KeyStatus, LastUse, LastUseSource, User};

/// The report's rows by user name, for placing keys one user at a time.
#[derive(Clone, Debug)]
pub struct RowIndex {
    rows: HashMap<String, usize>,
}

impl RowIndex {
    pub fn new(report: &CredentialReport) -> Self {
        RowIndex {
            rows: report
                .users
                .iter()
                .enumerate()
                .map(|(i, row)| (row.user.clone(), i))
                .collect(),
        }
    }

    /// The row of the user named `name`, if the report has one.
    pub fn row<'r>(&self, report: &'r CredentialReport, name: &str) -> Option<&'r ReportRow> {
        self.rows.get(name).map(|&i| &report.users[i])
    }
}

/// Gives each key whose last use is still unknown the last use its report slot shows,
/// marked as coming from the report. A slot belongs to a key when the row is the user's
/// (same name, and same creation time when both are known) and the slot's
/// `last_rotated` is the key's creation time, to the second, with the same status; a key
/// that shares its creation second with another key of the user, or that the report does
/// not show (created after the report), is left unknown for the caller to ask
/// GetAccessKeyLastUsed. Returns how many keys were filled.
pub fn fill_last_use(inv: &mut Inventory, report: &CredentialReport) -> usize {
    let index = RowIndex::new(report);
    inv.users
        .iter_mut()
        .map(|user| {
            let row = index.row(report, &user.name);
            fill_user(user, row)
        })
        .sum()
}

/// [`fill_last_use`] for one user and the report row of that name, if any.
pub fn fill_user(user: &mut User, row: Option<&ReportRow>) -> usize {
    let Some(row) = row else {
        return 0;
    };
    if let (Some(listed), Some(reported)) = (user.created, row.user_creation_time)
        && listed.timestamp() != reported.timestamp()
    {
        // Another user of the same name: the user was deleted and created again.
        return 0;
    }
    let second = |d: DateTime<Utc>| d.timestamp();
    let mut filled = 0;
    for i in 0..user.keys.len() {
        let key = &user.keys[i];
        if key.last_used != LastUse::Unknown || key.id.is_none() {
            continue;
        }
        let twins = user
            .keys
            .iter()
            .filter(|k| second(k.created) == second(key.created))
            .count();
        let mut slots = row
            .slots_with_keys()
            .filter(|slot| slot.last_rotated.map(second) == Some(second(key.created)));
        let (Some(slot), None) = (slots.next(), slots.next()) else {
            continue;
        };
        if twins != 1 || slot.active != (key.status == KeyStatus::Active) {
            continue;
        }
        let last_use = slot.last_use();
        let key = &mut user.keys[i];
        key.last_used = last_use;
        key.last_used_source = LastUseSource::CredentialReport;
        filled += 1;
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential_report::{KeySlot, ReportRow};
    use crate::inventory::{AccessKey, SourceInfo};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn slot(n: u8, active: bool, rotated: &str, used: Option<&str>) -> KeySlot {
        KeySlot {
            slot: n,
            active,
            last_rotated: Some(at(rotated)),
            last_used_date: used.map(at),
            last_used_region: Some("eu-west-1".into()),
            last_used_service: Some("s3".into()),
        }
    }

    fn row(user: &str, created: &str, keys: [KeySlot; 2]) -> ReportRow {
        ReportRow {
            line: 2,
            user: user.into(),
            arn: format!("arn:aws:iam::123456789012:user/{user}"),
            user_creation_time: Some(at(created)),
            password_enabled: false,
            password_last_used: None,
            mfa_active: false,
            keys,
        }
    }

    fn empty(n: u8) -> KeySlot {
        KeySlot {
            slot: n,
            active: false,
            last_rotated: None,
            last_used_date: None,
            last_used_region: None,
            last_used_service: None,
        }
    }

    fn key(id: &str, status: KeyStatus, created: &str) -> AccessKey {
        AccessKey {
            id: Some(id.into()),
            slot: None,
            status,
            // ListAccessKeys dates to the second; the report too, so sub-seconds never match.
            created: at(created),
            last_used: LastUse::Unknown,
            last_used_source: LastUseSource::Api,
            description: None,
        }
    }

    fn user(name: &str, created: &str, keys: Vec<AccessKey>) -> User {
        User {
            name: name.into(),
            arn: format!("arn:aws:iam::123456789012:user/{name}"),
            path: "/".into(),
            user_id: String::new(),
            created: Some(at(created)),
            tags: Vec::new(),
            keys,
            login: None,
        }
    }

    #[test]
    fn slots_are_matched_to_keys_by_creation_second_and_status() {
        let report = CredentialReport {
            users: vec![
                row(
                    "alice",
                    "2024-01-01T00:00:00Z",
                    [
                        slot(
                            1,
                            true,
                            "2024-02-01T10:00:00Z",
                            Some("2026-01-01T08:00:00Z"),
                        ),
                        slot(2, false, "2025-03-01T10:00:00Z", None),
                    ],
                ),
                // Same creation second for both keys: neither can be told apart.
                row(
                    "twins",
                    "2024-01-01T00:00:00Z",
                    [
                        slot(1, true, "2024-05-05T05:05:05Z", None),
                        slot(
                            2,
                            true,
                            "2024-05-05T05:05:05Z",
                            Some("2026-01-01T08:00:00Z"),
                        ),
                    ],
                ),
                // A user of the same name created again after the report: not its row.
                row(
                    "reborn",
                    "2020-01-01T00:00:00Z",
                    [slot(1, true, "2024-02-01T10:00:00Z", None), empty(2)],
                ),
            ],
            root: None,
        };
        let mut inv = Inventory::new(
            SourceInfo::Live { endpoint: None },
            at("2026-01-31T00:00:00Z"),
        );
        inv.users = vec![
            user(
                "alice",
                "2024-01-01T00:00:00Z",
                vec![
                    key("A1", KeyStatus::Active, "2024-02-01T10:00:00.400Z"),
                    key("A2", KeyStatus::Inactive, "2025-03-01T10:00:00Z"),
                    // Created after the report: not in it.
                    key("A3", KeyStatus::Active, "2026-01-30T00:00:00Z"),
                ],
            ),
            user(
                "twins",
                "2024-01-01T00:00:00Z",
                vec![
                    key("T1", KeyStatus::Active, "2024-05-05T05:05:05Z"),
                    key("T2", KeyStatus::Active, "2024-05-05T05:05:05Z"),
                ],
            ),
            user(
                "reborn",
                "2025-06-01T00:00:00Z",
                vec![key("R1", KeyStatus::Active, "2024-02-01T10:00:00Z")],
            ),
        ];
        assert_eq!(fill_last_use(&mut inv, &report), 2);
        let alice = &inv.users[0].keys;
        assert_eq!(
            alice[0].last_used,
            LastUse::Used {
                date: at("2026-01-01T08:00:00Z"),
                service: Some("s3".into()),
                region: Some("eu-west-1".into()),
            }
        );
        assert_eq!(alice[0].last_used_source, LastUseSource::CredentialReport);
        assert_eq!(alice[1].last_used, LastUse::Never);
        assert_eq!(alice[1].last_used_source, LastUseSource::CredentialReport);
        for key in [
            &alice[2],
            &inv.users[1].keys[0],
            &inv.users[1].keys[1],
            &inv.users[2].keys[0],
        ] {
            assert_eq!(key.last_used, LastUse::Unknown, "{:?}", key.id);
            assert_eq!(key.last_used_source, LastUseSource::Api);
        }
    }

    #[test]
    fn a_status_that_changed_since_the_report_leaves_the_key_to_the_api() {
        let report = CredentialReport {
            users: vec![row(
                "bob",
                "2024-01-01T00:00:00Z",
                [slot(1, true, "2024-02-01T10:00:00Z", None), empty(2)],
            )],
            root: None,
        };
        let mut inv = Inventory::new(
            SourceInfo::Live { endpoint: None },
            at("2026-01-31T00:00:00Z"),
        );
        inv.users = vec![user(
            "bob",
            "2024-01-01T00:00:00Z",
            vec![key("B1", KeyStatus::Inactive, "2024-02-01T10:00:00Z")],
        )];
        assert_eq!(fill_last_use(&mut inv, &report), 0);
    }
}
