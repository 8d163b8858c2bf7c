//! TLS handshakes per second against a server, full or resumed: one
//! thread, sequential connections, each doing a complete handshake and one
//! HTTP request (so the server's side of the handshake is finished), then
//! closing. `full` disables resumption; `resumed` shares one client
//! configuration, so every connection after the first resumes with a
//! session ticket.
//! Usage: `tls_handshakes ADDR CA_PEM full|resumed SECONDS`; prints
//! `handshakes=N seconds=S resumed=R`.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loopcore::rustls;

const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, ca, mode, seconds] = args.as_slice() else {
        return Err("usage: tls_handshakes ADDR CA_PEM full|resumed SECONDS".into());
    };
    let seconds: f64 = seconds.parse()?;
    let config = loopcore::tls::client_config_from_ca_pem(ca, &[b"http/1.1"])?;
    let config: Arc<rustls::ClientConfig> = match mode.as_str() {
        "resumed" => config,
        "full" => {
            let mut config = (*config).clone();
            config.resumption = rustls::client::Resumption::disabled();
            Arc::new(config)
        }
        other => return Err(format!("unknown mode {other:?}: full or resumed").into()),
    };
    let name = rustls::pki_types::ServerName::try_from("localhost")?;
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let (mut handshakes, mut resumed) = (0u64, 0u64);
    let mut response = Vec::with_capacity(256);
    while Instant::now() < until {
        let session = rustls::ClientConnection::new(config.clone(), name.clone())?;
        let stream = TcpStream::connect(addr.as_str())?;
        stream.set_nodelay(true)?;
        let mut tls = rustls::StreamOwned::new(session, stream);
        tls.write_all(REQUEST)?;
        response.clear();
        // The server answers and closes; a reset instead of close_notify
        // still counts once the body is in.
        let _ = tls.read_to_end(&mut response);
        if !response.ends_with(b"Hello, World!") {
            return Err(format!(
                "unexpected response: {:?}",
                String::from_utf8_lossy(&response)
            )
            .into());
        }
        handshakes += 1;
        if tls.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
            resumed += 1;
        }
    }
    println!(
        "handshakes={handshakes} seconds={:.3} resumed={resumed}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
