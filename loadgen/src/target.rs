//! What to load: the URL (`http://`, `https://` or `tcp://`), split into
//! the parts a connection needs, and the bytes of the request each
//! connection sends over and over.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{bail, Context, Result};

/// How requests travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// HTTP/1.1 over TCP.
    Http,
    /// HTTP/1.1 over TLS.
    Https,
    /// Raw TCP: send a payload, expect as many bytes back (an echo).
    Tcp,
}

/// A parsed target URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The scheme.
    pub scheme: Scheme,
    /// The host as written (a name, an IPv4 address, or an IPv6 address
    /// without brackets).
    pub host: String,
    /// The port (80 and 443 by default for HTTP and HTTPS).
    pub port: u16,
    /// The path and query, `/` when empty.
    pub path: String,
    /// `host[:port]` as the `Host` header carries it.
    pub authority: String,
}

impl Target {
    /// Parses `http://host[:port][/path]`, `https://...` or
    /// `tcp://host:port`.
    ///
    /// ```
    /// use loopcore_loadgen::target::{Scheme, Target};
    /// let t = Target::parse("http://[::1]:8080/plaintext?x=1").unwrap();
    /// assert_eq!((t.scheme, t.host.as_str(), t.port), (Scheme::Http, "::1", 8080));
    /// assert_eq!((t.path.as_str(), t.authority.as_str()), ("/plaintext?x=1", "[::1]:8080"));
    /// assert!(Target::parse("ftp://example.test/").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<Self> {
        let (scheme, rest) = url
            .split_once("://")
            .with_context(|| format!("{url:?} is not a URL (try http://127.0.0.1:8080/)"))?;
        let (scheme, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "http" => (Scheme::Http, Some(80)),
            "https" => (Scheme::Https, Some(443)),
            "tcp" => (Scheme::Tcp, None),
            other => bail!("unsupported scheme {other:?} in {url:?}: use http, https or tcp"),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            bail!("credentials in the URL are not supported; send them with -H");
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .with_context(|| format!("unclosed [ in {url:?}"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            bail!("no host in {url:?}");
        }
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .with_context(|| format!("bad port {port:?} in {url:?}"))?,
            None => default_port.with_context(|| format!("{url:?} needs a port"))?,
        };
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            bail!("the path of {url:?} has spaces or control characters: percent-encode them");
        }
        Ok(Self {
            scheme,
            host: host.to_owned(),
            port,
            path,
            authority: authority.to_owned(),
        })
    }

    /// The addresses the host resolves to.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .with_context(|| format!("resolving {}", self.host))?
            .collect();
        if addrs.is_empty() {
            bail!("{} resolves to no address", self.host);
        }
        Ok(addrs)
    }
}

/// The request every connection sends: `METHOD path HTTP/1.1`, `Host`
/// (unless `headers` has one), the extra headers, `Content-Length` for a
/// body, `Connection: close` when `close` is set.
///
/// ```
/// use loopcore_loadgen::target::{http_request, Target};
/// let t = Target::parse("http://localhost:8080/a").unwrap();
/// let r = http_request(&t, "POST", &["X-Test: 1".to_owned()], b"hi", false).unwrap();
/// assert_eq!(
///     String::from_utf8(r).unwrap(),
///     "POST /a HTTP/1.1\r\nHost: localhost:8080\r\nX-Test: 1\r\nContent-Length: 2\r\n\r\nhi"
/// );
/// ```
pub fn http_request(
    target: &Target,
    method: &str,
    headers: &[String],
    body: &[u8],
    close: bool,
) -> Result<Vec<u8>> {
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
        bail!("{method:?} is not an HTTP method");
    }
    let mut request = format!("{method} {} HTTP/1.1\r\n", target.path).into_bytes();
    let mut has_host = false;
    for header in headers {
        let Some((name, value)) = header.split_once(':') else {
            bail!("header {header:?} has no colon (write -H 'Name: value')");
        };
        if name.trim().is_empty() || header.contains(['\r', '\n']) {
            bail!("bad header {header:?}");
        }
        has_host |= name.trim().eq_ignore_ascii_case("host");
        request.extend_from_slice(format!("{}: {}\r\n", name.trim(), value.trim()).as_bytes());
    }
    if !has_host {
        let host = format!("Host: {}\r\n", target.authority).into_bytes();
        let line_end = request
            .iter()
            .position(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        request.splice(line_end..line_end, host);
    }
    if !body.is_empty() {
        request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    if close {
        request.extend_from_slice(b"Connection: close\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    Ok(request)
}
