//! Shared pieces of the benchmarks: the raw baselines loopcore is measured
//! against, written once so every bench compares like with like.

pub mod raw_server;
pub mod tokio_shapes;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use mio::{Events, Poll, Token, Waker};

/// A boxed job as the raw baselines carry them.
pub type Job = Box<dyn FnOnce() + Send>;

const WAKE: Token = Token(0);

/// How a raw mailbox baseline wakes its consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakePolicy {
    /// Write the eventfd on every message.
    EveryMessage,
    /// Write it only when the consumer's `woken` flag was clear (the same
    /// protocol loopcore's mailbox uses), hand-written.
    Coalesced,
}

impl std::fmt::Debug for RawMailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMailbox")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// A consumer thread that runs jobs from a `crossbeam-channel`, woken by a
/// `mio::Waker`: the raw baselines for `call_soon_threadsafe`.
pub struct RawMailbox {
    sender: Sender<Job>,
    waker: Arc<Waker>,
    woken: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    policy: WakePolicy,
    thread: Option<JoinHandle<()>>,
}

impl RawMailbox {
    /// Starts the consumer thread.
    pub fn start(policy: WakePolicy) -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded::<Job>();
        let (waker_tx, waker_rx) = std::sync::mpsc::channel();
        let woken = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (w, s) = (woken.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut poll = Poll::new().expect("epoll");
            let waker = Arc::new(Waker::new(poll.registry(), WAKE).expect("waker"));
            waker_tx.send(waker).expect("bench thread alive");
            consume(&mut poll, &receiver, &w, &s, policy);
        });
        let waker = waker_rx.recv().expect("consumer started");
        Self {
            sender,
            waker,
            woken,
            stop,
            policy,
            thread: Some(thread),
        }
    }

    /// Posts one job and wakes the consumer according to the policy.
    #[inline]
    pub fn post(&self, job: Job) {
        self.sender.send(job).expect("consumer alive");
        match self.policy {
            WakePolicy::EveryMessage => self.waker.wake().expect("wake"),
            WakePolicy::Coalesced => {
                if !self.woken.swap(true, Ordering::AcqRel) {
                    self.waker.wake().expect("wake");
                }
            }
        }
    }
}

fn consume(
    poll: &mut Poll,
    receiver: &Receiver<Job>,
    woken: &AtomicBool,
    stop: &AtomicBool,
    policy: WakePolicy,
) {
    let mut events = Events::with_capacity(64);
    while !stop.load(Ordering::Acquire) {
        poll.poll(&mut events, None).expect("poll");
        if policy == WakePolicy::Coalesced {
            woken.swap(false, Ordering::AcqRel);
        }
        let pending = receiver.len();
        for job in receiver.try_iter().take(pending) {
            job();
        }
    }
}

impl Drop for RawMailbox {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Spins (yielding) until `counter` reaches `target`.
pub fn wait_for(counter: &AtomicU64, target: u64) {
    while counter.load(Ordering::Acquire) < target {
        std::thread::yield_now();
    }
}

/// A loopcore loop running `run_forever` on its own thread.
#[derive(Debug)]
pub struct LoopThread {
    handle: loopcore::LoopHandle,
    thread: Option<JoinHandle<()>>,
}

impl LoopThread {
    /// Starts the loop thread and returns once the loop exists.
    pub fn start() -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let lp = loopcore::EventLoop::new().expect("event loop");
            tx.send(lp.handle()).expect("bench thread alive");
            lp.run_forever().expect("run_forever");
        });
        let handle = rx.recv().expect("loop started");
        Self {
            handle,
            thread: Some(thread),
        }
    }

    /// The loop's handle.
    pub fn handle(&self) -> &loopcore::LoopHandle {
        &self.handle
    }
}

impl Drop for LoopThread {
    fn drop(&mut self) {
        let _ = self.handle.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
