//! S3 as a place to read and write: the few calls keyhygiene makes (ListObjectsV2,
//! GetObject, PutObject, DeleteObject), each failure turned into one line naming the bucket
//! and key, and the bytes moved counted.
//!
//! The client uses the audit's credential chain and endpoint settings (profiles, SSO, web
//! identity, container and instance roles; `AWS_ENDPOINT_URL_S3`, or `--endpoint-url`,
//! with path-style addressing whenever the endpoint is overridden). Every object written
//! is private (no ACL is ever sent) and encrypted by the bucket's default, or with
//! SSE-KMS when asked.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use tokio::io::AsyncReadExt;

use super::S3Url;

/// How to reach S3.
#[derive(Clone, Debug, Default)]
pub struct S3Options {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// `--s3-sse aws:kms`, with `--s3-kms-key-id` or the account's AWS-managed key.
    pub kms: Option<Option<String>>,
}

/// Whether a write may replace an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Replace whatever is there.
    Overwrite,
    /// Only when no object has the key (`If-None-Match: *`).
    IfAbsent,
    /// Only when the object is still the version with this ETag (`If-Match`).
    IfMatch(String),
}

/// What a conditional write found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Written,
    /// The condition did not hold: the key was taken, or changed since it was read.
    Conflict,
}

/// An object read, with its version's ETag.
#[derive(Clone, Debug)]
pub struct Object {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
}

/// One object under a prefix.
#[derive(Clone, Debug)]
pub struct Listed {
    /// The key, relative to the prefix listed.
    pub name: String,
    pub size: u64,
}

/// Files of a report set or a saved folder written at once: a set's objects are
/// independent, and each PUT waits mostly on the network.
pub const PARALLEL_PUTS: usize = 8;

/// Bytes and requests a run moved to and from S3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    pub requests: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// An S3 client with a runtime of its own: the run's storage steps are sequential and
/// happen before and after the crawl, never inside it.
pub struct S3 {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
    kms: Option<Option<String>>,
    requests: AtomicU64,
    read: AtomicU64,
    written: AtomicU64,
}

