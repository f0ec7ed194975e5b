//! The live side of the event streams: one bounded broadcast channel per run that someone
//! listens to. Events are published when their commit has landed, so what a subscriber sees
//! live is always in the store too; a subscriber that falls behind is told so (lagged) and
//! catches up from the store, so a slow client never slows a run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

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

/// Every run's live channel.
#[derive(Clone, Default)]
pub(crate) struct Hub {
    channels: Arc<Mutex<HashMap<RunId, broadcast::Sender<Live>>>>,
}

impl Hub {
    pub(crate) fn subscribe(&self, run: RunId) -> broadcast::Receiver<Live> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels
            .entry(run)
            .or_insert_with(|| broadcast::channel(LIVE_CAPACITY).0)
            .subscribe()
    }

    /// Sends to the run's subscribers, if it has any.
    pub(crate) fn publish(&self, run: RunId, live: Live) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = channels.get(&run) {
            if sender.receiver_count() == 0 {
                channels.remove(&run);
            } else {
                let _ = sender.send(live);
            }
        }
    }

    /// Forgets a run's channel once nobody listens (a subscriber calls it when it is done).
    pub(crate) fn forget_if_unheard(&self, run: RunId) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if channels
            .get(&run)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
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
}
