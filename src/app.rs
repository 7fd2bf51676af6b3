//! One run of the command line: load and validate inputs, collect the inventory, evaluate,
//! write the reports and choose the exit code.
//!
//! Exit codes: 0 clean, 1 findings at or above `--fail-on`, 2 usage or config error, or
//! incomplete coverage. Coverage gaps beat findings.

use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::aws::AwsOptions;
use crate::cli::{AuditArgs, Cli, Command, FormatArg, InitConfigArgs};
use crate::crawl::{CrawlOptions, ProgressMode};
use crate::findings::{FindingSet, Severity};
use crate::inventory::Inventory;
use crate::policy::{self, Policy};
use crate::report::{self, Format, RunInfo};

pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR_OR_INCOMPLETE: u8 = 2;

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

fn fail(message: &str) -> u8 {
    eprintln!("keyhygiene: error: {message}");
    EXIT_ERROR_OR_INCOMPLETE
}

fn init_config(args: &InitConfigArgs) -> Result<(), String> {
    if args.output.exists() && !args.force {
        return Err(format!(
            "{}: already exists (pass --force to replace it)",
            args.output.display()
        ));
    }
    std::fs::write(&args.output, policy::init_config_text()).map_err(|e| {
        format!(
            "{}: cannot write the policy file: {e}",
            args.output.display()
        )
    })?;
    eprintln!("keyhygiene: wrote {}", args.output.display());
    Ok(())
}

/// The exit code for a finished audit: coverage gaps beat findings.
pub fn exit_code(complete: bool, findings: &FindingSet, fail_on: Option<Severity>) -> u8 {
    if !complete {
        EXIT_ERROR_OR_INCOMPLETE
    } else if fail_on.is_some_and(|threshold| findings.worst().is_some_and(|w| w >= threshold)) {
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
                    eprintln!("keyhygiene: error: {problem}");
                }
                return EXIT_ERROR_OR_INCOMPLETE;
            }
        },
        None => Policy::default(),
    };
    let as_of = args.as_of.unwrap_or_else(Utc::now);

    let mut inventory = match collect(&args) {
        Ok(inventory) => inventory,
        Err(message) => return fail(&message),
    };
    if let Some(path) = &args.save_inventory
        && let Err(message) = write_file(path, |out| inventory.write_json(out))
    {
        return fail(&message);
    }

    let findings = crate::rules::audit(&inventory, &policy, as_of);
    let formats = formats(&args.format);
    let run = RunInfo {
        inventory: &inventory,
        findings: &findings,
        as_of,
        fail_on: args.fail_on.threshold(),
        policy_file: args.config.as_deref(),
    };
    let model = report::ReportModel::build(&run);
    let written = match report::write_model_reports(&args.out_dir, &formats, &model) {
        Ok(written) => written,
        Err(err) => return fail(&err.to_string()),
    };
    if !args.quiet {
        print!("{}", report::summary_text(&model, &written));
        if let Some(path) = &args.save_inventory {
            println!("inventory saved to {}", path.display());
        }
    }
    let code = exit_code(inventory.is_complete(), &findings, args.fail_on.threshold());
    if code == EXIT_ERROR_OR_INCOMPLETE {
        eprintln!(
            "keyhygiene: coverage is incomplete: {} gap(s); the reports list what could not be collected",
            inventory.gaps.len()
        );
    }
    code
}

/// The inventory from the chosen source: a saved snapshot, a credential report, or a live crawl.
fn collect(args: &AuditArgs) -> Result<Inventory, String> {
    if let Some(path) = &args.from_inventory {
        return Inventory::from_json_file(path).map_err(|e| e.to_string());
    }
    if let Some(path) = &args.from_credential_report {
        return crate::credential_report::load_inventory(path).map_err(|e| e.to_string());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let inventory = runtime.block_on(async {
        let (clients, account_id) = crate::aws::connect(&AwsOptions {
            profile: args.profile.clone(),
            region: args.region.clone(),
            endpoint_url: args.endpoint_url.clone(),
            ..AwsOptions::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>(
            crate::crawl::crawl(
                &clients,
                &CrawlOptions {
                    concurrency: args.concurrency,
                    max_rps: args.max_rps,
                    progress: ProgressMode::detect(args.quiet),
                    endpoint: args.endpoint_url.clone(),
                    account_id: Some(account_id).filter(|id| !id.is_empty()),
                    ..CrawlOptions::default()
                },
            )
            .await,
        )
    })?;
    if !args.quiet {
        eprintln!("{}", stats_line(&inventory));
    }
    Ok(inventory)
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
        "keyhygiene: crawled {} users, {} keys in {:.1}s: {} API calls ({}), {} retries, {} throttled, {} failed; coverage {}",
        coverage.users_listed,
        coverage.keys,
        stats.wall_ms as f64 / 1000.0,
        stats.total_calls(),
        calls.join(" "),
        stats.retries,
        stats.throttled,
        stats.failed_calls,
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

/// Writes a file through a temporary sibling and a rename, so a reader never sees half a file.
pub fn write_file(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), String> {
    use std::io::Write as _;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("{}: cannot create the directory: {e}", parent.display()))?;
    }
    let mut tmp = PathBuf::from(path);
    tmp.as_mut_os_string().push(".tmp");
    std::fs::File::create(&tmp)
        .and_then(|file| {
            let mut out = std::io::BufWriter::new(file);
            write(&mut out)?;
            out.flush()
        })
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: cannot write: {e}", path.display())
        })
}

fn init_logging(quiet: bool) {
    let default = if quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYHYGIENE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("keyhygiene={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
