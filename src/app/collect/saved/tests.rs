use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::load_saved;
use crate::inventory::{Inventory, RootKeys, SourceInfo};
use crate::org::{Outcome, Shard};

/// An account with no users, saved the way `--save-inventory DIR` saves it.
fn save_account(dir: &Path, id: &str) {
    let mut inv = Inventory::new(
        SourceInfo::Live { endpoint: None },
        "2026-06-01T12:00:00Z".parse().unwrap(),
    );
    inv.account_id = Some(id.parse().unwrap());
    inv.root = RootKeys::AccountSummary {
        keys_present: false,
    };
    let mut bytes = Vec::new();
    inv.write_json(&mut bytes).unwrap();
    std::fs::write(dir.join(format!("account-{id}.json")), bytes).unwrap();
}

fn record(id: &str, state: &str, result: Value) -> Value {
    json!({"account": {"id": id, "name": format!("acct {id}"), "state": state, "ou_path": "Root"}, "result": result})
}

fn audited(id: &str) -> Value {
    json!({"outcome": "audited", "file": format!("account-{id}.json")})
}

fn manifest(shard: Option<(u32, u32)>, accounts: Vec<Value>) -> Value {
    let mut selection =
        json!({"org": true, "ous": [], "accounts": [], "exclude_accounts": [], "role_name": "r"});
    if let Some((index, count)) = shard {
        selection["shard"] = json!({"index": index, "count": count});
    }
    json!({
        "schema_version": 1,
        "listed_at": "2026-06-01T11:00:00Z",
        "organization_id": "o-exampleorg",
        "management_account_id": "111111111111",
        "caller_account_id": "111111111111",
        "selection": selection,
        "accounts": accounts,
    })
}

/// Writes a shard's folder (or an unsharded run's, with `None`): its manifest and an
/// inventory file for every account it audited.
fn write_folder(dir: &Path, shard: Option<(u32, u32)>, accounts: Vec<Value>) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for a in &accounts {
        if a["result"]["outcome"] == "audited" {
            save_account(dir, a["account"]["id"].as_str().unwrap());
        }
    }
    let name = Shard::manifest_file(shard.map(|(index, count)| Shard { index, count }));
    std::fs::write(
        dir.join(name),
        serde_json::to_string_pretty(&manifest(shard, accounts)).unwrap(),
    )
    .unwrap();
    dir.to_path_buf()
}

/// An account id of `shard` of `count`, the `n`-th found.
fn id_in_shard(shard: u32, count: u32, n: usize) -> String {
    (0..)
        .map(|i: u64| format!("{:012}", 300_000_000_000 + i))
        .filter(|id| Shard::of(id, count) == shard)
        .nth(n)
        .unwrap()
}

/// The records of a shard of `count` over `ids`: its own accounts audited, the others in
/// another shard.
fn shard_records(shard: u32, count: u32, ids: &[String]) -> Vec<Value> {
    ids.iter()
        .map(|id| {
            if Shard::of(id, count) == shard {
                record(id, "ACTIVE", audited(id))
            } else {
                record(id, "ACTIVE", json!({"outcome": "other-shard"}))
            }
        })
        .collect()
}

/// The manifest of a merge (an organization's, always).
fn manifest_of(collected: &super::Collected) -> &crate::org::Manifest {
    match &collected.accounts {
        super::super::Accounts::Organization { manifest, .. } => manifest,
        super::super::Accounts::One(_) => panic!("saved folders give the organization layout"),
    }
}

fn outcome(collected: &super::Collected, id: &str) -> Outcome {
    manifest_of(collected)
        .accounts
        .iter()
        .find(|r| r.account.id == id)
        .unwrap()
        .result
        .clone()
}

