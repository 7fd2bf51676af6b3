//! One run of the command line: load and validate inputs, collect the inventory, evaluate,
//! write the reports and choose the exit code.
//!
//! Exit codes: 0 clean, 1 findings at or above `--fail-on`, 2 usage, configuration or input
//! error (nothing written), 3 incomplete coverage (reports written, marked incomplete).
//! Coverage gaps beat findings.

mod org;
mod outputs;
mod saved;
mod settle;
mod tracking;

use std::path::Path;

use chrono::Utc;

use crate::baseline::{AccountAssessment, Assessment, Audited, RunIdentity};
use crate::cli::{AuditArgs, Cli, Command, Endpoint, FormatArg, InitConfigArgs};
use crate::crawl::{AwsOptions, CrawlOptions, CrawlScope, ProgressMode};
use crate::fsio::FileSet;
use crate::inventory::Inventory;
use crate::policy::{self, Policy, Scope};
use crate::report::{self, Format, RunInfo};

pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
/// Usage, configuration or input error: clap's own code for usage errors. Nothing was written.
pub const EXIT_INPUT_ERROR: u8 = 2;
/// Coverage is incomplete: the reports were written and say what is missing.
pub const EXIT_INCOMPLETE: u8 = 3;

pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Rules => {
            print!("{}", crate::rules::describe_rules());
            EXIT_CLEAN
        }
        Command::InitConfig(args) => match init_config(&args) {
            Ok(()) => EXIT_CLEAN,
            Err(message) => fail(&message),
        },
        Command::Audit(args) => audit(*args),
    }
}

/// One line on stderr, its control and bidirectional characters escaped (a message may
/// quote a name from a hostile file), and the exit code of an input error.
fn fail(message: &str) -> u8 {
    eprintln!("keyhygiene: error: {}", crate::text::for_terminal(message));
    EXIT_INPUT_ERROR
}

fn init_config(args: &InitConfigArgs) -> Result<(), String> {
    let text = policy::init_config_text();
    let write = |out: &mut dyn std::io::Write| out.write_all(text.as_bytes());
    if args.force {
        crate::fsio::write_atomic(&args.output, write).map_err(|e| e.to_string())?;
    } else if args.output.exists() {
        return Err(format!(
            "{}: already exists (pass --force to replace it)",
            args.output.display()
        ));
    } else {
        crate::fsio::write_new(&args.output, write).map_err(|e| e.to_string())?;
    }
    eprintln!(
        "keyhygiene: wrote {}",
        crate::text::for_terminal(&args.output.display().to_string())
    );
    Ok(())
}

/// The exit code for a finished audit, from the figures its reports show: coverage gaps
/// beat findings.
pub fn exit_code(complete: bool, fails_threshold: bool) -> u8 {
    if !complete {
        EXIT_INCOMPLETE
    } else if fails_threshold {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}

fn audit(args: AuditArgs) -> u8 {
    init_logging(args.quiet);
    // Everything that can be checked offline is checked before any network call.
    let policy = match &args.config {
        Some(path) => match policy::load(path) {
            Ok(policy) => policy,
            Err(err) => {
                for problem in &err.problems {
                    eprintln!(
                        "keyhygiene: error: {}",
                        crate::text::for_terminal(&problem.to_string())
                    );
                }
                return EXIT_INPUT_ERROR;
            }
        },
        None => Policy::default(),
    };
    let endpoint = match args
        .endpoint_url
        .as_deref()
        .map(Endpoint::parse)
        .transpose()
    {
        Ok(endpoint) => endpoint,
        Err(message) => return fail(&message),
    };

    let tracking = match tracking::Tracking::prepare(&args) {
        Ok(tracking) => tracking,
        Err(message) => return fail(&message),
    };

    if !args.is_org_run() && !args.exclude_accounts.is_empty() {
        return fail(
            "--exclude-accounts needs an organization run: add --org, --ou, --accounts or --accounts-file",
        );
    }
    if !args.is_org_run() && args.shard.is_some() {
        return fail(
            "--shard needs an organization run: add --org, --ou, --accounts or --accounts-file",
        );
    }
    // Every folder the run writes is ready (and the output folder locked) before anything
    // is crawled.
    let save_dir = args.save_inventory.as_deref().map(|path| {
        if args.is_org_run() {
            path
        } else {
            outputs::parent_dir(path)
        }
    });
    let outputs = match outputs::Outputs::prepare(&args, save_dir) {
        Ok(outputs) => outputs,
        Err(message) => return fail(&message),
    };
    let result = if args.is_org_run() {
        org::audit(&args, &policy, endpoint.as_ref(), &tracking)
    } else {
        audit_account(&args, &policy, endpoint.as_ref(), &tracking)
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            outputs.abandon();
            fail(&message)
        }
    }
}

