//! Writes of the bytes `data_received` was just given (an echo, a proxy):
//! the transport sends them from the loop's read buffer instead of copying
//! them, so these tests check that nothing a user relies on changes: the
//! order of every kind of write, EOF and close after them, abort and
//! panics dropping them, flow control, and writes to another connection.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::Duration;

use loopcore::{EventLoop, ServerOptions, Transport};

use crate::support::{client, run_until, Probe, Seen};

/// A server on 127.0.0.1 whose connections run `on_data` on every read.
fn server_with(
    lp: &EventLoop,
    seen: &Rc<Seen>,
    on_data: impl Fn(&Transport, &[u8]) + Clone + 'static,
) -> std::net::SocketAddr {
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || {
            let mut p = Probe::new(&s);
            let on_data = on_data.clone();
            p.on_data = Some(Box::new(move |t, data| on_data(t, data)));
            p
        })
        .unwrap();
    server.sockets()[0]
}

#[test]
fn bytes_just_read_keep_their_place_among_every_kind_of_write() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let sizes = Rc::new(RefCell::new(Vec::new()));
    let recorded = sizes.clone();
    let addr = server_with(&lp, &seen, move |t, data| {
        t.write(data).unwrap();
        recorded.borrow_mut().push(t.get_write_buffer_size());
        t.write_with(|out| out.push(b'+')).unwrap();
        t.write_owned(vec![b'x'; 5000]).unwrap();
        t.write(&data[1..]).unwrap();
        t.writelines(&[b"<", data, b">"]).unwrap();
    });
    let c = client(addr, |mut stream| {
        stream.write_all(b"abc").unwrap();
        let mut answer = vec![0u8; 3 + 1 + 5000 + 2 + 5];
        stream.read_exact(&mut answer).unwrap();
        answer
    });
    run_until(&lp, || c.is_finished());
    let answer = c.join().unwrap();
    let (head, rest) = answer.split_at(4);
    let (owned, tail) = rest.split_at(5000);
    assert_eq!(head, b"abc+");
    assert!(
        owned.iter().all(|&b| b == b'x'),
        "write_owned's bytes in place"
    );
    assert_eq!(tail, b"bc<abc>");
    assert_eq!(
        *sizes.borrow(),
        [3],
        "the write buffer's size counts bytes written from the read"
    );
}

#[test]
fn a_file_sent_after_bytes_just_read_comes_after_them() {
    let (path, content) = crate::support::test_file("after-lent-read", 100_000);
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let file_path = path.clone();
    let addr = server_with(&lp, &seen, move |t, data| {
        t.write(data).unwrap();
        let file = std::fs::File::open(&file_path).unwrap();
        t.sendfile(file, 0, None).unwrap();
        t.write(&data[..1]).unwrap();
    });
    let c = client(addr, |mut stream| {
        stream.write_all(b"xyz").unwrap();
        let mut answer = vec![0u8; 3 + 100_000 + 1];
        stream.read_exact(&mut answer).unwrap();
        answer
    });
    run_until(&lp, || c.is_finished());
    let answer = c.join().unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(&answer[..3], b"xyz");
    assert!(
        answer[3..100_003] == content[..],
        "the file's bytes, in place"
    );
    assert_eq!(&answer[100_003..], b"x");
}

#[test]
fn write_eof_and_close_after_bytes_just_read_send_them_first() {
    for ending in ["write_eof", "close"] {
        let lp = EventLoop::new().unwrap();
        let seen = Rc::new(Seen::default());
        let addr = server_with(&lp, &seen, move |t, data| {
            t.write(data).unwrap();
            if ending == "close" {
                t.close();
            } else {
                t.write_eof().unwrap();
            }
        });
        let c = client(addr, |mut stream| {
            stream.write_all(b"last words").unwrap();
            let mut all = Vec::new();
            stream.read_to_end(&mut all).unwrap();
            all
        });
        run_until(&lp, || c.is_finished());
        assert_eq!(c.join().unwrap(), b"last words", "{ending}");
        if ending == "close" {
            run_until(&lp, || seen.lost.get() == 1);
            assert!(!seen.lost_with_error.get());
        }
    }
}

