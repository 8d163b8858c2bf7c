//! Errors that reach the loop rather than a caller: the exception-handler
//! context, the default handler, and the panic hook that keeps caught panics
//! from being printed twice.
//!
//! A panic in a callback, a task or a handler is caught where it happens
//! (`catch_unwind`) and reported once, through the loop's exception handler.
//! While a loop runs on a thread, the process panic hook records the panic's
//! message and location for that report instead of printing it; everywhere
//! else it defers to the previous hook. The loop's exception-handler and
//! debug-mode methods live here too.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Once;
use std::time::Duration;

use crate::EventLoop;

/// A user-installed exception handler (`set_exception_handler`).
pub type ExceptionHandler = Rc<dyn Fn(&EventLoop, &ExceptionContext)>;

/// What happened, for the exception handler: asyncio's context dict as a
/// struct. Build one with [`ExceptionContext::new`] to report errors of your
/// own through [`EventLoop::call_exception_handler`].
#[derive(Default)]
#[non_exhaustive]
pub struct ExceptionContext {
    /// A human-readable description of what failed.
    pub message: String,
    /// The panic's message, when the error is a caught panic.
    pub panic_message: Option<String>,
    /// Where the panic happened (`file:line:column`), when known.
    pub panic_location: Option<String>,
    /// The panic payload, when it was not handed to someone else (a task's
    /// payload goes to its `JoinError`).
    pub panic_payload: Option<Box<dyn Any + Send>>,
    /// An error value, when the failure is an error rather than a panic.
    pub error: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// Which kind of code failed: "callback", "timer callback", "task",
    /// "reader callback", "writer callback", "signal handler", ...
    pub source: Option<&'static str>,
    /// The task's id, when a task failed.
    pub task_id: Option<u64>,
}

impl ExceptionContext {
    /// A context carrying only a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::default()
        }
    }

    /// Attaches an error value.
    pub fn with_error(mut self, error: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.error = Some(Box::new(error));
        self
    }

    /// Says which kind of code failed.
    pub fn with_source(mut self, source: &'static str) -> Self {
        self.source = Some(source);
        self
    }

    pub(crate) fn from_panic(source: &'static str, panic: CaughtPanic) -> Self {
        Self {
            message: format!("{source} panicked"),
            panic_message: Some(panic.message),
            panic_location: panic.location,
            panic_payload: panic.payload,
            source: Some(source),
            ..Self::default()
        }
    }
}

impl fmt::Debug for ExceptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExceptionContext")
            .field("message", &self.message)
            .field("panic_message", &self.panic_message)
            .field("panic_location", &self.panic_location)
            .field("error", &self.error.as_ref().map(|e| e.to_string()))
            .field("source", &self.source)
            .field("task_id", &self.task_id)
            .finish_non_exhaustive()
    }
}

/// Logs `context` at error level through `tracing`, with the loop's id
/// (a runtime loop's events also carry its `loop{index}` span): what the
/// loop does when no handler is set, or when the handler itself panics.
pub(crate) fn log_context(loop_id: u64, context: &ExceptionContext) {
    tracing::error!(
        loop_id,
        panic = context.panic_message.as_deref(),
        location = context.panic_location.as_deref(),
        error = context.error.as_ref().map(tracing::field::display),
        source = context.source,
        task_id = context.task_id,
        "loopcore: {}",
        context.message
    );
}

/// A panic caught by the loop.
pub(crate) struct CaughtPanic {
    pub(crate) message: String,
    pub(crate) location: Option<String>,
    pub(crate) payload: Option<Box<dyn Any + Send>>,
}

