//! A static-file HTTP/1.1 server protocol: `GET`/`HEAD` for the files under
//! one directory, bodies sent with [`Transport::sendfile`] (in the kernel
//! on plain TCP; read and encrypted over TLS), single-range `Range`
//! requests (`206`/`416`, `If-Range`), conditional requests (`ETag`,
//! `Last-Modified`; `If-None-Match` and `If-Modified-Since` give `304`),
//! keep-alive and pipelining, and, while a
//! client's answers pile up, reading paused and further answers (each an
//! open file) held back.

use std::cell::RefCell;
use std::fs::{File, Metadata};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loopcore::http1::{self, Limits, Persistence, Request};
use loopcore::{EventLoop, Protocol, Transport};

/// Answers stop being queued while this much is pending: each one may hold
/// an open file, and a client pipelining thousands of requests must not
/// make the server open thousands of files at once.
const QUEUED_ABOVE: usize = 256 * 1024;
/// How often a connection with answers held back checks whether its
/// client caught up.
const STALL_CHECK_EVERY: std::time::Duration = std::time::Duration::from_millis(5);

/// Serves the files under `root` (`index.html` for a directory).
#[derive(Debug)]
pub struct StaticFiles {
    root: Arc<PathBuf>,
    transport: Option<Transport>,
    answers: Rc<RefCell<Answers>>,
}

/// Requests received and not yet answered, shared with the timer that
/// resumes answering once the client has read enough.
#[derive(Debug, Default)]
struct Answers {
    /// Bytes of requests not yet answered (an incomplete one, or complete
    /// ones held back while too much is queued).
    pending: Vec<u8>,
    limits: Limits,
    /// Answering stopped at `QUEUED_ABOVE`; a timer resumes it.
    held_back: bool,
    closed: bool,
}

impl StaticFiles {
    /// A protocol for one connection; share `root` between connections.
    pub fn new(root: Arc<PathBuf>) -> Self {
        Self {
            root,
            transport: None,
            answers: Rc::default(),
        }
    }
}

/// Answers the complete requests in `answers.pending` while less than
/// `QUEUED_ABOVE` waits to be sent; holds the rest back (reading paused)
/// and checks again later.
fn answer_pending(transport: &Transport, root: &Arc<PathBuf>, shared: &Rc<RefCell<Answers>>) {
    let mut answers = shared.borrow_mut();
    if answers.closed {
        return;
    }
    let mut used = 0;
    let mut close = false;
    let mut held_back = false;
    loop {
        if transport.get_write_buffer_size() > QUEUED_ABOVE {
            held_back = true;
            break;
        }
        match http1::parse_request(&answers.pending[used..], &answers.limits) {
            Ok(Some((request, n))) => {
                used += n;
                if !answer(transport, root, &request) {
                    close = true;
                    break;
                }
            }
            Ok(None) => break,
            Err(error) => {
                let _ = transport
                    .write_with(|out| http1::write_response(out, error.status(), &[], b"", false));
                close = true;
                break;
            }
        }
    }
    answers.pending.drain(..used);
    if close {
        answers.closed = true;
        answers.pending = Vec::new();
        transport.close();
        return;
    }
    let was_held_back = std::mem::replace(&mut answers.held_back, held_back);
    drop(answers);
    if held_back {
        transport.pause_reading();
        if !was_held_back {
            check_again_later(transport.clone(), root.clone(), shared.clone());
        }
    } else if was_held_back {
        transport.resume_reading();
    }
}

fn check_again_later(transport: Transport, root: Arc<PathBuf>, answers: Rc<RefCell<Answers>>) {
    EventLoop::current().call_later(STALL_CHECK_EVERY, move |_| {
        if transport.is_closing() || !answers.borrow().held_back {
            return;
        }
        answer_pending(&transport, &root, &answers);
        if answers.borrow().held_back {
            check_again_later(transport, root, answers);
        }
    });
}

impl Protocol for StaticFiles {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let Some(transport) = self.transport.clone() else {
            return;
        };
        self.answers.borrow_mut().pending.extend_from_slice(data);
        answer_pending(&transport, &self.root, &self.answers);
    }

    /// A client that asks faster than it reads: stop reading its requests
    /// until it catches up.
    fn pause_writing(&mut self) {
        if let Some(transport) = &self.transport {
            transport.pause_reading();
        }
    }

    fn resume_writing(&mut self) {
        if let Some(transport) = &self.transport {
            if !self.answers.borrow().held_back {
                transport.resume_reading();
            }
        }
    }

    fn connection_lost(&mut self, _error: Option<std::io::Error>) {
        self.answers.borrow_mut().closed = true;
    }
}

