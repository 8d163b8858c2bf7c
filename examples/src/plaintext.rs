//! The TechEmpower "plaintext" HTTP/1.1 server as a [`Protocol`]: every
//! request gets `200 OK` with `Hello, World!`, keep-alive and pipelining
//! included; a malformed request gets `400` (too many or too large headers
//! `431`) and the connection is closed after the answer.

use loopcore::http1::{self, Limits};
use loopcore::{Protocol, Transport};

/// The response body.
pub const BODY: &[u8] = b"Hello, World!";

/// One connection of the plaintext server.
#[derive(Debug, Default)]
pub struct Plaintext {
    transport: Option<Transport>,
    /// Bytes of a request that arrived incomplete.
    partial: Vec<u8>,
    limits: Limits,
}

impl Plaintext {
    /// Answers every complete request at the front of `input`; returns how
    /// many bytes were used and whether the connection must close.
    fn answer(out: &mut Vec<u8>, input: &[u8], limits: &Limits) -> (usize, bool) {
        http1::serve_requests(out, input, limits, |request, out| {
            http1::write_response(
                out,
                200,
                &[("Server", "loopcore"), ("Content-Type", "text/plain")],
                BODY,
                request.keep_alive,
            )
        })
    }
}

impl Protocol for Plaintext {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let Some(transport) = &self.transport else {
            return;
        };
        // Responses are serialized straight into the transport's buffer and
        // leave together when this callback returns. A closing transport
        // refuses them: nothing is left to answer then.
        let limits = &self.limits;
        let partial = &mut self.partial;
        let answered = transport.write_with(|out| {
            if partial.is_empty() {
                let (used, close) = Self::answer(out, data, limits);
                partial.extend_from_slice(&data[used..]);
                close
            } else {
                partial.extend_from_slice(data);
                let (used, close) = Self::answer(out, partial, limits);
                partial.drain(..used);
                close
            }
        });
        let Ok(close) = answered else {
            return;
        };
        if close {
            self.partial.clear();
            transport.close();
        }
    }
}
