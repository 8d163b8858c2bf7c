//! [`Sharded<T>`]: one `T` per runtime loop, in the manner of seastar's
//! `sharded<T>`. Each loop builds and owns its own value (it need not be
//! `Send`); code on any loop or thread reaches a loop's value by sending a
//! closure to that loop, so no value is ever shared and nothing is locked.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::context;
use super::RuntimeHandle;
use crate::oneshot;
use crate::{Error, ErrorKind, Result};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

type MakeShard<T> = dyn Fn(usize) -> T + Send + Sync;

/// One `T` per loop of a runtime, built lazily on each loop by a factory
/// given the loop's index. Cheap to clone, `Send + Sync`. Each loop's value
/// lives until that loop's thread ends (dropping the `Sharded` does not
/// free them: it cannot reach into the loops).
///
/// ```
/// use std::cell::Cell;
/// use loopcore::{EventLoop, Runtime, Sharded};
///
/// let runtime = Runtime::builder().loops(2).handle_signals(false).build()?;
/// let hits: Sharded<Cell<u64>> = Sharded::new(&runtime.handle(), |_| Cell::new(0));
/// // The futures are `Send`: any loop, on any thread, can await them.
/// let lp = EventLoop::new()?;
/// let total = lp.run_until_complete(async {
///     for index in 0..2 {
///         hits.invoke_on(index, |count| count.set(count.get() + 10)).await?;
///     }
///     hits.map_reduce(|count| count.get(), 0, |sum, n| sum + n).await
/// })??;
/// assert_eq!(total, 20);
/// runtime.shutdown(std::time::Duration::ZERO);
/// runtime.run()?;
/// # Ok::<(), loopcore::Error>(())
/// ```
pub struct Sharded<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    id: u64,
    make: Box<MakeShard<T>>,
    runtime: RuntimeHandle,
    /// `T` itself never crosses threads.
    _values: PhantomData<fn() -> T>,
}

impl<T> Clone for Sharded<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Sharded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sharded")
            .field("id", &self.inner.id)
            .finish_non_exhaustive()
    }
}

impl<T: 'static> Sharded<T> {
    /// A sharded value over `runtime`'s loops; loop `i`'s value is
    /// `make(i)`, built on loop `i` the first time it is used there.
    pub fn new(runtime: &RuntimeHandle, make: impl Fn(usize) -> T + Send + Sync + 'static) -> Self {
        Self {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                make: Box::new(make),
                runtime: runtime.clone(),
                _values: PhantomData,
            }),
        }
    }

    /// Runs `f` on the calling loop's value, synchronously.
    ///
    /// Fails with [`ErrorKind::NoRunningLoop`] outside this runtime's loops.
    pub fn with_local<R>(&self, f: impl FnOnce(&T) -> R) -> Result<R> {
        let value = self.local_value()?;
        Ok(f(&value))
    }

    fn local_value(&self) -> Result<Rc<T>> {
        let context = context::current()
            .filter(|c| Arc::ptr_eq(&c.runtime, &self.inner.runtime.shared))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NoRunningLoop,
                    "a Sharded value is reachable on its runtime's loops only: use invoke_on from elsewhere",
                )
            })?;
        let existing = context.shards.borrow().get(&self.inner.id).cloned();
        let value = match existing {
            Some(value) => value,
            None => {
                // Built outside the borrow: the factory may use other shards.
                let value: Rc<dyn Any> = Rc::new((self.inner.make)(context.index));
                context
                    .shards
                    .borrow_mut()
                    .entry(self.inner.id)
                    .or_insert(value)
                    .clone()
            }
        };
        Ok(value
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("a shard id names values of one type")))
    }

    /// Runs `f` on loop `index`'s value, on that loop, and resolves to its
    /// result. Works from any loop or thread (the future is `Send`).
    ///
    /// Fails with [`ErrorKind::InvalidInput`] for an index out of range and
    /// [`ErrorKind::Closed`] if that loop is gone.
    pub fn invoke_on<R, F>(&self, index: usize, f: F) -> impl Future<Output = Result<R>> + Send
    where
        F: FnOnce(&T) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let this = self.clone();
        let posted = match self.inner.runtime.handles().get(index) {
            None => Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "Sharded::invoke_on: loop {index} does not exist (the runtime has {} loops)",
                    self.inner.runtime.handles().len()
                ),
            )),
            Some(handle) => handle.call_soon_threadsafe(move |_| {
                if let Ok(value) = this.local_value() {
                    sender.send(f(&value));
                }
            }),
        };
        async move {
            posted?;
            receiver.await.ok_or_else(|| {
                Error::new(
                    ErrorKind::Closed,
                    format!("Sharded::invoke_on: loop {index} closed before running the call"),
                )
            })
        }
    }

    /// Runs `map` on every loop's value, on its loop, and folds the results
    /// in loop order: `reduce(reduce(init, r0), r1)...`.
    pub fn map_reduce<R, A, M, F>(
        &self,
        map: M,
        init: A,
        mut reduce: F,
    ) -> impl Future<Output = Result<A>> + Send
    where
        M: Fn(&T) -> R + Send + Sync + 'static,
        R: Send + 'static,
        A: Send,
        F: FnMut(A, R) -> A + Send,
    {
        let map = Arc::new(map);
        let calls: Vec<_> = (0..self.inner.runtime.handles().len())
            .map(|index| {
                let map = map.clone();
                self.invoke_on(index, move |value| map(value))
            })
            .collect();
        async move {
            let mut acc = init;
            for call in calls {
                acc = reduce(acc, call.await?);
            }
            Ok(acc)
        }
    }
}
