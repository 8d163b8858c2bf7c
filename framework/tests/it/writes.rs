//! The transport's write and read paths beyond the basics in `tcp`:
//! `write_with` (serializing straight into the transport's buffer) and
//! reads that end without a `WouldBlock` (short reads, data then FIN).

use std::io::{Read, Write};
use std::net::Shutdown;
use std::rc::Rc;

use loopcore::{ErrorKind, EventLoop, ServerOptions};

use crate::support::{client, run_until, Probe, Seen};

#[test]
fn write_with_appends_in_place_in_order_with_write() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || {
            let mut p = Probe::new(&s);
            p.on_data = Some(Box::new(|t, data| {
                t.write(b"[").unwrap();
                let n = t
                    .write_with(|out| {
                        out.extend_from_slice(data);
                        data.len()
                    })
                    .unwrap();
                assert_eq!(n, data.len(), "write_with returns the closure's result");
                // Nothing appended: no error, nothing sent.
                t.write_with(|_| ()).unwrap();
                t.write(b"]").unwrap();
            }));
            p
        })
        .unwrap();
    let c = client(server.sockets()[0], |mut stream| {
        let mut answers = Vec::new();
        for msg in ["one", "two", "three"] {
            stream.write_all(msg.as_bytes()).unwrap();
            let mut buf = vec![0u8; msg.len() + 2];
            stream.read_exact(&mut buf).unwrap();
            answers.push(String::from_utf8(buf).unwrap());
        }
        answers
    });
    run_until(&lp, || c.is_finished());
    assert_eq!(c.join().unwrap(), ["[one]", "[two]", "[three]"]);
}

#[test]
fn write_with_refuses_nested_transport_calls_and_closed_transports() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || {
            let mut p = Probe::new(&s);
            p.on_data = Some(Box::new(|t, _| {
                let nested = t
                    .write_with(|out| {
                        out.extend_from_slice(b"outer;");
                        t.write(b"nested")
                    })
                    .unwrap();
                assert_eq!(nested.unwrap_err().kind(), ErrorKind::InvalidInput);
                t.close();
                let mut ran = false;
                let refused = t.write_with(|_| ran = true).unwrap_err();
                assert_eq!(refused.kind(), ErrorKind::Closed);
                assert!(!ran, "the closure does not run on a closing transport");
            }));
            p
        })
        .unwrap();
    let c = client(server.sockets()[0], |mut stream| {
        stream.write_all(b"go").unwrap();
        let mut all = String::new();
        stream.read_to_string(&mut all).unwrap();
        all
    });
    run_until(&lp, || c.is_finished());
    assert_eq!(
        c.join().unwrap(),
        "outer;",
        "close flushes what was appended"
    );
    run_until(&lp, || seen.lost.get() == 1);
}

/// The peer sends less than a read buffer and hangs up at once: the read
/// that comes back short must not end reading before the EOF is seen.
#[test]
fn data_then_fin_delivers_the_data_and_the_eof() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || {
            Probe::new(&s)
        })
        .unwrap();
    let addr = server.sockets()[0];
    for round in 0..20 {
        let c = client(addr, move |mut stream| {
            stream
                .write_all(format!("round {round}").as_bytes())
                .unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).unwrap();
            rest
        });
        let want = (round + 1) as u32;
        run_until(&lp, || seen.lost.get() == want);
        assert!(c.join().unwrap().is_empty());
        assert_eq!(seen.eofs.get(), want, "round {round}: EOF seen");
    }
    let expected: String = (0..20).map(|r| format!("round {r}")).collect();
    assert_eq!(
        String::from_utf8(seen.data.borrow().clone()).unwrap(),
        expected
    );
}

/// Bursts smaller than the read buffer, spaced so each read comes back
/// short: every later burst must still raise an event and be read.
#[test]
fn short_reads_still_see_every_later_burst() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Seen::default());
    let s = seen.clone();
    let server = lp
        .create_server("127.0.0.1:0", ServerOptions::default(), move || Probe {
            echo: true,
            ..Probe::new(&s)
        })
        .unwrap();
    let c = client(server.sockets()[0], |mut stream| {
        let mut echoed = 0;
        for i in 0..200u32 {
            let burst = vec![b'a' + (i % 26) as u8; 1 + (i as usize * 37) % 3000];
            stream.write_all(&burst).unwrap();
            let mut back = vec![0u8; burst.len()];
            stream.read_exact(&mut back).unwrap();
            assert_eq!(back, burst);
            echoed += back.len();
        }
        echoed
    });
    run_until(&lp, || c.is_finished());
    let echoed = c.join().unwrap();
    assert_eq!(echoed, seen.data.borrow().len());
}
