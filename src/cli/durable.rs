//! `flowc run --db` and `flowc resume`: a run stored step by step in a SQLite run store,
//! with a lease kept while it runs; how it ended, for `run::report`.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::FileReport;
use crate::cancel::CancelToken;
use crate::cli::console::{Console, run_live};
use crate::cli::exit;
use crate::cli::input::{ColorChoice, use_color, width};
use crate::cli::output::eprint;
use crate::cli::run::Ended;
use crate::durable::{self, DurableError, Stopped};
use crate::runtime::{Interpreter, JsonLines, ResumeError, Run, WaitRequest};
use crate::store::{FlowRecord, Owner, RunId, SqliteStore, StoreError};

/// Where a run is stored, and what it runs.
pub(super) struct Target<'a> {
    pub(super) db: &'a Path,
    pub(super) file: &'a Path,
    pub(super) source: &'a crate::SourceFile,
    pub(super) interpreter: &'a Interpreter,
    /// No notice of the run's id on stderr.
    pub(super) quiet: bool,
}

/// Opens (or creates) the store; on failure prints why and gives the exit code.
pub(super) fn open(db: &Path) -> Result<SqliteStore, u8> {
    SqliteStore::open(db).map_err(|error| store_error(&error))
}

/// Opens a store that must be there already, to change a run in it: a mistyped path is
/// reported, not made into a new, empty store.
pub(super) fn open_existing(db: &Path) -> Result<SqliteStore, u8> {
    must_exist(db)?;
    open(db)
}

/// Opens the store to read (a read-only file is fine); on failure prints why.
pub(super) fn open_to_read(db: &Path) -> Result<SqliteStore, u8> {
    must_exist(db)?;
    SqliteStore::open_read_only(db).map_err(|error| store_error(&error))
}

fn must_exist(db: &Path) -> Result<(), u8> {
    if db.exists() {
        return Ok(());
    }
    eprint(format_args!(
        "error: there is no run store at `{}`\nhelp: runs are stored with `flowc run FILE --db {}`\n",
        db.display(),
        db.display()
    ));
    Err(exit::USAGE)
}

/// Prints a store error with its help; the exit code for it.
pub(super) fn store_error(error: &StoreError) -> u8 {
    eprint(format_args!("error: {error}\n"));
    if let Some(help) = error.help() {
        eprint(format_args!("help: {help}\n"));
    }
    // The store file is the user's input (2); what it says about a run is the run's (3).
    match error {
        StoreError::NotFound { .. }
        | StoreError::Finished { .. }
        | StoreError::OwnedByLiveProcess { .. }
        | StoreError::NeedsAttention { .. }
        | StoreError::NoAttentionNeeded { .. }
        | StoreError::NotResumable { .. }
        | StoreError::LeaseLost { .. } => exit::RUN_FAILED,
        _ => exit::USAGE,
    }
}

/// `flowc run FILE --db DB`: stores the flow and a new run, then drives it.
pub(super) fn start<W: Write + Send, T: Write + Send>(
    target: &Target<'_>,
    input: &Map<String, Value>,
    cancel: &CancelToken,
    trace: Option<&Mutex<JsonLines<T>>>,
    console: Option<&Mutex<Console<W>>>,
) -> Ended {
    let mut store = match open(target.db) {
        Ok(store) => store,
        Err(code) => return Ended::Refused(code),
    };
    let owner = Owner::this_process();
    let flow = FlowRecord {
        hash: target.interpreter.program().hash.clone(),
        name: target.interpreter.program().name.clone(),
        source: target.source.text.to_string(),
        path: Some(
            std::fs::canonicalize(target.file)
                .unwrap_or_else(|_| target.file.to_path_buf())
                .display()
                .to_string(),
        ),
    };
    match durable::start(target.interpreter, &mut store, &owner, &flow, input) {
        Ok((id, run)) => {
            if !target.quiet {
                eprint(format_args!(
                    "run {id}, stored in {}\n",
                    target.db.display()
                ));
            }
            drive(target, store, &owner, id, run, cancel, trace, console)
        }
        Err(error) => Ended::Refused(durable_error(error, target.source)),
    }
}

/// Drives a stored run to its end or its next wait, keeping its lease meanwhile.
#[allow(clippy::too_many_arguments)]
pub(super) fn drive<W: Write + Send, T: Write + Send>(
    target: &Target<'_>,
    mut store: SqliteStore,
    owner: &Owner,
    id: RunId,
    run: Run,
    cancel: &CancelToken,
    trace: Option<&Mutex<JsonLines<T>>>,
    console: Option<&Mutex<Console<W>>>,
) -> Ended {
    // A long step commits nothing for a while: the keeper renews the lease meanwhile.
    let keeper = match SqliteStore::keep_lease(target.db, id, owner) {
        Ok(keeper) => keeper,
        Err(error) => return Ended::Refused(store_error(&error)),
    };
    let driven = run_live(cancel, trace, console, |events| {
        durable::drive(
            target.interpreter,
            &mut store,
            owner,
            id,
            run,
            events,
            cancel,
        )
    });
    drop(keeper);
    match driven {
        Ok(Stopped::Finished(outcome)) => Ended::Finished(outcome),
        Ok(Stopped::Failed(error)) => Ended::Failed(error),
        Ok(Stopped::Waiting(request)) => Ended::Waiting(waiting(id, target.db, &request)),
        Err(error) => Ended::Refused(durable_error(error, target.source)),
    }
}

/// What a waiting run tells its user: what it waits for, until when, and the command that
/// resumes it.
fn waiting(id: RunId, db: &Path, request: &WaitRequest) -> String {
    // The prompt is the flow's text: no control character of it reaches the terminal.
    let mut text = format!(
        "waiting: run {id} waits at `{}`: {}\n",
        request.name,
        crate::diagnostics::escaped_on_one_line(&request.prompt)
    );
    if let Some(deadline) = request.deadline() {
        let _ = writeln!(
            text,
            "the wait times out at {}",
            humantime::format_rfc3339_seconds(deadline)
        );
    }
    let _ = writeln!(
        text,
        "resume it with: flowc resume {id} --db {} --input '{{…}}'",
        shell_word(&db.display().to_string())
    );
    text
}

/// `text` as one shell word.
fn shell_word(text: &str) -> String {
    shlex::try_quote(text).map_or_else(|_| text.to_owned(), std::borrow::Cow::into_owned)
}

/// Prints why a durable run could not start, go on or be stored; the exit code.
pub(super) fn durable_error(error: DurableError, source: &crate::SourceFile) -> u8 {
    match error {
        DurableError::Store(error) => store_error(&error),
        DurableError::Input(error) | DurableError::Resume(ResumeError::Input(error)) => {
            let mut report = FileReport::new(source.clone());
            report.push(*error);
            eprint(report.render_human(use_color(ColorChoice::Auto), width()));
            exit::RUN_FAILED
        }
        DurableError::Resume(error) => {
            eprint(format_args!("error: {error}\n"));
            if let Some(help) = miette::Diagnostic::help(&error) {
                eprint(format_args!("help: {help}\n"));
            }
            exit::RUN_FAILED
        }
        error @ DurableError::Checkpoint { .. } => {
            eprint(format_args!("error: {error}\n"));
            exit::RUN_FAILED
        }
    }
}
