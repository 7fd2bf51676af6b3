//! deploy/github-actions-sharded.yml, the worked example of a sharded organization audit:
//! its matrix and `--shard` agree, a failed shard does not cancel the others or the merge,
//! keyhygiene is built once and travels as an artifact, the shards save into one S3
//! prefix of the workflow run and the merge reads it, the history lives in S3 (no
//! `actions/cache`, which evicts), no step installs from a URL, and every flag it passes
//! to keyhygiene is one keyhygiene accepts. (Running it needs GitHub and AWS; the sharding itself is
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
        .filter(|l| l.trim_start().starts_with("bin/keyhygiene audit"))
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
    let inventories = "\"$STORE/inventories/$GITHUB_RUN_ID/\"";
    assert!(
        shard_script.contains(&format!("--save-inventory {inventories}")),
        "{shard_script}"
    );
    assert!(
        wf["env"]["STORE"]
            .as_str()
            .is_some_and(|s| s.starts_with("s3://")),
        "the store is an S3 prefix"
    );

    // Built once, from this repository; the binary is an artifact of the other jobs.
    let build = &wf["jobs"]["build"];
    let build_script = scripts(build).join("\n");
    assert!(
        build_script.contains("cargo build --release --locked"),
        "{build_script}"
    );
    let uses = |job: &Value, action: &str| -> Vec<Value> {
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
            .cloned()
            .collect()
    };
    assert_eq!(uses(build, "actions/checkout").len(), 1);
    assert_eq!(
        uses(build, "actions/upload-artifact")[0]["with"]["name"],
        "keyhygiene-binary"
    );
    let merge = &wf["jobs"]["merge"];
    for job in [shard_job, merge] {
        let download = &uses(job, "actions/download-artifact")[0];
        assert_eq!(download["with"]["name"], "keyhygiene-binary");
        assert!(uses(job, "actions/cache").is_empty(), "no actions/cache");
        assert!(
            uses(job, "actions/checkout").is_empty(),
            "no second source build"
        );
    }
    let text =
        std::fs::read_to_string(Path::new(ROOT).join("deploy/github-actions-sharded.yml")).unwrap();
    assert!(!text.contains("cargo install"), "no source install per job");
    assert!(!text.contains("github.com/"), "no repository URL");

    assert_eq!(merge["needs"], serde_json::json!(["build", "shard"]));
    assert!(
        merge["if"].as_str().is_some_and(|c| c.contains("always()")),
        "the merge runs when a shard failed"
    );
    let merge_script = scripts(merge).join("\n");
    assert!(
        merge_script.contains(&format!("--from-inventory {inventories}")),
        "the merge reads the prefix the shards saved into: {merge_script}"
    );
    assert!(
        merge_script.contains("--history \"$STORE/history/\""),
        "{merge_script}"
    );
    assert!(
        merge_script.contains("--out-dir \"$STORE/reports/\""),
        "{merge_script}"
    );

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
