//! What a runtime loop's thread knows about its place in the runtime: its
//! index, the runtime, its shutdown state and its sharded values.
//! Thread-local, because each runtime loop owns its thread.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use super::RuntimeShared;

pub(crate) struct LoopContext {
    pub(crate) index: usize,
    pub(crate) runtime: Arc<RuntimeShared>,
    /// Set once shutdown reached this loop; the deadline may only move
    /// earlier.
    pub(crate) deadline: Cell<Option<Instant>>,
    /// This loop's values of `Sharded` helpers, by helper id.
    pub(crate) shards: RefCell<HashMap<u64, Rc<dyn Any>>>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Rc<LoopContext>>> = const { RefCell::new(None) };
}

pub(crate) fn enter(context: LoopContext) {
    CONTEXT.with(|c| *c.borrow_mut() = Some(Rc::new(context)));
}

/// Drops the context and everything it holds, on this thread.
pub(crate) fn leave() {
    let context = CONTEXT.with(|c| c.borrow_mut().take());
    if let Some(context) = context {
        let shards = std::mem::take(&mut *context.shards.borrow_mut());
        drop(shards);
    }
}

pub(crate) fn current() -> Option<Rc<LoopContext>> {
    CONTEXT.with(|c| c.borrow().clone())
}

/// The index of the runtime loop running on this thread (0 to
/// `loops - 1`), or `None` outside a runtime's loop threads.
///
/// ```
/// assert_eq!(loopcore::current_loop_index(), None);
/// ```
pub fn current_loop_index() -> Option<usize> {
    CONTEXT.with(|c| c.borrow().as_ref().map(|c| c.index))
}
