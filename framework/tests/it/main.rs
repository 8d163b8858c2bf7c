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
mod support;
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

pub use support::Log;
