//! The fuzz targets: each takes an input (and a random number to split it
//! with) and returns `Err` when an invariant breaks; a panic is a failure
//! too.

use loopcore::http1::{self, Limits, ResponseReader};

/// A fuzz target.
pub enum Target {
    HttpRequest,
    HttpResponse,
    Pem,
}

/// The target called `name`.
pub fn by_name(name: &str) -> Option<Target> {
    match name {
        "http_request" => Some(Target::HttpRequest),
        "http_response" => Some(Target::HttpResponse),
        "pem" => Some(Target::Pem),
        _ => None,
    }
}

const HTTP_TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b": ",
    b"Content-Length: ",
    b"Content-Length: 5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Connection: close\r\n",
    b"Connection: keep-alive\r\n",
    b"Host: x\r\n",
    b"HTTP/1.1 ",
    b"HTTP/1.0 ",
    b"GET / HTTP/1.1\r\n",
    b"0\r\n\r\n",
    b"5\r\nhello\r\n",
    b"Expect: 100-continue\r\n",
    b"ffffffffffffffff\r\n",
    b"18446744073709551616",
    b";ext=1",
    b"\x00",
    b"\xff",
    b" ",
    b"\t",
];

const PEM_TOKENS: &[&[u8]] = &[
    b"-----BEGIN CERTIFICATE-----\n",
    b"-----END CERTIFICATE-----\n",
    b"-----BEGIN PRIVATE KEY-----\n",
    b"-----END PRIVATE KEY-----\n",
    b"-----BEGIN EC PRIVATE KEY-----\n",
    b"\n",
    b"=",
    b"MII",
];

impl Target {
    pub fn name(&self) -> &'static str {
        match self {
            Target::HttpRequest => "http_request",
            Target::HttpResponse => "http_response",
            Target::Pem => "pem",
        }
    }

    pub fn tokens(&self) -> &'static [&'static [u8]] {
        match self {
            Target::Pem => PEM_TOKENS,
            _ => HTTP_TOKENS,
        }
    }

    /// Valid inputs to start mutating from.
    pub fn seeds(&self) -> Vec<Vec<u8>> {
        match self {
            Target::HttpRequest => vec![
                b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
                b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.0\r\n\r\n"
                    .to_vec(),
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-A: b\r\n\r\n".to_vec(),
            ],
            Target::HttpResponse => vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\n"
                    .to_vec(),
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n"
                    .to_vec(),
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil the end".to_vec(),
            ],
            Target::Pem => {
                let key = rcgen::KeyPair::generate().expect("a key");
                let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
                    .expect("params")
                    .self_signed(&key)
                    .expect("a certificate");
                let mut both = cert.pem().into_bytes();
                both.push(0);
                both.extend_from_slice(key.serialize_pem().as_bytes());
                vec![both]
            }
        }
    }

    /// Runs the target on `input`.
    pub fn run(&self, input: &[u8], split: u64) -> Result<(), String> {
        match self {
            Target::HttpRequest => http_request(input),
            Target::HttpResponse => http_response(input, split),
            Target::Pem => pem(input),
        }
    }
}

fn http_request(input: &[u8]) -> Result<(), String> {
    let limits = Limits::default();
    match http1::parse_request(input, &limits) {
        Ok(Some((request, used))) => {
            if used == 0 || used > input.len() {
                return Err(format!("parse_request used {used} of {}", input.len()));
            }
            if request.body.len() > limits.max_body {
                return Err("a body over the limit was accepted".into());
            }
        }
        Ok(None) => {
            // Head, body, a chunked body's framing (`max(max_head,
            // max_body / 8)`) and some slack for a chunk still arriving.
            let framing = limits.max_head.max(limits.max_body / 8);
            if input.len() > limits.max_head + limits.max_body + framing + 64 * 1024 {
                return Err("an incomplete request over every limit was not refused".into());
            }
        }
        Err(_) => {}
    }
    let mut out = Vec::new();
    let (used, _close) = http1::serve_requests(&mut out, input, &limits, |req, out| {
        http1::write_response(out, 200, &[], req.path.as_bytes(), req.persistence())
    });
    if used > input.len() {
        return Err(format!("serve_requests used {used} of {}", input.len()));
    }
    Ok(())
}

/// Feeds `input` whole, then split at a random point: both must see the
/// same responses.
fn http_response(input: &[u8], split: u64) -> Result<(), String> {
    let whole = read_responses(&[input])?;
    let at = (split as usize) % (input.len() + 1);
    let pieces = read_responses(&[&input[..at], &input[at..]])?;
    if whole != pieces {
        return Err(format!(
            "split at {at} changed the result: {whole:?} vs {pieces:?}"
        ));
    }
    Ok(())
}

/// The (status, body length) of each response, and how the stream ended.
fn read_responses(pieces: &[&[u8]]) -> Result<(Vec<(u16, usize)>, String), String> {
    let mut reader = ResponseReader::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut done = Vec::new();
    for piece in pieces {
        pending.extend_from_slice(piece);
        loop {
            match reader.feed(&pending, false) {
                Ok((used, response)) => {
                    if used > pending.len() {
                        return Err(format!("feed used {used} of {}", pending.len()));
                    }
                    pending.drain(..used);
                    match response {
                        Some(r) => done.push((r.status, r.body_len)),
                        None => break,
                    }
                }
                Err(e) => return Ok((done, format!("error {e:?}"))),
            }
        }
    }
    let end = match reader.eof() {
        Ok(Some(r)) => {
            done.push((r.status, r.body_len));
            "eof".to_owned()
        }
        Ok(None) => format!("idle, {} bytes left", pending.len()),
        Err(e) => format!("eof error {e:?}"),
    };
    Ok((done, end))
}

/// The loaders must refuse bad PEM with an error, never panic.
fn pem(input: &[u8]) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("loopcore-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let (cert, key) = match input.iter().position(|&b| b == 0) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, input),
    };
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert).map_err(|e| e.to_string())?;
    std::fs::write(&key_path, key).map_err(|e| e.to_string())?;
    let _ = loopcore::tls::server_config_from_pem(&cert_path, &key_path, &[b"http/1.1"]);
    let _ = loopcore::tls::client_config_from_ca_pem(&cert_path, &[]);
    let _ = loopcore::tls::ReloadableCert::from_pem(&cert_path, &key_path);
    Ok(())
}
