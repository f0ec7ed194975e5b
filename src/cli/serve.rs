//! `flowc serve`: the HTTP API over a run store (see `flowc::server`). Loopback by default;
//! any other address needs a token.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::exit;
use crate::cli::output::eprint;
use crate::server::{DEFAULT_MAX_CONCURRENT_RUNS, ServerConfig, ServerError, serve};

#[derive(Debug, clap::Args)]
pub(super) struct ServeArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR")]
    addr: SocketAddr,
    /// The run store (created when missing); `:memory:` for one that is gone when the
    /// server stops.
    #[arg(long, default_value = "flowc.db", value_name = "FILE")]
    db: PathBuf,
    /// Every request must carry `Authorization: Bearer TOKEN`.
    #[arg(
        long,
        env = "FLOWC_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Let flows use the `exec` tool (runs commands on this machine).
    #[arg(long)]
    allow_exec: bool,
    /// Runs driven at once; more wait, queued in order.
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENT_RUNS, value_parser = clap::value_parser!(u16).range(1..=256), value_name = "N")]
    max_concurrent_runs: u16,
    /// At start, resume the runs that were interrupted.
    #[arg(long)]
    auto_resume: bool,
    /// Lets tools read and write files under DIR (repeatable; none by default). The first is
    /// where tools run and what relative paths in flows are relative to. The store's files
    /// are never allowed.
    #[arg(long = "allow-path", value_name = "DIR", value_parser = crate::cli::input::parse_folder)]
    allow_paths: Vec<PathBuf>,
    /// The most steps a run may take (runs may ask for fewer).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    max_steps: u64,
    /// The longest a run may take (runs may ask for less).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration, value_name = "DURATION")]
    max_run_time: Duration,
    /// How long a `wait: true` request waits for its run; a run still going then is
    /// answered `202` and goes on in the background.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    max_wait: Duration,
}

pub(super) fn run(args: &ServeArgs) -> u8 {
    let mut config = ServerConfig::new(args.addr, args.db.clone());
    config.token = args.token.clone().filter(|token| !token.is_empty());
    config.allow_exec = args.allow_exec;
    config.max_concurrent_runs = usize::from(args.max_concurrent_runs);
    config.auto_resume = args.auto_resume;
    if let Some(first) = args.allow_paths.first() {
        config.workdir.clone_from(first);
    }
    config.allowed_paths.clone_from(&args.allow_paths);
    config.max_steps = args.max_steps;
    config.max_run_time = Some(args.max_run_time);
    config.max_wait = args.max_wait;
    let served = serve(config, |addr| {
        eprint(format_args!("flowc serve: listening on http://{addr}\n"));
    });
    match served {
        Ok(()) => exit::OK,
        Err(error) => {
            eprint(format_args!("error: {error}\n"));
            if let ServerError::Store(error) = &error
                && let Some(help) = error.help()
            {
                eprint(format_args!("help: {help}\n"));
            }
            exit::USAGE
        }
    }
}
