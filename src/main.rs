use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = flowc::cli::Args::parse();
    ExitCode::from(flowc::cli::run(args))
}
