//! run_in_executor and the shared blocking pool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loopcore::{ErrorKind, EventLoop, ThreadPool};

#[test]
fn run_in_executor_runs_off_the_loop_and_resolves_on_the_loop_thread() {
    let lp = EventLoop::new().unwrap();
    let loop_thread = std::thread::current().id();
    let (worker_name, resumed_on) = lp
        .run_until_complete(async {
            let name = EventLoop::current()
                .run_in_executor(|| std::thread::current().name().map(str::to_owned))
                .await
                .unwrap();
            (name, std::thread::current().id())
        })
        .unwrap();
    assert!(
        worker_name
            .as_deref()
            .unwrap_or("")
            .starts_with("loopcore-blocking-"),
        "{worker_name:?}"
    );
    assert_eq!(resumed_on, loop_thread);
    // Inside a task too: the result is delivered through the mailbox.
    let task = lp.spawn(async {
        EventLoop::current()
            .run_in_executor(|| {
                // Long enough that the task is parked when the result comes.
                std::thread::sleep(Duration::from_millis(20));
                2 + 2
            })
            .await
            .map(|v| (v, std::thread::current().id()))
    });
    let (v, thread) = lp.run_until_complete(task).unwrap().unwrap().unwrap();
    assert_eq!((v, thread), (4, loop_thread));
    assert!(lp.stats().mailbox_messages >= 1);
}

#[test]
fn a_panicking_job_is_an_error_not_a_crash() {
    let lp = EventLoop::new().unwrap();
    let err = lp
        .run_until_complete(lp.run_in_executor(|| -> u8 { panic!("job boom") }))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
    assert!(err.to_string().contains("job boom"));
    // The pool still works.
    assert_eq!(
        lp.run_until_complete(lp.run_in_executor(|| 1))
            .unwrap()
            .unwrap(),
        1
    );
}

#[test]
fn shutting_down_one_loop_detaches_it_without_stopping_the_pool_for_others() {
    let lp = EventLoop::new().unwrap();
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    let pending = lp.run_in_executor(move || {
        std::thread::sleep(Duration::from_millis(20));
        f.store(true, Ordering::SeqCst);
    });
    drop(pending);
    // Another loop on another thread keeps using the shared pool meanwhile.
    let other = std::thread::spawn(|| {
        let lp = EventLoop::new().unwrap();
        let mut sum = 0;
        for i in 0..20 {
            sum += lp
                .run_until_complete(lp.run_in_executor(move || i))
                .unwrap()
                .unwrap();
        }
        sum
    });
    lp.run_until_complete(lp.shutdown_default_executor(Duration::from_secs(10)))
        .unwrap()
        .unwrap();
    assert!(
        finished.load(Ordering::SeqCst),
        "shutdown waited for this loop's work"
    );
    let err = lp
        .run_until_complete(lp.run_in_executor(|| ()))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ExecutorShutdown);
    assert_eq!(other.join().unwrap(), (0..20).sum::<i32>());
}

#[test]
fn shutdown_times_out_on_work_that_does_not_finish() {
    let lp = EventLoop::new().unwrap();
    let _slow = lp.run_in_executor(|| std::thread::sleep(Duration::from_millis(300)));
    let err = lp
        .run_until_complete(lp.shutdown_default_executor(Duration::from_millis(10)))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
}

#[test]
fn a_custom_default_executor_is_used() {
    let lp = EventLoop::new().unwrap();
    let pool = ThreadPool::new("custom-pool", 2).unwrap();
    lp.set_default_executor(Arc::new(pool.clone())).unwrap();
    let name = lp
        .run_until_complete(lp.run_in_executor(|| std::thread::current().name().map(str::to_owned)))
        .unwrap()
        .unwrap();
    assert!(name.unwrap().starts_with("custom-pool-"));
    assert!(pool.threads() <= 2);
    assert_eq!(
        ThreadPool::new("x", 0).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn the_pool_is_bounded_and_threads_start_lazily() {
    let pool = ThreadPool::new("bounded", 3).unwrap();
    assert_eq!(pool.threads(), 0);
    let lp = EventLoop::new().unwrap();
    lp.set_default_executor(Arc::new(pool.clone())).unwrap();
    let futures: Vec<_> = (0..12)
        .map(|i| {
            lp.run_in_executor(move || {
                std::thread::sleep(Duration::from_millis(5));
                i
            })
        })
        .collect();
    assert!(pool.threads() <= 3);
    let total = lp
        .run_until_complete(async {
            let mut total = 0;
            for f in futures {
                total += f.await.unwrap();
            }
            total
        })
        .unwrap();
    assert_eq!(total, (0..12).sum::<i32>());
    assert!(pool.threads() <= 3);
    assert!(loopcore::default_max_threads() <= 32);
}
