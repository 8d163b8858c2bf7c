//! Blocking work off the loop: each line a client sends names a file under
//! the server's root; the file is read and hashed on the shared blocking
//! executor (`run_in_executor`), and the answer is written back on the
//! loop: `<fnv1a-64 hex> <bytes> <name>` or `error <name>: <reason>`.

use std::cell::Cell;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use loopcore::{EventLoop, Protocol, Transport};

use crate::lines::Lines;

/// The longest file name a client may send.
pub const MAX_LINE: usize = 1024;

/// FNV-1a, 64 bits: a fast, dependency-free checksum (not cryptographic).
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    /// Hashes `bytes` into the state.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// The hash so far.
    pub fn finish(self) -> u64 {
        self.0
    }
}

/// Reads and hashes a file, blocking: returns (hash, length).
pub fn hash_file(path: &Path) -> std::io::Result<(u64, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Fnv1a::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((hasher.finish(), total));
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

/// `name` as a path under `root`; `None` if it would leave it (absolute,
/// `..`) or is empty.
pub fn resolve(root: &Path, name: &str) -> Option<PathBuf> {
    let relative = Path::new(name);
    let inside = !name.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    inside.then(|| root.join(relative))
}

/// One client of the hashing server.
#[derive(Debug)]
pub struct FileHasher {
    root: Rc<PathBuf>,
    transport: Option<Transport>,
    lines: Lines,
    /// Answers still being computed, and whether shutdown asked to close
    /// once they are written.
    pending: Rc<Cell<usize>>,
    draining: Rc<Cell<bool>>,
}

impl FileHasher {
    /// Serves files under `root`.
    pub fn new(root: Rc<PathBuf>) -> Self {
        Self {
            root,
            transport: None,
            lines: Lines::new(MAX_LINE),
            pending: Rc::default(),
            draining: Rc::default(),
        }
    }

    fn hash_in_background(&self, transport: Transport, name: String) {
        let Some(path) = resolve(&self.root, &name) else {
            let _ =
                transport.write(format!("error {name}: outside the served directory\n").as_bytes());
            return;
        };
        let lp = EventLoop::current();
        let job = lp.run_in_executor(move || hash_file(&path));
        let (pending, draining) = (self.pending.clone(), self.draining.clone());
        pending.set(pending.get() + 1);
        lp.spawn(async move {
            let answer = match job.await {
                Ok(Ok((hash, len))) => format!("{hash:016x} {len} {name}\n"),
                Ok(Err(e)) => format!("error {name}: {e}\n"),
                Err(e) => format!("error {name}: {e}\n"),
            };
            // The client may have left meanwhile.
            let _ = transport.write(answer.as_bytes());
            pending.set(pending.get() - 1);
            if pending.get() == 0 && draining.get() {
                transport.close();
            }
        })
        .detach();
    }
}

impl Protocol for FileHasher {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let Some(transport) = self.transport.clone() else {
            return;
        };
        let mut names = Vec::new();
        let pushed = self.lines.push(data, |line| {
            names.push(String::from_utf8_lossy(line).into_owned())
        });
        for name in names {
            self.hash_in_background(transport.clone(), name);
        }
        if pushed.is_err() {
            let _ = transport.write(b"error: line too long\n");
            transport.close();
        }
    }

    fn shutdown_requested(&mut self) {
        // Answer what was asked, then close.
        self.draining.set(true);
        if self.pending.get() == 0 {
            if let Some(transport) = &self.transport {
                transport.close();
            }
        }
    }
}