#[test]
fn a_lone_shard_is_not_a_whole_organization() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = [(1, 0), (1, 1), (2, 0), (2, 1)]
        .iter()
        .map(|&(shard, n)| id_in_shard(shard, 2, n))
        .collect();
    let folder = write_folder(
        &dir.path().join("sh"),
        Some((1, 2)),
        shard_records(1, 2, &ids),
    );
    // Merged alone, shard 2's accounts were meant to be audited and were not.
    let merged = load_saved(std::slice::from_ref(&folder), None).unwrap();
    for id in &ids[2..] {
        match outcome(&merged, id) {
            Outcome::Unreachable(p) => {
                assert_eq!(p.error_code, "NotCovered");
                assert!(p.message.contains("shard 2 of 2"), "{}", p.message);
                assert!(p.message.contains("--only-shard"), "{}", p.message);
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    assert!(matches!(outcome(&merged, &ids[0]), Outcome::Audited { .. }));
    assert_eq!(manifest_of(&merged).selection.shard, None);
    // Asked for explicitly, the folder is shard 1's own report.
    let shard = Shard { index: 1, count: 2 };
    let own = load_saved(std::slice::from_ref(&folder), Some(shard)).unwrap();
    assert_eq!(outcome(&own, &ids[2]), Outcome::OtherShard);
    assert_eq!(manifest_of(&own).selection.shard, Some(shard));
    // --only-shard of a shard whose manifest is not there.
    let err = load_saved(&[folder], Some(Shard { index: 2, count: 2 }))
        .map(|_| ())
        .unwrap_err();
    assert!(err.contains("no manifest-shard-2-of-2.json here"), "{err}");
}

#[test]
fn shards_merged_together_cover_the_organization() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..6)
        .map(|n| id_in_shard(1 + n as u32 % 3, 3, n))
        .collect();
    // Three shards saving into one shared folder.
    let shared = dir.path().join("shared");
    for shard in 1..=3 {
        write_folder(&shared, Some((shard, 3)), shard_records(shard, 3, &ids));
    }
    let merged = load_saved(std::slice::from_ref(&shared), None).unwrap();
    assert!(
        manifest_of(&merged)
            .accounts
            .iter()
            .all(|r| matches!(r.result, Outcome::Audited { .. })),
        "{:?}",
        manifest_of(&merged).accounts
    );
    // Only shard 2 of the shared folder.
    let two = load_saved(&[shared], Some(Shard { index: 2, count: 3 })).unwrap();
    let audited = manifest_of(&two)
        .accounts
        .iter()
        .filter(|r| matches!(r.result, Outcome::Audited { .. }))
        .count();
    assert_eq!(audited, 2);
}

/// The first line of the error `load_saved` gives for these folders.
fn refused(folders: &[PathBuf]) -> String {
    let err = load_saved(folders, None)
        .map(|_| ())
        .expect_err("the folders are refused");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn a_manifest_that_contradicts_itself_or_another_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let folder =
        |name: &str, shard, accounts| write_folder(&dir.path().join(name), shard, accounts);
    // An ACTIVE account said to be not active (its file deleted).
    let f = folder(
        "not-active",
        None,
        vec![
            record("222222222222", "ACTIVE", audited("222222222222")),
            record("333333333333", "ACTIVE", json!({"outcome": "not-active"})),
        ],
    );
    let err = refused(&[f]);
    assert!(
        err.contains("account 333333333333 is ACTIVE, but the manifest says it was not active"),
        "{err}"
    );
    // A CLOSED account audited.
    let f = folder(
        "closed",
        None,
        vec![record("222222222222", "CLOSED", audited("222222222222"))],
    );
    assert!(refused(&[f]).contains("is CLOSED, which is never audited"));
    // One account twice: excluded and audited.
    let f = folder(
        "twice",
        None,
        vec![
            record("222222222222", "ACTIVE", json!({"outcome": "excluded"})),
            record("222222222222", "ACTIVE", audited("222222222222")),
        ],
    );
    assert!(refused(&[f]).contains("account 222222222222 is listed twice"));
    // An audited account whose file is another's.
    let f = folder(
        "other-file",
        None,
        vec![record(
            "222222222222",
            "ACTIVE",
            json!({"outcome": "audited", "file": "account-333333333333.json"}),
        )],
    );
    assert!(refused(&[f]).contains("not its own file account-222222222222.json"));
    // A shard that claims an account of another shard.
    let theirs = id_in_shard(2, 2, 0);
    let f = folder(
        "claims",
        Some((1, 2)),
        vec![record(&theirs, "ACTIVE", audited(&theirs))],
    );
    assert!(refused(&[f]).contains("belongs to shard 2 of 2"));
    // Two shards that disagree on an account's exclusion.
    let mine = id_in_shard(1, 2, 0);
    let a = folder(
        "a",
        Some((1, 2)),
        vec![record(&mine, "ACTIVE", audited(&mine))],
    );
    let b = folder(
        "b",
        Some((2, 2)),
        vec![record(&mine, "ACTIVE", json!({"outcome": "excluded"}))],
    );
    let err = refused(&[a.clone(), b]);
    assert!(
        err.contains("each account is audited by one shard"),
        "{err}"
    );
    // Two shards that disagree on an account's state.
    let c = folder(
        "c",
        Some((2, 2)),
        vec![record(
            &mine,
            "NOT_LISTED",
            json!({"outcome": "other-shard"}),
        )],
    );
    assert!(refused(&[a.clone(), c]).contains("audited (ACTIVE)"));
    // Manifests of runs split differently.
    let d = folder("d", Some((2, 3)), vec![]);
    assert!(refused(&[a.clone(), d]).contains("a run of 3 shards"));
    // An unsharded run's manifest beside a shard's.
    let e = folder("e", None, vec![]);
    assert!(refused(&[a, e]).contains("an unsharded run"));
}

