//! A run's status: the names as stored and shown, and which statuses end or resume a run.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a run is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Queued,
    Running,
    /// Paused until something outside the run happens; resumable.
    Waiting,
    Completed,
    Failed,
    Cancelled,
    /// Stopped before finishing (its process died or gave it up); resumable.
    Interrupted,
    /// Stopped in a way that a person must look at before it can go on.
    NeedsAttention,
}

/// Text that names no [`RunStatus`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a run status (one of: {})", RunStatus::NAMES.join(", "))]
pub struct UnknownRunStatus {
    pub text: String,
}

impl RunStatus {
    pub const ALL: [RunStatus; 8] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Waiting,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::Interrupted,
        RunStatus::NeedsAttention,
    ];

    const NAMES: [&'static str; 8] = [
        "queued",
        "running",
        "waiting",
        "completed",
        "failed",
        "cancelled",
        "interrupted",
        "needs-attention",
    ];

    /// The kebab-case name, as stored and as serde writes it.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Completed, failed or cancelled: the run will never go on.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// Interrupted or waiting: another process may take the run and go on.
    pub fn is_resumable(self) -> bool {
        matches!(self, Self::Interrupted | Self::Waiting)
    }
}

impl FromStr for RunStatus {
    type Err = UnknownRunStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::NAMES
            .iter()
            .position(|name| *name == text)
            .map(|index| Self::ALL[index])
            .ok_or_else(|| UnknownRunStatus {
                text: text.to_owned(),
            })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(RunStatus::NeedsAttention.as_str(), "needs-attention");
    }

    #[test]
    fn unknown_name_is_an_error_listing_the_names() {
        let error = "done".parse::<RunStatus>().unwrap_err();
        assert_eq!(error.text, "done");
        assert!(error.to_string().contains("needs-attention"));
    }

    #[test]
    fn final_and_resumable_statuses() {
        let finals: Vec<_> = RunStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(
            finals,
            [
                RunStatus::Completed,
                RunStatus::Failed,
                RunStatus::Cancelled
            ]
        );
        let resumable: Vec<_> = RunStatus::ALL
            .into_iter()
            .filter(|s| s.is_resumable())
            .collect();
        assert_eq!(resumable, [RunStatus::Waiting, RunStatus::Interrupted]);
    }
}
