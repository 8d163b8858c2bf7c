//! run_forever / run_until_complete / stop / close, as asyncio defines them.

use std::time::Duration;

use loopcore::{ErrorKind, EventLoop};

use crate::Log;

#[test]
fn stop_before_run_forever_polls_once_runs_the_batch_and_returns() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let l = log.clone();
    lp.call_soon(move |lp| {
        l.push("a");
        let l2 = l.clone();
        // Scheduled by the last batch: must wait for the next run.
        lp.call_soon(move |_| l2.push("b"));
    });
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["a"]);
    assert!(!lp.is_running());
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["a", "b"]);
}

#[test]
fn run_once_idiom_runs_exactly_the_first_batch() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let l = log.clone();
    lp.call_soon(move |lp| {
        l.push("f");
        let l2 = l.clone();
        lp.call_soon(move |_| l2.push("later"));
    });
    lp.call_soon(|lp| lp.stop());
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["f"]);
}

#[test]
fn is_running_is_true_only_inside_run() {
    let lp = EventLoop::new().unwrap();
    assert!(!lp.is_running());
    let seen = std::rc::Rc::new(std::cell::Cell::new(false));
    let s = seen.clone();
    lp.call_soon(move |lp| {
        s.set(lp.is_running());
        lp.stop();
    });
    lp.run_forever().unwrap();
    assert!(seen.get());
    assert!(!lp.is_running());
}

#[test]
fn close_while_running_is_an_error_and_the_loop_goes_on() {
    let lp = EventLoop::new().unwrap();
    let result = std::rc::Rc::new(std::cell::RefCell::new(None));
    let r = result.clone();
    lp.call_soon(move |lp| {
        *r.borrow_mut() = Some(lp.close().map_err(|e| e.kind()));
        lp.stop();
    });
    lp.run_forever().unwrap();
    assert_eq!(*result.borrow(), Some(Err(ErrorKind::Running)));
    assert!(!lp.is_closed());
    lp.close().unwrap();
}

#[test]
fn close_twice_is_fine() {
    let lp = EventLoop::new().unwrap();
    lp.close().unwrap();
    lp.close().unwrap();
    assert!(lp.is_closed());
}

#[test]
fn running_a_closed_loop_is_an_error() {
    let lp = EventLoop::new().unwrap();
    lp.close().unwrap();
    assert_eq!(lp.run_forever().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(
        lp.run_until_complete(async {}).unwrap_err().kind(),
        ErrorKind::Closed
    );
}

#[test]
fn close_drops_pending_work_without_running_it() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let l = log.clone();
    lp.call_soon(move |_| l.push("never"));
    let l = log.clone();
    lp.call_later(Duration::ZERO, move |_| l.push("never either"));
    let task = lp.spawn(async { 1 });
    lp.close().unwrap();
    assert!(log.entries().is_empty());
    assert!(task.is_finished());
    // Scheduling on a closed loop never runs anything, and is not silent:
    // counted (and logged). asyncio raises RuntimeError (CPython's
    // test_base_events.test_call_soon/test_close: "Event loop is closed").
    assert_eq!(lp.stats().callbacks_dropped, 0);
    let h = lp.call_soon(|_| panic!("ran on a closed loop"));
    assert!(h.cancelled());
    let t = lp.call_later(Duration::ZERO, |_| panic!("ran on a closed loop"));
    assert!(t.cancelled());
    let t = lp.call_at(std::time::Instant::now(), |_| {
        panic!("ran on a closed loop")
    });
    assert!(t.cancelled());
    assert_eq!(lp.stats().callbacks_dropped, 3);
    assert!(loopcore::render_prometheus(&[lp.stats()])
        .contains("loopcore_callbacks_dropped_total{loop=\"0\"} 3"));
    assert_eq!(
        lp.add_reader(0, |_| {}).unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert!(!lp.remove_reader(0));
}

#[test]
fn nested_run_of_the_same_loop_is_an_error() {
    let lp = EventLoop::new().unwrap();
    let kinds = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let k = kinds.clone();
    lp.call_soon(move |lp| {
        k.borrow_mut().push(lp.run_forever().unwrap_err().kind());
        k.borrow_mut()
            .push(lp.run_until_complete(async {}).unwrap_err().kind());
        lp.stop();
    });
    lp.run_forever().unwrap();
    assert_eq!(
        *kinds.borrow(),
        [ErrorKind::NestedRun, ErrorKind::NestedRun]
    );
}

#[test]
fn running_another_loop_inside_a_running_loop_is_an_error() {
    let outer = EventLoop::new().unwrap();
    let kind = std::rc::Rc::new(std::cell::Cell::new(None));
    let k = kind.clone();
    outer.call_soon(move |lp| {
        let inner = EventLoop::new().unwrap();
        inner.stop();
        k.set(Some(inner.run_forever().unwrap_err().kind()));
        lp.stop();
    });
    outer.run_forever().unwrap();
    assert_eq!(kind.get(), Some(ErrorKind::NestedRun));
}

#[test]
fn run_until_complete_returns_the_output_and_accepts_borrowing_futures() {
    let lp = EventLoop::new().unwrap();
    let words = ["borrowed".to_string()];
    let len = lp
        .run_until_complete(async {
            loopcore::sleep(Duration::from_millis(1)).await;
            words[0].len()
        })
        .unwrap();
    assert_eq!(len, 8);
}

#[test]
fn run_until_complete_errors_when_stopped_before_the_future_is_done() {
    let lp = EventLoop::new().unwrap();
    lp.call_soon(|lp| lp.stop());
    let err = lp
        .run_until_complete(loopcore::sleep(Duration::from_secs(60)))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StoppedBeforeComplete);
    // The loop is reusable afterwards.
    assert_eq!(lp.run_until_complete(async { 5 }).unwrap(), 5);
}

#[test]
fn dropping_the_owner_closes_the_loop() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    drop(lp);
    assert!(handle.is_closed());
    assert_eq!(
        handle.call_soon_threadsafe(|_| {}).unwrap_err().kind(),
        ErrorKind::Closed
    );
}

#[test]
fn current_is_the_running_loop() {
    assert!(EventLoop::try_current().is_none());
    let lp = EventLoop::new().unwrap();
    let id = lp.handle().id();
    let seen = lp
        .run_until_complete(async { EventLoop::current().handle().id() })
        .unwrap();
    assert_eq!(seen, id);
    assert!(EventLoop::try_current().is_none());
}
