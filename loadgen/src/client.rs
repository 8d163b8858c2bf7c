//! One client connection slot on one loop: it keeps a connection open
//! (re-opening it after errors, `Connection: close` or
//! `--reconnect-every`), sends requests (as fast as answers come, or on
//! its open-loop [`Schedule`]), reads the answers with
//! [`ResponseReader`] (or counts echoed bytes in `tcp://` mode) and
//! records each latency into its loop's [`Recorder`].
//!
//! A slot outlives its connections: its schedule, its backlog of due
//! requests and what it has in flight live in [`Slot`], shared by the
//! small [`Protocol`] each connection gets. A request that falls due while
//! `--pipeline` requests are already in flight waits in the backlog, and
//! that wait counts in its latency (it is measured from when it was due).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loopcore::http1::{ResponseError, ResponseReader};
use loopcore::{ConnectOptions, EventLoop, Protocol, TimerHandle, Transport};

use crate::pacer::Schedule;
use crate::stats::Recorder;

/// How long a slot waits before re-opening after a failed connect.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// Everything about the run that connections need, shared by all loops.
#[derive(Debug)]
pub struct Plan {
    /// Where to connect.
    pub addrs: Vec<SocketAddr>,
    /// TLS and the like.
    pub connect: ConnectOptions,
    /// The bytes of one request.
    pub request: Vec<u8>,
    /// The request is `HEAD` (its responses have no body).
    pub head_request: bool,
    /// `tcp://` mode: each request is answered by as many bytes.
    pub echo: bool,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// Total open-loop rate; `None`: closed loop.
    pub rate: Option<f64>,
    /// Connections over all loops.
    pub connections: usize,
    /// Re-open the connection after this many responses.
    pub reconnect_every: Option<u64>,
    /// A request unanswered for this long is an error.
    pub timeout: Duration,
    /// Requests due before this instant are not recorded (warm-up).
    pub measure_from: Instant,
    /// No request is sent from this instant on.
    pub stop_at: Instant,
    /// When the schedule starts.
    pub start: Instant,
    /// Keep per-second histograms (`--hdr-log`).
    pub interval_log: bool,
}

/// What one loop shares among its slots.
pub struct LoopRun {
    pub(crate) plan: Arc<Plan>,
    pub(crate) recorder: RefCell<Recorder>,
    /// Requests this loop may still send (`-n`); `None`: no limit.
    pub(crate) budget: Cell<Option<u64>>,
    pub(crate) slots: RefCell<Vec<Rc<RefCell<Slot>>>>,
}

impl std::fmt::Debug for LoopRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopRun")
            .field("slots", &self.slots.borrow().len())
            .finish()
    }
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    /// When it should have left (open loop) or left (closed loop).
    intended: Instant,
    /// When it left.
    sent: Instant,
}

/// One connection slot (see the module docs).
pub(crate) struct Slot {
    run: Rc<LoopRun>,
    index: usize,
    transport: Option<Transport>,
    connecting: bool,
    reader: ResponseReader,
    /// Bytes of a response not consumed yet.
    pending: Vec<u8>,
    /// Echo mode: bytes of the oldest request's echo received so far.
    echoed: usize,
    in_flight: VecDeque<Sent>,
    /// Open loop: requests due and not sent yet, oldest first.
    backlog: VecDeque<Instant>,
    /// Requests sent on a connection the server closed before answering
    /// them (it said `Connection: close` on an earlier answer): sent again
    /// first on the next connection, keeping their intended times, as RFC
    /// 9112 (9.3.2) asks of a pipelining client. Counted once.
    retry: VecDeque<Instant>,
    schedule: Option<Schedule>,
    timer: Option<TimerHandle>,
    /// Responses on the current connection.
    answered_here: u64,
    /// Since when connecting has failed without a success in between.
    failing_since: Option<Instant>,
    /// No more requests will be sent.
    draining: bool,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("index", &self.index)
            .field("in_flight", &self.in_flight.len())
            .finish()
    }
}

/// The protocol of one connection of a slot.
struct SlotProtocol(Rc<RefCell<Slot>>);

