use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before any thread starts: SIGINT and SIGTERM roll a run back instead of leaving half
    // its files.
    keyhygiene::fsio::interrupt::install();
    let cli = keyhygiene::cli::Cli::parse();
    ExitCode::from(keyhygiene::app::run(cli))
}
