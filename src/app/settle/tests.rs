use std::collections::BTreeSet;

use chrono::TimeDelta;

use super::*;
use crate::inventory::KeyStatus;
use crate::rules::test_support::*;

fn ids(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn at(window_hours: i64) -> SettledWindow {
    SettledWindow {
        from: as_of(),
        until: as_of() + TimeDelta::hours(window_hours),
    }
}

fn unsettled_now(inv: &Inventory, window_hours: i64) -> BTreeSet<String> {
    unsettled(
        inv,
        &crate::rules::default_settings(),
        at(window_hours),
        as_of(),
    )
}

#[test]
fn keys_a_later_use_cannot_change_keep_the_report_value() {
    // Used 3 days ago per the report: no rule flags it, and a later use would not either.
    // Created 200 days ago and used 3 days ago: key-not-rotated flags it whatever the use.
    let inv = inventory(vec![user(
        "bob",
        vec![
            reported(active("RECENT", days_ago(30), used(days_ago(3)))),
            reported(active("OLD", days_ago(200), used(days_ago(3)))),
        ],
    )]);
    assert_eq!(unsettled_now(&inv, 0), ids(&[]));
}

#[test]
fn keys_a_later_use_could_clear_are_confirmed() {
    let inv = inventory(vec![
        user(
            "idle",
            vec![reported(active("IDLE", days_ago(300), used(days_ago(100))))],
        ),
        user(
            "never",
            vec![reported(active("NEVER", days_ago(30), LastUse::Never))],
        ),
        user(
            "inactive",
            vec![reported(key(
                "OFF",
                KeyStatus::Inactive,
                days_ago(30),
                used(days_ago(20)),
            ))],
        ),
        // The same facts from GetAccessKeyLastUsed need nothing.
        user(
            "api",
            vec![active("API", days_ago(300), used(days_ago(100)))],
        ),
    ]);
    assert_eq!(unsettled_now(&inv, 0), ids(&["IDLE", "NEVER", "OFF"]));
}

#[test]
fn the_window_confirms_keys_that_cross_a_threshold_within_it() {
    // 45 days unused is the limit: exactly 45 days now, past it within the hour.
    let inv = inventory(vec![user(
        "edge",
        vec![reported(active("EDGE", days_ago(300), used(days_ago(45))))],
    )]);
    assert_eq!(unsettled_now(&inv, 0), ids(&[]));
    assert_eq!(unsettled_now(&inv, 24), ids(&["EDGE"]));
}

#[test]
fn a_user_finding_that_could_change_confirms_every_reported_key_of_the_user() {
    // Two active keys, the newer 10 days old (past the 7-day grace: medium); at a later
    // as-of nothing changes, and user-two-active-keys does not read last use.
    let two = user(
        "two",
        vec![
            reported(active("A", days_ago(100), used(days_ago(1)))),
            reported(active("B", days_ago(10), used(days_ago(1)))),
        ],
    );
    assert_eq!(
        unsettled_now(&inventory(vec![two.clone()]), 24 * 30),
        ids(&[])
    );
    // The newer key 7 days old: low now, medium within a day.
    let rotating = user(
        "rotating",
        vec![
            reported(active("C", days_ago(100), used(days_ago(1)))),
            reported(active("D", days_ago(7), used(days_ago(1)))),
        ],
    );
    assert_eq!(
        unsettled_now(&inventory(vec![rotating]), 24),
        ids(&["C", "D"])
    );
}

#[test]
fn a_disabled_rule_asks_for_nothing() {
    let inv = inventory(vec![user(
        "never",
        vec![reported(active("NEVER", days_ago(30), LastUse::Never))],
    )]);
    let mut rules = crate::rules::default_settings();
    for id in ["key-never-used", "key-unused"] {
        rules.get_mut(id).unwrap().enabled = false;
    }
    assert_eq!(unsettled(&inv, &rules, at(0), as_of()), ids(&[]));
}

#[test]
fn a_saved_inventory_judged_outside_its_window_turns_unsure_values_into_gaps() {
    let mut inv = inventory(vec![user(
        "edge",
        vec![
            reported(active("EDGE", days_ago(300), used(days_ago(44)))),
            reported(active("FRESH", days_ago(20), used(days_ago(1)))),
        ],
    )]);
    inv.last_use_settled = Some(at(24));
    let rules = crate::rules::default_settings();
    // Inside the window: nothing changes.
    assert_eq!(
        check_settled(&mut inv.clone(), &rules, as_of() + TimeDelta::hours(20)),
        0
    );
    // Two days later the key 44 days idle could be past the limit, or used since.
    let later = as_of() + TimeDelta::days(2);
    assert_eq!(check_settled(&mut inv, &rules, later), 1);
    let edge = &inv.users[0].keys[0];
    assert_eq!(edge.last_used, LastUse::Unknown);
    let gaps: Vec<_> = inv
        .gaps
        .iter()
        .filter(|g| g.operation == "GetAccessKeyLastUsed")
        .collect();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].access_key_id.as_deref(), Some("EDGE"));
    assert_eq!(gaps[0].error_code, "NotConfirmed");
    assert!(inv.users[0].keys[1].last_used != LastUse::Unknown);
}

#[test]
fn inventories_without_report_values_are_never_touched() {
    let mut inv = inventory(vec![user(
        "idle",
        vec![active("IDLE", days_ago(300), used(days_ago(100)))],
    )]);
    inv.last_use_settled = None;
    let later = as_of() + TimeDelta::days(400);
    assert_eq!(
        check_settled(&mut inv, &crate::rules::default_settings(), later),
        0
    );
    assert!(inv.gaps.is_empty());
}

#[test]
fn only_values_that_outlive_their_settling_need_a_horizon() {
    // One account, judged at the instant it settled: nothing to keep exact.
    assert_eq!(horizon(false, 1), TimeDelta::zero());
    assert_eq!(horizon(false, 0), TimeDelta::zero());
    // Saved for later, or judged after the other accounts settled.
    assert_eq!(horizon(true, 1), TimeDelta::hours(HORIZON_HOURS));
    assert_eq!(horizon(false, 2), TimeDelta::hours(HORIZON_HOURS));
}
