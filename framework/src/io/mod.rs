//! Transports and protocols: asyncio's callback-style networking on the
//! loop. [`Protocol`] is what users implement; [`Transport`] is the cheap
//! handle a protocol writes through. TCP servers and clients live in `tcp`.

mod conn;
mod connect;
mod delimiter;
mod driver;
mod http1_server;
mod http_date;
mod http_timeouts;
mod pipe;
mod process;
mod protocol;
mod queued_write;
mod ready;
mod server;
mod server_options;
mod server_shared;
pub(crate) use server_options::admission_low_mark;
mod sock;
mod start_tls;
mod stream;
mod stream_io;
mod stream_open;
mod stream_writer;
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
pub use server::Server;
pub use stream_io::IoStream;
pub use stream_writer::StreamWriter;
pub use streams::StreamReader;
pub use tcp::ServerOptions;
pub use transport::{Transport, WriteBufferLimits};
pub use udp::{DatagramOptions, DatagramProtocol, DatagramTransport};

pub(crate) use driver::{run, IoDriver};
pub(crate) use ready::IoReady;
pub(crate) use stream::Stream;
pub(crate) use stream_open::spawning_protocol;
pub(crate) use tcp::{
    bind_listener, probe_port_free, serve_accepted, AcceptSink, Admission, Factory, HandOff,
};
