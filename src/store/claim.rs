//! Claims: which runs an owner may take (a resumable one, or one that needs attention),
//! taking one with its state loaded, and cancelling one nobody drives, each in one
//! transaction that checks and writes.

use rusqlite::{OptionalExtension, params};

use super::reads::load_run;
use super::rows::{now_millis, status_as_read, stored_status};
use super::writes::lease_until;
use super::{LoadedRun, Owner, RunId, RunStatus, SqliteStore, StoreError};

/// Which runs a claim takes.
#[derive(Clone, Copy)]
pub(super) enum Claimable {
    /// Interrupted, waiting or queued ones.
    Resumable,
    /// Only `needs-attention` ones.
    NeedsAttention,
}

impl SqliteStore {
    pub(super) fn claim_if(
        &mut self,
        run: RunId,
        owner: &Owner,
        claimable: Claimable,
    ) -> Result<LoadedRun, StoreError> {
        let (loaded, mut track) = self.write_tx(|store| {
            let sqlite = |cause| StoreError::sqlite(&store.path, cause);
            store.check_claimable(run, owner, claimable)?;
            store
                .conn
                .prepare_cached(
                    "UPDATE runs SET status = 'running', owner = ?2, lease_until = ?3, \
                     updated_at = ?4 WHERE id = ?1",
                )
                .and_then(|mut statement| {
                    statement.execute(params![run, owner.id(), lease_until(), now_millis()])
                })
                .map_err(sqlite)?;
            load_run(&store.conn, &store.path, run)
        })?;
        track.status = Some(RunStatus::Running);
        self.tracks.insert(run, track);
        Ok(loaded)
    }

    /// Whether `claimable` lets `owner` take `run` now (read in the caller's transaction).
    fn check_claimable(
        &self,
        run: RunId,
        owner: &Owner,
        claimable: Claimable,
    ) -> Result<(), StoreError> {
        let (status, holder, lease): (String, Option<String>, Option<i64>) = self
            .conn
            .prepare_cached("SELECT status, owner, lease_until FROM runs WHERE id = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row([run], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .optional()
            })
            .map_err(|cause| self.error(cause))?
            .ok_or(StoreError::NotFound { run })?;
        let stored = stored_status(run, &status)?;
        match (
            status_as_read(stored, holder.as_deref(), lease, now_millis()),
            claimable,
        ) {
            (RunStatus::NeedsAttention, Claimable::NeedsAttention) => {}
            (status, Claimable::NeedsAttention) => {
                return Err(StoreError::NoAttentionNeeded { run, status });
            }
            (status, _) if status.is_final() => {
                return Err(StoreError::Finished { run, status });
            }
            (RunStatus::NeedsAttention, _) => return Err(StoreError::NeedsAttention { run }),
            (RunStatus::Running, _) if holder.as_deref() != Some(owner.id()) => {
                return Err(StoreError::OwnedByLiveProcess {
                    run,
                    owner: holder.unwrap_or_default(),
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Cancels a resumable run (interrupted, waiting or queued) that nobody drives, in one
    /// transaction and without loading it; refused as [`Self::claim_if`] refuses.
    pub(super) fn cancel_idle_run(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        self.write_tx(|store| {
            store.check_claimable(run, owner, Claimable::Resumable)?;
            let now = now_millis();
            store
                .conn
                .prepare_cached(
                    "UPDATE runs SET status = 'cancelled', owner = NULL, lease_until = NULL, \
                     updated_at = ?2, finished_at = coalesce(finished_at, ?2) WHERE id = ?1",
                )
                .and_then(|mut statement| statement.execute(params![run, now]))
                .map_err(|cause| store.error(cause))?;
            Ok(())
        })?;
        // Whoever takes it next may write events this writer never sees.
        self.tracks.remove(&run);
        Ok(())
    }
}
