//! Command-line definitions.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::redact::redact_userinfo;

#[derive(Debug, Parser)]
#[command(
    name = "keyhygiene",
    version,
    max_term_width = 100,
    about = "Audit the hygiene of long-term AWS access keys across an account",
    long_about = "Audit the hygiene of long-term AWS access keys across an account.\n\n\
        keyhygiene only reads: it lists users, their access keys and each key's last use, \
        and the IAM credential report, then applies policy rules and writes HTML, CSV and \
        JSON reports.\n\nExit codes: 0 clean, 1 findings at or above --fail-on, 2 usage, \
        configuration or input error (nothing written), 3 incomplete coverage (reports \
        written, marked incomplete)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Crawl the account (or read a saved inventory or credential report), apply the
    /// policy and write the reports.
    Audit(Box<AuditArgs>),
    /// List every rule: id, default severity, what it checks, thresholds, mappings.
    Rules,
    /// Write a commented policy file with every default spelled out.
    InitConfig(InitConfigArgs),
}

// The flags in the groups the README uses: what to audit, where it is, how fast to go, the
// policy, the comparison with earlier runs, the outputs. Each flag's first paragraph is
// its one line in `-h`; `--help` shows the whole text. Every default is stated.
const WHAT: &str = "What to audit";
const WHERE: &str = "Where: AWS connection and member accounts";
const PACE: &str = "How fast";
const POLICY: &str = "Policy";
const COMPARING: &str = "Comparing with earlier runs";
const OUTPUTS: &str = "Outputs";

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Audit every account of the AWS Organization.
    ///
    /// The accounts come from organizations:ListAccounts, called from the management
    /// account or a delegated administrator. Default: the caller's own account.
    #[arg(long, help_heading = WHAT, conflicts_with_all = LIVE_ONLY)]
    pub org: bool,

    /// Audit only the accounts under this organizational unit (repeatable).
    ///
    /// Nested units are included.
    #[arg(long = "ou", value_name = "OU_ID", help_heading = WHAT, conflicts_with_all = LIVE_ONLY)]
    pub ous: Vec<String>,

    /// Audit these accounts (comma-separated 12-digit ids).
    ///
    /// Needs no Organizations access: each account is reached through --role-name.
    #[arg(long, value_name = "ID,ID", value_delimiter = ',', help_heading = WHAT, conflicts_with_all = LIVE_ONLY)]
    pub accounts: Vec<String>,

    /// Audit the accounts listed in FILE (one id per line).
    ///
    /// `#` starts a comment; blank lines are ignored.
    #[arg(long, value_name = "FILE", help_heading = WHAT, conflicts_with_all = LIVE_ONLY)]
    pub accounts_file: Option<PathBuf>,

    /// Leave these accounts out (comma-separated ids).
    ///
    /// They are listed in the reports as excluded. Default: none.
    #[arg(
        long,
        value_name = "ID,ID",
        value_delimiter = ',',
        help_heading = WHAT
    )]
    pub exclude_accounts: Vec<String>,

    /// Audit only shard K of N of the selected accounts.
    ///
    /// An account's shard is a hash of its id, so N jobs share an organization; merge their
    /// --save-inventory folders with --from-inventory. Default: every account.
    #[arg(long, value_name = "K/N", value_parser = crate::org::Shard::parse, help_heading = WHAT, conflicts_with_all = LIVE_ONLY)]
    pub shard: Option<crate::org::Shard>,

    /// Audit saved inventories instead of crawling (no network call).
    ///
    /// One file, or several files and directories (an organization run's --save-inventory
    /// DIR), which make one organization report. Without --as-of, they are judged at the
    /// latest instant at which all of them are exact.
    #[arg(long, value_name = "FILE|DIR", num_args = 1.., action = clap::ArgAction::Append, conflicts_with = "from_credential_report", help_heading = WHAT)]
    pub from_inventory: Vec<PathBuf>,

    /// Report one shard's saved folder as that shard's own report.
    ///
    /// Only shard K/N's manifest is read, and the accounts of the other shards are "in
    /// another shard" (not assessed). Without it, a sharded run's folders merge into the
    /// organization's report, and the accounts of a shard whose folder is missing are not
    /// covered (exit 3).
    #[arg(long, value_name = "K/N", value_parser = crate::org::Shard::parse, requires = "from_inventory", help_heading = WHAT)]
    pub only_shard: Option<crate::org::Shard>,

    /// Audit a credential report CSV from the IAM console (no network call).
    #[arg(long, value_name = "FILE", help_heading = WHAT)]
    pub from_credential_report: Option<PathBuf>,

    /// When that credential report was generated (RFC 3339).
    ///
    /// The `GeneratedTime` of `aws iam get-credential-report`. Default: unknown (a file's
    /// modification time says nothing about it), and the report's age with it.
    #[arg(long, value_name = "RFC3339", value_parser = parse_as_of, requires = "from_credential_report", help_heading = WHAT)]
    pub report_generated_at: Option<DateTime<Utc>>,

    /// AWS profile to use.
    ///
    /// Default: the standard credential chain (environment, AWS_PROFILE, the default
    /// profile, instance or container credentials). Also used for s3:// locations.
    #[arg(long, value_name = "NAME", help_heading = WHERE)]
    pub profile: Option<String>,

    /// AWS region for the API calls.
    ///
    /// IAM is global. Default: the profile's region, else us-east-1. S3 locations are
    /// reached in this region too.
    #[arg(long, value_name = "REGION", help_heading = WHERE)]
    pub region: Option<String>,

    /// Send the AWS calls to this endpoint instead of AWS.
    ///
    /// Any IAM-compatible endpoint (a local one for tests and the demo), S3 included
    /// (path-style). Default: AWS (AWS_ENDPOINT_URL_S3 applies to S3 alone).
    // Checked by `Endpoint::parse` rather than by clap, so that a rejected value's
    // `user:password@` is never echoed.
    #[arg(long, value_name = "URL", help_heading = WHERE)]
    pub endpoint_url: Option<String>,

    /// The role assumed in each member account.
    ///
    /// deploy/member-role.yaml creates it, read-only. The caller's own account is audited
    /// with the caller's credentials.
    #[arg(
        long,
        value_name = "NAME",
        default_value = DEFAULT_ROLE_NAME,
        help_heading = WHERE
    )]
    pub role_name: String,

    /// The external id the member role's trust policy requires.
    ///
    /// It is a secret: prefer --external-id-file or the KEYHYGIENE_EXTERNAL_ID variable,
    /// which keep it out of the process list. Default: KEYHYGIENE_EXTERNAL_ID, else none.
    #[arg(long, value_name = "ID", help_heading = WHERE)]
    pub external_id: Option<String>,

    /// A file holding the external id (its first line).
    #[arg(
        long,
        value_name = "FILE",
        help_heading = WHERE,
        conflicts_with = "external_id"
    )]
    pub external_id_file: Option<PathBuf>,

    /// The session name of the assumed roles (seen in the accounts' CloudTrail).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "keyhygiene",
        help_heading = WHERE
    )]
    pub role_session_name: String,

    /// At most this many API calls in flight at once, per account.
    #[arg(long, value_name = "N", default_value_t = crate::crawl::DEFAULT_CONCURRENCY, value_parser = parse_concurrency, conflicts_with_all = LIVE_ONLY, help_heading = PACE)]
    pub concurrency: usize,

    /// At most this many API calls started per second, per account.
    ///
    /// For accounts whose IAM rate is shared with production automation. Default: no cap
    /// (the pace adapts to IAM's throttling).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), conflicts_with_all = LIVE_ONLY, help_heading = PACE)]
    pub max_rps: Option<u32>,

    /// How each key's last use is read.
    ///
    /// `economical`: users and tags from GetAccountAuthorizationDetails, last use from the
    /// credential report, and GetAccessKeyLastUsed only for keys whose finding the report's
    /// value could change; the findings are those of `full`, for about half the calls.
    /// `full`: ListUsers, ListUserTags per user and GetAccessKeyLastUsed per key.
    #[arg(long, value_enum, default_value_t = CallPlanArg::Economical, value_name = "PLAN", conflicts_with_all = LIVE_ONLY, help_heading = PACE)]
    pub call_plan: CallPlanArg,

    /// At most this many accounts crawled at once.
    ///
    /// --concurrency and --max-rps apply to each account, since IAM throttles each account
    /// separately.
    #[arg(long, value_name = "N", default_value_t = crate::crawl::DEFAULT_ACCOUNT_CONCURRENCY, value_parser = parse_concurrency, help_heading = PACE)]
    pub account_concurrency: usize,

    /// Longest crawl of one account (e.g. 90s, 30m, 2h; at most 168h).
    ///
    /// An account that takes longer is reported as not audited.
    #[arg(long, value_name = "DURATION", default_value = "60m", value_parser = parse_duration, help_heading = PACE)]
    pub account_timeout: std::time::Duration,

    /// Policy file (TOML).
    ///
    /// Default: none, every rule at its defaults (`keyhygiene init-config` writes them out).
    #[arg(long, value_name = "FILE", help_heading = POLICY)]
    pub config: Option<PathBuf>,

    /// Evaluate as of this instant (RFC 3339, e.g. 2026-01-31T00:00:00Z), or `now`.
    ///
    /// Default: a live crawl is judged as of the instant it settled its last-use values,
    /// saved inventories as of the latest instant at which all of them are exact, a
    /// credential report as of now. The same inventory and as-of always give the same
    /// findings.
    #[arg(long, value_name = "RFC3339|now", value_parser = parse_as_of_flag, help_heading = POLICY)]
    pub as_of: Option<AsOf>,

    /// Exit 1 on unsuppressed findings at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOnArg::Low, value_name = "SEVERITY", help_heading = POLICY)]
    pub fail_on: FailOnArg,

    /// Compare with an earlier run: its report.json, or its --out-dir.
    ///
    /// Each finding is then new, unchanged or updated, and the earlier findings that are
    /// gone are resolved (or not assessed, when this run could not look at what they were
    /// about). Default: the last run in --history, if given.
    #[arg(long, value_name = "FILE|DIR", help_heading = COMPARING)]
    pub baseline: Option<PathBuf>,

    /// Keep a small record of each run in DIR, and compare with the last one.
    ///
    /// The folder may be shared by jobs of different accounts and organizations; without
    /// --baseline, the last run recorded there is the baseline, and the HTML report draws
    /// the trend over the recorded runs.
    #[arg(long, value_name = "DIR", help_heading = COMPARING)]
    pub history: Option<PathBuf>,

    /// How many runs --history keeps per account or organization.
    ///
    /// The oldest are removed.
    #[arg(long, value_name = "N", default_value_t = crate::baseline::history::DEFAULT_KEEP as u32, value_parser = clap::value_parser!(u32).range(1..), requires = "history", help_heading = COMPARING)]
    pub history_keep: u32,

    /// A file holding the history key (hex, at least 32 bytes).
    ///
    /// With a key, every history record and report.json is signed, and a record or
    /// baseline that is not signed with it is not believed. Default: the
    /// KEYHYGIENE_HISTORY_KEY variable, else no key.
    #[arg(long, value_name = "FILE", help_heading = COMPARING)]
    pub history_key_file: Option<PathBuf>,

    /// Exit 1 only for findings new (or worse) since the baseline.
    ///
    /// Open findings at or above --fail-on that were there before do not fail the run, so a
    /// scheduled job alerts on regressions while the backlog is worked down. Needs
    /// --baseline or --history.
    #[arg(long, help_heading = COMPARING)]
    pub fail_on_new: bool,

    /// Directory for the reports.
    ///
    /// One run at a time writes it: a run that finds it busy exits 2, unless --wait-lock is
    /// given.
    #[arg(long, value_name = "DIR", default_value = "keyhygiene-report", help_heading = OUTPUTS)]
    pub out_dir: PathBuf,

    /// Which reports to write (comma-separated).
    #[arg(long, value_enum, value_name = "FORMAT,FORMAT", value_delimiter = ',', default_value = "html,csv,json", hide_possible_values = false, help_heading = OUTPUTS)]
    pub format: Vec<FormatArg>,

    /// Also save the collected inventory, to audit it again with --from-inventory.
    ///
    /// A single account's is one JSON file; an organization run writes a directory: one
    /// file per account and manifest.json. Default: not saved.
    #[arg(long, value_name = "FILE|DIR", help_heading = OUTPUTS)]
    pub save_inventory: Option<PathBuf>,

    /// Also write each owner's rows to by-owner/OWNER/ (CSVs and workbook).
    ///
    /// Owners come from the policy's [report] owner-tags; the folders are part of the
    /// report set. Needs csv or xlsx in --format.
    #[arg(long, help_heading = OUTPUTS)]
    pub split_by_owner: bool,

    /// Also append the run's Markdown summary (summary.md) to FILE.
    ///
    /// For a CI job's summary page: --summary-to "$GITHUB_STEP_SUMMARY". The file is
    /// outside the report set, created if missing, appended to, never through a symbolic
    /// link; it is checked before the crawl.
    #[arg(long, value_name = "FILE", help_heading = OUTPUTS)]
    pub summary_to: Option<PathBuf>,

    /// Encrypt the objects written to S3 with SSE-KMS instead of the bucket's default.
    #[arg(long, value_enum, value_name = "MODE", help_heading = OUTPUTS)]
    pub s3_sse: Option<SseArg>,

    /// The KMS key for --s3-sse aws:kms. Default: the account's AWS-managed key for S3.
    #[arg(long, value_name = "ID", requires = "s3_sse", help_heading = OUTPUTS)]
    pub s3_kms_key_id: Option<String>,

    /// If --out-dir is being written by another run, wait up to this long (e.g. 30s, 10m).
    ///
    /// At most 168h. Default: do not wait, exit 2.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = OUTPUTS)]
    pub wait_lock: Option<std::time::Duration>,

    /// No progress, no summary: only errors, on stderr.
    #[arg(long, short, help_heading = OUTPUTS)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InitConfigArgs {
    /// Where to write the policy file.
    #[arg(long, short, value_name = "FILE", default_value = "keyhygiene.toml")]
    pub output: PathBuf,

    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl FailOnArg {
    pub fn threshold(self) -> Option<crate::findings::Severity> {
        use crate::findings::Severity;
        match self {
            FailOnArg::None => None,
            FailOnArg::Low => Some(Severity::Low),
            FailOnArg::Medium => Some(Severity::Medium),
            FailOnArg::High => Some(Severity::High),
            FailOnArg::Critical => Some(Severity::Critical),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CallPlanArg {
    Economical,
    Full,
}

impl CallPlanArg {
    pub fn plan(self) -> crate::crawl::CallPlan {
        match self {
            CallPlanArg::Economical => crate::crawl::CallPlan::Economical,
            CallPlanArg::Full => crate::crawl::CallPlan::Full,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Html,
    Csv,
    Json,
    Md,
    Xlsx,
}

/// `--as-of`: an instant, or the moment the run judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    At(DateTime<Utc>),
    Now,
}

fn parse_as_of_flag(text: &str) -> Result<AsOf, String> {
    if text == "now" {
        return Ok(AsOf::Now);
    }
    parse_as_of(text)
        .map(AsOf::At)
        .map_err(|e| format!("{e}, or `now`"))
}

fn parse_as_of(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}; expected RFC 3339 such as 2026-01-31T00:00:00Z"))
}

/// The role assumed in member accounts: the read-only role `deploy/member-role.yaml`
/// creates.
pub const DEFAULT_ROLE_NAME: &str = "KeyHygieneAudit";

/// The flags that only a live crawl can use.
const LIVE_ONLY: [&str; 2] = ["from_inventory", "from_credential_report"];

/// `--s3-sse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SseArg {
    #[value(name = "aws:kms")]
    AwsKms,
}

impl AuditArgs {
    /// The instant `--as-of` fixes, if it names one (`now` fixes none ahead of the run).
    pub fn fixed_as_of(&self) -> Option<DateTime<Utc>> {
        match self.as_of {
            Some(AsOf::At(at)) => Some(at),
            _ => None,
        }
    }

    /// Whether this is an organization run: any of --org, --ou, --accounts,
    /// --accounts-file, or more than one saved inventory (or a directory of them).
    /// The SSE-KMS key S3 writes use: `Some(None)` for the AWS-managed key.
    pub fn s3_kms(&self) -> Option<Option<String>> {
        self.s3_sse.map(|_| self.s3_kms_key_id.clone())
    }

    /// True when the run reads saved files only, no AWS API.
    pub fn is_offline(&self) -> bool {
        !self.from_inventory.is_empty() || self.from_credential_report.is_some()
    }

    pub fn is_org_run(&self) -> bool {
        self.org
            || !self.ous.is_empty()
            || !self.accounts.is_empty()
            || self.accounts_file.is_some()
            || self.from_inventory.len() > 1
            || self.from_inventory.iter().any(|p| p.is_dir())
            || self.only_shard.is_some()
    }
}

/// The longest duration a flag takes: a week.
pub const MAX_DURATION_SECS: u64 = 7 * 24 * 3600;

/// `90s`, `30m`, `2h`, or a number of seconds: more than 0, at most a week.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let seconds: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => 0,
    };
    match (number.parse::<u64>().ok().filter(|n| *n > 0), seconds) {
        (Some(n), 1..) => n
            .checked_mul(seconds)
            .filter(|s| *s <= MAX_DURATION_SECS)
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| {
                "longer than the most allowed, 168h (a week); expected a duration such as 90s, 30m or 2h"
                    .to_string()
            }),
        _ => Err("expected a duration such as 90s, 30m or 2h".into()),
    }
}

