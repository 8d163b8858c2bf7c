//! A notice given once to any number of waiters on any threads (the
//! runtime's shutdown request, [`ShutdownToken::wait`](crate::ShutdownToken::wait)).
//! A waiter checks the flag, registers its waker under the mutex, then
//! checks again; the notifier raises the flag before it takes the wakers
//! under the same mutex: a waiter that registered too late for the
//! notifier to see it sees the flag on its second check.

use std::collections::BTreeMap;
use std::sync::PoisonError;
use std::task::{Context, Poll, Waker};

use super::atomic::{AtomicBool, AtomicU64, Ordering};
use super::Mutex;

/// A notice and its waiters' wakers, by waiter id.
#[derive(Debug, Default)]
pub(crate) struct OnceNotify {
    notified: AtomicBool,
    waiters: Mutex<BTreeMap<u64, Waker>>,
    next_waiter: AtomicU64,
}

impl OnceNotify {
    /// Gives the notice (again is harmless) and wakes every waiter.
    pub(crate) fn notify(&self) {
        self.notified.store(true, Ordering::Release);
        let waiters =
            std::mem::take(&mut *self.waiters.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in waiters.into_values() {
            waker.wake();
        }
    }

    pub(crate) fn is_notified(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    /// An id for a new waiter, to poll and forget with.
    pub(crate) fn new_waiter(&self) -> u64 {
        self.next_waiter.fetch_add(1, Ordering::Relaxed)
    }

    /// Ready once notified; else keeps `cx`'s waker for waiter `id`.
    pub(crate) fn poll_wait(&self, id: u64, cx: &Context<'_>) -> Poll<()> {
        if self.is_notified() {
            return Poll::Ready(());
        }
        let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        match waiters.get_mut(&id) {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            Some(waker) => waker.clone_from(cx.waker()),
            None => {
                waiters.insert(id, cx.waker().clone());
            }
        }
        drop(waiters);
        // A notice between the first check and the registration woke
        // nobody: this check sees it.
        if self.is_notified() {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Drops waiter `id`'s waker (the waiter is gone).
    pub(crate) fn forget(&self, id: u64) {
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }
}

#[cfg(all(test, loopcore_loom))]
mod loom_tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use loom::sync::Arc;

    use super::OnceNotify;

    struct Wait {
        notify: Arc<OnceNotify>,
        id: u64,
    }

    impl Future for Wait {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.notify.poll_wait(self.id, cx)
        }
    }

    impl Drop for Wait {
        fn drop(&mut self) {
            self.notify.forget(self.id);
        }
    }

    /// A waiter and a notice from another thread: the waiter finishes
    /// whatever the interleaving (`block_on` fails the model if it is never
    /// woken), and no waker is left behind.
    #[test]
    fn no_waiter_misses_the_notice() {
        loom::model(|| {
            let notify = Arc::new(OnceNotify::default());
            let notifier = {
                let notify = notify.clone();
                loom::thread::spawn(move || notify.notify())
            };
            let id = notify.new_waiter();
            loom::future::block_on(Wait {
                notify: notify.clone(),
                id,
            });
            notifier.join().unwrap();
            assert!(notify.is_notified());
            assert!(notify.waiters.lock().unwrap().is_empty());
        });
    }
}
