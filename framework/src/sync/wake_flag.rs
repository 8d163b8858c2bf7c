//! The wake-coalescing flag of a loop's mailbox (invariants 1-2 of
//! `mailbox`); `loom_tests` below explores every interleaving of senders
//! and the loop.

use super::atomic::{AtomicBool, Ordering};

/// Set by the sender that must write the waker; cleared by the loop
/// before it drains.
#[derive(Debug)]
pub(crate) struct WakeFlag(AtomicBool);

impl WakeFlag {
    pub(crate) fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// A sender queued a message: true if this sender must write the waker
    /// (nobody has since the loop last drained).
    #[inline]
    pub(crate) fn raise(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }

    /// The loop is about to drain: clears the flag; true if it was set.
    #[inline]
    pub(crate) fn take(&self) -> bool {
        self.0.load(Ordering::Acquire) && self.0.swap(false, Ordering::AcqRel)
    }
}

#[cfg(all(test, loopcore_loom))]
mod loom_tests {
    use std::collections::VecDeque;

    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::{Arc, Mutex};

    use super::WakeFlag;

    /// The mailbox as the loop sees it: a queue (crossbeam's, modelled by
    /// a mutex), the flag, and the eventfd behind `mio::Waker` (a counter
    /// the loop's poll reads and resets).
    struct Mailbox {
        queue: Mutex<VecDeque<u32>>,
        flag: WakeFlag,
        eventfd: AtomicUsize,
    }

    impl Mailbox {
        fn post(&self, message: u32) {
            self.queue.lock().unwrap().push_back(message);
            if self.flag.raise() {
                self.eventfd.fetch_add(1, Ordering::Release);
            }
        }

        /// One loop iteration after poll returned: drains what was queued
        /// when draining began, if the flag says so.
        fn drain(&self, received: &mut Vec<u32>) {
            if self.flag.take() {
                let mut queue = self.queue.lock().unwrap();
                let pending = queue.len();
                received.extend(queue.drain(..pending));
            }
        }

        /// The loop's poll: true if the eventfd was readable (and reset it).
        fn poll(&self) -> bool {
            self.eventfd.swap(0, Ordering::Acquire) > 0
        }
    }

    /// Two senders post while the loop runs iterations; once they are done,
    /// a loop that sleeps until its eventfd is readable must still get
    /// every message: no wake-up is lost, whatever the interleaving.
    #[test]
    fn no_wake_up_is_lost() {
        loom::model(|| {
            let mailbox = Arc::new(Mailbox {
                queue: Mutex::new(VecDeque::new()),
                flag: WakeFlag::new(),
                eventfd: AtomicUsize::new(0),
            });
            let senders: Vec<_> = (0..2)
                .map(|i| {
                    let mailbox = mailbox.clone();
                    loom::thread::spawn(move || mailbox.post(i))
                })
                .collect();
            let mut received = Vec::new();
            // Iterations racing the senders.
            if mailbox.poll() {
                mailbox.drain(&mut received);
            }
            for sender in senders {
                sender.join().unwrap();
            }
            // Then the loop only wakes when the eventfd says so.
            while mailbox.poll() {
                mailbox.drain(&mut received);
            }
            received.sort_unstable();
            assert_eq!(received, [0, 1], "a message was left without a wake-up");
        });
    }
}