impl CaughtPanic {
    pub(crate) fn from_payload(payload: Box<dyn Any + Send>) -> Self {
        let recorded = LAST_PANIC.with(|p| p.borrow_mut().take());
        let from_payload = payload_message(payload.as_ref());
        let (message, location) = match recorded {
            Some((message, location)) => (message, location),
            None => (from_payload, None),
        };
        Self {
            message,
            location,
            payload: Some(payload),
        }
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

thread_local! {
    /// Nesting depth of regions whose panics the loop catches and reports.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
    /// Message and location of the last panic recorded by the hook.
    static LAST_PANIC: RefCell<Option<(String, Option<String>)>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs the process panic hook once (chained to the previous hook).
pub(crate) fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) > 0 {
                let message = payload_message(info.payload());
                let location = info.location().map(|l| l.to_string());
                LAST_PANIC.with(|p| *p.borrow_mut() = Some((message, location)));
            } else {
                previous(info);
            }
        }));
    });
}

/// Marks this thread as one whose panics are caught and reported, while the
/// guard lives.
pub(crate) struct CatchScope(());

impl CatchScope {
    pub(crate) fn enter() -> Self {
        CATCHING.with(|c| c.set(c.get() + 1));
        Self(())
    }

    /// Runs `f` with panics printed by the normal hook again, for code whose
    /// panic propagates to the caller (the future of `run_until_complete`).
    pub(crate) fn suspended<R>(f: impl FnOnce() -> R) -> R {
        let saved = CATCHING.with(|c| c.replace(0));
        struct Restore(u32);
        impl Drop for Restore {
            fn drop(&mut self) {
                CATCHING.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(saved);
        f()
    }
}

impl Drop for CatchScope {
    fn drop(&mut self) {
        CATCHING.with(|c| c.set(c.get() - 1));
    }
}

/// Runs `f`, catching a panic (reported quietly through the hook).
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, CaughtPanic> {
    let _scope = CatchScope::enter();
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(CaughtPanic::from_payload)
}

impl EventLoop {
    /// Installs `handler` as the exception handler, or restores the default
    /// one with `None`.
    pub fn set_exception_handler<H>(&self, handler: Option<H>)
    where
        H: Fn(&EventLoop, &ExceptionContext) + 'static,
    {
        *self.core.exception_handler.borrow_mut() = handler.map(|h| Rc::new(h) as ExceptionHandler);
    }

    /// The user's exception handler, or `None` when the default one is used.
    pub fn get_exception_handler(&self) -> Option<ExceptionHandler> {
        self.core.exception_handler.borrow().clone()
    }

    /// The default handler: logs the context through `tracing` at error level.
    pub fn default_exception_handler(&self, context: &ExceptionContext) {
        log_context(self.core.shared.id, context);
    }

    /// Calls the current exception handler with `context`. If that handler
    /// panics, the panic and `context` both go to the default handler.
    pub fn call_exception_handler(&self, context: &ExceptionContext) {
        let handler = self.core.exception_handler.borrow().clone();
        let Some(handler) = handler else {
            self.default_exception_handler(context);
            return;
        };
        if let Err(panic) = catch(|| handler(self, context)) {
            let mut report = ExceptionContext::from_panic("exception handler", panic);
            report.message = format!(
                "the exception handler panicked while handling: {}",
                context.message
            );
            self.default_exception_handler(&report);
            self.default_exception_handler(context);
        }
    }

    /// Debug mode (default: on when `LOOPCORE_DEBUG` is set and non-empty).
    pub fn get_debug(&self) -> bool {
        self.core.debug.get()
    }

    /// Turns debug mode on or off. In debug mode every callback is timed
    /// and those slower than [`slow_callback_duration`](Self::slow_callback_duration)
    /// are logged at warn level and counted.
    pub fn set_debug(&self, enabled: bool) {
        self.core.debug.set(enabled);
    }

    /// The slow-callback threshold of debug mode (default 100 ms).
    pub fn slow_callback_duration(&self) -> Duration {
        self.core.slow_callback_duration.get()
    }

    /// Sets the slow-callback threshold of debug mode.
    pub fn set_slow_callback_duration(&self, limit: Duration) {
        self.core.slow_callback_duration.set(limit);
    }
}
