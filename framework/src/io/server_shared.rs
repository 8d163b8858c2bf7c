//! What a server shares with its listeners and the connections they
//! accepted ([`ServerShared`]): its addresses, whether it serves, its
//! clients (a `ClientSet`, which its connections report to),
//! and the socket file of a Unix server ([`UnixPath`]). Below `io::tcp`
//! (listeners hold it) and `io::server` (the handle), so neither imports
//! the other for it.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::conn::ClientSet;
use super::transport::Transport;
use crate::source_table::SourceKey;

/// State shared by a [`Server`], its listeners and its connections.
pub(crate) struct ServerShared {
    pub(super) listeners: RefCell<Vec<SourceKey>>,
    pub(super) addresses: Vec<SocketAddr>,
    /// The socket file of a Unix server, removed on close if still ours.
    pub(super) unix_path: Option<UnixPath>,
    pub(super) serving: Cell<bool>,
    pub(super) closed: Cell<bool>,
    /// The connections it accepted.
    pub(super) clients: Rc<ClientSet>,
    pub(super) loop_core: std::rc::Weak<crate::event_loop::Core>,
}

impl ServerShared {
    pub(super) fn transports(&self) -> Vec<Transport> {
        let Some(core) = self.loop_core.upgrade() else {
            return Vec::new();
        };
        self.clients
            .keys()
            .into_iter()
            .map(|key| Transport::from_parts(&core, key))
            .collect()
    }
}

/// A bound socket file and its identity, for cleanup.
#[derive(Debug)]
pub(crate) struct UnixPath {
    pub(super) path: PathBuf,
    pub(super) dev: u64,
    pub(super) ino: u64,
}

impl UnixPath {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the socket file if it is still the one we bound.
    pub(crate) fn remove_if_ours(&self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if meta.dev() == self.dev && meta.ino() == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}
