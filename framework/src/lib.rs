//! loopcore: thread-per-core event loops with Python asyncio's semantics,
//! on `mio`.
//!
//! Each [`EventLoop`] is single-threaded and `!Send`: callbacks, timers,
//! tasks and fd watchers run on the thread that owns it. Other threads reach
//! a loop only through its [`LoopHandle`] (`call_soon_threadsafe`, `stop`).
//! Blocking work goes to one shared executor ([`EventLoop::run_in_executor`]).
//!
//! ```
//! use std::time::Duration;
//! use loopcore::EventLoop;
//!
//! let lp = EventLoop::new()?;
//! lp.call_soon(|_| println!("Hello World"));
//! let handle = lp.handle();
//! std::thread::spawn(move || handle.call_soon_threadsafe(|_| println!("from a thread")));
//! let answer = lp.run_until_complete(async {
//!     loopcore::sleep(Duration::from_millis(5)).await;
//!     let task = loopcore::spawn(async { 6 * 7 });
//!     task.await.unwrap()
//! })?;
//! assert_eq!(answer, 42);
//! lp.close()?;
//! # Ok::<(), loopcore::Error>(())
//! ```
//!
//! See `docs/asyncio-mapping.md` for how each asyncio method maps here.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod error;
mod event_loop;
mod exception;
mod executor;
mod future;
mod handle;
#[cfg(feature = "hyper")]
pub mod hyper_rt;
mod io;
mod join_set;
mod mailbox;
mod metrics;
mod oneshot;
mod proto;
mod remote;
mod runtime;
mod signal;
mod sync;
mod sys;
mod task;
mod time;
mod watch;

pub use error::{Error, ErrorKind, Result};
pub use event_loop::{EventLoop, DEBUG_ENV};
pub use exception::{payload_message, ExceptionContext, ExceptionHandler};
pub use executor::{default_max_threads, BlockingExecutor, ExecutorFuture, Job, ThreadPool};
pub use future::{LoopFuture, Resolver};
pub use handle::{Handle, TimerHandle};
pub use io::tls;
pub use io::tls::TlsSetup;
pub use io::{
    Buffered, BufferedProtocol, Child, ConnectOptions, DatagramOptions, DatagramProtocol,
    DatagramTransport, IoStream, ProcessTransport, Protocol, Server, ServerOptions, StreamReader,
    StreamWriter, SubprocessProtocol, Transport,
};
pub use join_set::{GroupError, JoinSet};
pub use mailbox::LoopHandle;
pub use metrics::{render_prometheus, LoopStats};
pub use proto::http1;
pub use remote::RemoteJoinHandle;
pub use runtime::{
    allowed_cpus, available_cpus, current_loop_index, Balance, Builder as RuntimeBuilder, Pinning,
    Runtime, RuntimeHandle, RuntimeStats, ServeOptions, Sharded, ShutdownToken, ShutdownWait,
};
pub use rustls;
pub use sys::limits::raise_fd_limit;
pub use sys::signal::raise_in_process;
pub use task::{spawn, JoinError, JoinHandle};
pub use time::{sleep, sleep_until, timeout, Sleep};

/// The README's examples compile and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
