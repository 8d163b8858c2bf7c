//! The auto traits users rely on. `EventLoop: !Send` is fixed by a
//! `compile_fail` doctest on `EventLoop` itself.

use loopcore::{JoinHandle, LoopHandle, Resolver};

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
fn assert_send<T: Send>() {}

#[test]
fn cross_thread_types_are_send() {
    assert_send_sync_clone::<LoopHandle>();
    assert_send::<Resolver<String>>();
    assert_send::<JoinHandle<u32>>();
}