/// A single account's run, once its folders are ready: the exit code, or the one-line
/// error that stopped it (nothing written then).
fn audit_account(
    args: &AuditArgs,
    policy: &Policy,
    endpoint: Option<&Endpoint>,
    tracking: &tracking::Tracking,
) -> Result<u8, String> {
    let (mut inventory, origin, settled_at) = collect(args, endpoint, policy)?;
    if let Some(id) = inventory.account_id.as_deref()
        && !policy.scope.includes_account(id)
    {
        return Err(format!(
            "account {id} is out of the policy's scope ({}): nothing to audit (change the scope's accounts lists, or audit another account)",
            policy.scope.accounts_description().unwrap_or_default()
        ));
    }
    // The default as-of of a live run is the instant its last-use values were settled, after
    // the crawl, so no record of the crawl can be newer than it.
    let as_of = args.as_of.or(settled_at).unwrap_or_else(Utc::now);
    inventory
        .check_as_of(as_of, &origin)
        .map_err(|e| e.to_string())?;
    // Every file is staged before any is swapped in: a failure leaves the previous
    // inventory and report set as they were.
    let saved = match &args.save_inventory {
        Some(path) => {
            let mut set = FileSet::new(outputs::parent_dir(path)).map_err(|e| e.to_string())?;
            set.stage(&file_name(path), |out| inventory.write_json(out))
                .map_err(|e| e.to_string())?;
            Some(set)
        }
        None => None,
    };

    // Judged at an as-of its crawl did not settle, a report value that could change a
    // finding becomes a gap (after the inventory was saved as collected).
    settle::check_settled(&mut inventory, &policy.rules, as_of);
    // The scope is decided once: users out of scope leave the inventory before the rules.
    let scope = policy.scope.restrict(&mut inventory);
    let raw = crate::rules::evaluate(&inventory, &policy.rules, as_of);
    let mut findings = policy::apply(policy, raw, as_of);
    let identity = RunIdentity {
        audited: Audited::Account(inventory.account_id.clone()),
        id_source: id_source(&inventory),
        slice: None,
    };
    let assessment = Assessment {
        accounts: [(
            inventory.account_id.clone(),
            AccountAssessment::Audited {
                inventory: &inventory,
                scope: Some(&scope),
            },
        )]
        .into(),
        rules: &policy.rules,
    };
    let mut tracked = tracking.compare(
        &identity,
        &[],
        as_of,
        inventory.is_complete(),
        &mut findings,
        &assessment,
    )?;
    let formats = formats(&args.format);
    let run = RunInfo {
        inventory: &inventory,
        findings: &findings,
        as_of,
        fail_on: args.fail_on.threshold(),
        policy_file: args.config.as_deref(),
        saved_inventory: args.from_inventory.first().map(|p| p.as_path()),
        scope: Some(&scope),
        fail_on_new: tracking.fail_on_new,
        tracking: Some(&tracked.run),
    };
    let model = report::ReportModel::build(&run);
    let reports = report::stage_reports(&args.out_dir, &formats, &model, tracking.signer.as_ref())
        .map_err(|e| e.to_string())?;
    let (written, recorded) = commit_run(reports, saved, &mut tracked.pending)?;
    if !args.quiet {
        print!("{}", report::summary_text(&model, &written));
        if let Some(path) = &args.save_inventory {
            println!("inventory saved to {}", terminal_path(path));
        }
        if let Some(path) = recorded {
            println!("history: recorded {}", terminal_path(&path));
        }
    }
    // The exit code reads the figures the reports show.
    let code = exit_code(model.coverage.complete, model.summary.fails_threshold);
    if code == EXIT_INCOMPLETE {
        eprintln!(
            "keyhygiene: coverage is incomplete: {} gap(s); the reports list what could not be collected",
            inventory.gaps.len()
        );
    }
    Ok(code)
}