/// Queues the answer to one request; returns whether the connection stays
/// open.
fn answer(transport: &Transport, root: &Path, request: &Request<'_>) -> bool {
    let keep_alive = request.persistence();
    let head_only = match request.method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            return respond_empty(transport, 405, &[("Allow", "GET, HEAD")], keep_alive);
        }
    };
    let Some(path) = resolve(root, request.path) else {
        return respond_empty(transport, 400, &[], keep_alive);
    };
    let target = origin_form(request.path).unwrap_or(request.path);
    let (target_path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let is_dir = std::fs::metadata(&path).is_ok_and(|meta| meta.is_dir());
    if is_dir && !target_path.ends_with('/') {
        // Relative links in its index resolve against the directory only
        // with the slash: send the client there (as nginx does).
        let location = match query {
            Some(query) => format!("{target_path}/?{query}"),
            None => format!("{target_path}/"),
        };
        return respond_empty(transport, 301, &[("Location", &location)], keep_alive);
    }
    let path = if is_dir {
        path.join("index.html")
    } else {
        path
    };
    let opened = File::open(&path).and_then(|file| {
        let meta = file.metadata()?;
        if meta.is_dir() {
            // `index.html` itself a directory, or a race with a rename.
            return Err(std::io::ErrorKind::NotFound.into());
        }
        Ok((file, meta))
    });
    let (file, meta) = match opened {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return respond_empty(transport, 403, &[], keep_alive)
        }
        Err(_) => return respond_empty(transport, 404, &[], keep_alive),
    };
    let length = meta.len();
    let validators = Validators::of(&meta);
    let mut headers = vec![
        ("Content-Type", content_type(&path)),
        ("Accept-Ranges", "bytes"),
        ("ETag", validators.etag.as_str()),
    ];
    if let Some(last_modified) = &validators.last_modified {
        headers.push(("Last-Modified", last_modified));
    }
    if validators.not_modified(request) {
        return respond_empty(transport, 304, &headers[2..], keep_alive);
    }
    // A range of a representation the client no longer has is no use:
    // `If-Range` asks for all of it then.
    let range = request.header("range").filter(|_| {
        request
            .header("if-range")
            .is_none_or(|v| validators.same_as(v))
    });
    let (status, offset, count, content_range) = match range {
        None => (200, 0, length, None),
        Some(range) => match parse_range(range, length) {
            RangeAnswer::Whole => (200, 0, length, None),
            RangeAnswer::Part(first, last) => (
                206,
                first,
                last - first + 1,
                Some(format!("bytes {first}-{last}/{length}")),
            ),
            RangeAnswer::Unsatisfiable => {
                let all = format!("bytes */{length}");
                return respond_empty(transport, 416, &[("Content-Range", &all)], keep_alive);
            }
        },
    };
    if let Some(range) = &content_range {
        headers.push(("Content-Range", range));
    }
    let wrote = transport
        .write_with(|out| http1::write_head(out, status, &headers, count, keep_alive))
        .is_ok();
    if wrote && !head_only && count > 0 {
        // The body follows the head, in order, from the page cache.
        if transport.sendfile(file, offset, Some(count)).is_err() {
            return false;
        }
    }
    wrote && keep_alive.keeps_alive()
}

fn respond_empty(
    transport: &Transport,
    status: u16,
    headers: &[(&str, &str)],
    keep_alive: Persistence,
) -> bool {
    let wrote = transport
        .write_with(|out| http1::write_response(out, status, headers, b"", keep_alive))
        .is_ok();
    wrote && keep_alive.keeps_alive()
}

/// The file a request target names under `root`: the query dropped,
/// `%XX` decoded, and nothing that leaves `root` (`..`, absolute paths,
/// NUL) accepted.
pub fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let target = origin_form(target).unwrap_or(target);
    let path = target.split(['?', '#']).next()?;
    if !path.starts_with('/') {
        return None;
    }
    let decoded = percent_decode(path)?;
    let mut resolved = root.to_path_buf();
    for component in Path::new(&decoded).components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => resolved.push(part),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(resolved)
}

/// The path and query of an absolute-form target (`http://host/a?b` is
/// `/a?b`), which servers must accept (RFC 9112, 3.2.2); `None` for any
/// other form.
fn origin_form(target: &str) -> Option<&str> {
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))?;
    Some(rest.find('/').map_or("/", |slash| &rest[slash..]))
}

fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// A file's validators (RFC 9110, 8.8): its modification time as
/// `Last-Modified` and a strong `ETag` of modification time and length,
/// nginx's shape (`"5f2b1c3a-1e240"`).
#[derive(Debug)]
struct Validators {
    etag: String,
    last_modified: Option<String>,
    /// Whole seconds since the epoch, what `Last-Modified` can say.
    modified: Option<SystemTime>,
}

