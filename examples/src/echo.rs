//! Echo protocols shared by the echo examples: [`Echo`] for streams (TCP,
//! Unix) and [`DatagramEcho`] for UDP.

use std::net::SocketAddr;

use loopcore::{DatagramProtocol, DatagramTransport, Protocol, Transport};

/// Writes back every byte it receives.
///
/// A peer that sends without reading would grow the write buffer without
/// bound, so reading pauses while the answers wait above the transport's
/// high-water mark (`pause_writing`) and resumes once they drain: each
/// connection holds at most about the high-water mark plus one read, and
/// TCP holds the peer back.
#[derive(Debug, Default)]
pub struct Echo {
    transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(transport) = &self.transport {
            // Only fails once the transport is closing: nothing to echo then.
            let _ = transport.write(data);
        }
    }

    fn pause_writing(&mut self) {
        if let Some(transport) = &self.transport {
            transport.pause_reading();
        }
    }

    fn resume_writing(&mut self) {
        if let Some(transport) = &self.transport {
            transport.resume_reading();
        }
    }
}

/// Sends every datagram back to where it came from.
#[derive(Debug, Default)]
pub struct DatagramEcho {
    transport: Option<DatagramTransport>,
}

impl DatagramProtocol for DatagramEcho {
    fn connection_made(&mut self, transport: DatagramTransport) {
        self.transport = Some(transport);
    }

    fn datagram_received(&mut self, data: &[u8], addr: SocketAddr) {
        if let Some(transport) = &self.transport {
            let _ = transport.sendto(data, Some(addr));
        }
    }

    fn error_received(&mut self, error: std::io::Error) {
        eprintln!("udp_echo: {error}");
    }
}
