use super::super::record::key_for;
use super::super::{Audited, RunIdentity};
use super::*;
use crate::findings::IdSource;

#[test]
fn record_names_carry_the_key_and_sort_by_time() {
    let key = "account-123456789012";
    assert_eq!(
        parse_name("account-123456789012.20261126T104500Z.0a1b2c.json", key),
        Some("20261126T104500Z")
    );
    for bad in [
        "account-123456789012.20261126T104500Z.json",
        "account-123456789012.2026112.0a1b2c.json",
        "account-123456789012.20261126T104500Z.xyz.json",
        "account-1234567890123.20261126T104500Z.0a1b2c.json",
        ".account-123456789012.20261126T104500Z.0a1b2c.json.tmp",
    ] {
        assert_eq!(parse_name(bad, key), None, "{bad}");
    }
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    assert!(compact(t("2026-01-02T00:00:00Z")) < compact(t("2026-01-10T00:00:00Z")));
    assert_ne!(nonce(0), nonce(1));
}

#[test]
fn keys_name_what_was_audited() {
    let id = |audited, id_source| RunIdentity {
        audited,
        id_source,
        slice: None,
    };
    assert_eq!(
        key_for(
            &id(
                Audited::Account(Some("123456789012".parse().unwrap())),
                IdSource::Api
            ),
            &[]
        ),
        "account-123456789012"
    );
    assert_eq!(
        key_for(
            &id(
                Audited::Account(Some("123456789012".parse().unwrap())),
                IdSource::CredentialReport
            ),
            &[]
        ),
        "account-123456789012-credential-report"
    );
    assert_eq!(
        key_for(
            &id(
                Audited::Organization(Some("o-ab/../c".into())),
                IdSource::Api
            ),
            &[]
        ),
        "organization-o-ab____c"
    );
    let accounts = |ids: &[&str]| {
        key_for(
            &id(Audited::Organization(None), IdSource::Api),
            &ids.iter().map(|s| s.parse().unwrap()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        accounts(&["222222222222", "111111111111"]),
        accounts(&["111111111111", "222222222222"])
    );
    assert_ne!(
        accounts(&["111111111111", "222222222222"]),
        accounts(&["111111111111", "333333333333"])
    );
    let shard = RunIdentity {
        slice: Some("shard-2-of-8".into()),
        ..id(Audited::Organization(Some("o-abc".into())), IdSource::Api)
    };
    assert_eq!(key_for(&shard, &[]), "organization-o-abc-shard-2-of-8");
}

/// A folder with records of `key` at these as-of instants (each with `open` low findings'
/// count in its head), signed with `signer` when given.
fn folder(times: &[&str], signer: Option<&HistoryKey>) -> (tempfile::TempDir, History) {
    let dir = tempfile::tempdir().unwrap();
    let history = History::new(
        dir.path().join("h"),
        "account-123456789012".into(),
        3,
        signer.cloned(),
    );
    std::fs::create_dir(&history.dir).unwrap();
    for t in times {
        write(&history, at(t));
    }
    (dir, history)
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// Writes a record of an account with no findings, as `t`, and returns its name.
fn write(history: &History, t: DateTime<Utc>) -> String {
    let identity = RunIdentity {
        audited: Audited::Account(Some("123456789012".parse().unwrap())),
        id_source: IdSource::Api,
        slice: None,
    };
    let record = Record::of_run(
        &history.key,
        &identity,
        t,
        true,
        &crate::findings::FindingSet::default(),
    );
    let name = history.record_name(&record);
    let mut bytes = Vec::new();
    history.write_record(&record, &mut bytes).unwrap();
    std::fs::write(history.dir.join(&name), bytes).unwrap();
    name
}

fn names(history: &History) -> Vec<String> {
    history.records().unwrap()
}

#[test]
fn a_future_record_is_never_the_baseline_and_never_pruned() {
    let (_dir, history) = folder(&["2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"], None);
    let now = at("2026-06-01T00:00:00Z");
    let baseline = history.latest(now).unwrap().unwrap();
    assert_eq!(baseline.as_of, at("2026-01-01T00:00:00Z"));
    // --history-keep 1: the record just written stays, the future one is not counted.
    let history = History { keep: 1, ..history };
    let written = write(&history, now);
    history.prune(now, &written).unwrap();
    let left = names(&history);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&written));
    assert!(left.iter().any(|n| n.contains("20990101")));
    // The next run finds this run's record.
    assert_eq!(
        history
            .latest(at("2026-06-08T00:00:00Z"))
            .unwrap()
            .unwrap()
            .as_of,
        now
    );
}

#[test]
fn with_a_key_only_signed_records_are_believed() {
    let key = HistoryKey::parse(&"ab".repeat(32), "test").unwrap();
    let (_dir, history) = folder(
        &["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"],
        Some(&key),
    );
    // A record planted without the key, newer than both.
    let planter = History::new(history.dir.clone(), history.key.clone(), 3, None);
    let planted = write(&planter, at("2026-03-01T00:00:00Z"));
    let now = at("2026-06-01T00:00:00Z");
    let baseline = history.latest(now).unwrap().unwrap();
    assert_eq!(
        baseline.as_of,
        at("2026-02-01T00:00:00Z"),
        "the planted one is skipped"
    );
    let trend = history
        .trend(TrendPoint {
            as_of: now,
            open: [0; 4],
            complete: true,
        })
        .unwrap();
    assert_eq!(trend.len(), 3, "two signed records and this run: {trend:?}");
    assert!(trend.iter().all(|p| p.as_of != at("2026-03-01T00:00:00Z")));
    // Without the key, the same folder believes every record (the planted one is newest).
    let open = History::new(history.dir.clone(), history.key.clone(), 3, None);
    assert_eq!(
        open.latest(now).unwrap().unwrap().as_of,
        at("2026-03-01T00:00:00Z")
    );
    assert!(planted.ends_with(".json"));
}
