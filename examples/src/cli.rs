//! The command line the runtime examples share (`--host`, `--port`,
//! `--loops`, and for TLS-capable ones `--tls`, `--cert`, `--key`), with a
//! hook for each example's own flags, and what those flags build: the
//! runtime and the TLS options.

use std::error::Error;
use std::path::PathBuf;

use loopcore::{RuntimeBuilder, ServeOptions};

/// The shared flags, parsed.
#[derive(Debug, Clone)]
pub struct ServerArgs {
    /// `--host` (default `127.0.0.1`).
    pub host: String,
    /// `--port` (default 8080; 0 picks a free one).
    pub port: u16,
    /// `--loops` (default: one per available CPU).
    pub loops: Option<usize>,
    /// `--tls`, or a `--cert` given.
    pub tls: bool,
    /// `--cert PEM`.
    pub cert: Option<String>,
    /// `--key PEM`.
    pub key: Option<String>,
}

/// A flag's value, or an error naming the flag.
pub type Value<'a> = &'a mut dyn FnMut() -> Result<String, String>;

impl ServerArgs {
    /// Parses this process's arguments. `extra(flag, value)` sees every
    /// flag the shared set does not know and returns whether it took it
    /// (call `value()` for its value). `with_tls` accepts the TLS flags.
    /// `Ok(None)` after `--help` printed `usage`.
    pub fn parse(
        usage: &str,
        with_tls: bool,
        mut extra: impl FnMut(&str, Value<'_>) -> Result<bool, Box<dyn Error>>,
    ) -> Result<Option<Self>, Box<dyn Error>> {
        let mut parsed = Self {
            host: "127.0.0.1".to_owned(),
            port: 8080,
            loops: None,
            tls: false,
            cert: None,
            key: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--host" => parsed.host = value()?,
                "--port" => parsed.port = value()?.parse()?,
                "--loops" => parsed.loops = Some(value()?.parse()?),
                "--tls" if with_tls => parsed.tls = true,
                "--cert" if with_tls => parsed.cert = Some(value()?),
                "--key" if with_tls => parsed.key = Some(value()?),
                "-h" | "--help" => {
                    println!("{usage}");
                    return Ok(None);
                }
                other => {
                    if !extra(other, &mut value)? {
                        return Err(format!("unknown argument {other:?}\n{usage}").into());
                    }
                }
            }
        }
        parsed.tls |= parsed.cert.is_some();
        Ok(Some(parsed))
    }

    /// A runtime builder with `--loops` applied.
    pub fn runtime_builder(&self, thread_name: &str) -> RuntimeBuilder {
        let builder = loopcore::Runtime::builder().thread_name(thread_name);
        match self.loops {
            Some(loops) => builder.loops(loops),
            None => builder,
        }
    }

    /// `options` with TLS when asked for (`--cert`/`--key`, or a
    /// self-signed certificate made on the spot, whose PEM path comes
    /// back for `curl --cacert`).
    pub fn with_tls(
        &self,
        options: ServeOptions,
        alpn: &[&[u8]],
    ) -> Result<(ServeOptions, Option<PathBuf>), Box<dyn Error>> {
        if !self.tls {
            return Ok((options, None));
        }
        let identity = crate::tls::identity(self.cert.as_deref(), self.key.as_deref(), alpn)?;
        Ok((options.tls(identity.config), identity.generated_cert))
    }
}

/// Runs an example's `main` body; an error is printed as one line,
/// `NAME: message`, and the process exits with status 1 (a port in use,
/// a missing file: what an operator reads in a log).
pub fn run_main(
    name: &str,
    main: impl FnOnce() -> Result<(), Box<dyn Error>>,
) -> std::process::ExitCode {
    match main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let message = error.to_string().replace('\n', " ");
            eprintln!("{name}: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