impl LoopRun {
    /// Opens the slots with global indexes `indexes` on `lp`.
    pub(crate) fn start(
        lp: &EventLoop,
        plan: Arc<Plan>,
        indexes: impl Iterator<Item = usize>,
        budget: Option<u64>,
    ) -> Rc<LoopRun> {
        let run = Rc::new(LoopRun {
            plan: plan.clone(),
            recorder: RefCell::new(if plan.interval_log {
                Recorder::with_intervals()
            } else {
                Recorder::default()
            }),
            budget: Cell::new(budget),
            slots: RefCell::new(Vec::new()),
        });
        for index in indexes {
            let schedule = plan
                .rate
                .map(|rate| Schedule::new(plan.start, index, plan.connections, rate));
            let slot = Rc::new(RefCell::new(Slot {
                run: run.clone(),
                index,
                transport: None,
                connecting: false,
                reader: ResponseReader::new(),
                pending: Vec::new(),
                echoed: 0,
                in_flight: VecDeque::new(),
                backlog: VecDeque::new(),
                retry: VecDeque::new(),
                schedule,
                timer: None,
                answered_here: 0,
                failing_since: None,
                draining: false,
            }));
            run.slots.borrow_mut().push(slot.clone());
            connect(lp, &slot, Duration::ZERO);
            if plan.rate.is_some() {
                arm_schedule(lp, &slot);
            }
        }
        run
    }

    /// Every slot has nothing in flight and will send nothing more.
    pub(crate) fn is_idle(&self, now: Instant) -> bool {
        self.slots
            .borrow()
            .iter()
            .all(|slot| slot.borrow().is_done(now))
    }

    /// Checks for timed-out requests.
    pub(crate) fn sweep_timeouts(&self, now: Instant) {
        let slots: Vec<_> = self.slots.borrow().clone();
        for slot in slots {
            let expired = {
                let slot = slot.borrow();
                slot.in_flight
                    .front()
                    .is_some_and(|sent| now.duration_since(sent.sent) >= self.plan.timeout)
            };
            if expired {
                let transport = {
                    let mut slot = slot.borrow_mut();
                    slot.fail_in_flight(now, Failure::Timeout, None);
                    slot.transport.take()
                };
                // HTTP/1.1 cannot skip a response: start over on a new
                // connection (connection_lost sees nothing in flight).
                if let Some(transport) = transport {
                    transport.abort();
                }
            }
        }
    }

