//! The store's one error type. Variants hold data (paths, run ids, versions, owners, the
//! SQLite error as the source); the messages are written for a user, and no caller needs to
//! read them to know what happened.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::{RunId, RunStatus};

/// A failure of the run store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the run store `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        cause: rusqlite::Error,
    },

    #[error("`{}` is not a run store: it is not an SQLite database (it was left untouched)", path.display())]
    NotADatabase { path: PathBuf },

    #[error("the run store `{}` is damaged", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        cause: rusqlite::Error,
    },

    #[error(
        "`{}` is an SQLite database of another program (application id {application_id:#x}), not a run store (it was left untouched)",
        path.display()
    )]
    Foreign { path: PathBuf, application_id: i32 },

    #[error(
        "the run store `{}` was written by a newer flowc (schema {found}; this one reads up to {supported}): upgrade flowc",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i32,
        supported: i32,
    },

    #[error(
        "the run store `{}` was written by an older flowc (schema {found}; this one reads {supported}), and it was opened read-only, so it was not upgraded",
        path.display()
    )]
    OlderSchema {
        path: PathBuf,
        found: i32,
        supported: i32,
    },

    #[error("the run store `{}` has no schema version (it was left untouched)", path.display())]
    UnknownSchema { path: PathBuf, found: i32 },

    #[error("the run store `{}` is empty, and it was opened read-only, so it was not set up", path.display())]
    Empty { path: PathBuf },

    #[error("the run store `{}` is read-only here, and this needs to write to it", path.display())]
    ReadOnly { path: PathBuf },

    #[error("the run store `{}` stayed locked by another process", path.display())]
    Busy {
        path: PathBuf,
        #[source]
        cause: rusqlite::Error,
    },

    #[error("the run store `{}` failed", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        cause: rusqlite::Error,
    },

    #[error("no flow with hash `{hash}` is stored")]
    FlowNotSaved { hash: String },

    #[error("there is no run {run}")]
    NotFound { run: RunId },

    #[error("run {run} has finished ({status}) and cannot be resumed")]
    Finished { run: RunId, status: RunStatus },

    #[error("run {run} is being run by a live process ({owner})")]
    OwnedByLiveProcess { run: RunId, owner: String },

    #[error("run {run} needs attention before it can go on")]
    NeedsAttention { run: RunId },

    #[error("run {run} is {status}, not needs-attention: there is nothing to settle")]
    NoAttentionNeeded { run: RunId, status: RunStatus },

    #[error("run {run} was {status}; only an interrupted, waiting or queued run can be taken")]
    NotResumable { run: RunId, status: RunStatus },

    #[error("run {run} is no longer ours: {}", Holder(holder.as_deref()))]
    LeaseLost { run: RunId, holder: Option<String> },

    #[error("event {seq} of run {run} is out of order: the last stored event is {last}")]
    EventOutOfOrder { run: RunId, seq: u64, last: u64 },

    #[error("the changes of event {seq} of run {run} are not a JSON object")]
    InvalidDelta {
        run: RunId,
        seq: u64,
        #[source]
        cause: serde_json::Error,
    },

    #[error("the stored {part} of run {run} cannot be read")]
    CorruptRecord {
        run: RunId,
        part: RecordPart,
        #[source]
        cause: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    #[error("cannot start the thread that keeps a lease")]
    LeaseThread {
        #[source]
        cause: std::io::Error,
    },

    #[error("the run store has no file to share with a lease keeper (it is in memory)")]
    InMemory,

    #[error("this write was not stored: the group of writes committed with it failed")]
    GroupNotCommitted {
        #[source]
        cause: Arc<StoreError>,
    },

    #[error(
        "this write was taken into a group of writes that never answered it (the thread committing the group panicked)"
    )]
    GroupNotAnswered,
}

/// Which stored part of a run failed to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordPart {
    Input,
    Snapshot,
    Delta { seq: u64 },
    Status,
}

impl fmt::Display for RecordPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input => f.write_str("input"),
            Self::Snapshot => f.write_str("state snapshot"),
            Self::Delta { seq } => write!(f, "changes of event {seq}"),
            Self::Status => f.write_str("status"),
        }
    }
}

/// Who holds a run now, in a sentence.
struct Holder<'a>(Option<&'a str>);

impl fmt::Display for Holder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(owner) => write!(f, "{owner} has taken it"),
            None => f.write_str("it was released"),
        }
    }
}

impl StoreError {
    /// The fix, where one is known.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            Self::NotADatabase { .. } | Self::Foreign { .. } | Self::UnknownSchema { .. } => {
                "give another path for the run store".to_owned()
            }
            Self::Corrupt { .. } => {
                "restore the file from a backup, or give another path for the run store".to_owned()
            }
            Self::NewerSchema { .. } => "install a newer flowc".to_owned(),
            Self::OlderSchema { .. } => {
                "run or resume a run on it once (that upgrades it), then list and show".to_owned()
            }
            Self::ReadOnly { .. } => {
                "make the file and its folder writable, or only list and show runs (read-only)"
                    .to_owned()
            }
            Self::Busy { .. } => "try again when the other process is done".to_owned(),
            Self::FlowNotSaved { .. } => "save the flow before creating its runs".to_owned(),
            Self::OwnedByLiveProcess { owner, .. } => {
                format!("wait for {owner} to finish, or stop that process")
            }
            Self::NeedsAttention { .. } => "look at the run's events and error; if the node's \
                action did not happen, resume with `--rerun` (server: `?rerun=true`) to run it \
                again, else cancel it (`flowc cancel`)"
                .to_owned(),
            Self::NoAttentionNeeded { status, .. } if status.is_final() => {
                "it has ended: there is nothing to rerun".to_owned()
            }
            Self::NoAttentionNeeded { .. } => {
                "`--rerun` (`?rerun=true`) is for a run left needs-attention: resume this one \
                 without it"
                    .to_owned()
            }
            Self::LeaseLost { .. } => {
                "stop driving this run: another process goes on with it".to_owned()
            }
            _ => return None,
        })
    }

    /// `rusqlite`'s error in the variant its code says, for the file at `path`.
    pub(super) fn sqlite(path: &std::path::Path, cause: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let path = path.to_path_buf();
        match cause.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => Self::NotADatabase { path },
            Some(ErrorCode::DatabaseCorrupt) => Self::Corrupt { path, cause },
            Some(ErrorCode::ReadOnly) => Self::ReadOnly { path },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Busy { path, cause },
            _ => Self::Sqlite { path, cause },
        }
    }
}

impl miette::Diagnostic for StoreError {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        StoreError::help(self).map(|text| Box::new(text) as Box<dyn fmt::Display>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_schema_message_names_both_versions_and_the_fix() {
        let error = StoreError::NewerSchema {
            path: "runs.db".into(),
            found: 3,
            supported: 1,
        };
        assert_eq!(
            error.to_string(),
            "the run store `runs.db` was written by a newer flowc (schema 3; this one reads up to 1): upgrade flowc"
        );
        assert_eq!(error.help().as_deref(), Some("install a newer flowc"));
    }

    #[test]
    fn lease_lost_names_the_new_holder() {
        let taken = StoreError::LeaseLost {
            run: 4,
            holder: Some("box:12:ab".into()),
        };
        assert_eq!(
            taken.to_string(),
            "run 4 is no longer ours: box:12:ab has taken it"
        );
        let released = StoreError::LeaseLost {
            run: 4,
            holder: None,
        };
        assert!(released.to_string().ends_with("it was released"));
    }
}
