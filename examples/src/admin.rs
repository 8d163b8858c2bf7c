//! A tiny admin HTTP endpoint for a runtime: `GET /metrics` answers with
//! every loop's counters in the Prometheus text format; anything else is
//! `404`. Served by the framework's HTTP/1 driver, so it has the same safe
//! defaults as the public port (request deadline, idle timeout, lingering
//! close, graceful shutdown).

use loopcore::http1::{self, Http1Connection, Http1Handler, Http1Options, Reply, Request};
use loopcore::RuntimeHandle;

/// One admin connection.
pub type Admin = Http1Connection<Metrics>;

/// A connection serving `runtime`'s metrics.
pub fn connection(runtime: RuntimeHandle) -> Admin {
    Http1Connection::new(Metrics { runtime }, Http1Options::default())
}

/// The handler: the metrics at `/metrics`, `404` elsewhere.
#[derive(Debug, Clone)]
pub struct Metrics {
    runtime: RuntimeHandle,
}

impl Http1Handler for Metrics {
    fn respond(&mut self, request: &Request<'_>, reply: &mut Reply<'_>) {
        let persistence = reply.persistence();
        if request.method == "GET" && request.path == "/metrics" {
            let body = self.runtime.stats().to_prometheus();
            http1::write_response(
                reply.out(),
                200,
                &[("Content-Type", "text/plain; version=0.0.4")],
                body.as_bytes(),
                persistence,
            );
        } else {
            http1::write_response(reply.out(), 404, &[], b"try /metrics\n", persistence);
        }
    }
}
