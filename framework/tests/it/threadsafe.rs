//! call_soon_threadsafe and the mailbox: FIFO, exactly once, wake-ups.

use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use loopcore::{ErrorKind, EventLoop};

use crate::Log;

#[test]
fn fifo_across_call_soon_and_call_soon_threadsafe_on_the_loop_thread() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    lp.call_soon(move |lp| {
        let h = lp.handle();
        for i in 0..10 {
            if i % 2 == 0 {
                let o = o.clone();
                lp.call_soon(move |_| o.lock().unwrap().push(i));
            } else {
                let o = o.clone();
                h.call_soon_threadsafe(move |_| o.lock().unwrap().push(i))
                    .unwrap();
            }
        }
        lp.call_soon(|lp| lp.stop());
    });
    // Also before the loop runs, on its own thread.
    let o = order.clone();
    handle
        .call_soon_threadsafe(move |_| o.lock().unwrap().push(100))
        .unwrap();
    let o = order.clone();
    lp.call_soon(move |_| o.lock().unwrap().push(101));
    lp.run_forever().unwrap();
    assert_eq!(
        *order.lock().unwrap(),
        [100, 101, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    );
}

#[test]
fn four_threads_times_ten_thousand_posts_arrive_once_in_per_sender_order() {
    const THREADS: usize = 4;
    const POSTS: usize = 10_000;
    let lp = EventLoop::new().unwrap();
    let received = Arc::new(Mutex::new(vec![Vec::new(); THREADS]));
    let barrier = Arc::new(Barrier::new(THREADS));
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let handle = lp.handle();
            let received = received.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..POSTS {
                    let received = received.clone();
                    handle
                        .call_soon_threadsafe(move |lp| {
                            let mut r = received.lock().unwrap();
                            r[t].push(i);
                            if r.iter().map(Vec::len).sum::<usize>() == THREADS * POSTS {
                                lp.stop();
                            }
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    lp.run_forever().unwrap();
    for s in senders {
        s.join().unwrap();
    }
    let received = received.lock().unwrap();
    for (t, got) in received.iter().enumerate() {
        assert_eq!(got.len(), POSTS, "sender {t}");
        assert!(
            got.iter().enumerate().all(|(i, v)| i == *v),
            "sender {t} out of order"
        );
    }
    assert!(lp.stats().mailbox_messages >= (THREADS * POSTS) as u64);
}

#[test]
fn a_blocked_loop_wakes_for_a_post() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let poster = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        handle.call_soon_threadsafe(|lp| lp.stop()).unwrap();
    });
    // No timers, no fds: the loop blocks in epoll until the post wakes it.
    lp.run_forever().unwrap();
    poster.join().unwrap();
}

#[test]
fn stop_works_from_another_thread() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let log = Log::default();
    let l = log.clone();
    lp.call_soon(move |_| l.push("ran"));
    let t = std::thread::spawn(move || handle.stop().unwrap());
    lp.run_forever().unwrap();
    t.join().unwrap();
    assert_eq!(log.entries(), ["ran"]);
}

#[test]
fn posting_to_a_closed_loop_is_an_error_not_a_panic() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    lp.close().unwrap();
    let t = std::thread::spawn(move || {
        (
            handle.call_soon_threadsafe(|_| {}).unwrap_err().kind(),
            handle.stop().unwrap_err().kind(),
        )
    });
    assert_eq!(t.join().unwrap(), (ErrorKind::Closed, ErrorKind::Closed));
}

#[test]
fn posts_racing_with_close_never_panic() {
    for _ in 0..20 {
        let lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        let poster = std::thread::spawn(move || {
            let mut delivered_or_refused = 0;
            for _ in 0..2_000 {
                match handle.call_soon_threadsafe(|_| {}) {
                    Ok(()) | Err(_) => delivered_or_refused += 1,
                }
            }
            delivered_or_refused
        });
        lp.stop();
        lp.run_forever().unwrap();
        lp.close().unwrap();
        assert_eq!(poster.join().unwrap(), 2_000);
    }
}

#[test]
fn a_burst_of_posts_writes_the_waker_once_until_the_loop_drains() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let count = Arc::new(Mutex::new(0));
    let burst = |n: usize| {
        let handle = handle.clone();
        let count = count.clone();
        std::thread::spawn(move || {
            for _ in 0..n {
                let count = count.clone();
                handle
                    .call_soon_threadsafe(move |_| *count.lock().unwrap() += 1)
                    .unwrap();
            }
        })
        .join()
        .unwrap();
    };
    burst(1_000);
    assert_eq!(lp.stats().waker_writes, 1, "one write for the whole burst");
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(*count.lock().unwrap(), 1_000);
    // Drained: the next burst wakes the loop again, once.
    burst(500);
    assert_eq!(lp.stats().waker_writes, 2);
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(*count.lock().unwrap(), 1_500);
}

/// The guarantee `call_soon_threadsafe` states (where asyncio keeps one
/// FIFO, CPython's test_base_events.test_call_soon_threadsafe ordering):
/// a callback posted from another thread before the loop's own
/// `call_soon` of the same iteration joins the queue behind it, in the
/// next iteration, not later.
#[test]
fn a_post_joins_the_queue_behind_local_callbacks_of_the_same_iteration() {
    let lp = EventLoop::new().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    lp.call_soon(move |lp| {
        let handle = lp.handle();
        let posted = o.clone();
        // Posted, and the post finished, before the local call_soon below.
        std::thread::spawn(move || {
            handle
                .call_soon_threadsafe(move |_| posted.lock().unwrap().push("posted first"))
                .unwrap();
        })
        .join()
        .unwrap();
        let local = o.clone();
        lp.call_soon(move |_| local.lock().unwrap().push("local second"));
        let stop = o.clone();
        // Two iterations later: both have run by then.
        lp.call_soon(move |lp| {
            let stop = stop.clone();
            lp.call_soon(move |lp| {
                stop.lock().unwrap().push("next iteration");
                lp.stop();
            });
        });
    });
    lp.run_forever().unwrap();
    assert_eq!(
        *order.lock().unwrap(),
        vec!["local second", "posted first", "next iteration"]
    );
}
