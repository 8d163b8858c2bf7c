//! Tasks, futures, sleep, timeout and JoinSet.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use loopcore::{ErrorKind, EventLoop, ExceptionContext, GroupError, JoinSet};

#[test]
fn spawned_tasks_run_and_join() {
    let lp = EventLoop::new().unwrap();
    let not_send = Rc::new(Cell::new(0));
    let n = not_send.clone();
    let task = lp.spawn(async move {
        n.set(n.get() + 1);
        loopcore::sleep(Duration::from_millis(1)).await;
        n.get() * 10
    });
    assert_eq!(lp.run_until_complete(task).unwrap().unwrap(), 10);
    assert_eq!(lp.stats().tasks_spawned, 1);
}

#[test]
fn abort_cancels_a_pending_task_and_drops_its_future() {
    let lp = EventLoop::new().unwrap();
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let flag = Flag(dropped.clone());
    let task = lp.spawn(async move {
        let _flag = flag;
        loopcore::sleep(Duration::from_secs(3600)).await;
    });
    let result = lp
        .run_until_complete(async move {
            loopcore::sleep(Duration::from_millis(1)).await;
            task.abort();
            task.abort();
            task.await
        })
        .unwrap();
    let err = result.unwrap_err();
    assert!(err.is_cancelled());
    assert!(dropped.get());
}

#[test]
fn a_panicking_task_gives_a_join_error_and_reaches_the_handler() {
    let lp = EventLoop::new().unwrap();
    let reported = Rc::new(Cell::new(None));
    let r = reported.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, ctx: &ExceptionContext| {
        r.set(ctx.task_id);
    }));
    let task = lp.spawn(async { panic!("task boom") });
    let id = task.id();
    let err = lp.run_until_complete(task).unwrap().unwrap_err();
    assert!(err.is_panic());
    assert!(err.to_string().contains("task boom"));
    assert_eq!(reported.get(), Some(id));
    let payload = err.try_into_panic().unwrap();
    assert_eq!(loopcore::payload_message(payload.as_ref()), "task boom");
}

#[test]
fn dropping_a_join_handle_detaches_the_task() {
    let lp = EventLoop::new().unwrap();
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    drop(lp.spawn(async move {
        loopcore::sleep(Duration::from_millis(1)).await;
        d.set(true);
    }));
    lp.run_until_complete(loopcore::sleep(Duration::from_millis(5)))
        .unwrap();
    assert!(done.get());
}

#[test]
fn a_task_woken_from_another_thread_is_polled_on_its_loop() {
    let lp = EventLoop::new().unwrap();
    let loop_thread = std::thread::current().id();
    let (future, resolver) = lp.create_future::<u32>();
    let task = lp.spawn(async move {
        let v = future.await.unwrap();
        (v, std::thread::current().id())
    });
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        resolver.resolve(7).unwrap();
    });
    let (v, polled_on) = lp.run_until_complete(task).unwrap().unwrap();
    t.join().unwrap();
    assert_eq!(v, 7);
    assert_eq!(polled_on, loop_thread);
}

#[test]
fn a_dropped_resolver_cancels_the_future() {
    let lp = EventLoop::new().unwrap();
    let (future, resolver) = lp.create_future::<()>();
    drop(resolver);
    let err = lp.run_until_complete(future).unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    let (future, resolver) = lp.create_future::<u8>();
    drop(future);
    assert_eq!(resolver.resolve(3), Err(3));
}

#[test]
fn sleep_never_ends_early_and_timeout_elapses() {
    let lp = EventLoop::new().unwrap();
    let (slept, timed_out, in_time) = lp
        .run_until_complete(async {
            let start = Instant::now();
            loopcore::sleep(Duration::from_millis(3)).await;
            let slept = start.elapsed();
            let timed_out = loopcore::timeout(
                Duration::from_millis(2),
                loopcore::sleep(Duration::from_secs(60)),
            )
            .await;
            let in_time = loopcore::timeout(Duration::from_secs(60), async { 9 }).await;
            (slept, timed_out, in_time)
        })
        .unwrap();
    assert!(slept >= Duration::from_millis(3));
    assert!(timed_out.unwrap_err().is_timeout());
    assert_eq!(in_time.unwrap(), 9);
}

#[test]
fn join_set_first_error_cancels_the_rest() {
    let lp = EventLoop::new().unwrap();
    let finished = Rc::new(Cell::new(0));
    let f = finished.clone();
    let result = lp
        .run_until_complete(async move {
            let mut set: JoinSet<Result<u32, String>> = JoinSet::new();
            for i in 0..3 {
                let f = f.clone();
                set.spawn(async move {
                    loopcore::sleep(Duration::from_secs(3600)).await;
                    f.set(f.get() + 1);
                    Ok(i)
                });
            }
            set.spawn(async {
                loopcore::sleep(Duration::from_millis(1)).await;
                Err("failed".to_string())
            });
            set.try_join_all().await
        })
        .unwrap();
    match result {
        Err(GroupError::Task(e)) => assert_eq!(e, "failed"),
        other => panic!("unexpected {other:?}"),
    }
    // The sleepers were aborted, not left running.
    lp.run_until_complete(loopcore::sleep(Duration::from_millis(2)))
        .unwrap();
    assert_eq!(finished.get(), 0);
}

#[test]
fn join_set_join_all_keeps_spawn_order_and_drop_aborts() {
    let lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let out = lp
        .run_until_complete(async move {
            let mut set = JoinSet::new();
            for ms in [3u64, 1, 2] {
                set.spawn(async move {
                    loopcore::sleep(Duration::from_millis(ms)).await;
                    ms
                });
            }
            let all = set.join_all().await.unwrap();
            let mut dropped = JoinSet::new();
            dropped.spawn(async move {
                loopcore::sleep(Duration::from_millis(1)).await;
                r.set(true);
            });
            assert_eq!(dropped.len(), 1);
            drop(dropped);
            loopcore::sleep(Duration::from_millis(3)).await;
            all
        })
        .unwrap();
    assert_eq!(out, [3, 1, 2]);
    assert!(!ran.get());
}

#[test]
fn join_next_yields_in_completion_order() {
    let lp = EventLoop::new().unwrap();
    let order = lp
        .run_until_complete(async {
            let mut set = JoinSet::new();
            for ms in [4u64, 1, 2] {
                set.spawn(async move {
                    loopcore::sleep(Duration::from_millis(ms)).await;
                    ms
                });
            }
            let mut order = Vec::new();
            while let Some(r) = set.join_next().await {
                order.push(r.unwrap());
            }
            order
        })
        .unwrap();
    assert_eq!(order, [1, 2, 4]);
}
