//! Integration tests of loopcore's event loop: one binary, a module per area.

mod admission;
mod connect;
mod executor;
mod fds;
mod http1_server;
mod hyper_serve;
mod lent_writes;
mod lifecycle;
mod panics;
mod port_in_use;
mod process;
mod runtime;
mod scheduling;
mod send_sync;
mod sendfile;
mod signals;
mod sock;
mod streams;
mod tasks;
mod tcp;
mod threadsafe;
mod timeouts;
mod timers;
mod tls;
mod tls_upgrade;
mod udp;
mod upgrade;
mod virtual_clock;
mod writes;

use std::cell::RefCell;
use std::rc::Rc;

/// A shared log that callbacks append to, for checking order.
#[derive(Clone, Default, Debug)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }
    pub fn entries(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}
