//! Unix signals delivered for real with kill(getpid()). One test function,
//! so the process-wide dispositions are not raced by parallel tests.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use loopcore::{ErrorKind, EventLoop};

fn disposition(signum: libc::c_int) -> libc::sighandler_t {
    // SAFETY: querying a disposition with a null new action only writes
    // into `old`, which is a valid zeroed sigaction.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signum, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

#[test]
fn signals_reach_every_subscribed_loop_and_dispositions_come_back() {
    // 1. A real SIGUSR1 reaches the handler, which runs on the loop.
    assert_eq!(disposition(libc::SIGUSR1), libc::SIG_DFL);
    let lp = EventLoop::new().unwrap();
    let hits = Rc::new(Cell::new(0));
    let h = hits.clone();
    lp.add_signal_handler(libc::SIGUSR1, move |lp| {
        h.set(h.get() + 1);
        lp.stop();
    })
    .unwrap();
    assert_ne!(disposition(libc::SIGUSR1), libc::SIG_DFL);
    lp.call_soon(|_| loopcore::raise_in_process(libc::SIGUSR1).unwrap());
    lp.run_forever().unwrap();
    assert_eq!(hits.get(), 1);

    // 2. Replacing the handler: only the new one runs.
    let replaced = Rc::new(Cell::new(false));
    let r = replaced.clone();
    lp.add_signal_handler(libc::SIGUSR1, move |lp| {
        r.set(true);
        lp.stop();
    })
    .unwrap();
    loopcore::raise_in_process(libc::SIGUSR1).unwrap();
    lp.run_forever().unwrap();
    assert!(replaced.get());
    assert_eq!(hits.get(), 1);

    // 3. Two loops on two threads both receive one SIGUSR2.
    let (ready_tx, ready_rx) = mpsc::channel();
    let (got_tx, got_rx) = mpsc::channel();
    let other = std::thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        let got = got_tx.clone();
        lp.add_signal_handler(libc::SIGUSR2, move |lp| {
            got.send("thread loop").unwrap();
            lp.stop();
        })
        .unwrap();
        ready_tx.send(()).unwrap();
        lp.run_forever().unwrap();
        assert!(lp.remove_signal_handler(libc::SIGUSR2).unwrap());
    });
    let got = Rc::new(Cell::new(false));
    let g = got.clone();
    lp.add_signal_handler(libc::SIGUSR2, move |lp| {
        g.set(true);
        lp.stop();
    })
    .unwrap();
    ready_rx.recv().unwrap();
    loopcore::raise_in_process(libc::SIGUSR2).unwrap();
    lp.run_forever().unwrap();
    assert!(got.get());
    assert_eq!(
        got_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "thread loop"
    );
    other.join().unwrap();

    // 4. Removing: true once, then false; the last one out restores SIG_DFL.
    assert!(lp.remove_signal_handler(libc::SIGUSR1).unwrap());
    assert!(!lp.remove_signal_handler(libc::SIGUSR1).unwrap());
    assert_eq!(disposition(libc::SIGUSR1), libc::SIG_DFL);
    assert_ne!(
        disposition(libc::SIGUSR2),
        libc::SIG_DFL,
        "still handled by lp"
    );
    lp.close().unwrap();
    assert_eq!(
        disposition(libc::SIGUSR2),
        libc::SIG_DFL,
        "close removes handlers"
    );

    // 5. Uncatchable and invalid signals are clear errors.
    let lp = EventLoop::new().unwrap();
    for bad in [libc::SIGKILL, libc::SIGSTOP, 0, 10_000] {
        let err = lp.add_signal_handler(bad, |_| {}).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSignal, "signal {bad}");
    }
    // Removing: asyncio's remove_signal_handler returns False for a
    // signal without a handler, SIGKILL included (CPython's
    // test_unix_events.test_remove_signal_handler_2); only a number that is
    // no signal is an error (its ValueError).
    assert!(!lp.remove_signal_handler(libc::SIGKILL).unwrap());
    assert!(!lp.remove_signal_handler(libc::SIGSEGV).unwrap());
    for bad in [0, -1, 10_000] {
        assert_eq!(
            lp.remove_signal_handler(bad).unwrap_err().kind(),
            ErrorKind::InvalidSignal,
            "signal {bad}"
        );
    }
    lp.close().unwrap();
    assert_eq!(
        lp.add_signal_handler(libc::SIGUSR1, |_| {})
            .unwrap_err()
            .kind(),
        ErrorKind::Closed
    );

    // 6. Deliveries that arrive before the loop runs: the handler runs once
    // for each. A real-time signal, because those queue; three SIGUSR1s in
    // a row may reach the process as one.
    let lp = EventLoop::new().unwrap();
    let hits = Rc::new(Cell::new(0));
    let h = hits.clone();
    let realtime = libc::SIGRTMIN();
    lp.add_signal_handler(realtime, move |lp| {
        h.set(h.get() + 1);
        if h.get() == 3 {
            lp.stop();
        }
    })
    .unwrap();
    for _ in 0..3 {
        loopcore::raise_in_process(realtime).unwrap();
    }
    let guard = lp.call_later(Duration::from_secs(10), |lp| lp.stop());
    lp.run_forever().unwrap();
    guard.cancel();
    assert_eq!(hits.get(), 3);
    lp.close().unwrap();

    // 6b. A handler replaced before it ran gets the deliveries that were
    // waiting for it.
    let lp = EventLoop::new().unwrap();
    lp.add_signal_handler(realtime, |_| panic!("replaced before it ran"))
        .unwrap();
    // raise(3) delivers to this thread before it returns (kill(2) may pick
    // another thread, later): the delivery is counted before the
    // replacement below.
    // SAFETY: raise has no memory-safety preconditions.
    assert_eq!(unsafe { libc::raise(realtime) }, 0);
    let got = Rc::new(Cell::new(false));
    let g = got.clone();
    lp.add_signal_handler(realtime, move |lp| {
        g.set(true);
        lp.stop();
    })
    .unwrap();
    let guard = lp.call_later(Duration::from_secs(10), |lp| lp.stop());
    lp.run_forever().unwrap();
    guard.cancel();
    assert!(got.get(), "the new handler answered the waiting delivery");
    lp.close().unwrap();

    // 7. Each loop that handles signals borrows one of 256 wake pipes; a
    // closed loop, or one dropped (which closes it), gives its pipe back,
    // so many loops in turn all work.
    for round in 0..300 {
        let lp = EventLoop::new().unwrap();
        let hit = Rc::new(Cell::new(false));
        let h = hit.clone();
        lp.add_signal_handler(libc::SIGWINCH, move |lp| {
            h.set(true);
            lp.stop();
        })
        .unwrap_or_else(|e| panic!("loop {round}: {e}"));
        lp.call_soon(|_| loopcore::raise_in_process(libc::SIGWINCH).unwrap());
        lp.run_forever().unwrap();
        assert!(hit.get(), "loop {round} got its signal");
        if round % 2 == 0 {
            lp.close().unwrap();
        }
    }
}
