//! One run of the command line: load and check every input offline (the policy, the
//! baseline and history, the folders to write), choose the layout from the mode, collect
//! the run's accounts (`collect`), then take them through the one pipeline
//! (`pipeline`), which writes the reports and gives the exit code.
//!
//! Exit codes: 0 clean, 1 findings at or above `--fail-on`, 2 usage, configuration or input
//! error (nothing written), 3 incomplete coverage (reports written, marked incomplete).
//! Coverage gaps beat findings.

mod collect;
mod logging;
mod memory;
mod outputs;
mod pipeline;
mod remote;
mod saving;
mod settle;

use std::path::Path;

use crate::cli::{AuditArgs, Cli, Command, Endpoint, FormatArg, InitConfigArgs};
use crate::fsio::FileSet;
use crate::policy::{self, Policy};
use crate::report::{Format, Layout};

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
    let message = crate::storage::shown::text(message);
    eprintln!("keyhygiene: error: {}", crate::text::for_terminal(&message));
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

fn audit(mut args: AuditArgs) -> u8 {
    logging::init_logging(args.quiet);
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

    // S3 locations: checked, their inputs copied and their outputs leased and probed; the
    // flags then name the run's private folder.
    let remote = match remote::Remote::prepare(&mut args) {
        Ok(remote) => remote,
        Err(message) => return fail(&message),
    };
    if remote.is_none() && args.is_offline() {
        let given = [
            ("--profile", args.profile.is_some()),
            ("--region", args.region.is_some()),
            ("--endpoint-url", args.endpoint_url.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
            return fail(&format!(
                "{flag} cannot be used with --from-inventory or --from-credential-report unless a location is in S3 (s3://…): the run makes no AWS call"
            ));
        }
    }
    let code = audit_with(&args, &policy, endpoint.as_ref(), remote.as_ref());
    match (code, remote) {
        (Ok(code), Some(remote)) => match remote.publish() {
            Ok(published) => {
                if !args.quiet {
                    for line in &published.lines {
                        println!("{}", crate::text::for_terminal(line));
                    }
                    println!("{}", storage_line(&published.moved));
                }
                code
            }
            Err(message) => fail(&format!("{message}; the previous report set stays current")),
        },
        (Ok(code), None) => code,
        (Err(message), remote) => {
            if let Some(remote) = remote {
                remote.abandon();
            }
            fail(&message)
        }
    }
}

/// The S3 figures, beside the crawl's.
fn storage_line(moved: &crate::storage::Moved) -> String {
    format!(
        "storage: s3, {} requests, {:.1} KiB read, {:.1} KiB written",
        moved.requests,
        moved.bytes_read as f64 / 1024.0,
        moved.bytes_written as f64 / 1024.0
    )
}

/// The audit once its locations are local: everything but the S3 steps. An error is one
/// line, for [`fail`].
fn audit_with(
    args: &AuditArgs,
    policy: &Policy,
    endpoint: Option<&Endpoint>,
    remote: Option<&remote::Remote>,
) -> Result<u8, String> {
    let memory = memory::Memory::prepare(args)?;
    // The layout follows the mode: an organization's for --org, --ou, --accounts,
    // --accounts-file and saved folders (even of one account), a single account's else.
    let layout = if args.is_org_run() {
        Layout::Organization
    } else {
        Layout::Account
    };
    if let Some(remote) = remote {
        remote.check_layout(layout == Layout::Organization)?;
    }

    if !args.is_org_run() && !args.exclude_accounts.is_empty() {
        return Err(
            "--exclude-accounts needs an organization run: add --org, --ou, --accounts or --accounts-file".into(),
        );
    }
    if args.split_by_owner
        && !args.format.contains(&FormatArg::Csv)
        && !args.format.contains(&FormatArg::Xlsx)
    {
        return Err(
            "--split-by-owner writes each owner's CSV files or workbook: add csv or xlsx to --format"
                .into(),
        );
    }
    if !args.is_org_run() && args.shard.is_some() {
        return Err(
            "--shard needs an organization run: add --org, --ou, --accounts or --accounts-file"
                .into(),
        );
    }
    // Every folder the run writes is ready (and the output folder locked) before anything
    // is crawled.
    let save_dir = args
        .save_inventory
        .as_deref()
        .map(|path| saving::Saving::dir(path, layout));
    let outputs = outputs::Outputs::prepare(args, save_dir)?;
    let result = collect::collect(args, policy, endpoint, layout)
        .and_then(|collected| pipeline::run(args, policy, &memory, layout, collected));
    if result.is_err() {
        outputs.abandon();
    }
    result
}

/// Commits the run's files as one change: the reports, the saved inventories and the
/// history record are all in place, or none is ([`crate::fsio::commit`]). Then removes the
/// history's records beyond `--history-keep`. Returns the report files written (the ones a
/// reader opens: not the set manifest) and the history record's path.
fn commit_run(
    reports: FileSet,
    by_owner: Vec<FileSet>,
    saved: Option<FileSet>,
    pending: &mut memory::Pending,
) -> Result<(Vec<std::path::PathBuf>, Option<std::path::PathBuf>), String> {
    let record = pending.stage()?;
    // The report files a reader opens (not the set manifest), in the order written.
    let reports_written: Vec<std::path::PathBuf> = reports
        .names()
        .filter(|n| !n.starts_with('.'))
        .map(|n| reports.dir().join(n))
        .collect();
    let owners_root = reports.dir().join(crate::report::by_owner::BY_OWNER);
    let split = !by_owner.is_empty();
    let mut sets = vec![reports];
    sets.extend(by_owner);
    sets.extend(saved);
    let staged = record.map(|(set, staged)| {
        sets.push(set);
        staged
    });
    crate::fsio::commit::commit(sets).map_err(|e| e.to_string())?;
    if split {
        // The folders of owners this run emptied go (a folder with other files stays).
        for entry in std::fs::read_dir(&owners_root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
    let recorded = match staged {
        Some(staged) => {
            staged.prune()?;
            Some(staged.path())
        }
        None => None,
    };
    Ok((reports_written, recorded))
}

/// A path for a line of the terminal.
fn terminal_path(path: &Path) -> String {
    crate::text::for_terminal(&crate::storage::shown::path(path)).into_owned()
}

fn formats(args: &[FormatArg]) -> Vec<Format> {
    let mut out = Vec::new();
    for f in args {
        let f = match f {
            FormatArg::Html => Format::Html,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Md => Format::Md,
            FormatArg::Xlsx => Format::Xlsx,
        };
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}
