//! A static-file HTTP/1.1 server: `GET`/`HEAD` for the files under one
//! directory, bodies sent with `sendfile(2)` (in the kernel on plain TCP;
//! read and encrypted over TLS), single-range `Range` requests
//! (`206`/`416`, `If-Range`), conditional requests (`ETag`,
//! `Last-Modified`; `If-None-Match` and `If-Modified-Since` give `304`).
//! Keep-alive, pipelining, `Expect: 100-continue`, deadlines, lingering
//! close and answers held back while a client's answers pile up (each one
//! an open file) are the framework's HTTP/1 driver
//! ([`loopcore::http1::Http1Connection`]) with its safe defaults.

use std::fs::{File, Metadata};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loopcore::http1::{
    self, Http1Connection, Http1Handler, Http1Options, Persistence, Reply, Request,
};

/// A connection of the static-file server: the HTTP/1 driver around
/// [`Files`].
pub type StaticFiles = Http1Connection<Files>;

/// A connection serving the files under `root` (`index.html` for a
/// directory), with the driver's default options; share `root` between
/// connections.
pub fn connection(root: Arc<PathBuf>) -> StaticFiles {
    Http1Connection::new(Files { root }, Http1Options::default())
}

/// The handler: answers each request from the files under `root`.
#[derive(Debug, Clone)]
pub struct Files {
    root: Arc<PathBuf>,
}

impl Http1Handler for Files {
    fn respond(&mut self, request: &Request<'_>, reply: &mut Reply<'_>) {
        answer(reply, &self.root, request);
    }
}

/// Writes the answer to one request into `reply`.
fn answer(reply: &mut Reply<'_>, root: &Path, request: &Request<'_>) {
    let head_only = match request.method {
        "GET" => false,
        "HEAD" => true,
        _ => return respond_empty(reply, 405, &[("Allow", "GET, HEAD")]),
    };
    let Some(path) = resolve(root, request.path) else {
        return respond_empty(reply, 400, &[]);
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
        return respond_empty(reply, 301, &[("Location", &location)]);
    }
    if !is_dir && target_path.ends_with('/') {
        // `/file.txt/` names a directory that is not there.
        return respond_empty(reply, 404, &[]);
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
            return respond_empty(reply, 403, &[])
        }
        Err(_) => return respond_empty(reply, 404, &[]),
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
        return respond_empty(reply, 304, &headers[2..]);
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
                return respond_empty(reply, 416, &[("Content-Range", &all)]);
            }
        },
    };
    if let Some(range) = &content_range {
        headers.push(("Content-Range", range));
    }
    let persistence = reply.persistence();
    http1::write_head(reply.out(), status, &headers, count, persistence);
    if !head_only && count > 0 {
        // The body follows the head, in order, from the page cache.
        reply.send_file(file, offset, count);
    }
}

fn respond_empty(reply: &mut Reply<'_>, status: u16, headers: &[(&str, &str)]) {
    let persistence: Persistence = reply.persistence();
    http1::write_response(reply.out(), status, headers, b"", persistence);
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
    // Range units are case-insensitive (RFC 9110, 14.1): `BYTES=0-1`.
    let Some(spec) = std::str::from_utf8(header).ok().and_then(|h| {
        let h = h.trim();
        h.get(..6)
            .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
            .map(|_| &h[6..])
    }) else {
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
        assert_eq!(parse_range(b"BYTES=0-1", 100), RangeAnswer::Part(0, 1));
        assert_eq!(parse_range(b"Bytes=-1", 100), RangeAnswer::Part(99, 99));
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
