//! `add_reader`/`add_writer`: level-triggered fd callbacks, asyncio-style,
//! on top of mio's edge-triggered epoll.
//!
//! Invariants:
//! 1. One mio registration per fd, whose interest is the union of reader
//!    and writer; it is dropped when both are removed.
//! 2. Level semantics: after a callback runs, the fd is asked (`poll(2)`,
//!    zero timeout) whether it is still ready; if so it is queued again
//!    rather than waiting for an edge that may never come.
//! 3. At most one queued item per fd and direction (`read_queued`).
//! 4. A callback is taken out of its slot while it runs (no borrow across
//!    user code); it is put back only if nobody removed or replaced it
//!    meanwhile (the slot's version is unchanged).
//! 5. A queued item carries the watch's `SourceKey`: items for a removed
//!    watch whose slot was reused are ignored.

use std::collections::HashMap;
use std::os::fd::RawFd;

use mio::event::Event;
use mio::unix::SourceFd;
use mio::{Interest, Registry};

use crate::event_loop::{Callback, Ready};
use crate::proto::ready_queue::ReadyQueue;
use crate::source_table::{token, SourceKind};
use crate::source_table::{SourceKey, SourceTable};
use crate::sys::{self, Readiness};
use crate::{Error, ErrorKind, EventLoop, Result};

type FdCallback = Box<dyn FnMut(&EventLoop)>;

/// A queued fd callback.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WatchReady {
    key: SourceKey,
    readiness: Readiness,
}

struct Slot {
    version: u64,
    /// `None` while the callback runs.
    callback: Option<FdCallback>,
}

struct Watch {
    fd: RawFd,
    reader: Option<Slot>,
    writer: Option<Slot>,
    read_queued: bool,
    write_queued: bool,
}

impl Watch {
    fn interest(&self) -> Option<Interest> {
        match (self.reader.is_some(), self.writer.is_some()) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        }
    }

    fn slot_mut(&mut self, readiness: Readiness) -> &mut Option<Slot> {
        match readiness {
            Readiness::Readable => &mut self.reader,
            Readiness::Writable => &mut self.writer,
        }
    }

    fn queued_mut(&mut self, readiness: Readiness) -> &mut bool {
        match readiness {
            Readiness::Readable => &mut self.read_queued,
            Readiness::Writable => &mut self.write_queued,
        }
    }
}

/// The fds a loop watches.
#[derive(Default)]
pub(crate) struct Watches {
    table: SourceTable<Watch>,
    by_fd: HashMap<RawFd, SourceKey>,
    next_version: u64,
}

impl Watches {
    /// Queues the callbacks an epoll event makes runnable.
    pub(crate) fn on_event(
        &mut self,
        key: usize,
        event: &Event,
        ready: &mut ReadyQueue<Callback, Ready>,
    ) {
        let Some((key, watch)) = self.table.get_by_slot_mut(key) else {
            return;
        };
        let readable = event.is_readable() || event.is_read_closed() || event.is_error();
        let writable = event.is_writable() || event.is_write_closed() || event.is_error();
        for (hit, readiness) in [
            (readable, Readiness::Readable),
            (writable, Readiness::Writable),
        ] {
            if hit && watch.slot_mut(readiness).is_some() && !*watch.queued_mut(readiness) {
                *watch.queued_mut(readiness) = true;
                ready.push(Ready::Watch(WatchReady { key, readiness }));
            }
        }
    }

    /// Forgets every watch, deregistering its fd (the fds stay open).
    pub(crate) fn deregister_all(&self, registry: &Registry) {
        for (_, watch) in self.table.iter() {
            let _ = registry.deregister(&mut SourceFd(&watch.fd));
        }
    }
}

/// Runs one queued fd callback, then re-checks the level (invariant 2).
pub(crate) fn run_watch(lp: &EventLoop, io: WatchReady) -> &'static str {
    let source = match io.readiness {
        Readiness::Readable => "reader callback",
        Readiness::Writable => "writer callback",
    };
    let taken = {
        let mut watches = lp.core.watches.borrow_mut();
        watches.table.get_mut(io.key).and_then(|watch| {
            *watch.queued_mut(io.readiness) = false;
            watch
                .slot_mut(io.readiness)
                .as_mut()
                .and_then(|slot| Some((slot.version, slot.callback.take()?)))
        })
    };
    let Some((version, mut callback)) = taken else {
        return source;
    };
    lp.guarded(source, || callback(lp));
    let mut watches = lp.core.watches.borrow_mut();
    let Some(watch) = watches.table.get_mut(io.key) else {
        drop(watches);
        drop(callback);
        return source;
    };
    let mut leftover = None;
    match watch.slot_mut(io.readiness) {
        Some(slot) if slot.version == version && slot.callback.is_none() => {
            slot.callback = Some(callback);
        }
        _ => leftover = Some(callback),
    }
    let fd = watch.fd;
    if watch.slot_mut(io.readiness).is_some()
        && !*watch.queued_mut(io.readiness)
        && sys::is_ready(fd, io.readiness)
    {
        *watch.queued_mut(io.readiness) = true;
        let again = Ready::Watch(io);
        drop(watches);
        lp.core.ready.borrow_mut().push(again);
    } else {
        drop(watches);
    }
    drop(leftover);
    source
}

