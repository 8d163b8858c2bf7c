//! Idle timeouts on stream connections, which asyncio leaves to the user
//! but a server facing the internet needs: a connection on which no byte
//! moved, received or sent, for its timeout is aborted, its protocol's
//! `connection_lost` gets `TimedOut`, and the loop counts it
//! (`idle_timeouts`). Sent bytes count so that a slow download is not cut;
//! a peer that stops reading stalls the sends and is idle.
//!
//! Reads and writes only note the time (the loop's iteration time, not a
//! clock read per call); the one timer per connection is re-armed when it
//! fires early, so a busy connection costs no timer work per request.

use std::io;
use std::time::{Duration, Instant};

use crate::event_loop::Core;
use crate::handle::TimerHandle;
use crate::source_table::SourceKey;
use crate::EventLoop;

/// One connection's idle timeout.
pub(crate) struct IdleTimer {
    pub(crate) timeout: Duration,
    /// When a byte last arrived or left (the loop's iteration time).
    pub(crate) last_activity: Instant,
    pub(crate) timer: Option<TimerHandle>,
}

impl IdleTimer {
    /// A byte arrived or left: notes the loop's iteration time.
    #[inline]
    pub(crate) fn touch(&mut self, core: &Core) {
        // Outside an iteration (a flush before the first poll of a run)
        // there is no iteration time: read the clock then, rarely.
        self.last_activity = core.iteration_now();
    }

    pub(crate) fn cancel(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.cancel();
        }
    }
}

impl super::Conn {
    /// The idle timeout in force, if any.
    pub(in crate::io) fn idle_timeout(&self) -> Option<Duration> {
        self.idle.as_ref().map(|idle| idle.timeout)
    }
}

impl EventLoop {
    /// Sets, replaces or (with `None`) removes a connection's idle timeout.
    pub(crate) fn set_idle_timeout(&self, key: SourceKey, timeout: Option<Duration>) {
        let now = self.time();
        let due = {
            let mut conns = self.core.io.conns.borrow_mut();
            let Some(conn) = conns.get_mut(key) else {
                return;
            };
            if let Some(mut idle) = conn.idle.take() {
                idle.cancel();
            }
            let Some(timeout) = timeout else {
                return;
            };
            conn.idle = Some(Box::new(IdleTimer {
                timeout,
                last_activity: now,
                timer: None,
            }));
            now + timeout
        };
        self.arm_idle(key, due);
    }

    fn arm_idle(&self, key: SourceKey, at: Instant) {
        let timer = self.call_at(at, move |lp| lp.idle_timer_fired(key));
        let mut conns = self.core.io.conns.borrow_mut();
        match conns.get_mut(key).and_then(|c| c.idle.as_mut()) {
            Some(idle) => idle.timer = Some(timer),
            None => timer.cancel(),
        }
    }

    fn idle_timer_fired(&self, key: SourceKey) {
        let core = &self.core;
        let now = self.time();
        let rearm = {
            let mut conns = core.io.conns.borrow_mut();
            let Some(conn) = conns.get_mut(key) else {
                return;
            };
            let Some(idle) = conn.idle.as_mut() else {
                return;
            };
            idle.timer = None;
            let due = idle.last_activity + idle.timeout;
            if due > now {
                Some(due)
            } else {
                let timeout = idle.timeout;
                if !conn.is_lost() {
                    core.shared.counters.idle_timeouts.add(1);
                    let error = io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("nothing sent or received for {timeout:?} (idle timeout)"),
                    );
                    conn.fail(core, key, error);
                }
                None
            }
        };
        if let Some(due) = rearm {
            self.arm_idle(key, due);
        }
    }
}
