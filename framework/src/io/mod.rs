//! Transports and protocols: asyncio's callback-style networking on the
//! loop. [`Protocol`] is what users implement; [`Transport`] is the cheap
//! handle a protocol writes through. TCP servers and clients live in `tcp`.

mod conn;
mod connect;
mod delimiter;
mod http1_server;
mod http_date;
mod http_timeouts;
mod idle;
mod lent_read;
mod pipe;
mod process;
mod protocol;
mod queued_write;
mod server_options;
pub(crate) use server_options::admission_low_mark;
mod sock;
mod start_tls;
mod stream;
mod stream_io;
mod stream_open;
mod streams;
mod tcp;
pub mod tls;
mod transport;
mod udp;
mod unix;

pub use connect::ConnectOptions;
pub use delimiter::Delimiter;
pub use http1_server::{
    linger_close, Http1Connection, Http1Handler, Http1Options, Reply, CLOSE_LINGER, IDLE_LINGER,
};
pub use http_date::{
    serve_requests, serve_requests_closing, with_date, write_head, write_response,
};
pub use http_timeouts::{HttpTimeouts, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT};
pub use process::{Child, ProcessTransport, SubprocessProtocol};
pub use protocol::{Buffered, BufferedProtocol, Protocol};
pub use stream_io::IoStream;
pub use streams::{StreamReader, StreamWriter};
pub use tcp::{Server, ServerOptions};
pub use transport::{Transport, WriteBufferLimits};
pub use udp::{DatagramOptions, DatagramProtocol, DatagramTransport};

pub(crate) use conn::{run_conn, run_conn_lost, ConnReady, Conns};
pub(crate) use lent_read::LentRead;
pub(crate) use stream::Stream;
pub(crate) use stream_open::spawning_protocol;
pub(crate) use tcp::{
    bind_listener, probe_port_free, run_accept, serve_accepted, AcceptReady, AcceptSink, Admission,
    Factory, HandOff, Listeners,
};
pub(crate) use udp::{run_datagram, run_datagram_lost, DatagramReady, Endpoints};

use mio::Token;

/// What an epoll token names; the kind sits in the token's top 16 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceKind {
    /// An fd watched with `add_reader`/`add_writer`.
    Watch = 1,
    /// A connected stream transport.
    Conn = 2,
    /// A listening socket.
    Listener = 3,
    /// A UDP endpoint.
    Datagram = 4,
}

const KIND_SHIFT: u32 = 48;

/// The epoll token of source `key` of `kind`.
pub(crate) fn token(kind: SourceKind, key: usize) -> Token {
    Token(((kind as usize) << KIND_SHIFT) | key)
}

/// Splits a token made by [`token`]; `None` for the loop's own tokens.
pub(crate) fn split_token(token: Token) -> Option<(SourceKind, usize)> {
    let key = token.0 & ((1 << KIND_SHIFT) - 1);
    let kind = match token.0 >> KIND_SHIFT {
        1 => SourceKind::Watch,
        2 => SourceKind::Conn,
        3 => SourceKind::Listener,
        4 => SourceKind::Datagram,
        _ => return None,
    };
    Some((kind, key))
}