impl Validators {
    fn of(meta: &Metadata) -> Self {
        let modified = meta
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map(|since| UNIX_EPOCH + Duration::from_secs(since.as_secs()));
        let seconds = modified.map_or(0, |time| {
            time.duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs())
        });
        Self {
            etag: format!("\"{seconds:x}-{:x}\"", meta.len()),
            last_modified: modified.map(http1::http_date),
            modified,
        }
    }

    /// Whether the client's copy is current (RFC 9110, 13.2.2):
    /// `If-None-Match` decides when present (weak comparison, `*`
    /// included), else `If-Modified-Since`.
    fn not_modified(&self, request: &Request<'_>) -> bool {
        if let Some(tags) = request.header("if-none-match") {
            let tags = String::from_utf8_lossy(tags);
            return tags.trim() == "*"
                || tags
                    .split(',')
                    .any(|tag| tag.trim().trim_start_matches("W/") == self.etag);
        }
        match (request.header("if-modified-since"), self.modified) {
            (Some(since), Some(modified)) => {
                http1::parse_http_date(since).is_some_and(|since| modified <= since)
            }
            _ => false,
        }
    }

    /// `If-Range` (RFC 9110, 13.1.5): the range holds only if the client's
    /// validator is this file's, compared strongly (an `ETag`, or the
    /// `Last-Modified` date exactly).
    fn same_as(&self, validator: &[u8]) -> bool {
        let validator = String::from_utf8_lossy(validator);
        let validator = validator.trim();
        if validator.starts_with('"') {
            return validator == self.etag;
        }
        self.last_modified.as_deref() == Some(validator)
    }
}

/// What a `Range` header asks of a file of `length` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// Send it all (no usable range: several ranges, another unit, or a
    /// malformed header, which RFC 9110 lets a server ignore).
    Whole,
    /// Bytes `first..=last`.
    Part(u64, u64),
    /// A well-formed range that starts past the end: `416`.
    Unsatisfiable,
}

/// Parses a single `bytes=` range (`a-b`, `a-`, `-n`) against `length`.
pub fn parse_range(header: &[u8], length: u64) -> RangeAnswer {
    let Some(spec) = std::str::from_utf8(header)
        .ok()
        .and_then(|h| h.trim().strip_prefix("bytes="))
    else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    // 1*DIGIT: no sign, no spaces inside.
    let number = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // The last n bytes.
        (true, false) => match number(last) {
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(n) if length > 0 => RangeAnswer::Part(length.saturating_sub(n), length - 1),
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Whole,
        },
        (false, true) => match number(first) {
            Some(a) if a < length => RangeAnswer::Part(a, length - 1),
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Whole,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(a), Some(b)) if a <= b && a < length => RangeAnswer::Part(a, b.min(length - 1)),
            (Some(a), Some(b)) if a <= b => RangeAnswer::Unsatisfiable,
            _ => RangeAnswer::Whole,
        },
        (true, true) => RangeAnswer::Whole,
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range(b"bytes=0-9", 100), RangeAnswer::Part(0, 9));
        assert_eq!(parse_range(b"bytes=90-", 100), RangeAnswer::Part(90, 99));
        assert_eq!(parse_range(b"bytes=-10", 100), RangeAnswer::Part(90, 99));
        assert_eq!(parse_range(b"bytes=-500", 100), RangeAnswer::Part(0, 99));
        assert_eq!(parse_range(b"bytes=50-500", 100), RangeAnswer::Part(50, 99));
        assert_eq!(parse_range(b"bytes=100-", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=-0", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=0-1,5-6", 100), RangeAnswer::Whole);
        assert_eq!(parse_range(b"items=0-1", 100), RangeAnswer::Whole);
        assert_eq!(parse_range(b"bytes=9-1", 100), RangeAnswer::Whole);
        assert_eq!(parse_range(b"bytes=x-1", 100), RangeAnswer::Whole);
        assert_eq!(parse_range(b"bytes=+1-2", 100), RangeAnswer::Whole);
    }

    #[test]
    fn paths_stay_under_the_root() {
        let root = Path::new("/srv");
        assert_eq!(resolve(root, "/a/b.txt?x=1"), Some("/srv/a/b.txt".into()));
        assert_eq!(resolve(root, "/a%20b"), Some("/srv/a b".into()));
        assert_eq!(resolve(root, "/"), Some("/srv".into()));
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/a/%2e%2e/%2e%2e/etc"), None);
        assert_eq!(resolve(root, "/a%00b"), None);
        assert_eq!(resolve(root, "/%zz"), None);
        assert_eq!(resolve(root, "/%+1"), None);
        assert_eq!(resolve(root, "http://host/a?q"), Some("/srv/a".into()));
        assert_eq!(resolve(root, "https://host"), Some("/srv".into()));
        assert_eq!(resolve(root, "ftp://host/a"), None);
        assert_eq!(resolve(root, "http://host/../a"), None);
    }
}
