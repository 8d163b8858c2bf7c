//! Tasks: futures run by the loop (`spawn`, asyncio's `create_task`).
//!
//! Tasks are `async-task` tasks spawned "local": their futures need not be
//! `Send` and are polled, and dropped, only on their loop's thread. Waking a
//! task on its loop's thread pushes it onto the ready queue; waking it from
//! another thread posts it through the loop's mailbox.
//!
//! Drop policy: dropping a [`JoinHandle`] detaches the task, which keeps
//! running (as in tokio); [`JoinHandle::abort`] cancels it. A panic in a task
//! is caught, reported to the loop's exception handler and returned to the
//! awaiter as [`JoinError`].

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::exception::{CaughtPanic, ExceptionContext};
use crate::sync::AbortState;
use crate::EventLoop;

static NEXT_TASK_ID: AtomicU64 = AtomicU64::new(1);

/// Why a task produced no value.
pub struct JoinError {
    id: u64,
    repr: JoinErrorRepr,
}

enum JoinErrorRepr {
    Aborted,
    Panicked {
        message: String,
        payload: Box<dyn Any + Send>,
    },
    LoopClosed,
}

impl JoinError {
    /// The task was aborted with [`JoinHandle::abort`] (or by a `JoinSet`).
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self.repr,
            JoinErrorRepr::Aborted | JoinErrorRepr::LoopClosed
        )
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, JoinErrorRepr::Panicked { .. })
    }

    /// The task was dropped because its loop closed before it finished.
    pub fn is_loop_closed(&self) -> bool {
        matches!(self.repr, JoinErrorRepr::LoopClosed)
    }

    /// The panic payload, for `std::panic::resume_unwind`.
    ///
    /// # Errors
    ///
    /// Returns `self` unchanged when the task did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.repr {
            JoinErrorRepr::Panicked { payload, .. } => Ok(payload),
            repr => Err(JoinError { id: self.id, repr }),
        }
    }

    /// The id of the task that failed.
    pub fn task_id(&self) -> u64 {
        self.id
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            JoinErrorRepr::Aborted => write!(f, "task {} was aborted", self.id),
            JoinErrorRepr::Panicked { message, .. } => {
                write!(f, "task {} panicked: {message}", self.id)
            }
            JoinErrorRepr::LoopClosed => {
                write!(f, "task {} was dropped: its event loop closed", self.id)
            }
        }
    }
}

impl std::error::Error for JoinError {}

impl JoinError {
    /// A task whose future could not even be built: its factory panicked.
    pub(crate) fn panicked(payload: Box<dyn Any + Send>) -> Self {
        JoinError {
            id: 0,
            repr: JoinErrorRepr::Panicked {
                message: crate::exception::payload_message(&*payload),
                payload,
            },
        }
    }

    /// A task that never ran or was dropped because its loop closed.
    pub(crate) fn loop_closed(id: u64) -> Self {
        JoinError {
            id,
            repr: JoinErrorRepr::LoopClosed,
        }
    }
}

pin_project_lite::pin_project! {
    /// The spawned future: catches panics and honours `abort`.
    struct TaskBody<F> {
        #[pin]
        future: F,
        id: u64,
        abort: Arc<AbortState>,
        // Whether the task's waker is in `abort` yet.
        waker_registered: bool,
    }
}

impl<F: Future> Future for TaskBody<F> {
    type Output = Result<F::Output, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let id = *this.id;
        if this.abort.poll_aborted(this.waker_registered, cx.waker()) {
            return Poll::Ready(Err(JoinError {
                id,
                repr: JoinErrorRepr::Aborted,
            }));
        }
        let future = this.future;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => {
                let panic = CaughtPanic::from_payload(payload);
                let message = panic.message.clone();
                let payload = panic.payload.unwrap_or_else(|| Box::new(message.clone()));
                if let Some(lp) = EventLoop::try_current() {
                    let mut context = ExceptionContext::from_panic(
                        "task",
                        CaughtPanic {
                            message: message.clone(),
                            location: panic.location,
                            payload: None,
                        },
                    );
                    context.task_id = Some(id);
                    context.message = format!("task {id} panicked");
                    lp.report_panic(context);
                }
                Poll::Ready(Err(JoinError {
                    id,
                    repr: JoinErrorRepr::Panicked { message, payload },
                }))
            }
        }
    }
}

/// Awaits a task's output; see the module docs for the drop policy.
pub struct JoinHandle<T> {
    task: Option<async_task::FallibleTask<Result<T, JoinError>>>,
    abort: Arc<AbortState>,
    id: u64,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// Cancels the task: its future is dropped on its loop at the next
    /// chance, and awaiting this handle gives a cancelled [`JoinError`]
    /// (unless the task had already finished). Idempotent, from any thread.
    pub fn abort(&self) {
        self.abort.abort();
    }

    /// True once the task finished (with a value, a panic, or aborted).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// The task's id, unique in the process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Lets the task run on with nobody awaiting it (what dropping does).
    pub fn detach(mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.id;
        let Some(task) = self.task.as_mut() else {
            panic!("JoinHandle polled after it returned its result");
        };
        match Pin::new(task).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                self.task = None;
                Poll::Ready(result.unwrap_or(Err(JoinError {
                    id,
                    repr: JoinErrorRepr::LoopClosed,
                })))
            }
        }
    }
}

impl EventLoop {
    /// Spawns `future` as a task on this loop (asyncio's `create_task`). The
    /// future need not be `Send`; it starts on the next iteration.
    ///
    /// ```
    /// let lp = loopcore::EventLoop::new()?;
    /// let task = lp.spawn(async { 6 * 7 });
    /// assert_eq!(lp.run_until_complete(task)?.unwrap(), 42);
    /// # Ok::<(), loopcore::Error>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let id = NEXT_TASK_ID.fetch_add(1, Ordering::Relaxed);
        let abort = Arc::new(AbortState::default());
        let body = TaskBody {
            future,
            id,
            abort: Arc::clone(&abort),
            waker_registered: false,
        };
        let shared = Arc::clone(&self.core.shared);
        let schedule = move |runnable| shared.schedule(runnable);
        let (runnable, task) = async_task::spawn_local(body, schedule);
        self.core.shared.counters.tasks_spawned.add(1);
        if self.is_closed() {
            // Dropped here, on the loop's thread: the handle reports it.
            drop(runnable);
        } else {
            self.core
                .ready
                .borrow_mut()
                .push(crate::event_loop::Ready::Task(runnable));
        }
        JoinHandle {
            task: Some(task.fallible()),
            abort,
            id,
        }
    }

    /// asyncio's name for [`spawn`](Self::spawn).
    pub fn create_task<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn(future)
    }
}

/// Spawns `future` on the loop running on this thread.
///
/// # Panics
///
/// When no loop is running on this thread (use [`EventLoop::spawn`] there).
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    EventLoop::current().spawn(future)
}
