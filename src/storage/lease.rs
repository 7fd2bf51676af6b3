//! One run at a time per S3 output prefix: a lease object (`.keyhygiene-lock`), created
//! with `If-None-Match: *`, that names its run and when it expires.
//!
//! A lease that expired (its run was killed) is taken over with `If-Match` on the version
//! read, so of two runs that find it expired at once, one wins. A run releases its lease
//! at the end only if the lease is still its own.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{S3, S3Url, Write, Written};

/// The lease object's name under the prefix.
pub const LEASE: &str = ".keyhygiene-lock";
/// How long a lease holds without its run: longer than any run (an account's crawl stops
/// after `--account-timeout`), short enough that a killed run does not block for days.
const TERM: Duration = Duration::from_secs(12 * 3600);
/// How often a waiting run looks again.
const POLL: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, Deserialize)]
struct Body {
    kind: String,
    run: String,
    expires: DateTime<Utc>,
}

/// A lease held on an output prefix.
#[derive(Debug)]
pub struct Lease {
    url: S3Url,
    run: String,
}

/// Takes the lease of `prefix` for `run`, waiting up to `wait` for another run's.
pub fn take(s3: &S3, prefix: &S3Url, run: &str, wait: Duration) -> Result<Lease, String> {
    let url = prefix.join(LEASE);
    let started = Instant::now();
    loop {
        let body = lease_body(run)?;
        if s3.put(&url, body.clone(), Write::IfAbsent)? == Written::Written {
            return Ok(Lease {
                url,
                run: run.to_string(),
            });
        }
        let held = s3.get(&url, 64 * 1024)?;
        let Some(held) = held else { continue };
        let holder: Option<Body> = serde_json::from_slice(&held.bytes).ok();
        let expired = holder.as_ref().is_none_or(|h| h.expires < Utc::now());
        if expired {
            if let Some(etag) = held.etag
                && s3.put(&url, body, Write::IfMatch(etag))? == Written::Written
            {
                return Ok(Lease {
                    url,
                    run: run.to_string(),
                });
            }
            continue;
        }
        if started.elapsed() >= wait {
            let until = holder.map(|h| h.expires.to_rfc3339()).unwrap_or_default();
            return Err(format!(
                "{url}: another run is writing this prefix (its lease runs until {until}); pass --wait-lock DURATION to wait for it, or remove the object if that run is dead"
            ));
        }
        std::thread::sleep(POLL);
    }
}

impl Lease {
    /// Gives the lease back, if it is still this run's.
    pub fn release(self, s3: &S3) -> Result<(), String> {
        if let Some(held) = s3.get(&self.url, 64 * 1024)?
            && serde_json::from_slice::<Body>(&held.bytes).is_ok_and(|b| b.run == self.run)
        {
            s3.delete(&self.url)?;
        }
        Ok(())
    }
}

fn lease_body(run: &str) -> Result<Vec<u8>, String> {
    let expires = Utc::now() + chrono::Duration::from_std(TERM).map_err(|e| e.to_string())?;
    serde_json::to_vec(&Body {
        kind: "keyhygiene-lease".into(),
        run: run.to_string(),
        expires,
    })
    .map_err(|e| e.to_string())
}
