//! A one-message mailbox for a thread that waits: whoever answers it puts the message in
//! and wakes the thread (`park`/`unpark`, one futex call each way at most), cheaper than a
//! channel made for one message.

use std::sync::{Mutex, PoisonError};
use std::thread::{self, Thread};

/// How often a waiter gives its core away before it sleeps: a message that comes by then
/// costs neither side a futex call (an `unpark` of a thread not parked is an atomic store).
const YIELDS_BEFORE_PARKING: usize = 20;

pub(crate) struct Mailbox<T> {
    message: Mutex<Option<T>>,
    waiter: Thread,
}

impl<T> Mailbox<T> {
    /// A mailbox for the current thread, the one that will [`Self::wait`].
    pub(crate) fn for_this_thread() -> Self {
        Self {
            message: Mutex::new(None),
            waiter: thread::current(),
        }
    }

    /// Puts `message` in and wakes the waiter. One message at a time: the caller puts the
    /// next only after the waiter has taken the last (the group commit sends a writer one
    /// answer, or the lead and later that answer).
    pub(crate) fn put(&self, message: T) {
        let unread = self
            .message
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(message);
        debug_assert!(
            unread.is_none(),
            "a mailbox message was put over an unread one"
        );
        self.waiter.unpark();
    }

    /// Waits for the next message (only the thread that made the mailbox may wait).
    pub(crate) fn wait(&self) -> T {
        for _ in 0..YIELDS_BEFORE_PARKING {
            if let Some(message) = self.take() {
                return message;
            }
            thread::yield_now();
        }
        loop {
            if let Some(message) = self.take() {
                return message;
            }
            // Returns at once when unparked since the last park: no wake is lost.
            thread::park();
        }
    }

    fn take(&self) -> Option<T> {
        self.message
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Mailbox;

    #[test]
    fn a_message_put_before_or_while_waiting_is_received_once() {
        let mailbox = Arc::new(Mailbox::for_this_thread());
        mailbox.put(1);
        assert_eq!(mailbox.wait(), 1);
        let other = Arc::clone(&mailbox);
        let putter = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            other.put(2);
        });
        assert_eq!(mailbox.wait(), 2);
        putter.join().unwrap();
        assert!(mailbox.message.lock().unwrap().is_none());
    }
}