impl EventLoop {
    /// Calls `callback` whenever `fd` is readable (level-triggered, like
    /// asyncio: a callback that does not drain the fd is called again).
    /// Adding a reader for an fd that has one replaces the callback.
    ///
    /// The fd must stay open until [`remove_reader`](Self::remove_reader);
    /// epoll refuses regular files (an error of kind
    /// [`InvalidFd`](ErrorKind::InvalidFd)).
    pub fn add_reader<F>(&self, fd: RawFd, callback: F) -> Result<()>
    where
        F: FnMut(&EventLoop) + 'static,
    {
        self.add_watch(fd, Readiness::Readable, Box::new(callback))
    }

    /// Calls `callback` whenever `fd` is writable (level-triggered).
    /// Adding a writer for an fd that has one replaces the callback.
    pub fn add_writer<F>(&self, fd: RawFd, callback: F) -> Result<()>
    where
        F: FnMut(&EventLoop) + 'static,
    {
        self.add_watch(fd, Readiness::Writable, Box::new(callback))
    }

    /// Stops watching `fd` for reading; true if a reader was registered.
    /// Always false on a closed loop.
    pub fn remove_reader(&self, fd: RawFd) -> bool {
        self.remove_watch(fd, Readiness::Readable)
    }

    /// Stops watching `fd` for writing; true if a writer was registered.
    pub fn remove_writer(&self, fd: RawFd) -> bool {
        self.remove_watch(fd, Readiness::Writable)
    }

    fn add_watch(&self, fd: RawFd, readiness: Readiness, callback: FdCallback) -> Result<()> {
        if self.is_closed() {
            return Err(Error::closed());
        }
        if fd < 0 {
            return Err(Error::new(
                ErrorKind::InvalidFd,
                format!("invalid file descriptor {fd}"),
            ));
        }
        let poll = self.registry_poll();
        let registry = poll.registry();
        let mut watches = self.core.watches.borrow_mut();
        let watches = &mut *watches;
        watches.next_version += 1;
        let slot = Slot {
            version: watches.next_version,
            callback: Some(callback),
        };
        let replaced;
        if let Some(&key) = watches.by_fd.get(&fd) {
            let watch = watches
                .table
                .get_mut(key)
                .expect("by_fd names live watches");
            let before = watch.interest();
            replaced = watch.slot_mut(readiness).replace(slot);
            let after = watch.interest();
            if before != after {
                let interest = after.expect("a slot was just filled");
                let result = match registry.reregister(
                    &mut SourceFd(&fd),
                    token(SourceKind::Watch, key.slot()),
                    interest,
                ) {
                    // The fd was closed and its number reused without
                    // remove_*: epoll forgot it, so register afresh.
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => registry.register(
                        &mut SourceFd(&fd),
                        token(SourceKind::Watch, key.slot()),
                        interest,
                    ),
                    other => other,
                };
                if let Err(e) = result {
                    let watch = watches
                        .table
                        .get_mut(key)
                        .expect("by_fd names live watches");
                    let failed = std::mem::replace(watch.slot_mut(readiness), replaced);
                    drop(failed);
                    return Err(register_error(fd, e));
                }
            }
        } else {
            let key = watches.table.next_key();
            if let Err(e) = registry.register(
                &mut SourceFd(&fd),
                token(SourceKind::Watch, key.slot()),
                readiness.interest(),
            ) {
                return Err(register_error(fd, e));
            }
            let mut watch = Watch {
                fd,
                reader: None,
                writer: None,
                read_queued: false,
                write_queued: false,
            };
            *watch.slot_mut(readiness) = Some(slot);
            let key = watches.table.insert(watch);
            watches.by_fd.insert(fd, key);
            replaced = None;
        }
        drop(poll);
        // The old callback's Drop runs outside every borrow.
        drop(replaced);
        Ok(())
    }

    fn remove_watch(&self, fd: RawFd, readiness: Readiness) -> bool {
        if self.is_closed() {
            return false;
        }
        let poll = self.registry_poll();
        let registry = poll.registry();
        let mut watches = self.core.watches.borrow_mut();
        let Some(&key) = watches.by_fd.get(&fd) else {
            return false;
        };
        let watch = watches
            .table
            .get_mut(key)
            .expect("by_fd names live watches");
        let Some(removed) = watch.slot_mut(readiness).take() else {
            return false;
        };
        *watch.queued_mut(readiness) = false;
        match watch.interest() {
            Some(interest) => {
                let _ = registry.reregister(
                    &mut SourceFd(&fd),
                    token(SourceKind::Watch, key.slot()),
                    interest,
                );
            }
            None => {
                // EBADF/ENOENT mean the fd is already closed: nothing to undo.
                let _ = registry.deregister(&mut SourceFd(&fd));
                watches.table.remove(key);
                watches.by_fd.remove(&fd);
            }
        }
        drop(watches);
        drop(poll);
        drop(removed);
        true
    }
}

impl Readiness {
    fn interest(self) -> Interest {
        match self {
            Readiness::Readable => Interest::READABLE,
            Readiness::Writable => Interest::WRITABLE,
        }
    }
}

fn register_error(fd: RawFd, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EPERM) => Error::new(
            ErrorKind::InvalidFd,
            format!(
                "fd {fd} cannot be watched: epoll does not support regular files or directories"
            ),
        ),
        Some(libc::EBADF) => Error::new(ErrorKind::InvalidFd, format!("fd {fd} is not open")),
        _ => Error::io(format!("registering fd {fd} with epoll"), e),
    }
}
