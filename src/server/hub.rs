//! The live side of the event streams: one bounded broadcast channel per run that someone
//! listens to. Events are published when their commit has landed, so what a subscriber sees
//! live is always in the store too; a subscriber that falls behind is told so (lagged) and
//! catches up from the store, so a slow client never slows a run. A request that waits for
//! a run's end watches only its stops: it is not woken by each of its steps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{broadcast, watch};

use crate::store::{RunId, StoredEvent};

/// Live messages buffered per run before a slow subscriber lags.
const LIVE_CAPACITY: usize = 1024;

/// What a run's channel carries.
#[derive(Clone, Debug)]
pub(crate) enum Live {
    /// A committed event.
    Event(Arc<StoredEvent>),
    /// The run stopped being driven (its status is in the store).
    Stopped,
}

/// One run's channels.
struct Channels {
    live: broadcast::Sender<Live>,
    /// How many times the run stopped being driven.
    stops: watch::Sender<u64>,
}

impl Channels {
    fn new() -> Self {
        Channels {
            live: broadcast::channel(LIVE_CAPACITY).0,
            stops: watch::channel(0).0,
        }
    }

    fn is_unheard(&self) -> bool {
        self.live.receiver_count() == 0 && self.stops.receiver_count() == 0
    }
}

/// Every run's live channels.
#[derive(Clone, Default)]
pub(crate) struct Hub {
    channels: Arc<Mutex<HashMap<RunId, Channels>>>,
}

impl Hub {
    /// The run's events and stops, from now on.
    pub(crate) fn subscribe(&self, run: RunId) -> broadcast::Receiver<Live> {
        self.with_channels(run, |channels| channels.live.subscribe())
    }

    /// The run's stops only, from now on: `changed()` is ready after each.
    pub(crate) fn watch_stops(&self, run: RunId) -> watch::Receiver<u64> {
        self.with_channels(run, |channels| channels.stops.subscribe())
    }

    fn with_channels<T>(&self, run: RunId, listen: impl FnOnce(&Channels) -> T) -> T {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        listen(channels.entry(run).or_insert_with(Channels::new))
    }

    /// Sends to the run's subscribers (a stop also to its watchers), if it has any.
    pub(crate) fn publish(&self, run: RunId, live: Live) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(found) = channels.get(&run) else {
            return;
        };
        if found.is_unheard() {
            channels.remove(&run);
            return;
        }
        if matches!(live, Live::Stopped) {
            found.stops.send_modify(|stops| *stops += 1);
        }
        if found.live.receiver_count() > 0 {
            let _ = found.live.send(live);
        }
    }

    /// Forgets a run's channels once nobody listens (a listener calls it when it is done).
    pub(crate) fn forget_if_unheard(&self, run: RunId) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if channels.get(&run).is_some_and(Channels::is_unheard) {
            channels.remove(&run);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscriber_gets_what_is_published_after_it_joined() {
        let hub = Hub::default();
        hub.publish(1, Live::Stopped);
        let mut receiver = hub.subscribe(1);
        hub.publish(1, Live::Stopped);
        assert!(matches!(receiver.try_recv(), Ok(Live::Stopped)));
        drop(receiver);
        hub.forget_if_unheard(1);
        assert!(hub.channels.lock().unwrap().is_empty());
        // A channel nobody hears is dropped when something is published to it.
        drop(hub.subscribe(2));
        hub.publish(2, Live::Stopped);
        assert!(hub.channels.lock().unwrap().is_empty());
    }

    #[test]
    fn a_stop_watcher_sees_stops_and_not_events() {
        let hub = Hub::default();
        let mut stops = hub.watch_stops(1);
        hub.publish(
            1,
            Live::Event(Arc::new(StoredEvent {
                seq: 0,
                kind: "node_started".into(),
                record: "{}".into(),
                changes: None,
            })),
        );
        assert!(!stops.has_changed().unwrap());
        // Events have no listener, so the channels stay for the watcher.
        hub.publish(1, Live::Stopped);
        assert!(stops.has_changed().unwrap());
        assert_eq!(*stops.borrow_and_update(), 1);
        let mut events = hub.subscribe(1);
        hub.publish(1, Live::Stopped);
        assert!(matches!(events.try_recv(), Ok(Live::Stopped)));
        assert!(stops.has_changed().unwrap());
        drop((stops, events));
        hub.forget_if_unheard(1);
        assert!(hub.channels.lock().unwrap().is_empty());
    }
}
