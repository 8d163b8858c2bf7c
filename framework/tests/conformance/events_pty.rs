//! CPython 3.12 `Lib/test/test_asyncio/test_events.py`, the pseudo-terminal
//! tests of `EventLoopTestsMixin`: pipe transports over a pty's master and
//! slave ends.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use loopcore::EventLoop;

use crate::capture_exceptions;
use crate::events::{run_until, MyProto};

/// Python's `os.openpty()`: (master, slave).
fn openpty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two fds into the ints it is given; the name,
    // termios and winsize pointers may be null.
    let ret = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(ret, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty succeeded: both are open fds that nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// Python's `tty.setraw(fd)`: no echo, no line discipline, no output
/// translation.
fn set_raw(fd: &OwnedFd) {
    // SAFETY: termios is plain data; tcgetattr fills it from an open tty.
    let mut termios: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is an open tty and `termios` a valid place to write.
    assert_eq!(unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut termios) }, 0);
    // SAFETY: cfmakeraw only edits the struct it is given.
    unsafe { libc::cfmakeraw(&mut termios) };
    // SAFETY: `fd` is an open tty and `termios` a valid setting.
    let set = unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSAFLUSH, &termios) };
    assert_eq!(set, 0);
}

/// The non-blocking reads of the test's `reader(data)`: what the master
/// end has, appended to `data`; the length so far.
fn read_into(end: &std::fs::File, data: &RefCell<Vec<u8>>) -> usize {
    let mut buf = [0u8; 1024];
    if let Ok(n) = (&*end).read(&mut buf) {
        data.borrow_mut().extend_from_slice(&buf[..n]);
    }
    data.borrow().len()
}

/// A pty end as a non-blocking file, for the test's own reads.
fn nonblocking(fd: OwnedFd) -> std::fs::File {
    // SAFETY: F_SETFL with O_NONBLOCK on an open fd this test owns.
    let set = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    assert_eq!(set, 0);
    std::fs::File::from(fd)
}

#[test]
fn test_read_pty_output() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_read_pty_output
    let lp = EventLoop::new().unwrap();
    let messages = capture_exceptions(&lp);
    let (master, slave) = openpty();
    let (proto, pr) = MyProto::new(false);
    let transport = lp.connect_read_pipe(master, proto).unwrap();
    assert_eq!(pr.borrow().state, "CONNECTED");
    assert_eq!(pr.borrow().nbytes, 0);
    let mut slave = std::fs::File::from(slave);
    slave.write_all(b"1").unwrap();
    run_until(&lp, "1 byte", || pr.borrow().nbytes >= 1);
    assert_eq!(pr.borrow().nbytes, 1);
    slave.write_all(b"2345").unwrap();
    run_until(&lp, "5 bytes", || pr.borrow().nbytes >= 5);
    assert_eq!(pr.borrow().state, "CONNECTED");
    assert_eq!(pr.borrow().nbytes, 5);
    drop(slave);
    transport.close();
    run_until(&lp, "done", || pr.borrow().done);
    assert_eq!(pr.borrow().state, "CLOSED");
    // The extra info `pipe` is the fd.
    let _ = transport.as_raw_fd();
    assert!(messages.borrow().is_empty(), "{:?}", messages.borrow());
}

#[test]
fn test_write_pty() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_write_pty
    let lp = EventLoop::new().unwrap();
    let (master, slave) = openpty();
    let master = nonblocking(master);
    let (proto, pr) = MyProto::new(false);
    let transport = lp.connect_write_pipe(slave, proto).unwrap();
    assert_eq!(pr.borrow().state, "CONNECTED");
    let data = RefCell::new(Vec::new());
    transport.write(b"1").unwrap();
    run_until(&lp, "1 byte", || read_into(&master, &data) >= 1);
    assert_eq!(*data.borrow(), b"1");
    transport.write(b"2345").unwrap();
    run_until(&lp, "5 bytes", || read_into(&master, &data) >= 5);
    assert_eq!(*data.borrow(), b"12345");
    assert_eq!(pr.borrow().state, "CONNECTED");
    drop(master);
    let _ = transport.as_raw_fd();
    transport.close();
    run_until(&lp, "done", || pr.borrow().done);
    assert_eq!(pr.borrow().state, "CLOSED");
}

#[test]
fn test_bidirectional_pty() {
    // CPython 3.12 test_events.EventLoopTestsMixin.test_bidirectional_pty
    let lp = EventLoop::new().unwrap();
    let (master, read_slave) = openpty();
    let write_slave = read_slave.try_clone().unwrap();
    set_raw(&read_slave);
    let (read_proto, read_pr) = MyProto::new(false);
    let read_transport = lp.connect_read_pipe(read_slave, read_proto).unwrap();
    assert_eq!(read_pr.borrow().state, "CONNECTED");
    assert_eq!(read_pr.borrow().nbytes, 0);
    let (write_proto, write_pr) = MyProto::new(false);
    let write_transport = lp.connect_write_pipe(write_slave, write_proto).unwrap();
    assert_eq!(write_pr.borrow().state, "CONNECTED");
    let mut master = nonblocking(master);
    let data = RefCell::new(Vec::new());

    write_transport.write(b"1").unwrap();
    run_until(&lp, "1 byte at the master", || {
        read_into(&master, &data) >= 1
    });
    assert_eq!(*data.borrow(), b"1");
    assert_eq!(read_pr.borrow().state, "CONNECTED");
    assert_eq!(write_pr.borrow().state, "CONNECTED");

    master.write_all(b"a").unwrap();
    run_until(&lp, "1 byte at the slave", || read_pr.borrow().nbytes >= 1);
    assert_eq!(read_pr.borrow().state, "CONNECTED");
    assert_eq!(read_pr.borrow().nbytes, 1);
    assert_eq!(write_pr.borrow().state, "CONNECTED");

    write_transport.write(b"2345").unwrap();
    run_until(&lp, "5 bytes at the master", || {
        read_into(&master, &data) >= 5
    });
    assert_eq!(*data.borrow(), b"12345");
    assert_eq!(read_pr.borrow().state, "CONNECTED");
    assert_eq!(write_pr.borrow().state, "CONNECTED");

    master.write_all(b"bcde").unwrap();
    run_until(&lp, "5 bytes at the slave", || read_pr.borrow().nbytes >= 5);
    assert_eq!(read_pr.borrow().state, "CONNECTED");
    assert_eq!(read_pr.borrow().nbytes, 5);
    assert_eq!(write_pr.borrow().state, "CONNECTED");

    drop(master);
    read_transport.close();
    run_until(&lp, "the reader done", || read_pr.borrow().done);
    assert_eq!(read_pr.borrow().state, "CLOSED");
    write_transport.close();
    run_until(&lp, "the writer done", || write_pr.borrow().done);
    assert_eq!(write_pr.borrow().state, "CLOSED");
}
