//! Handing an accepted connection to another loop while that loop may be
//! stopping (graceful shutdown, `runtime::serve`'s balancer): the target's
//! gate counts connections on their way to it and says whether it is
//! stopping. The sender counts itself in before it checks `stopping`; the
//! loop raises `stopping` before it checks the count; a full fence on each
//! side between the two makes sure at least one of them sees the other
//! (Dekker's handshake), so a loop never stops with a connection on its way.

use super::atomic::{fence, AtomicBool, AtomicU64, Ordering};

/// One loop's gate for handed-over connections.
#[derive(Debug, Default)]
pub(crate) struct HandoffGate {
    /// Connections handed to this loop and not yet set up there.
    in_flight: AtomicU64,
    /// The loop is about to stop: hand it nothing more.
    stopping: AtomicBool,
}

impl HandoffGate {
    /// The sending side: counts one connection in; false (and nothing
    /// counted) if the loop is stopping, and the sender must keep it.
    pub(crate) fn try_enter(&self) -> bool {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.stopping.load(Ordering::SeqCst) {
            self.leave();
            return false;
        }
        true
    }

    /// A counted connection was set up on the loop (or went down with a
    /// message that could not be posted).
    pub(crate) fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// The loop's side, once it has no connection left: from now on it is
    /// handed nothing more; true if nothing is on its way either, so it may
    /// stop (else it waits for the `leave`s and asks again).
    pub(crate) fn close_if_idle(&self) -> bool {
        self.stopping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// A hint for picking a target: connections on their way.
    pub(crate) fn in_flight_hint(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// A hint for picking a target: whether the loop is stopping.
    pub(crate) fn is_stopping_hint(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, loopcore_loom))]
mod loom_tests {
    use std::collections::VecDeque;

    use loom::sync::{Arc, Mutex};

    use super::HandoffGate;

    /// The target loop's mailbox of handed-over connections.
    struct Target {
        gate: HandoffGate,
        mailbox: Mutex<VecDeque<u32>>,
    }

    /// An accepting loop hands a connection to a loop that is shutting
    /// down: the connection is either kept by the sender or set up by the
    /// target before it stops; it is never posted to a stopped loop.
    #[test]
    fn a_stopping_loop_never_leaves_a_connection_behind() {
        loom::model(|| {
            let target = Arc::new(Target {
                gate: HandoffGate::default(),
                mailbox: Mutex::new(VecDeque::new()),
            });
            let sender = {
                let target = target.clone();
                loom::thread::spawn(move || {
                    if target.gate.try_enter() {
                        target.mailbox.lock().unwrap().push_back(7);
                        false
                    } else {
                        true // kept and served by the sender
                    }
                })
            };
            // The target: no connection of its own left; stop once nothing
            // is on its way, setting up whatever arrives meanwhile.
            let mut set_up = 0;
            while !target.gate.close_if_idle() {
                let arrived = target.mailbox.lock().unwrap().pop_front();
                match arrived {
                    Some(_) => {
                        set_up += 1;
                        target.gate.leave();
                    }
                    None => loom::thread::yield_now(),
                }
            }
            let kept = sender.join().unwrap();
            assert!(
                target.mailbox.lock().unwrap().is_empty(),
                "a connection was posted to a stopped loop"
            );
            assert_eq!(set_up + usize::from(kept), 1);
        });
    }
}