/// The inventory from the chosen source (a saved snapshot, a credential report, or a live
/// crawl), checked for contradictions and impossible dates, and the name of its origin for
/// messages: the file, or the endpoint.
fn collect(
    args: &AuditArgs,
    endpoint: Option<&Endpoint>,
    policy: &Policy,
) -> Result<(Inventory, String, Option<chrono::DateTime<Utc>>), String> {
    if let Some(path) = args.from_inventory.first() {
        let inventory = Inventory::from_json_file(path).map_err(|e| e.to_string())?;
        return Ok((inventory, path.display().to_string(), None));
    }
    if let Some(path) = &args.from_credential_report {
        let inventory = crate::credential_report::load_inventory(path, args.report_generated_at)
            .map_err(|e| e.to_string())?;
        return Ok((inventory, path.display().to_string(), None));
    }
    let origin = match endpoint {
        Some(endpoint) => format!("the IAM API at {endpoint}"),
        None => "the IAM API".to_string(),
    };
    let (inventory, settled_at) = runtime()?.block_on(async {
        let connected = crate::crawl::connect(&aws_options(args, endpoint))
            .await
            // The endpoint's user:password never appears in a message.
            .map_err(|e| endpoint.map_or(e.to_string(), |ep| ep.redact(&e.to_string())))?;
        // A saved inventory outlives the run: keep its values exact for a while after it.
        let settle = settle::Settle {
            rules: &policy.rules,
            fixed: args.as_of,
            horizon: if args.save_inventory.is_some() {
                chrono::TimeDelta::hours(settle::HORIZON_HOURS)
            } else {
                chrono::TimeDelta::zero()
            },
        };
        let opts = CrawlOptions {
            concurrency: args.concurrency,
            max_rps: args.max_rps,
            progress: ProgressMode::detect(args.quiet),
            endpoint: endpoint.map(Endpoint::to_string),
            account_id: Some(connected.caller.account_id).filter(|id| !id.is_empty()),
            scope: crawl_scope(&policy.scope),
            plan: args.call_plan.plan(),
            check: Some(settle.user_check()),
            ..CrawlOptions::default()
        };
        let mut inventory = crate::crawl::crawl(&connected.clients, &opts).await;
        let settled_at = settle.run(&connected.clients, &opts, &mut inventory).await;
        Ok::<_, String>((inventory, settled_at))
    })?;
    if !args.quiet {
        eprintln!("{}", stats_line(&inventory));
    }
    inventory.validate(&origin).map_err(|e| e.to_string())?;
    Ok((inventory, origin, Some(settled_at)))
}

/// When names and paths decide the scope, excluded users are not crawled.
fn crawl_scope(scope: &Scope) -> Option<CrawlScope> {
    (!scope.is_everyone() && scope.decided_by_name_and_path()).then(|| {
        let scope = scope.clone();
        CrawlScope::new(move |name, path| scope.may_include(name, path))
    })
}

/// Commits the run's files as one change: the reports, the saved inventories and the
/// history record are all in place, or none is ([`crate::fsio::commit`]). Then removes the
/// history's records beyond `--history-keep`. Returns the report files written (the ones a
/// reader opens: not the set manifest) and the history record's path.
fn commit_run(
    reports: FileSet,
    saved: Option<FileSet>,
    pending: &mut tracking::Pending,
) -> Result<(Vec<std::path::PathBuf>, Option<std::path::PathBuf>), String> {
    let record = pending.stage()?;
    // The report files a reader opens (not the set manifest), in the order written.
    let reports_written: Vec<std::path::PathBuf> = reports
        .names()
        .filter(|n| !n.starts_with('.'))
        .map(|n| reports.dir().join(n))
        .collect();
    let mut sets = vec![reports];
    sets.extend(saved);
    let staged = record.map(|(set, staged)| {
        sets.push(set);
        staged
    });
    crate::fsio::commit::commit(sets).map_err(|e| e.to_string())?;
    let recorded = match staged {
        Some(staged) => {
            staged.prune()?;
            Some(staged.path())
        }
        None => None,
    };
    Ok((reports_written, recorded))
}