    /// Ends the run on this loop: unanswered requests are counted as
    /// unfinished, connections are closed, timers cancelled.
    pub(crate) fn finish(&self) {
        let slots: Vec<_> = std::mem::take(&mut *self.slots.borrow_mut());
        for slot in slots {
            let (transport, unfinished) = {
                let mut slot = slot.borrow_mut();
                slot.draining = true;
                if let Some(timer) = slot.timer.take() {
                    timer.cancel();
                }
                // Sent and unanswered, or due and never sent.
                let unfinished =
                    (slot.in_flight.len() + slot.backlog.len() + slot.retry.len()) as u64;
                slot.in_flight.clear();
                slot.backlog.clear();
                slot.retry.clear();
                (slot.transport.take(), unfinished)
            };
            self.recorder.borrow_mut().unfinished += unfinished;
            if let Some(transport) = transport {
                transport.close();
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Failure {
    Read,
    Write,
    Timeout,
    Parse,
}

impl Slot {
    fn plan(&self) -> &Plan {
        &self.run.plan
    }

    fn is_done(&self, now: Instant) -> bool {
        self.in_flight.is_empty() && !self.may_send(now)
    }

    /// Whether a request may go out now (connection aside): a retry until
    /// the run stops, a new one while the `-n` budget lasts too.
    fn may_send(&self, now: Instant) -> bool {
        !self.draining
            && now < self.plan().stop_at
            && (!self.retry.is_empty() || self.run.budget.get() != Some(0))
    }

    /// Sends what may go: in closed loop up to `pipeline` requests in
    /// flight; in open loop the backlog, as far as `pipeline` allows.
    fn fill(&mut self, now: Instant) {
        let Some(transport) = self.transport.clone() else {
            return;
        };
        if let Some(every) = self.plan().reconnect_every {
            // The connection closes after `every` answers: send no more
            // than it will answer.
            if self.answered_here + self.in_flight.len() as u64 >= every {
                return;
            }
        }
        while self.in_flight.len() < self.plan().pipeline && self.may_send(now) {
            let retried = self.retry.pop_front();
            let intended = if let Some(intended) = retried {
                intended
            } else if self.schedule.is_some() {
                match self.backlog.pop_front() {
                    Some(due) => due,
                    None => break,
                }
            } else {
                now
            };
            if transport.write(&self.plan().request).is_err() {
                self.run.recorder.borrow_mut().errors.write += 1;
                if retried.is_some() {
                    self.retry.push_front(intended);
                } else if self.schedule.is_some() {
                    // Still due: it goes out on the next connection.
                    self.backlog.push_front(intended);
                }
                break;
            }
            if retried.is_none() {
                if let Some(budget) = self.run.budget.get() {
                    self.run.budget.set(Some(budget - 1));
                }
                if intended >= self.plan().measure_from {
                    self.run.recorder.borrow_mut().sent += 1;
                }
            }
            self.in_flight.push_back(Sent {
                intended,
                sent: now,
            });
            if let Some(every) = self.plan().reconnect_every {
                if self.answered_here + self.in_flight.len() as u64 >= every {
                    break;
                }
            }
        }
    }

    /// Consumes received bytes; returns true when the connection should
    /// be closed (the server said so, or the answers are unreadable).
    fn on_data(&mut self, data: &[u8], now: Instant) -> bool {
        if now >= self.plan().measure_from {
            self.run.recorder.borrow_mut().bytes += data.len() as u64;
        }
        if self.plan().echo {
            return self.on_echo(data.len(), now);
        }
        let mut input: &[u8] = data;
        let mut owned = std::mem::take(&mut self.pending);
        if !owned.is_empty() {
            owned.extend_from_slice(data);
            input = &owned;
        }
        let mut close = false;
        let mut used_total = 0;
        loop {
            match self
                .reader
                .feed(&input[used_total..], self.plan().head_request)
            {
                Ok((used, Some(response))) => {
                    used_total += used;
                    self.answered(response.status, now);
                    if !response.keep_alive {
                        // The server answers nothing after this one.
                        self.retry_in_flight();
                        close = true;
                        break;
                    }
                }
                Ok((used, None)) => {
                    used_total += used;
                    break;
                }
                Err(e) => {
                    self.fail_in_flight(now, Failure::Parse, Some(&e));
                    close = true;
                    break;
                }
            }
        }
        if !close && used_total < input.len() {
            self.pending = input[used_total..].to_vec();
        }
        if !close {
            close = self.reached_reconnect();
        }
        close
    }

    fn on_echo(&mut self, mut received: usize, now: Instant) -> bool {
        let size = self.plan().request.len();
        while received > 0 {
            if self.in_flight.is_empty() {
                // More bytes than were sent: not an echo.
                self.run.recorder.borrow_mut().errors.parse += 1;
                return true;
            }
            let take = received.min(size - self.echoed);
            self.echoed += take;
            received -= take;
            if self.echoed == size {
                self.echoed = 0;
                self.answered(0, now);
            }
        }
        self.reached_reconnect()
    }

    fn reached_reconnect(&self) -> bool {
        self.plan()
            .reconnect_every
            .is_some_and(|every| self.answered_here >= every && self.in_flight.is_empty())
    }

    /// The oldest request in flight was answered with `status` (0 in echo
    /// mode).
    fn answered(&mut self, status: u16, now: Instant) {
        let Some(sent) = self.in_flight.pop_front() else {
            // A response nobody asked for.
            self.run.recorder.borrow_mut().errors.parse += 1;
            return;
        };
        self.answered_here += 1;
        if sent.intended >= self.plan().measure_from {
            self.run.recorder.borrow_mut().response(
                status,
                now.duration_since(sent.intended),
                now.duration_since(sent.sent),
            );
        }
    }

    /// The requests in flight go again on the next connection.
    fn retry_in_flight(&mut self) {
        // They left before whatever still waits for a retry (retries go
        // first), so they go back in front of it, in order.
        for sent in self.in_flight.drain(..).rev() {
            self.retry.push_front(sent.intended);
        }
        self.echoed = 0;
        self.pending.clear();
        self.reader = ResponseReader::new();
    }

    /// Every request in flight failed.
    fn fail_in_flight(&mut self, now: Instant, failure: Failure, why: Option<&dyn fmt::Display>) {
        let measure_from = self.plan().measure_from;
        let mut recorder = self.run.recorder.borrow_mut();
        let mut failed = 0;
        for sent in self.in_flight.drain(..) {
            if sent.intended < measure_from {
                continue;
            }
            failed += 1;
            match failure {
                Failure::Read => recorder.errors.read += 1,
                Failure::Write => recorder.errors.write += 1,
                Failure::Parse => recorder.errors.parse += 1,
                Failure::Timeout => recorder.timed_out(
                    now.duration_since(sent.intended),
                    now.duration_since(sent.sent),
                ),
            }
        }
        if let (Some(why), true) = (why, failed > 0) {
            let kind = match failure {
                Failure::Read => "read",
                Failure::Write => "write",
                Failure::Parse => "parse",
                Failure::Timeout => "timeout",
            };
            recorder.reason(kind, why, failed);
        }
        self.echoed = 0;
        self.pending.clear();
        self.reader = ResponseReader::new();
    }
}

/// Opens a connection for `slot` after `delay`.
fn connect(lp: &EventLoop, slot: &Rc<RefCell<Slot>>, delay: Duration) {
    {
        let mut slot = slot.borrow_mut();
        if slot.connecting || slot.draining {
            return;
        }
        slot.connecting = true;
    }
    let slot = slot.clone();
    let lp2 = lp.clone();
    lp.spawn(async move {
        if !delay.is_zero() {
            loopcore::sleep(delay).await;
        }
        let (addrs, options) = {
            let slot = slot.borrow();
            (slot.plan().addrs.clone(), slot.plan().connect.clone())
        };
        let result = lp2
            .create_connection_to(&addrs, options, SlotProtocol(slot.clone()))
            .await;
        let mut guard = slot.borrow_mut();
        guard.connecting = false;
        let now = Instant::now();
        if result.is_ok() {
            guard.failing_since = None;
            return;
        }
        {
            let mut recorder = guard.run.recorder.borrow_mut();
            recorder.errors.connect += 1;
            if let Err(e) = &result {
                recorder.reason("connect", e, 1);
            }
        }
        let failing_since = *guard.failing_since.get_or_insert(now);
        if now.duration_since(failing_since) >= guard.plan().timeout {
            // Nothing could be reached for a whole --timeout: this slot
            // stops (a run limited only by -n would otherwise never end).
            guard.draining = true;
        }
        let retry = !guard.draining && now < guard.plan().stop_at;
        drop(guard);
        if retry {
            connect(&lp2, &slot, RECONNECT_BACKOFF);
        }
    })
    .detach();
}

/// Arms the slot's open-loop timer for its next due request.
fn arm_schedule(lp: &EventLoop, slot: &Rc<RefCell<Slot>>) {
    let due = {
        let slot = slot.borrow();
        match &slot.schedule {
            Some(schedule) if !slot.draining => schedule.next_due(),
            _ => return,
        }
    };
    if due >= slot.borrow().plan().stop_at {
        return;
    }
    let weak = Rc::downgrade(slot);
    let timer = lp.call_at(due, move |lp| {
        let Some(slot) = weak.upgrade() else {
            return;
        };
        let now = Instant::now();
        {
            let mut guard = slot.borrow_mut();
            let slot = &mut *guard;
            let mut earliest = None;
            if let Some(schedule) = slot.schedule.as_mut() {
                let backlog = &mut slot.backlog;
                schedule.take_due(now, |due| {
                    earliest.get_or_insert(due);
                    backlog.push_back(due);
                });
            }
            if let Some(due) = earliest {
                if due >= slot.plan().measure_from {
                    slot.run.recorder.borrow_mut().lag(now.duration_since(due));
                }
            }
            slot.fill(now);
        }
        arm_schedule(lp, &slot);
    });
    slot.borrow_mut().timer = Some(timer);
}

impl Protocol for SlotProtocol {
    fn connection_made(&mut self, transport: Transport) {
        let mut slot = self.0.borrow_mut();
        if slot.draining {
            transport.close();
            return;
        }
        slot.transport = Some(transport);
        slot.answered_here = 0;
        slot.fill(Instant::now());
    }

    fn data_received(&mut self, data: &[u8]) {
        let now = Instant::now();
        let mut slot = self.0.borrow_mut();
        if slot.on_data(data, now) {
            if let Some(transport) = slot.transport.take() {
                transport.close();
            }
        } else {
            slot.fill(now);
        }
    }

    fn eof_received(&mut self) -> bool {
        let now = Instant::now();
        let mut slot = self.0.borrow_mut();
        // The connection is ending: nothing more is sent on it.
        slot.transport = None;
        match slot.reader.eof() {
            Ok(Some(response)) => slot.answered(response.status, now),
            Ok(None) if slot.pending.is_empty() => {}
            Ok(None) | Err(ResponseError::Truncated) => slot.fail_in_flight(
                now,
                Failure::Read,
                Some(&"the server closed the connection mid-response"),
            ),
            Err(e) => slot.fail_in_flight(now, Failure::Parse, Some(&e)),
        }
        false
    }

    fn connection_lost(&mut self, error: Option<std::io::Error>) {
        let now = Instant::now();
        let reopen = {
            let mut slot = self.0.borrow_mut();
            slot.transport = None;
            let failure = if error.as_ref().is_some_and(|e| {
                matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::WriteZero
                )
            }) {
                Failure::Write
            } else {
                Failure::Read
            };
            if !slot.in_flight.is_empty() {
                let why: &dyn fmt::Display = match &error {
                    Some(e) => e,
                    None => &"the server closed the connection with requests unanswered",
                };
                slot.fail_in_flight(now, failure, Some(why));
            }
            slot.reader = ResponseReader::new();
            slot.pending.clear();
            !slot.draining && slot.may_send(now)
        };
        if reopen {
            if let Some(lp) = EventLoop::try_current() {
                connect(&lp, &self.0, Duration::ZERO);
            }
        }
    }

    fn shutdown_requested(&mut self) {
        let mut slot = self.0.borrow_mut();
        slot.draining = true;
        if let Some(transport) = slot.transport.take() {
            transport.close();
        }
    }
}
