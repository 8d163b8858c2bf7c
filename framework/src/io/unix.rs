//! Unix domain stream sockets: `create_unix_server` and
//! `create_unix_connection`, on filesystem paths or Linux abstract names
//! (a name starting with `@` or a NUL byte).
//!
//! A server's socket file is removed when the server closes, but only if the
//! file at that path is still the one it bound (same device and inode), so a
//! newer server on the same path keeps its socket.

#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::SocketAddr as UnixAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use mio::net::{UnixListener, UnixStream};

use super::protocol::Protocol;
use super::server::Server;
use super::server_shared::UnixPath;
use super::stream::{ListenSocket, Stream};
use super::tcp::{AcceptSink, Factory, ServerOptions};
use super::transport::Transport;
use crate::{Error, EventLoop, Result};

/// `@name` or `\0name` is a Linux abstract socket name; anything else a path.
fn unix_addr(name: &str) -> Result<(UnixAddr, bool)> {
    let abstract_name = name.strip_prefix('@').or_else(|| name.strip_prefix('\0'));
    let (addr, is_abstract) = match abstract_name {
        Some(abstract_name) => (abstract_addr(abstract_name)?, true),
        None => (UnixAddr::from_pathname(name), false),
    };
    let addr = addr.map_err(|e| Error::io(format!("invalid Unix socket name {name:?}"), e))?;
    Ok((addr, is_abstract))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &str) -> Result<std::io::Result<UnixAddr>> {
    Ok(UnixAddr::from_abstract_name(name.as_bytes()))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(name: &str) -> Result<std::io::Result<UnixAddr>> {
    Err(Error::new(
        crate::ErrorKind::Unsupported,
        format!("abstract Unix socket names (@{name}) exist on Linux only: use a path"),
    ))
}

/// Removes the socket file at `path` if nothing listens on it (a connect
/// is refused); fails with `AddrInUse` if a server answers, and with a
/// clear error if the path is not a socket (a regular file is never
/// removed).
fn remove_stale_socket(path: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let in_use = |why: String| Error::io(why, std::io::Error::from(std::io::ErrorKind::AddrInUse));
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| Error::io(format!("inspecting {}", path.display()), e))?;
    if !meta.file_type().is_socket() {
        return Err(in_use(format!(
            "{} exists and is not a socket: not removed",
            path.display()
        )));
    }
    // Non-blocking: a live server with a full backlog must not hang this.
    let probe = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)
        .map_err(|e| Error::io("creating a socket to probe a Unix socket file", e))?;
    probe
        .set_nonblocking(true)
        .map_err(|e| Error::io("making the probe non-blocking", e))?;
    let target = socket2::SockAddr::unix(path)
        .map_err(|e| Error::io(format!("the socket path {}", path.display()), e))?;
    match probe.connect(&target) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => std::fs::remove_file(path)
            .map_err(|e| {
                Error::io(
                    format!("removing the stale socket file {}", path.display()),
                    e,
                )
            }),
        _ => Err(in_use(format!(
            "a server is listening on {}: not removed",
            path.display()
        ))),
    }
}

impl EventLoop {
    /// Listens on a Unix domain socket (asyncio's `create_unix_server`).
    ///
    /// `name` is a filesystem path, or an abstract name written `@name`.
    /// The socket file is removed when the server closes, if still ours.
    /// A socket file left behind by a server that died is removed first
    /// (as asyncio does), but only if nothing listens on it: a live
    /// server's path fails with `AddrInUse`, and a file that is not a
    /// socket is never removed.
    pub fn create_unix_server<F, P>(
        &self,
        name: &str,
        options: ServerOptions,
        factory: F,
    ) -> Result<Server>
    where
        F: Fn() -> P + 'static,
        P: Protocol,
    {
        let (addr, is_abstract) = unix_addr(name)?;
        let listener = match UnixListener::bind_addr(&addr) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && !is_abstract => {
                // A socket file a crashed server left behind blocks the
                // bind: asyncio removes it. Only a socket nobody listens
                // on goes; a live server keeps its path.
                remove_stale_socket(Path::new(name))?;
                UnixListener::bind_addr(&addr)
            }
            bound => bound,
        }
        .map_err(|e| Error::io(format!("binding the Unix socket {name:?}"), e))?;
        let unix_path = if is_abstract {
            None
        } else {
            let meta = std::fs::symlink_metadata(name)
                .map_err(|e| Error::io(format!("inspecting the socket file {name:?}"), e))?;
            Some(UnixPath {
                path: PathBuf::from(name),
                dev: meta.dev(),
                ino: meta.ino(),
            })
        };
        let factory: Factory = Rc::new(move || Box::new(factory()) as Box<dyn Protocol>);
        self.serve_sockets(
            vec![ListenSocket::Unix(listener)],
            Vec::new(),
            unix_path,
            options,
            AcceptSink::Serve(factory),
        )
    }

    /// Serves an already-bound std Unix listener (asyncio's `sock=`
    /// argument). loopcore did not create its socket file, so closing the
    /// server leaves the file alone.
    pub fn create_unix_server_from_listener<F, P>(
        &self,
        listener: std::os::unix::net::UnixListener,
        options: ServerOptions,
        factory: F,
    ) -> Result<Server>
    where
        F: Fn() -> P + 'static,
        P: Protocol,
    {
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("making the Unix listener non-blocking", e))?;
        let factory: Factory = Rc::new(move || Box::new(factory()) as Box<dyn Protocol>);
        self.serve_sockets(
            vec![ListenSocket::Unix(UnixListener::from_std(listener))],
            Vec::new(),
            None,
            options,
            AcceptSink::Serve(factory),
        )
    }

    /// Connects to a Unix domain socket (asyncio's `create_unix_connection`).
    pub async fn create_unix_connection<P: Protocol>(
        &self,
        name: &str,
        protocol: P,
    ) -> Result<Transport> {
        let stream = self.connect_unix_stream(name).await?;
        self.attach_stream(Stream::Unix(stream), Box::new(protocol))
    }

    /// Connects a Unix stream socket to `name`.
    pub(crate) async fn connect_unix_stream(&self, name: &str) -> Result<UnixStream> {
        let (addr, _) = unix_addr(name)?;
        let stream = UnixStream::connect_addr(&addr)
            .map_err(|e| Error::io(format!("connecting to the Unix socket {name:?}"), e))?;
        // A Unix connect completes at once unless the listener's backlog is
        // full; then the socket turns writable when it is accepted.
        if let Err(e) = stream.peer_addr() {
            if e.kind() != std::io::ErrorKind::NotConnected {
                return Err(Error::io(format!("connecting to {name:?}"), e));
            }
            let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
            self.wait_fd(fd, crate::sys::Readiness::Writable).await?;
            if let Some(e) = stream
                .take_error()
                .map_err(|e| Error::io(format!("connecting to {name:?}"), e))?
            {
                return Err(Error::io(format!("connecting to {name:?}"), e));
            }
        }
        Ok(stream)
    }
}
