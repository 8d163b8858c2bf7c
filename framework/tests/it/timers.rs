//! call_later / call_at: ordering, never early, past deadlines, scale.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use loopcore::EventLoop;

use crate::Log;

#[test]
fn timers_fire_in_deadline_order() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    for ms in [30u64, 10, 20] {
        let l = log.clone();
        lp.call_later(Duration::from_millis(ms), move |_| l.push(ms.to_string()));
    }
    lp.call_later(Duration::from_millis(40), |lp| lp.stop());
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["10", "20", "30"]);
}

#[test]
fn equal_deadlines_fire_in_scheduling_order() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let when = lp.time() + Duration::from_millis(5);
    for i in 0..50 {
        let l = log.clone();
        lp.call_at(when, move |_| l.push(i.to_string()));
    }
    lp.call_at(when + Duration::from_millis(1), |lp| lp.stop());
    lp.run_forever().unwrap();
    let expected: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    assert_eq!(log.entries(), expected);
}

#[test]
fn past_deadlines_and_zero_delays_run_on_the_next_timer_check() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let l = log.clone();
    let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap();
    lp.call_at(past, move |_| l.push("past"));
    let l = log.clone();
    lp.call_later(Duration::ZERO, move |_| l.push("zero"));
    lp.call_later(Duration::from_millis(1), |lp| lp.stop());
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["past", "zero"]);
}

#[test]
fn a_timer_never_fires_before_its_deadline() {
    let lp = EventLoop::new().unwrap();
    let early = Rc::new(RefCell::new(Vec::new()));
    let fired = Rc::new(std::cell::Cell::new(0));
    // Deadlines across the sub-millisecond and millisecond ranges, which mio
    // alone would round; each is checked against a fresh clock read.
    for i in 0..200u64 {
        let delay = Duration::from_micros(37 * i + 1);
        let when = lp.time() + delay;
        let e = early.clone();
        let f = fired.clone();
        lp.call_at(when, move |lp| {
            let now = Instant::now();
            if now < when {
                e.borrow_mut().push(when - now);
            }
            f.set(f.get() + 1);
            if f.get() == 200 {
                lp.stop();
            }
        });
    }
    lp.run_forever().unwrap();
    assert_eq!(fired.get(), 200);
    assert!(
        early.borrow().is_empty(),
        "fired early by {:?}",
        early.borrow()
    );
}

#[test]
fn sub_millisecond_timers_are_not_rounded_up_to_a_millisecond() {
    let lp = EventLoop::new().unwrap();
    let mut lateness = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let fired_at = Rc::new(std::cell::Cell::new(None));
        let f = fired_at.clone();
        lp.call_later(Duration::from_micros(200), move |lp| {
            f.set(Some(Instant::now()));
            lp.stop();
        });
        lp.run_forever().unwrap();
        lateness.push(fired_at.get().unwrap() - start);
    }
    lateness.sort();
    let median = lateness[lateness.len() / 2];
    assert!(median >= Duration::from_micros(200));
    // Rounded to whole milliseconds the median would be >= 1 ms; a noisy VM
    // still stays well under that with a timerfd.
    assert!(median < Duration::from_micros(950), "median {median:?}");
}

#[test]
fn timer_cancel_is_idempotent_and_works_until_the_timer_runs() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let l = log.clone();
    let t = lp.call_later(Duration::ZERO, move |_| l.push("cancelled timer ran"));
    let when = t.when();
    assert!(when <= lp.time());
    let victim = Rc::new(t);
    let v = victim.clone();
    // Both timers are due in the same batch; the first cancels the second.
    lp.call_at(when - Duration::from_nanos(1), move |_| {
        v.cancel();
        v.cancel();
    });
    lp.call_later(Duration::from_millis(2), |lp| lp.stop());
    lp.run_forever().unwrap();
    assert!(victim.cancelled());
    assert!(log.entries().is_empty());
}

#[test]
fn a_million_mostly_cancelled_timers_leave_the_loop_responsive() {
    let lp = EventLoop::new().unwrap();
    let far = lp.time() + Duration::from_secs(3600);
    let mut handles = Vec::with_capacity(1_000_000);
    for i in 0..1_000_000u32 {
        handles.push(lp.call_at(far + Duration::from_nanos(u64::from(i)), |_| {}));
    }
    for h in handles.iter().skip(1) {
        h.cancel();
    }
    let fired = Rc::new(std::cell::Cell::new(0u32));
    for _ in 0..1000 {
        let f = fired.clone();
        lp.call_later(Duration::ZERO, move |_| f.set(f.get() + 1));
    }
    lp.call_later(Duration::from_millis(1), |lp| lp.stop());
    lp.run_forever().unwrap();
    assert_eq!(fired.get(), 1000);
    handles[0].cancel();
}

/// Dropping a `TimerHandle` does not cancel its timer, as in asyncio
/// (CPython's test_events ...test_call_later: the handle is not kept);
/// `cancel` does.
#[test]
fn dropping_a_timer_handle_does_not_cancel_it() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let l = log.clone();
    {
        // The handle goes out of scope at once.
        let _handle = lp.call_later(Duration::from_millis(1), move |_| l.push("dropped handle"));
    }
    let l = log.clone();
    let kept = lp.call_later(Duration::from_millis(1), move |_| l.push("cancelled"));
    kept.cancel();
    lp.run_until_complete(loopcore::sleep(Duration::from_millis(20)))
        .unwrap();
    assert_eq!(log.entries(), vec!["dropped handle".to_owned()]);
}
