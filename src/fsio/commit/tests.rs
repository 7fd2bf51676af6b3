use std::cell::Cell;
use std::collections::BTreeMap;

use super::*;

// A crash at a chosen point: the files on disk stay as they are, the journals' locks are
// released and the staged files are not removed, as when the process is killed.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Crash {
    AfterEntries(usize),
    AfterCommitPoint,
}

thread_local! {
    static CRASH: Cell<Option<Crash>> = const { Cell::new(None) };
}

pub(super) fn crash_now(applied: usize) -> bool {
    CRASH.get() == Some(Crash::AfterEntries(applied))
}

pub(super) fn crash_after_commit_point() -> bool {
    CRASH.get() == Some(Crash::AfterCommitPoint)
}

pub(super) fn crashed(folders: Vec<Folder>) -> WriteError {
    for mut folder in folders {
        drop(folder.journal.take());
        for s in &mut folder.staged {
            if let Some(tmp) = s.tmp.take() {
                interrupt::unstaged(tmp.path());
                let _ = tmp.into_temp_path().keep();
            }
        }
    }
    WriteError {
        path: "(crashed)".into(),
        source: io::Error::other("a simulated crash"),
    }
}

/// Every file of `dir`, by name, with its content.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let text = std::fs::read_to_string(e.path()).unwrap_or_else(|_| "<unreadable>".into());
            (name, text)
        })
        .collect()
}

fn files(dir: &Path, pairs: &[(&str, &str)]) {
    for (name, text) in pairs {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// Two folders: the primary replaces a and b and creates c; the other replaces x, creates
/// y and removes z.
fn two_sets(primary: &Path, other: &Path) -> Vec<FileSet> {
    let mut p = FileSet::new(primary).unwrap();
    for name in ["a", "b", "c"] {
        p.stage(name, |w| w.write_all(format!("new {name}").as_bytes()))
            .unwrap();
    }
    let mut o = FileSet::new(other).unwrap();
    for name in ["x", "y"] {
        o.stage(name, |w| w.write_all(format!("new {name}").as_bytes()))
            .unwrap();
    }
    o.remove("z");
    vec![p, o]
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let primary = dir.path().join("out");
    let other = dir.path().join("saved");
    std::fs::create_dir(&primary).unwrap();
    std::fs::create_dir(&other).unwrap();
    files(&primary, &[("a", "old a"), ("b", "old b")]);
    files(&other, &[("x", "old x"), ("z", "old z")]);
    (dir, primary, other)
}

#[test]
fn a_commit_replaces_creates_and_removes_files_in_every_folder() {
    let (_dir, primary, other) = setup();
    let written = commit(two_sets(&primary, &other)).unwrap();
    assert_eq!(written.len(), 5);
    let expected = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        snapshot(&primary),
        expected(&[("a", "new a"), ("b", "new b"), ("c", "new c")]),
        "no journal, backup or temporary file is left"
    );
    assert_eq!(
        snapshot(&other),
        expected(&[("x", "new x"), ("y", "new y")])
    );
}

#[test]
fn a_commit_killed_at_any_point_before_its_end_is_rolled_back_by_the_next_run() {
    for stop in 1..=5 {
        for primary_first in [true, false] {
            let (_dir, primary, other) = setup();
            let before = (snapshot(&primary), snapshot(&other));
            CRASH.set(Some(Crash::AfterEntries(stop)));
            assert!(commit(two_sets(&primary, &other)).is_err());
            CRASH.set(None);
            // The next run may recover either folder first.
            let order = if primary_first {
                [&primary, &other]
            } else {
                [&other, &primary]
            };
            for dir in order {
                recover(dir).unwrap();
                clean_debris(dir, true, std::time::Duration::ZERO);
            }
            assert_eq!(
                (snapshot(&primary), snapshot(&other)),
                before,
                "stopped after {stop} files, recovered {}",
                if primary_first {
                    "primary first"
                } else {
                    "other first"
                }
            );
        }
    }
}

#[test]
fn a_commit_killed_after_its_commit_point_is_finished_by_the_next_run() {
    let (_dir, primary, other) = setup();
    CRASH.set(Some(Crash::AfterCommitPoint));
    assert!(commit(two_sets(&primary, &other)).is_err());
    CRASH.set(None);
    let done = recover(&other).unwrap();
    assert_eq!(done.finished, 1);
    clean_debris(&primary, true, std::time::Duration::ZERO);
    assert_eq!(
        snapshot(&primary).values().cloned().collect::<Vec<_>>(),
        ["new a", "new b", "new c"]
    );
    assert_eq!(
        snapshot(&other).values().cloned().collect::<Vec<_>>(),
        ["new x", "new y"]
    );
}

#[test]
fn a_live_commit_s_journal_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal {
        keyhygiene_commit: JOURNAL_VERSION,
        primary: absolute(dir.path()).join(".keyhygiene-commit-1.json"),
        others: Vec::new(),
        entries: vec![Entry {
            name: "a".into(),
            action: Action::Create,
            staged: Some(".keyhygiene-x.tmp".into()),
            backup: None,
        }],
    };
    std::fs::write(dir.path().join("a"), "a").unwrap();
    let held = write_journal(dir.path(), ".keyhygiene-commit-1.json", &journal).unwrap();
    assert_eq!(recover(dir.path()).unwrap(), Recovered::default());
    assert!(dir.path().join("a").exists());
    drop(held);
    assert_eq!(recover(dir.path()).unwrap().rolled_back, 1);
    assert!(
        !dir.path().join("a").exists(),
        "the created file was this commit's"
    );
}