/// The runtime a crawl runs on: one thread, since the crawl waits on the network.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// The AWS connection the command line asks for.
fn aws_options(args: &AuditArgs, endpoint: Option<&Endpoint>) -> AwsOptions {
    AwsOptions {
        profile: args.profile.clone(),
        region: args.region.clone(),
        endpoint_url: endpoint.map(|e| e.url().to_string()),
        ..AwsOptions::default()
    }
}

/// What a run's finding ids are computed from.
fn id_source(inventory: &Inventory) -> crate::findings::IdSource {
    match inventory.source {
        crate::inventory::SourceInfo::CredentialReport { .. } => {
            crate::findings::IdSource::CredentialReport
        }
        crate::inventory::SourceInfo::Live { .. } => crate::findings::IdSource::Api,
    }
}

/// A path for a line of the terminal.
fn terminal_path(path: &Path) -> String {
    crate::text::for_terminal(&path.display().to_string()).into_owned()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The one-line crawl summary on stderr.
pub fn stats_line(inv: &Inventory) -> String {
    let stats = &inv.stats;
    let calls: Vec<String> = stats
        .calls
        .iter()
        .map(|(op, n)| format!("{op}={n}"))
        .collect();
    let coverage = inv.compute_coverage();
    format!(
        "keyhygiene: crawled {} users, {} keys in {:.1}s: {} API calls ({}){}, {} received, {} retries, {} throttled, {} failed{}; coverage {}",
        coverage.users_listed,
        coverage.keys,
        stats.wall_ms as f64 / 1000.0,
        stats.total_calls(),
        calls.join(" "),
        stats
            .calls_per_key(coverage.keys)
            .map(|c| format!(", {c:.2} per key"))
            .unwrap_or_default(),
        crate::report::model::bytes_label(stats.bytes_received),
        stats.retries,
        stats.throttled,
        stats.failed_calls,
        crate::report::model::report_sourced_label(inv),
        if coverage.complete {
            "complete".to_string()
        } else {
            format!("INCOMPLETE ({} gaps)", coverage.gaps)
        }
    )
}

fn formats(args: &[FormatArg]) -> Vec<Format> {
    let mut out = Vec::new();
    for f in args {
        let f = match f {
            FormatArg::Html => Format::Html,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
        };
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// Logs go to stderr, plain (no colour codes), one line per event with its control and
/// bidirectional characters escaped: a name from AWS or from a saved file can neither
/// forge a line nor change the terminal. `KEYHYGIENE_LOG` sets the level (`warn` by
/// default).
///
/// Whatever the level asked for, the AWS SDK's and the HTTP stack's own logs never pass
/// `info`: at `debug` and `trace` they print signed request headers, session tokens and the
/// caller's access key id. keyhygiene's own logs never contain a credential.
fn init_logging(quiet: bool) {
    use tracing_subscriber::prelude::*;

    let default = if quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYHYGIENE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("keyhygiene={default}")));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(|| EscapingStderr)
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .with_filter(tracing_subscriber::filter::filter_fn(may_log))
        .with_filter(filter);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// stderr, for log lines: every control or bidirectional character escaped but the line's
/// own end.
struct EscapingStderr;

impl std::io::Write for EscapingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (line, end) = match text.strip_suffix('\n') {
            Some(line) => (line, "\n"),
            None => (text.as_ref(), ""),
        };
        let safe = crate::text::for_terminal(line);
        std::io::stderr().write_all(format!("{safe}{end}").as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Only keyhygiene's own code logs below `info`.
fn may_log(meta: &tracing::Metadata<'_>) -> bool {
    meta.target().starts_with("keyhygiene") || *meta.level() <= tracing::Level::INFO
}
