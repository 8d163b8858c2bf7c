//! loopcore: thread-per-core event loops with Python asyncio's semantics,
//! on `mio`.
//!
//! Each [`EventLoop`] is single-threaded and `!Send`: its callbacks, timers,
//! tasks and connections all run on the thread that owns it, so they share
//! state with `Rc` and `RefCell` instead of locks. A [`Runtime`] runs one
//! loop per core, and the loops talk only through their mailboxes. This
//! guide goes from one loop to a runtime on every core; read it top to
//! bottom.
//!
//! # One loop
//!
//! [`EventLoop::new`] makes a loop on the calling thread. Nothing runs until
//! you run the loop: [`run_until_complete`](EventLoop::run_until_complete)
//! drives it until one future finishes and returns that future's output.
//! The future is polled on this thread, so it need not be `Send` or
//! `'static`. [`close`](EventLoop::close) frees the loop's file descriptors
//! and drops whatever is still scheduled; dropping the loop does the same.
//!
//! ```
//! use loopcore::EventLoop;
//!
//! let lp = EventLoop::new()?;
//! let name = String::from("loopcore");
//! // The future borrows `name`: it runs here, before `run_until_complete` returns.
//! let len = lp.run_until_complete(async { name.len() })?;
//! assert_eq!(len, 8);
//! lp.close()?;
//! # Ok::<(), loopcore::Error>(())
//! ```
//!
//! # Callbacks and timers
//!
//! [`call_soon`](EventLoop::call_soon) queues a closure for the next
//! iteration; callbacks run in the order they were queued.
//! [`call_later`](EventLoop::call_later) and [`call_at`](EventLoop::call_at)
//! run one at a deadline, never earlier, and return a [`TimerHandle`]. A
//! handle holds no allocation and [`cancel`](TimerHandle::cancel) is cheap,
//! so arming a timeout that rarely fires costs little.
//! [`run_forever`](EventLoop::run_forever) runs until a callback calls
//! [`stop`](EventLoop::stop). In async code, [`sleep`] is the same timer as
//! a future.
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use std::time::{Duration, Instant};
//! use loopcore::EventLoop;
//!
//! let lp = EventLoop::new()?;
//! // Callbacks run on this thread: `Rc<RefCell<_>>` is enough to share state.
//! let log = Rc::new(RefCell::new(Vec::new()));
//!
//! let l = log.clone();
//! lp.call_soon(move |_| l.borrow_mut().push("soon"));
//! let l = log.clone();
//! let never = lp.call_later(Duration::from_secs(60), move |_| l.borrow_mut().push("never"));
//! never.cancel();
//! let l = log.clone();
//! lp.call_at(lp.time() + Duration::from_millis(2), move |lp| {
//!     l.borrow_mut().push("at");
//!     lp.stop();
//! });
//! lp.run_forever()?;
//! assert_eq!(*log.borrow(), ["soon", "at"]);
//!
//! let start = Instant::now();
//! lp.run_until_complete(loopcore::sleep(Duration::from_millis(2)))?;
//! assert!(start.elapsed() >= Duration::from_millis(2));
//! lp.close()?;
//! # Ok::<(), loopcore::Error>(())
//! ```
//!
//! # Tasks
//!
//! [`spawn`] runs a future as a task on the current loop (asyncio's
//! `create_task`; [`EventLoop::spawn`] when you hold the loop) and returns a
//! [`JoinHandle`] to await its output. Dropping the handle detaches the task,
//! which keeps running; [`abort`](JoinHandle::abort) cancels it, and its
//! awaiter gets a cancelled [`JoinError`]. A panic in a task is caught and
//! reported, and the loop goes on. [`timeout`] bounds any future and drops it
//! when time runs out.
//!
//! ```
//! use std::time::Duration;
//! use loopcore::EventLoop;
//!
//! let lp = EventLoop::new()?;
//! lp.run_until_complete(async {
//!     let task = loopcore::spawn(async { 6 * 7 });
//!     assert_eq!(task.await.unwrap(), 42);
//!
//!     let slow = loopcore::spawn(loopcore::sleep(Duration::from_secs(60)));
//!     slow.abort();
//!     assert!(slow.await.unwrap_err().is_cancelled());
//!
//!     let forever = loopcore::sleep(Duration::from_secs(60));
//!     let late = loopcore::timeout(Duration::from_millis(1), forever);
//!     assert!(late.await.unwrap_err().is_timeout());
//! })?;
//! lp.close()?;
//! # Ok::<(), loopcore::Error>(())
//! ```
//!
//! # A protocol server
//!
//! A [`Protocol`] is asyncio's set of connection callbacks as a trait:
//! `connection_made` hands you the [`Transport`] to write to and close,
//! `data_received` lends you the bytes that arrived. A protocol needs no
//! task and no read buffer of its own (the loop lends one), so it is the
//! cheapest way to serve; [`EventLoop::start_server`] gives you an async
//! reader and writer per connection instead.
//! [`create_server`](EventLoop::create_server) calls the factory once per
//! accepted connection. Blocking code such as a std client must not run on
//! the loop's thread, so the client below has its own thread and stops the
//! loop when it is done.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use loopcore::{EventLoop, Protocol, ServerOptions, Transport};
//!
//! /// Echoes every byte back.
//! struct Echo(Option<Transport>);
//!
//! impl Protocol for Echo {
//!     fn connection_made(&mut self, transport: Transport) {
//!         self.0 = Some(transport);
//!     }
//!     fn data_received(&mut self, data: &[u8]) {
//!         // `data` borrows the loop's read buffer; `write` copies it.
//!         if let Some(t) = &self.0 {
//!             let _ = t.write(data);
//!         }
//!     }
//! }
//!
//! let lp = EventLoop::new()?;
//! let server = lp.create_server("127.0.0.1:0", ServerOptions::default(), || Echo(None))?;
//! let addr = server.sockets()[0];
//!
//! let handle = lp.handle();
//! let client = std::thread::spawn(move || {
//!     let talk = || -> std::io::Result<Vec<u8>> {
//!         let mut conn = TcpStream::connect(addr)?;
//!         conn.set_read_timeout(Some(Duration::from_secs(5)))?;
//!         conn.write_all(b"ping")?;
//!         let mut reply = vec![0; 4];
//!         conn.read_exact(&mut reply)?;
//!         Ok(reply)
//!     };
//!     let reply = talk();
//!     // Stop the loop whatever happened, so `run_forever` returns.
//!     let _ = handle.stop();
//!     reply
//! });
//! lp.run_forever()?;
//! assert_eq!(client.join().unwrap()?, b"ping");
//! server.close();
//! lp.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The runtime on all cores
//!
//! [`Runtime::builder`] starts one loop per thread
//! ([`loops`](RuntimeBuilder::loops) defaults to the CPUs this process may
//! use). [`Runtime::serve`] binds an address once for every loop and serves
//! each connection with a protocol from the factory, on the loop that
//! accepted it; the factory is shared by the threads, so it must be
//! `Send + Sync`, while the protocols it makes stay on their loop.
//! [`Runtime::serve_streams`] is the same with an async handler per
//! connection. [`Runtime::run`] blocks until every loop has stopped;
//! [`Runtime::shutdown`] makes them stop. The example turns signal handling
//! off so that it leaves SIGINT alone; in a server, keep it on and Ctrl-C
//! shuts down gracefully.
//!
//! ```
//! use std::io::Read;
//! use std::net::TcpStream;
//! use std::time::Duration;
//! use loopcore::{Protocol, Runtime, ServeOptions, Transport};
//!
//! /// Says which loop serves the connection, and closes it.
//! struct WhichLoop;
//!
//! impl Protocol for WhichLoop {
//!     fn connection_made(&mut self, t: Transport) {
//!         let index = loopcore::current_loop_index().unwrap_or(usize::MAX);
//!         let _ = t.write(format!("loop {index}\n").as_bytes());
//!         t.close();
//!     }
//! }
//!
//! let runtime = Runtime::builder().loops(2).handle_signals(false).build()?;
//! let addr = runtime.serve("127.0.0.1:0", ServeOptions::default(), || WhichLoop)?[0];
//!
//! let mut conn = TcpStream::connect(addr)?;
//! conn.set_read_timeout(Some(Duration::from_secs(5)))?;
//! let mut reply = String::new();
//! conn.read_to_string(&mut reply)?;
//! assert!(reply == "loop 0\n" || reply == "loop 1\n", "{reply}");
//!
//! runtime.shutdown(Duration::ZERO);
//! runtime.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Cross-loop messages
//!
//! An [`EventLoop`] cannot leave its thread; its [`LoopHandle`]
//! ([`EventLoop::handle`], [`Runtime::handles`]) can.
//! [`LoopHandle::call_soon_threadsafe`] posts a `Send` closure into the
//! loop's mailbox, and the loop runs it on its own thread with the loop at
//! hand. That is the only way in: no lock
//! guards a loop's state, because no other thread ever touches it.
//! [`RuntimeHandle::broadcast`] posts one closure to every loop of a runtime,
//! to reconfigure them all or to collect per-loop figures.
//!
//! ```
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use loopcore::{EventLoop, Runtime};
//!
//! // Into one loop, from a plain thread.
//! let lp = EventLoop::new()?;
//! let handle = lp.handle();
//! let poster = std::thread::spawn(move || {
//!     handle.call_soon_threadsafe(|lp| {
//!         println!("on the loop's own thread");
//!         lp.stop();
//!     })
//! });
//! lp.run_forever()?;
//! poster.join().unwrap()?;
//! lp.close()?;
//!
//! // Into every loop of a runtime.
//! let runtime = Runtime::builder().loops(2).handle_signals(false).build()?;
//! let (tx, rx) = mpsc::channel();
//! runtime.handle().broadcast(move |_lp| {
//!     let _ = tx.send(loopcore::current_loop_index());
//! });
//! let mut seen: Vec<_> = (0..2)
//!     .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
//!     .collect();
//! seen.sort();
//! assert_eq!(seen, [Some(0), Some(1)]);
//! runtime.shutdown(Duration::ZERO);
//! runtime.run()?;
//! # Ok::<(), loopcore::Error>(())
//! ```
//!
//! # The blocking executor
//!
//! A callback that blocks (a file read, a DNS lookup, a long computation)
//! stalls every connection on its loop. [`EventLoop::run_in_executor`] sends
//! the closure to a thread pool shared by all loops and resolves, on the
//! loop, to its result; the loop keeps serving meanwhile. A panic in the
//! closure comes back as an error of kind [`ErrorKind::Panicked`].
//! [`RuntimeBuilder::executor`] swaps in your own [`BlockingExecutor`].
//!
//! ```
//! use std::sync::mpsc;
//! use loopcore::EventLoop;
//!
//! let lp = EventLoop::new()?;
//! let (tx, rx) = mpsc::channel::<u64>();
//! // Blocks a pool thread until the loop sends it a number.
//! let job = lp.run_in_executor(move || rx.recv().map_or(0, |n| n * 2));
//! // The loop is free while the job blocks: this callback is what unblocks it.
//! lp.call_soon(move |_| {
//!     let _ = tx.send(21);
//! });
//! let answer = lp.run_until_complete(job)??;
//! assert_eq!(answer, 42);
//! lp.close()?;
//! # Ok::<(), loopcore::Error>(())
//! ```
//!
//! # TLS
//!
//! TLS is rustls, set per server or per connection: [`ServerOptions::tls`]
//! (or [`ServeOptions::tls`] on a runtime) takes a server configuration, and
//! [`ConnectOptions::tls`] with
//! [`open_connection_with`](EventLoop::open_connection_with) or
//! [`create_connection_with`](EventLoop::create_connection_with) a client
//! one. Protocols and stream handlers see plaintext, and `connection_made`
//! runs only after the handshake. Load a real certificate with
//! [`tls::server_config_from_pem`] and trust real CAs with
//! [`tls::client_config_from_ca_pem`] or [`tls::client_config_native_roots`].
//! The client below accepts any certificate
//! ([`tls::dangerous::client_config_accepting_any_certificate`]), which is
//! right for a throwaway self-signed server and wrong for anything else.
//!
//! ```
//! use loopcore::rustls::pki_types::PrivateKeyDer;
//! use loopcore::{ConnectOptions, EventLoop, ServerOptions};
//!
//! // A self-signed certificate made on the spot (rcgen).
//! let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
//! let key = PrivateKeyDer::Pkcs8(made.key_pair.serialize_der().into());
//! let server_config = loopcore::tls::server_config(vec![made.cert.der().clone()], key, &[])?;
//!
//! let lp = EventLoop::new()?;
//! let options = ServerOptions::default().tls(server_config);
//! let server = lp.start_server("127.0.0.1:0", options, |mut reader, writer| async move {
//!     if let Ok(line) = reader.read_line().await {
//!         let _ = writer.write(&line);
//!     }
//! })?;
//!
//! let client_config = loopcore::tls::dangerous::client_config_accepting_any_certificate(&[])?;
//! let options = ConnectOptions::default().tls(client_config).server_hostname("localhost");
//! let addr = server.sockets()[0].to_string();
//! let (echoed, version) = lp.run_until_complete(async {
//!     let (mut reader, writer) = lp.open_connection_with(addr, options).await?;
//!     writer.write(b"secret\n")?;
//!     let echoed = reader.read_line().await?;
//!     let version = writer.transport().tls_info().and_then(|info| info.protocol_version);
//!     Ok::<_, loopcore::Error>((echoed, version))
//! })??;
//! assert_eq!(echoed, b"secret\n");
//! assert_eq!(version.as_deref(), Some("TLSv1_3"));
//! server.close();
//! lp.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Metrics
//!
//! Every loop counts iterations, callbacks, tasks, connections, bytes and
//! busy time. Each counter has one writer, its loop, so counting is a plain
//! store and costs nearly nothing. [`EventLoop::stats`] takes a
//! [`LoopStats`] snapshot on the loop's thread, [`LoopHandle::stats`] from
//! any other. [`render_prometheus`] writes snapshots in the Prometheus text
//! format, one series per loop; [`Runtime::stats`] and
//! [`RuntimeStats::to_prometheus`] do it for a whole runtime.
//!
//! ```
//! use loopcore::EventLoop;
//!
//! let lp = EventLoop::new()?;
//! lp.run_until_complete(async { loopcore::spawn(async {}).await.unwrap() })?;
//! let stats = lp.stats();
//! assert_eq!(stats.tasks_spawned, 1);
//!
//! let handle = lp.handle();
//! let from_elsewhere = std::thread::spawn(move || handle.stats()).join().unwrap();
//! assert_eq!(from_elsewhere.tasks_spawned, 1);
//!
//! let text = loopcore::render_prometheus(&[stats]);
//! assert!(text.contains("loopcore_tasks_spawned_total{loop=\"0\"} 1"));
//! lp.close()?;
//! # Ok::<(), loopcore::Error>(())
//! ```
//!
//! # Shutdown
//!
//! [`RuntimeHandle::shutdown`] (from any thread; SIGINT and SIGTERM do the
//! same while [`Runtime::run`] blocks) drains gracefully: every loop accepts
//! what is already queued and stops listening, tells each connection's
//! protocol through [`Protocol::shutdown_requested`], and wakes every
//! [`ShutdownToken`]. A loop stops once its connections are gone; those
//! still open when the grace period ends are aborted, so a shutdown always
//! finishes. Protocols answer `shutdown_requested`; tasks and stream
//! handlers await [`ShutdownToken::wait`] instead.
//!
//! ```
//! use std::io::{BufRead, BufReader, Read};
//! use std::net::{SocketAddr, TcpStream};
//! use std::time::Duration;
//! use loopcore::{Protocol, Runtime, ServeOptions, StreamReader, StreamWriter, Transport};
//!
//! /// Says "hi", and "bye" when the runtime shuts down.
//! struct Polite(Option<Transport>);
//!
//! impl Protocol for Polite {
//!     fn connection_made(&mut self, t: Transport) {
//!         let _ = t.write(b"hi\n");
//!         self.0 = Some(t);
//!     }
//!     fn shutdown_requested(&mut self) {
//!         if let Some(t) = &self.0 {
//!             let _ = t.write(b"bye\n");
//!             t.close();
//!         }
//!     }
//! }
//!
//! let runtime = Runtime::builder().loops(2).handle_signals(false).build()?;
//! let polite = runtime.serve("127.0.0.1:0", ServeOptions::default(), || Polite(None))?[0];
//! let token = runtime.handle().shutdown_token();
//! let handler = move |_reader: StreamReader, writer: StreamWriter| {
//!     let token = token.clone();
//!     async move {
//!         let _ = writer.write(b"hi\n");
//!         token.wait().await;
//!         let _ = writer.write(b"bye\n");
//!         writer.close();
//!     }
//! };
//! let streams = runtime.serve_streams("127.0.0.1:0", ServeOptions::default(), handler)?[0];
//!
//! // Reading "hi" first makes sure each connection is set up on its loop.
//! let greeted = |addr: SocketAddr| -> std::io::Result<BufReader<TcpStream>> {
//!     let conn = TcpStream::connect(addr)?;
//!     conn.set_read_timeout(Some(Duration::from_secs(5)))?;
//!     let mut conn = BufReader::new(conn);
//!     let mut line = String::new();
//!     conn.read_line(&mut line)?;
//!     assert_eq!(line, "hi\n");
//!     Ok(conn)
//! };
//! let mut clients = [greeted(polite)?, greeted(streams)?];
//!
//! runtime.handle().shutdown(Duration::from_secs(1));
//! for client in &mut clients {
//!     let mut rest = String::new();
//!     client.read_to_string(&mut rest)?;
//!     assert_eq!(rest, "bye\n");
//! }
//! runtime.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where next
//!
//! `docs/asyncio-mapping.md` maps each asyncio method to its loopcore
//! counterpart and lists the deliberate differences. `docs/architecture.md`
//! shows how a loop and the runtime are built, `docs/security.md` the limits
//! and timeouts that guard a server, and `docs/tuning.md` how to pick loop
//! counts, pinning and balance modes. Two cargo features connect the
//! ecosystem: `hyper` adds `loopcore::hyper_rt` (an executor and a timer on
//! the loop) and hyper's IO traits on [`IoStream`]; `tokio-io` adds tokio's
//! `AsyncRead`/`AsyncWrite` to the streams and [`IoStream`], with no tokio
//! runtime.