#[test]
fn abort_or_a_panic_after_bytes_just_read_sends_none_of_them() {
    for ending in ["abort", "panic"] {
        let lp = EventLoop::new().unwrap();
        lp.set_exception_handler(Some(|_: &EventLoop, _: &loopcore::ExceptionContext| {}));
        let seen = Rc::new(Seen::default());
        let addr = server_with(&lp, &seen, move |t, data| {
            t.write(data).unwrap();
            if ending == "abort" {
                t.abort();
            } else {
                panic!("the protocol fails after writing");
            }
        });
        let c = client(addr, |mut stream| {
            stream.write_all(b"never echoed").unwrap();
            let mut all = Vec::new();
            // A reset is as good as an EOF here: what counts is no data.
            let _ = stream.read_to_end(&mut all);
            all
        });
        run_until(&lp, || c.is_finished());
        assert_eq!(c.join().unwrap(), b"", "{ending}");
        run_until(&lp, || seen.lost.get() == 1);
        assert_eq!(seen.lost_with_error.get(), ending == "panic", "{ending}");
    }
}

/// A proxy in one loop: what the second connection sends goes out on the
/// first, written from the second's read.
#[test]
fn bytes_just_read_can_be_written_to_another_connection() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let first: Rc<RefCell<Option<Transport>>> = Rc::default();
    let target = first.clone();
    let addr = server_with(&lp, &seen, move |t, data| {
        let mut target = target.borrow_mut();
        match &*target {
            None => *target = Some(t.clone()),
            Some(other) => {
                other.write(data).unwrap();
                // And the bytes again, on this connection.
                t.write(data).unwrap();
            }
        }
    });
    let receiver = client(addr, |mut stream| {
        stream.write_all(b"me first").unwrap();
        let mut got = vec![0u8; 5];
        stream.read_exact(&mut got).unwrap();
        got
    });
    run_until(&lp, || first.borrow().is_some());
    let sender = client(addr, |mut stream| {
        stream.write_all(b"hello").unwrap();
        let mut got = vec![0u8; 5];
        stream.read_exact(&mut got).unwrap();
        got
    });
    run_until(&lp, || receiver.is_finished() && sender.is_finished());
    assert_eq!(receiver.join().unwrap(), b"hello");
    assert_eq!(sender.join().unwrap(), b"hello");
}

/// A peer that sends a lot before it reads: the echo of each read outgrows
/// what the kernel takes, the rest is buffered, writing pauses, and every
/// byte comes back in order.
#[test]
fn an_echo_to_a_peer_that_reads_late_loses_and_reorders_nothing() {
    const TOTAL: usize = 8 << 20;
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let addr = server_with(&lp, &seen, |t, data| t.write(data).unwrap());
    let c = client(addr, |stream| {
        let mut writer = stream.try_clone().unwrap();
        let sending = std::thread::spawn(move || {
            let message: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
            writer.write_all(&message).unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
        });
        // Let the server's buffer fill up first.
        std::thread::sleep(Duration::from_millis(300));
        let mut reader = stream;
        let mut echoed = Vec::with_capacity(TOTAL);
        let mut chunk = vec![0u8; 64 * 1024];
        while echoed.len() < TOTAL {
            let n = reader.read(&mut chunk).unwrap();
            assert!(n > 0, "the echo ended after {} bytes", echoed.len());
            echoed.extend_from_slice(&chunk[..n]);
        }
        sending.join().unwrap();
        echoed
    });
    run_until(&lp, || c.is_finished());
    let echoed = c.join().unwrap();
    let first_wrong = echoed
        .iter()
        .enumerate()
        .find(|&(i, &byte)| byte != (i % 251) as u8)
        .map(|(i, _)| i);
    assert_eq!(first_wrong, None, "every byte back, in order");
    assert!(
        seen.pauses.get() >= 1,
        "writing paused while the peer did not read"
    );
}
