//! Where the commands write: their output on stdout, messages on stderr. Nothing here
//! panics on a write error (`println!` does, and exits 101). A reader that stops reading
//! (`flowc check --format json … | head -c1`) closes the pipe: that is the reader's choice,
//! not a failure of the command, so the rest of the output is dropped without a word and
//! the command ends with the exit code it would have had (a check with errors still exits
//! 1). Any other write error on stdout (`>/dev/full`) is reported and exits 2.

use std::fmt::Display;
use std::io::{self, Write};

use crate::cli::exit;

/// A command's output on stdout; end with [`Stdout::finish`].
pub(super) struct Stdout {
    out: io::Stdout,
    fate: Fate,
}

enum Fate {
    Open,
    /// The reader has gone: the rest is dropped.
    Closed,
    /// The first error that was not a closed pipe: reported at the end.
    Failed(io::Error),
}

impl Stdout {
    pub(super) fn new() -> Self {
        Stdout {
            out: io::stdout(),
            fate: Fate::Open,
        }
    }

    /// Writes `text` as it is (no newline added), unless the output has already failed.
    pub(super) fn print(&mut self, text: impl Display) {
        if matches!(self.fate, Fate::Open) {
            let written = write!(self.out, "{text}");
            self.keep(written);
        }
    }

    /// Flushes, and returns `code`, or [`exit::USAGE`] after saying why the output could
    /// not be written.
    pub(super) fn finish(mut self, code: u8) -> u8 {
        if matches!(self.fate, Fate::Open) {
            let flushed = self.out.flush();
            self.keep(flushed);
        }
        match self.fate {
            Fate::Open | Fate::Closed => code,
            Fate::Failed(error) => {
                eprint(format_args!("error: cannot write to stdout: {error}\n"));
                exit::USAGE
            }
        }
    }

    fn keep(&mut self, result: io::Result<()>) {
        match result {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => self.fate = Fate::Closed,
            Err(error) => self.fate = Fate::Failed(error),
        }
    }
}

/// Writes `text` to stderr as it is. A stderr that cannot be written (a closed pipe) leaves
/// nowhere to say so: the error is dropped, and the exit code still tells.
pub(super) fn eprint(text: impl Display) {
    let _ = write!(io::stderr(), "{text}");
}

/// Reports a bad command line or an unusable input or output; returns [`exit::USAGE`].
pub(super) fn usage(message: impl Display) -> u8 {
    eprint(format_args!("error: {message}\n"));
    exit::USAGE
}
