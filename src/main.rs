use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = keyhygiene::cli::Cli::parse();
    ExitCode::from(keyhygiene::app::run(cli))
}
