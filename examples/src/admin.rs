//! A tiny admin HTTP endpoint for a runtime: `GET /metrics` answers with
//! every loop's counters in the Prometheus text format; anything else is
//! `404`. One connection at a time per client, keep-alive honoured, closed
//! at shutdown.

use loopcore::http1::{self, Limits};
use loopcore::{Protocol, RuntimeHandle, Transport};

/// One admin connection.
#[derive(Debug)]
pub struct Admin {
    runtime: RuntimeHandle,
    transport: Option<Transport>,
    partial: Vec<u8>,
    limits: Limits,
}

impl Admin {
    /// Serves `runtime`'s metrics.
    pub fn new(runtime: RuntimeHandle) -> Self {
        Self {
            runtime,
            transport: None,
            partial: Vec::new(),
            limits: Limits::default(),
        }
    }
}

impl Protocol for Admin {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let Some(transport) = &self.transport else {
            return;
        };
        self.partial.extend_from_slice(data);
        let runtime = &self.runtime;
        let mut out = Vec::new();
        let (used, close) =
            http1::serve_requests(&mut out, &self.partial, &self.limits, |request, out| {
                if request.method == "GET" && request.path == "/metrics" {
                    let body = runtime.stats().to_prometheus();
                    http1::write_response(
                        out,
                        200,
                        &[("Content-Type", "text/plain; version=0.0.4")],
                        body.as_bytes(),
                        request.persistence(),
                    );
                } else {
                    http1::write_response(out, 404, &[], b"try /metrics\n", request.persistence());
                }
            });
        self.partial.drain(..used);
        let _ = transport.write(&out);
        if close {
            transport.close();
        }
    }

    fn shutdown_requested(&mut self) {
        if let Some(transport) = &self.transport {
            transport.close();
        }
    }
}