#[test]
fn a_shard_count_of_zero_is_refused_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let folder = write_folder(&dir.path().join("s"), None, vec![]);
    let mut m = manifest(None, vec![]);
    m["selection"]["shard"] = json!({"index": 1, "count": 0});
    std::fs::remove_file(folder.join("manifest.json")).unwrap();
    std::fs::write(folder.join("manifest-shard-1-of-0.json"), m.to_string()).unwrap();
    let err = refused(&[folder]);
    assert!(err.contains("K must be from 1 to N"), "{err}");
}

#[test]
fn files_inside_a_folder_are_never_followed_out_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    save_account(&outside, "222222222222");
    let folder = write_folder(
        &dir.path().join("saved"),
        None,
        vec![record("222222222222", "ACTIVE", audited("222222222222"))],
    );
    let file = folder.join("account-222222222222.json");
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(outside.join("account-222222222222.json"), &file).unwrap();
    let err = refused(std::slice::from_ref(&folder));
    assert!(err.contains("is a symbolic link"), "{err}");
    // The manifest itself, too.
    std::fs::remove_file(&file).unwrap();
    save_account(&folder, "222222222222");
    let m = folder.join("manifest.json");
    std::fs::rename(&m, outside.join("manifest.json")).unwrap();
    std::os::unix::fs::symlink(outside.join("manifest.json"), &m).unwrap();
    assert!(refused(std::slice::from_ref(&folder)).contains("is a symbolic link"));
    // A folder given on the command line may itself be a link.
    std::fs::remove_file(&m).unwrap();
    std::fs::rename(outside.join("manifest.json"), &m).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&folder, &link).unwrap();
    assert!(load_saved(&[link], None).is_ok());
}

/// Comparisons of account ids made by `f`, on this thread.
fn comparisons(f: impl FnOnce()) -> u64 {
    let count = || crate::ident::COMPARISONS.with(|c| c.get());
    let before = count();
    f();
    count() - before
}

#[test]
fn merging_manifests_is_linear_in_their_records() {
    // Two shards of n accounts each in one folder; 8 × n grows the work at most 12-fold
    // (n log n is about 10-fold here; the quadratic merge this replaced was 64-fold).
    let work = |n: usize| {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..n)
            .map(|i| format!("{:012}", 400_000_000_000 + i as u64))
            .collect();
        // Every shard records a suspended account alike.
        let records: Vec<Value> = ids
            .iter()
            .map(|id| record(id, "SUSPENDED", json!({"outcome": "not-active"})))
            .collect();
        for shard in 1..=2 {
            write_folder(dir.path(), Some((shard, 2)), records.clone());
        }
        comparisons(|| {
            let merged = load_saved(&[dir.path().to_path_buf()], None).unwrap();
            assert_eq!(manifest_of(&merged).accounts.len(), n);
        })
    };
    let small = work(500);
    let large = work(4_000);
    assert!(small > 0);
    assert!(
        large <= small * 12,
        "8x the accounts took {}x the comparisons ({small} -> {large})",
        large / small.max(1)
    );
}
