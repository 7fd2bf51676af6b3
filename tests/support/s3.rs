//! moto's S3, through boto3 from the project's virtualenv (an independent client: the
//! tests never check keyhygiene's S3 writes with keyhygiene's own reader).

use std::collections::BTreeSet;
use std::process::Command;

/// Runs a few lines of Python with `s3`, a boto3 client of `endpoint`, and `a`, the
/// arguments; returns its stdout.
pub fn s3py(endpoint: &str, code: &str, args: &[&str]) -> String {
    let script = format!(
        "import sys, json, boto3\n\
         s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
         aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         a = sys.argv[2:]\n{code}\n"
    );
    let out = Command::new(super::venv_python())
        .args(["-c", &script, endpoint])
        .args(args)
        .output()
        .expect("run the project's python (scripts/setup creates it)");
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn create_bucket(endpoint: &str, bucket: &str) {
    s3py(endpoint, "s3.create_bucket(Bucket=a[0])", &[bucket]);
}

/// Every key under `prefix`, paged.
pub fn keys(endpoint: &str, bucket: &str, prefix: &str) -> BTreeSet<String> {
    let out = s3py(
        endpoint,
        "p = s3.get_paginator('list_objects_v2')\n\
         for page in p.paginate(Bucket=a[0], Prefix=a[1]):\n\
         \x20   for o in page.get('Contents', []): print(o['Key'])",
        &[bucket, prefix],
    );
    out.lines().map(str::to_string).collect()
}

/// The object's text.
pub fn get(endpoint: &str, bucket: &str, key: &str) -> String {
    s3py(
        endpoint,
        "sys.stdout.write(s3.get_object(Bucket=a[0], Key=a[1])['Body'].read().decode())",
        &[bucket, key],
    )
}

/// The report.json of the set the pointer `<prefix>current.json` names, after checking
/// the pointer lists the set's files.
pub fn current_report(endpoint: &str, bucket: &str, prefix: &str) -> serde_json::Value {
    let pointer: serde_json::Value =
        serde_json::from_str(&get(endpoint, bucket, &format!("{prefix}current.json"))).unwrap();
    let set = pointer["set"].as_str().unwrap();
    assert!(set.starts_with("runs/"), "{pointer}");
    let files: Vec<&str> = pointer["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(files.contains(&"report.json"), "{files:?}");
    let listed = keys(endpoint, bucket, &format!("{prefix}{set}"));
    for file in &files {
        assert!(
            listed.contains(&format!("{prefix}{set}{file}")),
            "{file} of {set}"
        );
    }
    serde_json::from_str(&get(endpoint, bucket, &format!("{prefix}{set}report.json"))).unwrap()
}
