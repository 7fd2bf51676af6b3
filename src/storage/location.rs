//! Where a flag points: a local path, or an S3 location (`s3://bucket/prefix/` for a prefix,
//! `s3://bucket/key` for one object), parsed once and refused with one line.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a folder or file flag points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3(S3Url),
}

/// An S3 bucket and a key in it. A key that is empty or ends with `/` names a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

/// The longest key S3 accepts, in bytes; a prefix leaves room for the names under it.
const MAX_PREFIX_BYTES: usize = 768;

impl Location {
    /// `flag`'s value: `s3://…` is an S3 location, anything else a local path.
    pub fn parse(flag: &str, value: &Path) -> Result<Location, String> {
        let Some(text) = value.to_str().filter(|t| t.starts_with("s3://")) else {
            return Ok(Location::Local(value.to_path_buf()));
        };
        S3Url::parse(text)
            .map(Location::S3)
            .map_err(|why| format!("{flag} {}: {why}", crate::text::for_terminal(text)))
    }

    /// The S3 location, if it is one.
    pub fn s3(&self) -> Option<&S3Url> {
        match self {
            Location::S3(url) => Some(url),
            Location::Local(_) => None,
        }
    }
}

impl S3Url {
    /// Parses `s3://bucket[/key]`.
    pub fn parse(text: &str) -> Result<S3Url, String> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or("expected s3://bucket/prefix/")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket)?;
        check_key(key)?;
        Ok(S3Url {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// True when the location names a prefix (a folder) rather than one object.
    pub fn is_prefix(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }

    /// The key of `name` under this prefix.
    pub fn join(&self, name: &str) -> S3Url {
        S3Url {
            bucket: self.bucket.clone(),
            key: format!("{}{name}", self.key),
        }
    }

    /// The prefix this object's key is in (`a/b/c.json` → `a/b/`).
    pub fn parent(&self) -> S3Url {
        let cut = self
            .key
            .trim_end_matches('/')
            .rfind('/')
            .map_or(0, |i| i + 1);
        S3Url {
            bucket: self.bucket.clone(),
            key: self.key[..cut].to_string(),
        }
    }

    /// The last segment of the key (an object's file name).
    pub fn name(&self) -> &str {
        let key = self.key.trim_end_matches('/');
        key.rsplit('/').next().unwrap_or(key)
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// S3's bucket naming rules (3 to 63 lowercase letters, digits, dots and hyphens, starting
/// and ending with a letter or digit).
fn check_bucket(bucket: &str) -> Result<(), String> {
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let ends = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if (3..=63).contains(&bucket.len())
        && ok_chars
        && ends(bucket.bytes().next())
        && ends(bucket.bytes().last())
        && !bucket.contains("..")
    {
        Ok(())
    } else {
        Err(format!(
            "{bucket:?} is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens); write s3://bucket/prefix/"
        ))
    }
}

/// A key keyhygiene will write under: no control characters, no empty, `.` or `..`
/// segment (which tools that mirror a bucket to disk would resolve), a bounded length.
fn check_key(key: &str) -> Result<(), String> {
    if key.len() > MAX_PREFIX_BYTES {
        return Err(format!(
            "the key is {} bytes long; keyhygiene takes at most {MAX_PREFIX_BYTES}",
            key.len()
        ));
    }
    if key.chars().any(char::is_control) {
        return Err("the key holds a control character".into());
    }
    let body = key.strip_suffix('/').unwrap_or(key);
    if !body.is_empty()
        && body
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err("the key has an empty, '.' or '..' segment; write s3://bucket/a/b/".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Location, String> {
        Location::parse("--history", Path::new(text))
    }

    #[test]
    fn a_local_path_stays_a_path() {
        assert_eq!(
            parse("reports/s3:/x").unwrap(),
            Location::Local(PathBuf::from("reports/s3:/x"))
        );
    }

    #[test]
    fn prefixes_and_objects_are_told_apart() {
        let prefix = parse("s3://audit-bucket/keyhygiene/history/").unwrap();
        let url = prefix.s3().unwrap();
        assert_eq!(url.bucket, "audit-bucket");
        assert!(url.is_prefix());
        assert_eq!(url.join("a.json").key, "keyhygiene/history/a.json");
        let object = parse("s3://audit-bucket/runs/x/report.json").unwrap();
        let url = object.s3().unwrap();
        assert!(!url.is_prefix());
        assert_eq!(url.name(), "report.json");
        assert_eq!(url.parent().key, "runs/x/");
        let root = parse("s3://audit-bucket").unwrap();
        assert!(root.s3().unwrap().is_prefix());
        assert_eq!(root.s3().unwrap().to_string(), "s3://audit-bucket/");
    }

    #[test]
    fn bad_locations_are_refused_with_the_flag_and_a_fix() {
        for bad in [
            "s3://Audit/x/",
            "s3://ab/x/",
            "s3://-bucket/x/",
            "s3://bucket/a//b/",
            "s3://bucket/a/../b/",
            "s3://bucket/a\u{7}/",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.starts_with("--history s3://"), "{err}");
            assert!(!err.contains('\u{7}'), "{err}");
        }
        let long = format!("s3://bucket/{}/", "a".repeat(800));
        assert!(parse(&long).unwrap_err().contains("at most"));
    }
}
