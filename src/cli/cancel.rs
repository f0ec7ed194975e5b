//! `flowc cancel RUN --db FILE`: ends a stored run that nobody is stepping, `cancelled`: a
//! queued, waiting or interrupted one, or a `needs-attention` one once a person has decided
//! its `once` node must not run again. Cancelling a finished run changes nothing and says
//! how it ended.

use std::path::PathBuf;

use crate::cli::durable::{open_existing, store_error};
use crate::cli::exit;
use crate::cli::output::{Stdout, eprint};
use crate::durable::DurableError;
use crate::store::{Owner, RunId, RunStatus};

#[derive(Debug, clap::Args)]
pub(super) struct CancelArgs {
    /// The run's id (as `flowc runs` lists it).
    run: RunId,
    /// The run store.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
}

pub(super) fn run(args: &CancelArgs) -> u8 {
    let mut store = match open_existing(&args.db) {
        Ok(store) => store,
        Err(code) => return code,
    };
    match crate::durable::cancel(&mut store, &Owner::this_process(), args.run) {
        Ok(status) => {
            let mut out = Stdout::new();
            if status == RunStatus::Cancelled {
                out.print(format_args!("run {} cancelled\n", args.run));
            } else {
                out.print(format_args!(
                    "run {} had already ended {}: nothing to cancel\n",
                    args.run,
                    status.as_str()
                ));
            }
            out.finish(exit::OK)
        }
        Err(DurableError::Store(error)) => store_error(&error),
        Err(error) => {
            eprint(format_args!("error: {error}\n"));
            exit::RUN_FAILED
        }
    }
}
