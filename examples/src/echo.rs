//! Echo protocols shared by the echo examples: [`Echo`] for streams (TCP,
//! Unix) and [`DatagramEcho`] for UDP.

use std::net::SocketAddr;

use loopcore::{DatagramProtocol, DatagramTransport, Protocol, Transport};

/// Writes back every byte it receives.
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
