//! The state of a run from its latest snapshot and the deltas after it, and the policy that
//! says when the writer should take a new snapshot (so that loading stays fast).

use serde_json::{Map, Value};

use super::{RecordPart, RunId, StoreError};

/// A new snapshot is wanted after this many events, so loading replays at most this many
/// deltas.
pub const SNAPSHOT_EVERY_EVENTS: u64 = 10_000;

/// A new snapshot is wanted when the deltas since the last one exceed both this and the last
/// snapshot's size (so a big state is not rewritten for every few small changes).
pub const SNAPSHOT_MIN_DELTA_BYTES: u64 = 1 << 20;

/// What the writer knows of one run's log since its last snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct RunTrack {
    pub(super) last_seq: u64,
    pub(super) has_snapshot: bool,
    pub(super) events_since_snapshot: u64,
    pub(super) delta_bytes_since_snapshot: u64,
    pub(super) snapshot_bytes: u64,
    /// The status this writer last wrote (`None` when it does not know).
    pub(super) status: Option<super::RunStatus>,
}

impl RunTrack {
    /// A run whose snapshot (of `snapshot_bytes`) is at `last_seq`, with nothing after it.
    pub(super) fn snapshot_at(last_seq: u64, snapshot_bytes: usize) -> Self {
        Self {
            last_seq,
            has_snapshot: true,
            events_since_snapshot: 0,
            delta_bytes_since_snapshot: 0,
            snapshot_bytes: byte_count(snapshot_bytes),
            status: None,
        }
    }

    pub(super) fn wants_snapshot(&self) -> bool {
        !self.has_snapshot
            || self.events_since_snapshot >= SNAPSHOT_EVERY_EVENTS
            || self.delta_bytes_since_snapshot > SNAPSHOT_MIN_DELTA_BYTES.max(self.snapshot_bytes)
    }

    /// Counts one more event after the snapshot, with a delta of `delta_bytes`.
    pub(super) fn add_event(&mut self, seq: u64, delta_bytes: usize) {
        self.last_seq = seq;
        self.events_since_snapshot += 1;
        self.delta_bytes_since_snapshot += byte_count(delta_bytes);
    }
}

fn byte_count(bytes: usize) -> u64 {
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

/// Parses a delta: a JSON object of the keys an event changed.
pub(super) fn parse_delta(text: &str) -> Result<Map<String, Value>, serde_json::Error> {
    serde_json::from_str(text)
}

/// The state: the snapshot's text with each `(seq, delta)` applied in order (streamed, so
/// memory holds one delta at a time).
pub(super) fn replay(
    run: RunId,
    snapshot: &str,
    deltas: impl IntoIterator<Item = Result<(u64, String), StoreError>>,
) -> Result<Map<String, Value>, StoreError> {
    let mut state: Map<String, Value> =
        serde_json::from_str(snapshot).map_err(|cause| StoreError::CorruptRecord {
            run,
            part: RecordPart::Snapshot,
            cause: Some(Box::new(cause)),
        })?;
    for delta in deltas {
        let (seq, text) = delta?;
        let delta = parse_delta(&text).map_err(|cause| StoreError::CorruptRecord {
            run,
            part: RecordPart::Delta { seq },
            cause: Some(Box::new(cause)),
        })?;
        apply(&mut state, delta);
    }
    Ok(state)
}

/// Sets each key of `delta` in `state` (a key keeps its place when it was already there).
pub(super) fn apply(state: &mut Map<String, Value>, delta: Map<String, Value>) {
    for (key, value) in delta {
        state.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deltas_apply_in_order_over_the_snapshot() {
        let state = replay(
            1,
            r#"{"a":1,"b":2}"#,
            [
                Ok((1, r#"{"a":5}"#.to_owned())),
                Ok((2, r#"{"a":6,"c":[1]}"#.to_owned())),
            ],
        )
        .unwrap();
        assert_eq!(Value::Object(state), json!({"a": 6, "b": 2, "c": [1]}));
    }

    #[test]
    fn a_delta_that_is_not_an_object_names_its_event() {
        let error = replay(3, "{}", [Ok((9, "[1]".to_owned()))]).unwrap_err();
        assert!(matches!(
            error,
            StoreError::CorruptRecord {
                run: 3,
                part: RecordPart::Delta { seq: 9 },
                ..
            }
        ));
    }

    #[test]
    fn policy_wants_a_snapshot_by_count_and_by_bytes() {
        let mut track = RunTrack::default();
        assert!(track.wants_snapshot(), "no snapshot yet");
        track = RunTrack::snapshot_at(0, 10);
        for seq in 1..SNAPSHOT_EVERY_EVENTS {
            track.add_event(seq, 10);
        }
        assert!(!track.wants_snapshot());
        track.add_event(SNAPSHOT_EVERY_EVENTS, 10);
        assert!(track.wants_snapshot());

        let big = usize::try_from(SNAPSHOT_MIN_DELTA_BYTES).unwrap();
        track = RunTrack::snapshot_at(0, 4 * big);
        track.add_event(1, 3 * big);
        assert!(!track.wants_snapshot(), "deltas smaller than the snapshot");
        track.add_event(2, big + 1);
        assert!(track.wants_snapshot());
    }
}