#[test]
fn a_hostile_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::write(&outside, "keep").unwrap();
    let inner = dir.path().join("out");
    std::fs::create_dir(&inner).unwrap();
    let journal = serde_json::json!({
        "keyhygiene_commit": 1,
        "primary": inner.join(".keyhygiene-commit-2.json"),
        "entries": [{"name": "../outside", "action": "create", "staged": ".keyhygiene-y.tmp"}],
    });
    std::fs::write(inner.join(".keyhygiene-commit-2.json"), journal.to_string()).unwrap();
    let err = recover(&inner).unwrap_err();
    assert!(
        err.to_string().contains("not a keyhygiene commit journal"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
}

#[test]
fn a_planted_symlink_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for name in [".report.html.tmp", "report.html.tmp", "report.html"] {
        std::os::unix::fs::symlink(&victim, out.join(name)).unwrap();
    }
    super::super::write_atomic(&out.join("report.html"), |w| w.write_all(b"<html>")).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(
        std::fs::read_to_string(out.join("report.html")).unwrap(),
        "<html>"
    );
    assert!(
        std::fs::symlink_metadata(out.join("report.html"))
            .unwrap()
            .file_type()
            .is_file()
    );
}

#[test]
fn a_set_that_cannot_be_swapped_in_leaves_the_previous_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "old a").unwrap();
    // "c.txt" cannot be replaced: a directory is in its way.
    std::fs::create_dir(dir.path().join("c.txt")).unwrap();
    let mut set = FileSet::new(dir.path()).unwrap();
    for name in ["a.txt", "b.txt", "c.txt"] {
        set.stage(name, |w| w.write_all(b"new")).unwrap();
    }
    let err = set.commit().unwrap_err();
    assert!(err.path.ends_with("c.txt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "old a"
    );
    let left: Vec<String> = snapshot(dir.path()).into_keys().collect();
    assert_eq!(left, ["a.txt", "c.txt"], "no temporary file is left behind");
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut set = FileSet::new(dir.path()).unwrap();
    set.stage("a.txt", |w| w.write_all(b"new")).unwrap();
    let err = set
        .stage("b.txt", |_| Err(io::Error::other("renderer failed")))
        .unwrap_err();
    assert!(err.to_string().contains("renderer failed"));
    drop(set);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_new_file_never_replaces_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyhygiene.toml");
    std::fs::write(&path, "mine").unwrap();
    assert!(super::super::write_new(&path, |w| w.write_all(b"theirs")).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // Nor a link planted at its name.
    let link = dir.path().join("record.json");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let mut set = FileSet::new(dir.path()).unwrap();
    set.stage_new("record.json", |w| w.write_all(b"theirs"))
        .unwrap();
    assert!(set.commit().is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
}

#[test]
fn debris_is_cleaned_in_a_locked_folder_and_when_old_in_a_shared_one() {
    let dir = tempfile::tempdir().unwrap();
    files(
        dir.path(),
        &[
            (".keyhygiene-abc.tmp", ""),
            (".keyhygiene-previous-def", ""),
            ("report.html", "keep"),
        ],
    );
    assert_eq!(
        clean_debris(dir.path(), false, std::time::Duration::from_secs(3600)),
        0,
        "another run may be staging in a shared folder"
    );
    assert_eq!(clean_debris(dir.path(), true, std::time::Duration::ZERO), 2);
    assert_eq!(snapshot(dir.path()).len(), 1);
}
