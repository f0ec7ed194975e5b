use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // This process may be the watchdog of an `exec` command's process group: then it is
    // nothing else.
    flowc::tools::serve_exec_watchdog();
    let args = flowc::cli::Args::parse();
    ExitCode::from(flowc::cli::run(args))
}
