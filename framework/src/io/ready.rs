//! The items the I/O layer queues on its loop's ready queue, one kind per
//! source table: the vocabulary the tables (`conn`, `tcp`, `udp`) push and
//! the driver (`io::driver`) runs. It sits below both, so neither imports
//! the other for it.

use crate::source_table::SourceKey;

/// A queued item of the I/O layer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IoReady {
    /// A connection with something to read or flush.
    Conn(ConnReady),
    /// A connection whose `connection_lost` is due.
    ConnLost(ConnReady),
    /// A listener with connections to accept.
    Accept(AcceptReady),
    /// A UDP endpoint with datagrams or errors to deliver.
    Datagram(DatagramReady),
    /// A UDP endpoint whose `connection_lost` is due.
    DatagramLost(DatagramReady),
}

/// A queued connection event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnReady {
    pub(in crate::io) key: SourceKey,
}

/// A queued accept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AcceptReady {
    pub(in crate::io) key: SourceKey,
}

/// A queued endpoint event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DatagramReady {
    pub(in crate::io) key: SourceKey,
}
