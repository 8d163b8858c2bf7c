//! call_soon: strict FIFO, exactly once, cancellable handles.

use loopcore::EventLoop;

use crate::Log;

#[test]
fn call_soon_is_strict_fifo() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    for i in 0..100 {
        let l = log.clone();
        lp.call_soon(move |_| l.push(i.to_string()));
    }
    lp.call_soon(|lp| lp.stop());
    lp.run_forever().unwrap();
    let expected: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    assert_eq!(log.entries(), expected);
}

#[test]
fn callbacks_scheduled_by_a_batch_run_in_the_next_iteration() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let l = log.clone();
    lp.call_soon(move |lp| {
        l.push("first");
        let l2 = l.clone();
        lp.call_soon(move |_| l2.push("scheduled by first"));
    });
    let l = log.clone();
    lp.call_soon(move |_| l.push("second"));
    lp.call_soon(|lp| {
        let before = lp.stats().iterations;
        lp.call_soon(move |lp| {
            assert!(lp.stats().iterations > before, "ran in the same iteration");
            lp.stop();
        });
    });
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["first", "second", "scheduled by first"]);
}

#[test]
fn cancel_is_idempotent_and_prevents_the_call() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let l = log.clone();
    let h = lp.call_soon(move |_| l.push("cancelled one ran"));
    let l = log.clone();
    lp.call_soon(move |_| l.push("kept"));
    assert!(!h.cancelled());
    h.cancel();
    h.cancel();
    assert!(h.cancelled());
    lp.call_soon(|lp| lp.stop());
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["kept"]);
    // Cancelling after the loop moved on does nothing either.
    h.cancel();
    assert!(h.cancelled());
}

#[test]
fn a_callback_can_cancel_a_later_callback_of_the_same_batch() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let victim = std::rc::Rc::new(std::cell::RefCell::new(None::<loopcore::Handle>));
    let v = victim.clone();
    lp.call_soon(move |_| v.borrow().as_ref().unwrap().cancel());
    let l = log.clone();
    *victim.borrow_mut() = Some(lp.call_soon(move |_| l.push("victim")));
    lp.call_soon(|lp| lp.stop());
    lp.run_forever().unwrap();
    assert!(log.entries().is_empty());
}

#[test]
fn cancelling_a_handle_after_its_callback_ran_does_not_touch_newer_callbacks() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let old = lp.call_soon(|_| {});
    lp.stop();
    lp.run_forever().unwrap();
    let l = log.clone();
    lp.call_soon(move |_| l.push("new"));
    old.cancel();
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["new"]);
}
