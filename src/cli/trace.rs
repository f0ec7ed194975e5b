//! `flowc run --trace FILE`: the file the execution log streams to. It is never one of the
//! run's own inputs (the flow file, the state file, a file on stdin): creating the trace
//! truncates FILE, so a path that is an input (even through another name: a link, `./`)
//! is refused before anything is created. Devices and pipes (`/dev/null`) are not
//! truncated, so they are never refused.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::cli::input::describe;
use crate::runtime::JsonLines;

pub(super) type Trace = JsonLines<BufWriter<File>>;

/// Why the trace file was not created.
#[derive(Debug, thiserror::Error)]
pub(super) enum TraceError {
    #[error(
        "`--trace {}` is the same file as {input}, an input of this run: writing the trace \
         would destroy it; choose another path",
        trace.display()
    )]
    IsAnInput {
        trace: std::path::PathBuf,
        input: String,
    },
    #[error("cannot write the trace to `{}`: {error}", path.display())]
    Create {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
}

/// Creates the trace at `path`, unless it is one of `inputs` (`None` is stdin).
pub(super) fn create(path: &Path, inputs: &[Option<&Path>]) -> Result<Trace, TraceError> {
    if std::fs::metadata(path).is_ok_and(|target| target.is_file()) {
        for input in inputs {
            if same_file(path, input.unwrap_or_else(|| Path::new(STDIN))) {
                return Err(TraceError::IsAnInput {
                    trace: path.to_owned(),
                    input: describe(*input),
                });
            }
        }
    }
    match File::create(path) {
        Ok(file) => Ok(JsonLines::new(BufWriter::new(file))),
        Err(error) => Err(TraceError::Create {
            path: path.to_owned(),
            error,
        }),
    }
}

/// The file on stdin, whatever name it was opened by.
const STDIN: &str = "/dev/stdin";

/// Whether two paths name the same file: same device and inode, so hard links, symbolic
/// links and other spellings of a path all count.
#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Without inodes, the canonical paths (symbolic links resolved) are compared.
#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
