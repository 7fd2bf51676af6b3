//! deploy/github-actions-sharded.yml, the worked example of a sharded organization audit:
//! its matrix and `--shard` agree, a failed shard does not cancel the others or the merge,
//! the merge reads every shard's folder into one, and every flag it passes to keyhygiene
//! is one keyhygiene accepts. (Running it needs GitHub and AWS; the sharding itself is
//! tested end to end in tests/org_moto.rs.)

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{ROOT, venv_python};

/// The workflow, as JSON (PyYAML from the project's virtualenv reads the YAML).
fn workflow() -> Value {
    let file = Path::new(ROOT).join("deploy/github-actions-sharded.yml");
    let output = Command::new(venv_python())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(&file)
        .output()
        .expect("run the virtualenv's python (scripts/setup creates it)");
    assert!(
        output.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the workflow as JSON")
}

/// The `run:` scripts of a job's steps.
fn scripts(job: &Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str().map(str::to_string))
        .collect()
}

/// Every `--flag` of the `keyhygiene audit` commands in `script`.
fn audit_flags(script: &str) -> Vec<String> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .filter(|l| l.trim_start().starts_with("keyhygiene audit"))
        .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|w| w.starts_with("--"))
        .collect()
}

#[test]
fn the_sharded_workflow_is_consistent_with_keyhygiene() {
    let wf = workflow();
    let shards = wf["env"]["SHARDS"].as_u64().expect("env.SHARDS");
    let shard_job = &wf["jobs"]["shard"];
    let matrix: Vec<u64> = shard_job["strategy"]["matrix"]["shard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(
        matrix,
        (1..=shards).collect::<Vec<_>>(),
        "the matrix is 1..SHARDS"
    );
    assert_eq!(shard_job["strategy"]["fail-fast"], false);
    let shard_script = scripts(shard_job).join("\n");
    assert!(shard_script.contains("--shard \"${{ matrix.shard }}/$SHARDS\""));
    assert!(shard_script.contains("--save-inventory inventories"));

    let merge = &wf["jobs"]["merge"];
    assert_eq!(merge["needs"], "shard");
    assert_eq!(
        merge["if"], "${{ always() }}",
        "the merge runs when a shard failed"
    );
    let download = merge["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/download-artifact"))
        })
        .expect("the merge downloads the shards' inventories");
    assert_eq!(download["with"]["merge-multiple"], true);
    assert_eq!(download["with"]["path"], "inventories/");
    let merge_script = scripts(merge).join("\n");
    assert!(merge_script.contains("--from-inventory inventories"));

    // Every flag the workflow passes exists.
    let help = support::keyhygiene()
        .args(["audit", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let flags: Vec<String> = audit_flags(&shard_script)
        .into_iter()
        .chain(audit_flags(&merge_script))
        .collect();
    assert!(flags.len() >= 12, "{flags:?}");
    for flag in flags {
        assert!(
            help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
            "keyhygiene audit has no {flag}"
        );
    }
}
