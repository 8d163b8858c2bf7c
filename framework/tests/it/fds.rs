//! add_reader / add_writer / remove_*: level-triggered fd callbacks.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use loopcore::{ErrorKind, EventLoop};

use crate::Log;

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

#[test]
fn a_reader_fires_when_data_arrives_and_stops_after_removal() {
    let lp = EventLoop::new().unwrap();
    let (rsock, mut wsock) = pair();
    let fd = rsock.as_raw_fd();
    let log = Log::default();
    let l = log.clone();
    let rsock = Rc::new(rsock);
    let r = rsock.clone();
    lp.add_reader(fd, move |lp| {
        let mut buf = [0u8; 100];
        let n = (&*r).read(&mut buf).unwrap();
        l.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        assert!(lp.remove_reader(fd));
        lp.stop();
    })
    .unwrap();
    lp.call_soon(move |_| {
        wsock.write_all(b"abc").unwrap();
    });
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["abc"]);
    assert!(!lp.remove_reader(fd), "already removed");
}

#[test]
fn readers_are_level_triggered() {
    let lp = EventLoop::new().unwrap();
    let (rsock, mut wsock) = pair();
    wsock.write_all(&[7u8; 10]).unwrap();
    let fd = rsock.as_raw_fd();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    // Reads one byte per call: an edge-triggered loop would call it once.
    lp.add_reader(fd, move |lp| {
        let mut byte = [0u8; 1];
        (&rsock).read_exact(&mut byte).unwrap();
        c.set(c.get() + 1);
        if c.get() == 10 {
            lp.remove_reader(fd);
            lp.stop();
        }
    })
    .unwrap();
    lp.run_forever().unwrap();
    assert_eq!(calls.get(), 10);
}

#[test]
fn adding_again_replaces_the_callback() {
    let lp = EventLoop::new().unwrap();
    let (rsock, mut wsock) = pair();
    let fd = rsock.as_raw_fd();
    let log = Log::default();
    let l = log.clone();
    lp.add_reader(fd, move |_| l.push("old")).unwrap();
    let l = log.clone();
    lp.add_reader(fd, move |lp| {
        let mut buf = [0u8; 8];
        let _ = (&rsock).read(&mut buf);
        l.push("new");
        lp.remove_reader(fd);
        lp.stop();
    })
    .unwrap();
    wsock.write_all(b"x").unwrap();
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["new"]);
}

#[test]
fn writers_fire_while_writable_and_coexist_with_readers() {
    let lp = EventLoop::new().unwrap();
    let (a, b) = pair();
    let fd = a.as_raw_fd();
    let log = Log::default();
    let l = log.clone();
    lp.add_reader(fd, move |_| l.push("reader")).unwrap();
    let l = log.clone();
    lp.add_writer(fd, move |lp| {
        l.push("writer");
        assert!(lp.remove_writer(fd));
        lp.stop();
    })
    .unwrap();
    lp.run_forever().unwrap();
    assert_eq!(log.entries(), ["writer"]);
    // The reader is still registered and fires once data comes.
    (&b).write_all(b"ping").unwrap();
    let l = log.clone();
    lp.call_later(std::time::Duration::from_millis(5), move |lp| {
        l.push("stop");
        lp.stop();
    });
    lp.run_forever().unwrap();
    let entries = log.entries();
    assert_eq!(entries[1], "reader");
    assert!(lp.remove_reader(fd));
    assert!(!lp.remove_writer(fd));
    drop(a);
}

#[test]
fn a_reader_may_remove_and_re_add_itself_from_its_callback() {
    let lp = EventLoop::new().unwrap();
    let (rsock, mut wsock) = pair();
    let fd = rsock.as_raw_fd();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let rsock = Rc::new(rsock);
    let r = rsock.clone();
    lp.add_reader(fd, move |lp| {
        let mut buf = [0u8; 8];
        let _ = (&*r).read(&mut buf);
        c.set(c.get() + 1);
        assert!(lp.remove_reader(fd));
        let c2 = c.clone();
        let r2 = r.clone();
        lp.add_reader(fd, move |lp| {
            let _ = (&*r2).read(&mut [0u8; 8]);
            c2.set(c2.get() + 100);
            lp.remove_reader(fd);
            lp.stop();
        })
        .unwrap();
    })
    .unwrap();
    wsock.write_all(b"1").unwrap();
    lp.call_later(std::time::Duration::from_millis(2), move |_| {
        wsock.write_all(b"2").unwrap();
    });
    lp.run_forever().unwrap();
    assert_eq!(calls.get(), 101);
}

#[test]
fn regular_files_and_bad_fds_are_clear_errors() {
    let lp = EventLoop::new().unwrap();
    let file = std::fs::File::open("/proc/self/exe").unwrap();
    let err = lp.add_reader(file.as_raw_fd(), |_| {}).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidFd);
    assert!(err.to_string().contains("regular files"), "{err}");
    assert_eq!(
        lp.add_reader(-1, |_| {}).unwrap_err().kind(),
        ErrorKind::InvalidFd
    );
    assert_eq!(
        lp.add_writer(987_654, |_| {}).unwrap_err().kind(),
        ErrorKind::InvalidFd
    );
    assert!(!lp.remove_reader(file.as_raw_fd()));
}

#[test]
fn a_panicking_reader_stays_registered_and_the_loop_runs_on() {
    let lp = EventLoop::new().unwrap();
    lp.set_exception_handler(Some(|_: &EventLoop, _: &loopcore::ExceptionContext| {}));
    let (rsock, mut wsock) = pair();
    let fd = rsock.as_raw_fd();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    lp.add_reader(fd, move |lp| {
        let _ = (&rsock).read(&mut [0u8; 1]);
        c.set(c.get() + 1);
        if c.get() == 2 {
            lp.remove_reader(fd);
            lp.stop();
            return;
        }
        panic!("reader failed");
    })
    .unwrap();
    wsock.write_all(b"ab").unwrap();
    lp.run_forever().unwrap();
    assert_eq!(calls.get(), 2);
    assert_eq!(lp.stats().panics, 1);
}
