//! A test client that speaks plain TCP or TLS (rustls, driven by hand so
//! the hostile cases control every write), with the misbehaviours the
//! hostile suites need: half-close, reset, and sending without reading.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loopcore::rustls;

/// Plain TCP or TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Plain,
    Tls,
}

/// One client connection.
pub struct Peer {
    socket: TcpStream,
    tls: Option<rustls::ClientConnection>,
}

/// How long a read waits before the test calls the server stuck.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

impl Peer {
    /// Connects (and for TLS, sets up a session that accepts the test
    /// server's self-signed certificate; the handshake runs on first use).
    pub fn connect(addr: SocketAddr, security: Security) -> Self {
        let socket = TcpStream::connect(addr).unwrap();
        socket.set_nodelay(true).unwrap();
        socket.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let tls = (security == Security::Tls).then(|| {
            let config =
                loopcore::tls::dangerous::client_config_accepting_any_certificate(&[]).unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            rustls::ClientConnection::new(config, name).unwrap()
        });
        Self { socket, tls }
    }

    /// The TCP socket underneath.
    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// Sends FIN after everything written (TLS: after `close_notify`).
    pub fn shutdown_write(&mut self) {
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
        }
        self.flush().unwrap();
        self.socket.shutdown(Shutdown::Write).unwrap();
    }

    /// Everything until the server closes; panics on a timeout or a TLS
    /// session cut without `close_notify`.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.read_to_end(&mut out)
            .expect("the server closes cleanly");
        out
    }

    /// Closes with a reset (linger 0) instead of a FIN.
    pub fn reset(self) {
        socket2::SockRef::from(&self.socket)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    }

    /// Writes `pattern` over and over without reading until the server
    /// holds the writes back for `stalled` (it stopped reading and the
    /// kernel buffers are full), or `cap` bytes are out; returns how many
    /// bytes were sent (for TLS: taken by the session).
    pub fn send_until_held_back(&mut self, pattern: &[u8], stalled: Duration, cap: usize) -> usize {
        self.send_while(pattern, |sent, since_progress| {
            sent < cap && since_progress < stalled
        })
    }

    /// Writes `pattern` over and over without reading for `duration`,
    /// pushing whenever the server lets it; returns how many bytes were
    /// sent.
    pub fn send_for(&mut self, pattern: &[u8], duration: Duration) -> usize {
        let start = Instant::now();
        self.send_while(pattern, |_, _| start.elapsed() < duration)
    }

    /// Writes `pattern` over and over, never splitting it wrongly (a write
    /// held back resumes where it stopped), while `go_on(sent, time since
    /// the last progress)` holds.
    fn send_while(
        &mut self,
        pattern: &[u8],
        mut go_on: impl FnMut(usize, Duration) -> bool,
    ) -> usize {
        if let Some(tls) = &mut self.tls {
            while tls.is_handshaking() {
                tls.complete_io(&mut self.socket).unwrap();
            }
        }
        self.socket.set_nonblocking(true).unwrap();
        let mut sent = 0usize;
        let mut offset = 0usize;
        let mut last_progress = Instant::now();
        while go_on(sent, last_progress.elapsed()) {
            let chunk = &pattern[offset..];
            let written = match &mut self.tls {
                None => match self.socket.write(chunk) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                    Err(e) => panic!("writing: {e}"),
                },
                Some(tls) => {
                    pump_writes(tls, &mut self.socket);
                    if tls.wants_write() {
                        0
                    } else {
                        // Taken only once the last records left: what is
                        // counted as sent is on the wire.
                        let n = tls.writer().write(chunk).unwrap();
                        pump_writes(tls, &mut self.socket);
                        n
                    }
                }
            };
            if written == 0 {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            last_progress = Instant::now();
            sent += written;
            offset = (offset + written) % pattern.len();
        }
        self.socket.set_nonblocking(false).unwrap();
        sent
    }

    /// Reads exactly `n` bytes, flushing the session's own pending records
    /// as it goes (a TLS peer that was held back may still have some).
    pub fn receive_exactly(&mut self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        match &mut self.tls {
            None => self.socket.read_exact(&mut out).unwrap(),
            Some(tls) => {
                self.socket.set_nonblocking(true).unwrap();
                let deadline = Instant::now() + READ_TIMEOUT * 3;
                let mut filled = 0;
                while filled < n {
                    assert!(Instant::now() < deadline, "{filled} of {n} bytes came back");
                    pump_writes(tls, &mut self.socket);
                    match tls.read_tls(&mut self.socket) {
                        Ok(0) => panic!("closed after {filled} of {n} bytes"),
                        Ok(_) => {
                            tls.process_new_packets().unwrap();
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        Err(e) => panic!("reading: {e}"),
                    }
                    match tls.reader().read(&mut out[filled..]) {
                        Ok(0) => panic!("close_notify after {filled} of {n} bytes"),
                        Ok(got) => filled += got,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => panic!("reading: {e}"),
                    }
                }
                self.socket.set_nonblocking(false).unwrap();
            }
        }
        out
    }

    /// Writes `data` in `chunk`-sized pieces, reading each one's echo
    /// before sending the next, and checks the echo.
    pub fn echo_in_lockstep(&mut self, data: &[u8], chunk: usize) {
        for piece in data.chunks(chunk) {
            self.write_all(piece).unwrap();
            self.flush().unwrap();
            assert_eq!(self.receive_exactly(piece.len()), piece, "echo differs");
        }
    }
}

/// Writes the session's pending records until the socket would block.
fn pump_writes(tls: &mut rustls::ClientConnection, socket: &mut TcpStream) {
    while tls.wants_write() {
        match tls.write_tls(socket) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("writing: {e}"),
        }
    }
}

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.tls {
            None => self.socket.read(buf),
            Some(tls) => rustls::Stream::new(tls, &mut self.socket).read(buf),
        }
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            None => self.socket.write(buf),
            Some(tls) => rustls::Stream::new(tls, &mut self.socket).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.tls {
            None => self.socket.flush(),
            Some(tls) => rustls::Stream::new(tls, &mut self.socket).flush(),
        }
    }
}

/// A TLS server configuration with a fresh self-signed certificate.
pub fn server_tls_config() -> Arc<rustls::ServerConfig> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    loopcore::tls::server_config(
        vec![certified.cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into()),
        &[],
    )
    .unwrap()
}
