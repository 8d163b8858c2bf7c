//! The cross-thread handshakes, each in a small module of its own so that
//! the model checker runs the very code the loops run: under
//! `--cfg loopcore_loom` (`just loom`) the atomics and mutexes below come
//! from `loom`, and each module's `loom_tests` explore every interleaving
//! of its threads.
//!
//! - [`WakeFlag`]: a loop's mailbox writes its waker once per drain, and no
//!   message is left without a wake-up.
//! - [`AbortState`]: a task aborted from another thread is woken, however
//!   the abort races the task's first poll.
//! - [`HandoffGate`]: a loop that stops has no connection on its way to it.
//! - [`OnceNotify`]: every waiter for the shutdown notice is woken, however
//!   its registration races the notice.

#[cfg(loopcore_loom)]
pub(crate) use loom::sync::{atomic, Mutex};
#[cfg(not(loopcore_loom))]
pub(crate) use std::sync::{atomic, Mutex};

mod abort;
mod handoff;
mod once_notify;
mod wake_flag;

pub(crate) use abort::AbortState;
pub(crate) use handoff::HandoffGate;
pub(crate) use once_notify::OnceNotify;
pub(crate) use wake_flag::WakeFlag;
