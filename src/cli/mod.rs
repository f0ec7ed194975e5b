//! The `flowc` command line: argument parsing and one module per subcommand. A thin shell:
//! it reads files, calls the library and prints; exit codes follow the language contract.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[cfg(feature = "store")]
mod cancel;
mod check;
mod console;
#[cfg(feature = "store")]
mod durable;
mod fmt;
mod graph;
mod input;
mod limits;
#[cfg(feature = "lsp")]
mod lsp;
mod output;
#[cfg(feature = "store")]
mod resume;
mod run;
#[cfg(feature = "store")]
mod runs;
#[cfg(feature = "server")]
mod serve;
#[cfg(feature = "store")]
mod show;
mod tools;
mod trace;

use clap::{Parser, Subcommand};

/// Exit codes of every subcommand.
pub mod exit {
    pub const OK: u8 = 0;
    /// The flow does not compile (or has warnings under `--deny-warnings`).
    pub const COMPILE: u8 = 1;
    /// A bad command line, an input that cannot be read (missing, too large, not UTF-8),
    /// or an output that cannot be written (a closed pipe is not that: see `output`).
    pub const USAGE: u8 = 2;
    /// The run failed, was cancelled, or its trace could not be written.
    pub const RUN_FAILED: u8 = 3;
    /// The run waits at a `wait` node; `flowc resume` continues it.
    pub const WAITING: u8 = 4;
}

#[derive(Debug, Parser)]
#[command(name = "flowc", version, about = "Check, draw and run .flow workflows")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile and validate flows; report every problem found.
    Check(check::CheckArgs),
    /// Rewrite flows in the canonical layout (`--check` lists those that would change).
    Fmt(fmt::FmtArgs),
    /// Serve the Language Server Protocol on stdio, for editors.
    #[cfg(feature = "lsp")]
    Lsp(lsp::LspArgs),
    /// Draw a flow as a Mermaid or Graphviz DOT graph.
    Graph(graph::GraphArgs),
    /// List the registered tools with their arguments.
    Tools(tools::ToolsArgs),
    /// Run a flow from an initial state; print the final state as JSON.
    Run(run::RunArgs),
    /// List the runs kept in a run store.
    #[cfg(feature = "store")]
    Runs(runs::RunsArgs),
    /// Show a stored run: its status, log and state.
    #[cfg(feature = "store")]
    Show(show::ShowArgs),
    /// Continue a stored run that was interrupted or waits for input.
    #[cfg(feature = "store")]
    Resume(resume::ResumeArgs),
    /// Cancel a stored run that nobody is stepping (queued, waiting, interrupted or
    /// needs-attention).
    #[cfg(feature = "store")]
    Cancel(cancel::CancelArgs),
    /// Serve the HTTP API: graphs, durable runs and their live logs.
    #[cfg(feature = "server")]
    Serve(serve::ServeArgs),
}

/// Runs one command and returns its exit code.
pub fn run(args: Args) -> u8 {
    let registry = crate::tools::ToolRegistry::builtin();
    match args.command {
        Command::Check(args) => check::run(&args, &registry),
        Command::Fmt(args) => fmt::run(&args),
        #[cfg(feature = "lsp")]
        Command::Lsp(args) => lsp::run(&args, registry),
        Command::Graph(args) => graph::run(&args, &registry),
        Command::Tools(args) => tools::run(&args, &registry),
        Command::Run(args) => run::run(&args, &registry),
        #[cfg(feature = "store")]
        Command::Runs(args) => runs::run(&args),
        #[cfg(feature = "store")]
        Command::Show(args) => show::run(&args, &registry),
        #[cfg(feature = "store")]
        Command::Resume(args) => resume::run(&args, &registry),
        #[cfg(feature = "store")]
        Command::Cancel(args) => cancel::run(&args),
        #[cfg(feature = "server")]
        Command::Serve(args) => serve::run(&args),
    }
}
