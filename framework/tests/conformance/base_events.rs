//! CPython 3.12 `Lib/test/test_asyncio/test_base_events.py`
//! (`BaseEventLoopTests`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use loopcore::{BlockingExecutor, ErrorKind, EventLoop, Job};

use crate::{bounded, capture_exceptions};

/// CPython's `test_utils.run_once`: `call_soon(stop)`, then `run_forever`.
fn run_once(lp: &EventLoop) {
    lp.call_soon(|lp| lp.stop());
    lp.run_forever().unwrap();
}

#[test]
fn test_close() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_close
    let lp = EventLoop::new().unwrap();
    assert!(!lp.is_closed());
    lp.close().unwrap();
    assert!(lp.is_closed());
    lp.close().unwrap();
    lp.close().unwrap();
    let (f, _resolver) = lp.create_future::<()>();
    assert_eq!(lp.run_forever().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(
        lp.run_until_complete(f).unwrap_err().kind(),
        ErrorKind::Closed
    );
}

/// CPython's `DummyExecutor`: refuses every job.
struct DummyExecutor;

impl BlockingExecutor for DummyExecutor {
    fn execute(&self, _job: Job) -> loopcore::Result<()> {
        Err(loopcore::Error::new(
            ErrorKind::Unsupported,
            "cannot submit into a dummy executor",
        ))
    }
}

#[test]
fn test_set_default_executor() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_set_default_executor
    // (CPython checks the private `_default_executor`; here, that the jobs
    // go to it).
    let lp = EventLoop::new().unwrap();
    lp.set_default_executor(Arc::new(DummyExecutor)).unwrap();
    let e = lp
        .run_until_complete(bounded("run_in_executor", lp.run_in_executor(|| ())))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
}

#[test]
fn test_call_soon() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_call_soon
    // (CPython looks into the private `_ready` queue; here the callback runs
    // on the next iteration, once).
    let lp = EventLoop::new().unwrap();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let h = lp.call_soon(move |_| c.set(c.get() + 1));
    assert!(!h.cancelled());
    run_once(&lp);
    assert_eq!(calls.get(), 1);
    run_once(&lp);
    assert_eq!(calls.get(), 1);
}

#[test]
fn test_call_later() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_call_later
    // (scheduled, not ready: it does not run in the next iteration).
    let lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let before = lp.time();
    let h = lp.call_later(Duration::from_secs(10), move |_| r.set(true));
    assert!(h.when() >= before + Duration::from_secs(10));
    assert!(!h.cancelled());
    run_once(&lp);
    assert!(!ran.get());
    h.cancel();
}

#[test]
fn test_call_later_negative_delays() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_call_later_negative_delays
    // (a `Duration` cannot be negative: `call_at` with an instant in the
    // past, as docs/asyncio-mapping.md says).
    let lp = EventLoop::new().unwrap();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let now = lp.time();
    let (c1, c2) = (calls.clone(), calls.clone());
    lp.call_at(
        now.checked_sub(Duration::from_secs(1)).unwrap(),
        move |_| c1.borrow_mut().push("a"),
    );
    lp.call_at(
        now.checked_sub(Duration::from_secs(2)).unwrap(),
        move |_| c2.borrow_mut().push("b"),
    );
    run_once(&lp);
    assert_eq!(*calls.borrow(), ["b", "a"]);
}

#[test]
fn test_time_and_call_at() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_time_and_call_at
    let lp = EventLoop::new().unwrap();
    let delay = Duration::from_millis(100);
    let when = lp.time() + delay;
    let t0 = lp.time();
    lp.call_at(when, |lp| lp.stop());
    let guard = lp.call_later(Duration::from_secs(10), |lp| lp.stop());
    lp.run_forever().unwrap();
    guard.cancel();
    let dt = lp.time() - t0;
    assert!(dt >= delay, "call_at ran early ({dt:?})");
}

#[test]
fn test_set_debug() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_set_debug
    let lp = EventLoop::new().unwrap();
    lp.set_debug(true);
    assert!(lp.get_debug());
    lp.set_debug(false);
    assert!(!lp.get_debug());
}

/// What the handler saw: the context's source and panic message.
type Seen = (Option<&'static str>, Option<String>);

#[test]
fn test_set_exc_handler_custom() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_set_exc_handler_custom
    // (the division by zero is a panic; the context is a struct).
    let lp = EventLoop::new().unwrap();
    lp.set_debug(true);
    assert!(lp.get_exception_handler().is_none());
    let messages = capture_exceptions(&lp);
    let seen: Rc<RefCell<Vec<Seen>>> = Rc::default();
    let s = seen.clone();
    let capture = messages.clone();
    lp.set_exception_handler(Some(
        move |_: &EventLoop, context: &loopcore::ExceptionContext| {
            capture.borrow_mut().push(context.message.clone());
            s.borrow_mut()
                .push((context.source, context.panic_message.clone()));
        },
    ));
    assert!(lp.get_exception_handler().is_some());
    lp.call_soon(|_| panic!("zero_error"));
    run_once(&lp);
    assert_eq!(messages.borrow().len(), 1, "{:?}", messages.borrow());
    let (source, panic_message) = seen.borrow()[0].clone();
    assert_eq!(source, Some("callback"));
    assert!(
        panic_message
            .as_deref()
            .unwrap_or("")
            .contains("zero_error"),
        "{panic_message:?}"
    );
    lp.set_exception_handler(None::<fn(&EventLoop, &loopcore::ExceptionContext)>);
    assert!(lp.get_exception_handler().is_none());
    lp.call_soon(|_| panic!("zero_error"));
    run_once(&lp);
    assert_eq!(messages.borrow().len(), 1, "the removed handler was called");
}

#[test]
fn test_set_exc_handler_broken() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_set_exc_handler_broken
    // (CPython checks the default handler's log; here, that a panicking
    // handler neither stops nor breaks the loop).
    let lp = EventLoop::new().unwrap();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    lp.set_exception_handler(Some(
        move |_: &EventLoop, _: &loopcore::ExceptionContext| {
            c.set(c.get() + 1);
            panic!("spam");
        },
    ));
    lp.call_soon(|_| panic!("zero_error"));
    run_once(&lp);
    assert_eq!(calls.get(), 1);
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    lp.call_soon(move |_| r.set(true));
    run_once(&lp);
    assert!(
        ran.get(),
        "the loop stopped working after the handler panicked"
    );
}

#[test]
fn test_create_task() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_create_task
    // (CPython checks that its task factory's class is used; here, that
    // `create_task` runs the future as a task of this loop).
    let lp = EventLoop::new().unwrap();
    let task = lp.create_task(async { EventLoop::current().is_running() });
    let running = lp
        .run_until_complete(bounded("the task", task))
        .unwrap()
        .unwrap();
    assert!(running);
}

#[test]
fn test_run_once() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_run_once
    let lp = EventLoop::new().unwrap();
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    lp.call_soon(move |_| c.set(c.get() + 1));
    run_once(&lp);
    assert_eq!(count.get(), 1);
}

#[test]
fn test_run_forever_pre_stopped() {
    // CPython 3.12 test_base_events.BaseEventLoopTests.test_run_forever_pre_stopped
    // (CPython checks a select with timeout 0; here, that run_forever returns
    // at once although a timer is 10 s away).
    let lp = EventLoop::new().unwrap();
    let guard = lp.call_later(Duration::from_secs(10), |_| {});
    lp.stop();
    let t0 = std::time::Instant::now();
    lp.run_forever().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5), "the poll waited");
    guard.cancel();
}
