//! `create_future`: a one-shot future and the [`Resolver`] that completes it,
//! from the loop or from any other thread.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::{Error, ErrorKind, EventLoop, Result};

struct State<T> {
    value: Option<T>,
    waker: Option<Waker>,
    resolver_dropped: bool,
    future_dropped: bool,
}

type Shared<T> = Arc<Mutex<State<T>>>;

fn lock<T>(shared: &Shared<T>) -> std::sync::MutexGuard<'_, State<T>> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A value that will be set later by its [`Resolver`] (asyncio's `Future`).
///
/// Resolves to `Err` of kind [`Cancelled`](ErrorKind::Cancelled) if the
/// resolver is dropped without resolving.
pub struct LoopFuture<T> {
    shared: Shared<T>,
}

/// Completes a [`LoopFuture`]; `Send` when `T` is, so another thread may
/// resolve it (the awaiting task is then woken through its loop's mailbox).
pub struct Resolver<T> {
    shared: Option<Shared<T>>,
}

/// A connected future/resolver pair; see [`EventLoop::create_future`].
pub fn pair<T>() -> (LoopFuture<T>, Resolver<T>) {
    let shared = Arc::new(Mutex::new(State {
        value: None,
        waker: None,
        resolver_dropped: false,
        future_dropped: false,
    }));
    (
        LoopFuture {
            shared: Arc::clone(&shared),
        },
        Resolver {
            shared: Some(shared),
        },
    )
}

impl<T> Resolver<T> {
    /// Sets the result and wakes the awaiter.
    ///
    /// # Errors
    ///
    /// Gives the value back if the future was dropped.
    pub fn resolve(mut self, value: T) -> std::result::Result<(), T> {
        let shared = self.shared.take().expect("resolver used once");
        let waker = {
            let mut state = lock(&shared);
            if state.future_dropped {
                return Err(value);
            }
            state.value = Some(value);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// True if the future was dropped, so resolving is pointless.
    pub fn is_abandoned(&self) -> bool {
        self.shared
            .as_ref()
            .is_none_or(|shared| lock(shared).future_dropped)
    }
}

impl<T> Drop for Resolver<T> {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let waker = {
            let mut state = lock(&shared);
            state.resolver_dropped = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> LoopFuture<T> {
    /// True once a value was set or the resolver dropped.
    pub fn is_done(&self) -> bool {
        let state = lock(&self.shared);
        state.value.is_some() || state.resolver_dropped
    }
}

impl<T> Future for LoopFuture<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = lock(&self.shared);
        if let Some(value) = state.value.take() {
            return Poll::Ready(Ok(value));
        }
        if state.resolver_dropped {
            return Poll::Ready(Err(Error::new(
                ErrorKind::Cancelled,
                "the future's resolver was dropped without a result",
            )));
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for LoopFuture<T> {
    fn drop(&mut self) {
        lock(&self.shared).future_dropped = true;
    }
}

impl<T> fmt::Debug for LoopFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopFuture")
            .field("done", &self.is_done())
            .finish()
    }
}

impl<T> fmt::Debug for Resolver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

impl EventLoop {
    /// A future and the resolver that completes it (asyncio's
    /// `create_future` plus `set_result`).
    ///
    /// ```
    /// let lp = loopcore::EventLoop::new()?;
    /// let (future, resolver) = lp.create_future();
    /// std::thread::spawn(move || resolver.resolve("done").unwrap());
    /// assert_eq!(lp.run_until_complete(future)??, "done");
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn create_future<T>(&self) -> (LoopFuture<T>, Resolver<T>) {
        pair()
    }
}