// `unsafe` lives in `sys/` (system calls std and mio do not wrap); the two
// exceptions elsewhere allow it where they stand, each with its reason.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod busy_time;
mod calls;
mod clock;
mod error;
mod event_loop;
mod exception;
mod executor;
mod future;
mod handle;
#[cfg(feature = "hyper")]
pub mod hyper_rt;
#[cfg(feature = "hyper")]
mod hyper_serve;
mod io;
mod join_set;
mod load;
mod mailbox;
mod metrics;
mod oneshot;
mod proto;
mod remote;
mod runtime;
mod signal;
mod source_table;
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
    DatagramTransport, Delimiter, HttpTimeouts, IoStream, ProcessTransport, Protocol, Server,
    ServerOptions, StreamReader, StreamWriter, SubprocessProtocol, Transport, WriteBufferLimits,
};
pub use join_set::{GroupError, JoinSet};
pub use load::LoopLoad;
pub use mailbox::LoopHandle;
pub use metrics::{render_prometheus, LoopStats};
pub use remote::RemoteJoinHandle;
pub use runtime::{
    allowed_cpus, available_cpus, current_loop_index, Balance, Builder as RuntimeBuilder, Pinning,
    Runtime, RuntimeHandle, RuntimeStats, ServeOptions, Sharded, ShutdownToken, ShutdownWait,
    Upgrade,
};
pub use rustls;
pub use sys::activation::{listen_fds, notify_ready};
pub use sys::limits::raise_fd_limit;
pub use sys::signal::raise_in_process;
pub use task::{spawn, JoinError, JoinHandle};
pub use time::{sleep, sleep_until, timeout, Sleep};

/// HTTP/1.1: the sans-IO codec on `httparse` (requests parsed, responses
/// written, [`ResponseReader`](http1::ResponseReader) for clients) and the
/// server-connection driver, [`Http1Connection`](http1::Http1Connection),
/// which every HTTP/1 server should use: it gets deadlines
/// ([`HttpTimeouts`]), bounded memory and lingering
/// close by default.
pub mod http1 {
    pub use crate::io::{
        linger_close, serve_requests, serve_requests_closing, with_date, write_head,
        write_response, Http1Connection, Http1Handler, Http1Options, HttpTimeouts, Reply,
        CLOSE_LINGER, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, IDLE_LINGER,
    };
    pub use crate::proto::http1::*;
}

/// The README's examples compile and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
