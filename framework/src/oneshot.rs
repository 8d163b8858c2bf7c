//! A one-value channel between threads whose receiver is a future: how a
//! result computed on one loop reaches a task awaiting it on another.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

enum State<T> {
    Waiting(Option<Waker>),
    Sent(T),
    /// The sender was dropped without sending, or the value was taken.
    Closed,
}

type Slot<T> = Arc<Mutex<State<T>>>;

/// Creates a connected sender and receiver.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Mutex::new(State::Waiting(None)));
    (Sender { slot: slot.clone() }, Receiver { slot })
}

fn lock<T>(slot: &Slot<T>) -> std::sync::MutexGuard<'_, State<T>> {
    // A panic under this lock (in a value's or a waker's `Drop`) cannot
    // leave the state half-written: every update is one assignment.
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sends the value, once.
pub(crate) struct Sender<T> {
    slot: Slot<T>,
}

impl<T> Sender<T> {
    pub(crate) fn send(self, value: T) {
        let waker = {
            let mut state = lock(&self.slot);
            match std::mem::replace(&mut *state, State::Sent(value)) {
                State::Waiting(waker) => waker,
                // The receiver is gone: nobody will take the value.
                State::Closed | State::Sent(_) => {
                    *state = State::Closed;
                    None
                }
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        // `Drop` sees `Sent` and leaves it.
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = lock(&self.slot);
            match &mut *state {
                State::Waiting(waker) => {
                    let waker = waker.take();
                    *state = State::Closed;
                    waker
                }
                State::Sent(_) | State::Closed => None,
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Resolves to the value, or `None` if the sender was dropped without one.
pub(crate) struct Receiver<T> {
    slot: Slot<T>,
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = lock(&self.slot);
        match std::mem::replace(&mut *state, State::Closed) {
            State::Sent(value) => Poll::Ready(Some(value)),
            State::Closed => Poll::Ready(None),
            State::Waiting(_) => {
                *state = State::Waiting(Some(cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // A value sent later is dropped by its sender, on the sender's thread.
        *lock(&self.slot) = State::Closed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_sent_value_arrives_across_threads() {
        let (tx, mut rx) = channel();
        assert!(poll_once(&mut rx).is_pending());
        std::thread::spawn(move || tx.send(42)).join().unwrap();
        assert_eq!(poll_once(&mut rx), Poll::Ready(Some(42)));
    }

    #[test]
    fn a_dropped_sender_resolves_to_none() {
        let (tx, mut rx) = channel::<u8>();
        drop(tx);
        assert_eq!(poll_once(&mut rx), Poll::Ready(None));
    }
}
