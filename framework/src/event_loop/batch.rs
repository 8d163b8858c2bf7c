//! Running one batch of the ready queue: the connections the poll's
//! events made ready while nothing else waited (`IoDriver::run_direct`),
//! then the queued items in order, each followed by a flush of what it
//! wrote; one `catch_unwind` per batch, resumed after a panic.

use std::time::{Duration, Instant};

use super::{nanos, Callback, EventLoop, Ready, TimerAction};
use crate::exception::{self, ExceptionContext};
use crate::proto::ready_queue::{Batch, Item};

impl EventLoop {
    pub(super) fn run_ready_batch(&self) {
        let core = &self.core;
        // Connections the events made ready with the queue empty come
        // first, as they would have at the front of the batch. What they
        // schedule (a task their bytes wake, a `call_soon`) joins this
        // batch, behind the due timers: the order asyncio gives it on the
        // next iteration, whose poll would only have added I/O behind it,
        // without that poll. (A loop stopped meanwhile leaves it for the
        // next run, as asyncio does.)
        let queued_before = core.ready.borrow().len();
        let direct = core.io.direct_len();
        let mut next = 0;
        while next < direct {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                core.io.run_direct(self, &mut next, 0);
            }));
            if let Err(payload) = outcome {
                let panic = exception::CaughtPanic::from_payload(payload);
                let source = core.running_source.get();
                self.report_panic(ExceptionContext::from_panic(source, panic));
            }
        }
        if direct > 0 {
            core.io.clear_direct();
        }
        if core.ready.borrow().is_empty() {
            // Nothing queued (a server's usual iteration): no batch.
            core.batch_left.set(0);
            core.shared.counters.callbacks.add(direct as u64);
            return;
        }
        // Borrowed for the whole batch: only this function touches it, and
        // a loop never runs inside one of its own callbacks.
        let mut batch = core.running_batch.borrow_mut();
        let start = if core.stopping.get() {
            core.ready
                .borrow_mut()
                .start_batch_prefix(&mut batch, queued_before)
        } else {
            core.ready.borrow_mut().start_batch(&mut batch)
        };
        core.batch_has_cancels.set(false);
        let count = batch.len();
        let mut next = 0;
        // One `catch_unwind` per batch, not per item: after a panic the
        // failed item is reported and the rest of the batch goes on.
        while next < count {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.run_items(&mut batch, start, &mut next);
            }));
            if let Err(payload) = outcome {
                let panic = exception::CaughtPanic::from_payload(payload);
                let source = core.running_source.get();
                self.report_panic(ExceptionContext::from_panic(source, panic));
            }
        }
        core.batch_left.set(0);
        // Every item was taken: clearing drops nothing, and the capacity
        // serves as the next `pending` vectors.
        batch.clear();
        core.shared.counters.callbacks.add((direct + count) as u64);
    }

    /// Runs the batch's items from `next` on, advancing `next` as each starts.
    fn run_items(&self, batch: &mut Batch<Callback, Ready>, start: u64, next: &mut usize) {
        let core = &self.core;
        let debug = core.debug.get();
        let count = batch.len();
        while *next < count {
            let index = *next;
            let seq = start + index as u64;
            *next += 1;
            core.batch_left.set(count - *next);
            let Some(item) = batch.take(index) else {
                continue;
            };
            if core.batch_has_cancels.get() && core.ready.borrow().batch_item_cancelled(seq) {
                drop(item);
                continue;
            }
            if debug {
                let started = Instant::now();
                self.run_item(item);
                self.check_slow(core.running_source.get(), started.elapsed());
            } else {
                self.run_item(item);
            }
            // Writes made by that item leave now, one system call per
            // connection (see `io::conn`).
            if core.io.has_dirty() {
                self.flush_dirty();
            }
        }
    }

    /// Runs one item; a panic unwinds to `run_ready_batch`, which reports it
    /// as coming from `running_source`.
    #[inline(always)]
    fn run_item(&self, item: Item<Callback, Ready>) {
        let core = &self.core;
        let item = match item {
            Item::Call(f) => {
                core.running_source.set("callback");
                f(self);
                return;
            }
            Item::Other(item) => item,
        };
        match item {
            Ready::Task(runnable) => {
                // Task bodies catch their own panics (see `task`).
                core.running_source.set("task");
                runnable.run();
            }
            Ready::Timer(id) => {
                core.running_source.set("timer callback");
                let action = core.timers.borrow_mut().take(id);
                match action {
                    Some(TimerAction::Call(f)) => f(self),
                    Some(TimerAction::Wake(waker)) => waker.wake(),
                    None => {}
                }
            }
            Ready::Watch(watch) => {
                let source = crate::watch::run_watch(self, watch);
                core.running_source.set(source);
            }
            Ready::Io(io) => crate::io::run(self, io),
        }
    }

    /// Says what kind of code runs now, for panic reports and slow
    /// warnings (the I/O layer's items say it themselves).
    #[inline]
    pub(crate) fn set_running_source(&self, source: &'static str) {
        self.core.running_source.set(source);
    }

    /// Items of the running batch still to run (`load`).
    #[inline]
    pub(crate) fn set_batch_left(&self, left: usize) {
        self.core.batch_left.set(left);
    }

    fn check_slow(&self, what: &'static str, took: Duration) {
        self.core
            .shared
            .counters
            .slowest_callback_ns
            .raise_to(nanos(took));
        let limit = self.core.slow_callback_duration.get();
        if took > limit {
            self.core.shared.counters.slow_callbacks.add(1);
            tracing::warn!(
                loop_id = self.core.shared.id,
                source = what,
                took_ms = took.as_secs_f64() * 1e3,
                limit_ms = limit.as_secs_f64() * 1e3,
                "loopcore: slow {what} took {took:?} (slow_callback_duration is {limit:?})"
            );
        }
    }
}
