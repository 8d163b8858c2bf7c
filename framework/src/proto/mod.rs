//! Sans-IO cores: plain data structures with no sockets, clocks or threads of
//! their own, driven by the loop and unit-tested where they stand.

pub mod http1;
mod http1_chunked;
mod http1_prepared;
mod http1_reader;
mod http1_writer;
pub(crate) mod ready_queue;
pub(crate) mod timer_heap;
pub(crate) mod write_buffer;