fn parse_concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err("expected a whole number from 1 to 256".into()),
    }
}

/// An endpoint URL from `--endpoint-url`. It displays without its `user:password@`
/// userinfo, which is never printed, logged or stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
}

impl Endpoint {
    /// Accepts an `http://` or `https://` URL; the error never repeats the userinfo.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        if text.starts_with("http://") || text.starts_with("https://") {
            Ok(Endpoint {
                url: text.trim_end_matches('/').to_string(),
            })
        } else {
            Err(format!(
                "--endpoint-url {}: expected a URL starting with http:// or https://, e.g. http://127.0.0.1:5000",
                redact_userinfo(text)
            ))
        }
    }

    /// The URL itself, for the SDK.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `text` with every occurrence of the URL replaced by its redacted form.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.url, &redact_userinfo(&self.url))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_userinfo(&self.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_checked_and_bounded() {
        use std::time::Duration;
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("168h"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        // Once a panic in debug builds and a silent 3,584 s in release builds.
        for huge in [
            "5124095576030432h",
            "169h",
            "604801",
            "18446744073709551615m",
        ] {
            let err = parse_duration(huge).unwrap_err();
            assert!(err.contains("168h"), "{huge}: {err}");
        }
        for bad in ["0s", "", "h", "1d", "-5m", "99999999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_endpoint_never_shows_its_userinfo() {
        let endpoint = Endpoint::parse("http://admin:s3cret@127.0.0.1:1").unwrap();
        assert_eq!(endpoint.url(), "http://admin:s3cret@127.0.0.1:1");
        assert_eq!(endpoint.to_string(), "http://***@127.0.0.1:1");
        assert_eq!(
            endpoint.redact("cannot reach http://admin:s3cret@127.0.0.1:1: refused"),
            "cannot reach http://***@127.0.0.1:1: refused"
        );
        let err = Endpoint::parse("admin:s3cret@127.0.0.1:1").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
