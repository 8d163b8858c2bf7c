//! [`JoinSet`]: a group of tasks on one loop, awaited together; dropping the
//! set aborts what is still running (asyncio's `TaskGroup`).

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

use crate::task::{JoinError, JoinHandle};
use crate::EventLoop;

/// Tasks spawned together; see the module docs.
///
/// ```
/// let lp = loopcore::EventLoop::new()?;
/// let sum = lp.run_until_complete(async {
///     let mut set = loopcore::JoinSet::new();
///     for i in 1..=3u32 {
///         set.spawn(async move { i * 10 });
///     }
///     set.join_all().await.unwrap().into_iter().sum::<u32>()
/// })?;
/// assert_eq!(sum, 60);
/// # Ok::<(), loopcore::Error>(())
/// ```
pub struct JoinSet<T> {
    /// Unjoined tasks with their spawn index.
    handles: Vec<(usize, JoinHandle<T>)>,
    next_index: usize,
}

/// Why [`JoinSet::try_join_all`] stopped early.
#[derive(Debug)]
pub enum GroupError<E> {
    /// A task returned this error.
    Task(E),
    /// A task panicked or was aborted.
    Join(JoinError),
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::Task(e) => write!(f, "a task in the group failed: {e}"),
            GroupError::Join(e) => write!(f, "a task in the group did not finish: {e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for GroupError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GroupError::Task(e) => Some(e),
            GroupError::Join(e) => Some(e),
        }
    }
}

impl<T: 'static> Default for JoinSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.handles.len())
            .finish()
    }
}

impl<T: 'static> JoinSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        Self {
            handles: Vec::new(),
            next_index: 0,
        }
    }

    /// Spawns `future` on the loop running on this thread.
    ///
    /// # Panics
    ///
    /// When no loop is running here; use [`spawn_on`](Self::spawn_on).
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = T> + 'static,
    {
        self.spawn_on(&EventLoop::current(), future);
    }

    /// Spawns `future` on `lp`.
    pub fn spawn_on<F>(&mut self, lp: &EventLoop, future: F)
    where
        F: Future<Output = T> + 'static,
    {
        self.handles.push((self.next_index, lp.spawn(future)));
        self.next_index += 1;
    }

    /// Tasks not yet joined.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// True when no task is left to join.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Aborts every task still in the set.
    pub fn abort_all(&self) {
        for (_, handle) in &self.handles {
            handle.abort();
        }
    }

    /// Waits for the next task to finish, in completion order; `None` when
    /// the set is empty. Each call looks at every remaining task (O(n)).
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        Some(self.next_indexed().await?.1)
    }

    /// The next finished task with its spawn index.
    async fn next_indexed(&mut self) -> Option<(usize, Result<T, JoinError>)> {
        if self.handles.is_empty() {
            return None;
        }
        poll_fn(|cx| {
            for i in 0..self.handles.len() {
                if let Poll::Ready(result) = Pin::new(&mut self.handles[i].1).poll(cx) {
                    let (index, _) = self.handles.swap_remove(i);
                    return Poll::Ready(Some((index, result)));
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Waits for every task and returns the outputs in spawn order. The
    /// first task to panic or be aborted aborts the rest, and its error is
    /// returned.
    pub async fn join_all(mut self) -> Result<Vec<T>, JoinError> {
        let mut outputs: Vec<Option<T>> = (0..self.next_index).map(|_| None).collect();
        while let Some((index, result)) = self.next_indexed().await {
            match result {
                Ok(value) => outputs[index] = Some(value),
                Err(e) => {
                    self.abort_all();
                    return Err(e);
                }
            }
        }
        Ok(outputs.into_iter().flatten().collect())
    }
}

impl<U: 'static, E: 'static> JoinSet<Result<U, E>> {
    /// Like [`join_all`](Self::join_all) for fallible tasks: the first task
    /// to return `Err` (or to panic, or be aborted) aborts the others.
    pub async fn try_join_all(mut self) -> Result<Vec<U>, GroupError<E>> {
        let mut outputs: Vec<Option<U>> = (0..self.next_index).map(|_| None).collect();
        while let Some((index, result)) = self.next_indexed().await {
            let failure = match result {
                Ok(Ok(value)) => {
                    outputs[index] = Some(value);
                    continue;
                }
                Ok(Err(e)) => GroupError::Task(e),
                Err(e) => GroupError::Join(e),
            };
            self.abort_all();
            return Err(failure);
        }
        Ok(outputs.into_iter().flatten().collect())
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        for (_, handle) in &self.handles {
            handle.abort();
        }
    }
}