impl S3 {
    /// A client from the same credential chain and endpoint settings as the audit.
    pub fn connect(opts: &S3Options) -> Result<S3, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        let client = runtime.block_on(async {
            let region = RegionProviderChain::first_try(opts.region.clone().map(Region::new))
                .or_default_provider()
                .or_else(Region::new("us-east-1"));
            let mut loader = aws_config::defaults(BehaviorVersion::latest())
                .region(region)
                .retry_config(RetryConfig::standard().with_max_attempts(5))
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(5))
                        .operation_attempt_timeout(Duration::from_secs(60))
                        .operation_timeout(Duration::from_secs(300))
                        .build(),
                );
            if let Some(profile) = &opts.profile {
                loader = loader.profile_name(profile);
            }
            if let Some(url) = &opts.endpoint_url {
                loader = loader.endpoint_url(url);
            }
            let config = loader.load().await;
            let overridden = opts.endpoint_url.is_some()
                || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
                || std::env::var_os("AWS_ENDPOINT_URL").is_some();
            let s3 = aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(overridden)
                .build();
            aws_sdk_s3::Client::from_conf(s3)
        });
        Ok(S3 {
            runtime,
            client,
            kms: opts.kms.clone(),
            requests: AtomicU64::new(0),
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
        })
    }

    /// What the run moved so far.
    pub fn moved(&self) -> Moved {
        Moved {
            requests: self.requests.load(Ordering::Relaxed),
            bytes_read: self.read.load(Ordering::Relaxed),
            bytes_written: self.written.load(Ordering::Relaxed),
        }
    }

    /// Every object directly under `prefix` (not in its sub-prefixes), page by page.
    pub fn list(&self, prefix: &S3Url) -> Result<Vec<Listed>, String> {
        self.runtime.block_on(async {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                self.requests.fetch_add(1, Ordering::Relaxed);
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(&prefix.bucket)
                    .prefix(&prefix.key)
                    .delimiter("/")
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| failure("list", prefix, &e))?;
                for object in page.contents() {
                    let Some(key) = object.key() else { continue };
                    let Some(name) = key.strip_prefix(prefix.key.as_str()) else {
                        continue;
                    };
                    out.push(Listed {
                        name: name.to_string(),
                        size: object.size().unwrap_or(0).max(0) as u64,
                    });
                }
                match (page.is_truncated(), page.next_continuation_token()) {
                    (Some(true), Some(next)) => token = Some(next.to_string()),
                    _ => break,
                }
            }
            Ok(out)
        })
    }

    /// The object at `url`, at most `limit` bytes; `None` when there is no such key.
    pub fn get(&self, url: &S3Url, limit: u64) -> Result<Option<Object>, String> {
        self.runtime.block_on(async {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let answer = match self
                .client
                .get_object()
                .bucket(&url.bucket)
                .key(&url.key)
                .send()
                .await
            {
                Ok(answer) => answer,
                Err(e) if e.code() == Some("NoSuchKey") => return Ok(None),
                Err(e) => return Err(failure("read", url, &e)),
            };
            if answer.content_length().is_some_and(|n| n as u64 > limit) {
                return Err(too_big(url, limit));
            }
            let etag = answer.e_tag().map(str::to_string);
            let mut bytes = Vec::new();
            answer
                .body
                .into_async_read()
                .take(limit + 1)
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| format!("{url}: cannot read the object: {e} (try the run again)"))?;
            self.read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            if bytes.len() as u64 > limit {
                return Err(too_big(url, limit));
            }
            Ok(Some(Object { bytes, etag }))
        })
    }

    /// Writes `body` to `url`.
    pub fn put(&self, url: &S3Url, body: Vec<u8>, write: Write) -> Result<Written, String> {
        let size = body.len() as u64;
        self.put_stream(url, ByteStream::from(body), size, write)
    }

    /// Writes the local file `from` to `url`, streamed.
    pub fn put_file(&self, url: &S3Url, from: &Path, write: Write) -> Result<Written, String> {
        let size = std::fs::metadata(from)
            .map_err(|e| format!("{}: cannot read: {e}", from.display()))?
            .len();
        let body = self
            .runtime
            .block_on(ByteStream::from_path(from))
            .map_err(|e| format!("{}: cannot read: {e}", from.display()))?;
        self.put_stream(url, body, size, write)
    }

    /// Writes the local files `files` (key, path) at most [`PARALLEL_PUTS`] at a time, each
    /// replacing what is there; stops at the first failure (the requests still in flight
    /// are abandoned: nothing points at a set before its pointer is written).
    pub fn put_files(&self, files: &[(S3Url, std::path::PathBuf)]) -> Result<(), String> {
        use futures::{StreamExt, TryStreamExt};
        self.runtime.block_on(
            futures::stream::iter(files.iter().map(|(url, from)| async move {
                let size = std::fs::metadata(from)
                    .map_err(|e| format!("{}: cannot read: {e}", from.display()))?
                    .len();
                let body = ByteStream::from_path(from)
                    .await
                    .map_err(|e| format!("{}: cannot read: {e}", from.display()))?;
                self.put_async(url, body, size, Write::Overwrite).await
            }))
            .buffer_unordered(PARALLEL_PUTS)
            .try_collect::<Vec<Written>>(),
        )?;
        Ok(())
    }

    fn put_stream(
        &self,
        url: &S3Url,
        body: ByteStream,
        size: u64,
        write: Write,
    ) -> Result<Written, String> {
        self.runtime
            .block_on(self.put_async(url, body, size, write))
    }

    async fn put_async(
        &self,
        url: &S3Url,
        body: ByteStream,
        size: u64,
        write: Write,
    ) -> Result<Written, String> {
        {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let mut put = self
                .client
                .put_object()
                .bucket(&url.bucket)
                .key(&url.key)
                .content_length(size as i64)
                .body(body);
            let conditional = write != Write::Overwrite;
            match write {
                Write::Overwrite => {}
                Write::IfAbsent => put = put.if_none_match("*"),
                Write::IfMatch(etag) => put = put.if_match(etag),
            }
            if let Some(key) = &self.kms {
                put = put
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .set_ssekms_key_id(key.clone());
            }
            match put.send().await {
                Ok(_) => {
                    self.written.fetch_add(size, Ordering::Relaxed);
                    Ok(Written::Written)
                }
                Err(e) if conditional && matches!(status(&e), Some(412 | 404 | 409)) => {
                    Ok(Written::Conflict)
                }
                Err(e) => Err(failure("write", url, &e)),
            }
        }
    }

    /// Deletes `url`; a key already gone is not an error.
    pub fn delete(&self, url: &S3Url) -> Result<(), String> {
        self.runtime.block_on(async {
            self.requests.fetch_add(1, Ordering::Relaxed);
            self.client
                .delete_object()
                .bucket(&url.bucket)
                .key(&url.key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| failure("delete", url, &e))
        })
    }
}

fn status<E, R: HttpStatus>(err: &SdkError<E, R>) -> Option<u16> {
    err.raw_response().map(HttpStatus::status_code)
}

/// The HTTP status of a raw response.
trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn too_big(url: &S3Url, limit: u64) -> String {
    format!(
        "{url}: the object is larger than {} MiB, more than any keyhygiene file (is it one?)",
        limit >> 20
    )
}

/// One line for a failed S3 call: what was done, where, S3's error code, and the fix.
fn failure<E, R>(what: &str, url: &S3Url, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    let code = match err {
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .map(str::to_string)
            .or_else(|| status(err).map(|s| format!("HTTP {s}"))),
        SdkError::TimeoutError(_) => Some("timeout".into()),
        SdkError::DispatchFailure(_) => Some("no connection".into()),
        _ => status(err).map(|s| format!("HTTP {s}")),
    }
    .unwrap_or_else(|| "error".into());
    let fix = match code.as_str() {
        "NoSuchBucket" => "the bucket does not exist: create it, or check the name and the region",
        "AccessDenied" | "HTTP 403" => match what {
            "list" => "the job's role needs s3:ListBucket on the bucket, with this prefix",
            "read" => "the job's role needs s3:GetObject on the prefix",
            "delete" => "the job's role needs s3:DeleteObject on the prefix (for --history-keep)",
            _ => {
                "the job's role needs s3:PutObject on the prefix (and kms:GenerateDataKey with SSE-KMS)"
            }
        },
        "HTTP 301" | "PermanentRedirect" | "AuthorizationHeaderMalformed" => {
            "the bucket is in another region: pass --region"
        }
        _ => "S3 did not accept the call after retries; try the run again",
    };
    format!("{url}: cannot {what} ({code}): {fix}")
}
