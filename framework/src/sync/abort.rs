//! Aborting a task from any thread ([`JoinHandle::abort`](crate::JoinHandle::abort)):
//! the flag the task checks at every poll, and the waker that makes it poll
//! again. The task registers its waker before it checks the flag, and the
//! aborter raises the flag before it reads the waker; both under one mutex
//! for the waker, so whichever comes second sees the other's step.

use std::sync::PoisonError;
use std::task::Waker;

use super::atomic::{AtomicBool, Ordering};
use super::Mutex;

/// Shared by a task and its handle.
#[derive(Debug, Default)]
pub(crate) struct AbortState {
    aborted: AtomicBool,
    /// The task's waker, registered at its first poll (async-task passes the
    /// same one to every poll).
    waker: Mutex<Option<Waker>>,
}

impl AbortState {
    /// Raises the flag and wakes the task; false if it was raised already.
    pub(crate) fn abort(&self) -> bool {
        if self.aborted.swap(true, Ordering::AcqRel) {
            return false;
        }
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// Called by the task at every poll, on its loop's thread: registers
    /// `waker` the first time (`registered` is the task's own note of
    /// that), then tells whether the task was aborted.
    pub(crate) fn poll_aborted(&self, registered: &mut bool, waker: &Waker) -> bool {
        if !*registered {
            *self.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(waker.clone());
            *registered = true;
        }
        self.aborted.load(Ordering::Acquire)
    }
}

#[cfg(all(test, loopcore_loom))]
mod loom_tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use loom::sync::Arc;

    use super::AbortState;

    /// A task as `TaskBody` runs it, around a future that never wakes.
    struct Task {
        abort: Arc<AbortState>,
        registered: bool,
    }

    impl Future for Task {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let this = &mut *self;
            if this.abort.poll_aborted(&mut this.registered, cx.waker()) {
                return Poll::Ready(());
            }
            Poll::Pending
        }
    }

    /// An abort from another thread, racing the task's first poll, always
    /// ends the task: `block_on` fails the model if nobody wakes it.
    #[test]
    fn an_abort_racing_the_first_poll_is_never_lost() {
        loom::model(|| {
            let abort = Arc::new(AbortState::default());
            let aborter = {
                let abort = abort.clone();
                loom::thread::spawn(move || assert!(abort.abort()))
            };
            loom::future::block_on(Task {
                abort: abort.clone(),
                registered: false,
            });
            aborter.join().unwrap();
            assert!(!abort.abort(), "a second abort does nothing");
        });
    }
}
