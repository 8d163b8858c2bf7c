//! The command line every server example shares: `--host` and `--port`;
//! `--loops` for the examples on a [`loopcore::Runtime`] (refused, with a
//! message, by those that run a single [`loopcore::EventLoop`]); `--tls`,
//! `--cert` and `--key` for the TLS-capable ones; and a hook for each
//! example's own flags. [`Cli`] describes an example's command line (and
//! writes its `--help` from that description, so the text cannot drift
//! from what is parsed); [`ServerArgs`] is what was parsed, and builds the
//! runtime and the TLS options.

use std::error::Error;
use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;

use loopcore::{RuntimeBuilder, ServeOptions};

/// The default `--host`.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// Whether an example serves TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain TCP only: `--tls`, `--cert` and `--key` are unknown flags.
    Off,
    /// Plain TCP unless `--tls` (or `--cert`/`--key`) is given.
    Optional,
    /// Always TLS: `--cert`/`--key`, or a self-signed certificate.
    Always,
}

/// One example's command line: its name, default port, whether it runs
/// several loops, TLS, and its own flags (for `--help`; the `extra` hook
/// of [`Cli::parse`] parses them).
#[derive(Debug, Clone)]
pub struct Cli {
    name: &'static str,
    port: u16,
    loops: bool,
    tls: Tls,
    /// `(synopsis, help)`: `"--root DIR"` (required) or `"[--pin]"`.
    flags: Vec<(&'static str, &'static str)>,
}

/// The shared flags, parsed.
#[derive(Debug, Clone)]
pub struct ServerArgs {
    /// `--host` (default `127.0.0.1`).
    pub host: String,
    /// `--port` (the example's default; 0 picks a free one).
    pub port: u16,
    /// `--loops` (default: one per available CPU; always `None` for a
    /// single-loop example).
    pub loops: Option<usize>,
    /// `--tls`, a `--cert` given, or an example that is always TLS.
    pub tls: bool,
    /// `--cert PEM`.
    pub cert: Option<String>,
    /// `--key PEM`.
    pub key: Option<String>,
}

/// A flag the shared set does not know, handed to an example's `extra`
/// hook, with its value (if it takes one) read on demand.
pub struct Flag<'a> {
    name: &'a str,
    next: &'a mut dyn FnMut() -> Option<String>,
}

impl std::fmt::Debug for Flag<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flag").field("name", &self.name).finish()
    }
}

impl Flag<'_> {
    /// The flag as given (`--root`).
    pub fn name(&self) -> &str {
        self.name
    }

    /// The flag's value: the next argument.
    pub fn value(&mut self) -> Result<String, String> {
        (self.next)().ok_or_else(|| format!("{} needs a value", self.name))
    }

    /// The flag's value, parsed; an error names the flag.
    pub fn parse<T: FromStr>(&mut self) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        let text = self.value()?;
        parse_value(self.name, &text)
    }
}

/// `text` parsed as the value of `flag`; an error names both.
fn parse_value<T: FromStr>(flag: &str, text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| format!("{flag} {text:?}: {e} (try --help)"))
}

impl Cli {
    /// The command line of the example `name`: port 8080, several loops
    /// (`--loops`), no TLS, no flags of its own.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            port: 8080,
            loops: true,
            tls: Tls::Off,
            flags: Vec::new(),
        }
    }

    /// The default `--port`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The example runs a single event loop: `--loops` is refused.
    pub fn single_loop(mut self) -> Self {
        self.loops = false;
        self
    }

    /// Whether the example serves TLS.
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = tls;
        self
    }

    /// One of the example's own flags, for `--help`: its synopsis as the
    /// usage line shows it (`"--root DIR"` when required, `"[--pin]"`
    /// otherwise) and what it does.
    pub fn flag(mut self, synopsis: &'static str, help: &'static str) -> Self {
        self.flags.push((synopsis, help));
        self
    }

    /// The `--help` text.
    pub fn help(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            (
                "--host H".into(),
                format!("the address to listen on (default {DEFAULT_HOST})"),
            ),
            (
                "--port P".into(),
                format!("the port (default {}; 0 picks a free one)", self.port),
            ),
        ];
        let mut synopsis = format!("usage: {} [--host H] [--port P]", self.name);
        if self.loops {
            synopsis.push_str(" [--loops N]");
            rows.push((
                "--loops N".into(),
                "event loops, one thread each (default: one per CPU this process may use)".into(),
            ));
        }
        match self.tls {
            Tls::Off => {}
            Tls::Optional => {
                synopsis.push_str(" [--tls] [--cert PEM --key PEM]");
                rows.push((
                    "--tls".into(),
                    "serve TLS; without --cert/--key, with a self-signed certificate \
                     for localhost and 127.0.0.1 (its PEM path is printed)"
                        .into(),
                ));
                rows.push((
                    "--cert PEM --key PEM".into(),
                    "the certificate chain and its key, PEM files (implies --tls)".into(),
                ));
            }
            Tls::Always => {
                synopsis.push_str(" [--cert PEM --key PEM]");
                rows.push((
                    "--cert PEM --key PEM".into(),
                    "the certificate chain and its key, PEM files (default: a self-signed \
                     certificate for localhost and 127.0.0.1; its PEM path is printed)"
                        .into(),
                ));
            }
        }
        for (flag, help) in &self.flags {
            synopsis.push(' ');
            synopsis.push_str(flag);
            let bare = flag.trim_start_matches('[').trim_end_matches(']');
            rows.push((bare.into(), (*help).into()));
        }
        rows.push(("-h, --help".into(), "print this text".into()));
        let width = rows.iter().map(|(flag, _)| flag.len()).max().unwrap_or(0);
        let mut text = synopsis;
        text.push('\n');
        for (flag, help) in rows {
            let _ = write!(text, "\n  {flag:width$}  {help}");
        }
        if !self.loops {
            let _ = write!(
                text,
                "\n\n{} runs a single event loop: --loops is refused.",
                self.name
            );
        }
        text
    }

    /// Parses this process's arguments (see [`Cli::parse_from`]).
    pub fn parse(
        &self,
        extra: impl FnMut(&mut Flag<'_>) -> Result<bool, Box<dyn Error>>,
    ) -> Result<Option<ServerArgs>, Box<dyn Error>> {
        self.parse_from(std::env::args().skip(1), extra)
    }

    /// Parses `args` (the program name left out). `extra` sees every flag
    /// the shared set does not know and returns whether it took it
    /// (reading its value through the [`Flag`]). `Ok(None)` after `--help`
    /// printed [`Cli::help`].
    pub fn parse_from(
        &self,
        args: impl IntoIterator<Item = String>,
        mut extra: impl FnMut(&mut Flag<'_>) -> Result<bool, Box<dyn Error>>,
    ) -> Result<Option<ServerArgs>, Box<dyn Error>> {
        let mut parsed = ServerArgs {
            host: DEFAULT_HOST.to_owned(),
            port: self.port,
            loops: None,
            tls: self.tls == Tls::Always,
            cert: None,
            key: None,
        };
        let with_tls = self.tls != Tls::Off;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut next = || args.next();
            let mut flag = Flag {
                name: &arg,
                next: &mut next,
            };
            match arg.as_str() {
                "--host" => parsed.host = flag.value()?,
                "--port" => parsed.port = flag.parse()?,
                "--loops" if self.loops => parsed.loops = Some(flag.parse()?),
                "--loops" => {
                    return Err(format!(
                        "{} runs a single event loop: --loops is refused (try --help)",
                        self.name
                    )
                    .into())
                }
                "--tls" if self.tls == Tls::Optional => parsed.tls = true,
                "--cert" if with_tls => parsed.cert = Some(flag.value()?),
                "--key" if with_tls => parsed.key = Some(flag.value()?),
                "-h" | "--help" => {
                    println!("{}", self.help());
                    return Ok(None);
                }
                _ => {
                    if !extra(&mut flag)? {
                        return Err(unknown(&arg).into());
                    }
                }
            }
        }
        parsed.tls |= parsed.cert.is_some() || parsed.key.is_some();
        Ok(Some(parsed))
    }
}

/// The error for an argument nobody took; a positional address (what
/// some examples used to take) gets the flags to use instead.
fn unknown(arg: &str) -> String {
    match arg.parse::<SocketAddr>() {
        Ok(addr) => format!(
            "unknown argument {arg:?}: give the address as --host {} --port {}",
            addr.ip(),
            addr.port()
        ),
        Err(_) => format!("unknown argument {arg:?} (try --help)"),
    }
}

impl ServerArgs {
    /// `(host, port)`, for `serve` and `create_server`.
    pub fn addr(&self) -> (&str, u16) {
        (self.host.as_str(), self.port)
    }

    /// The first address `--host`/`--port` resolve to (for the APIs that
    /// take a [`SocketAddr`]).
    pub fn socket_addr(&self) -> Result<SocketAddr, Box<dyn Error>> {
        self.addr()
            .to_socket_addrs()
            .map_err(|e| format!("--host {}: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("--host {}: no address", self.host).into())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(cli: &Cli, args: &[&str]) -> Result<Option<ServerArgs>, String> {
        cli.parse_from(args.iter().map(|a| a.to_string()), |_| Ok(false))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_shared_flags_and_their_defaults() {
        let cli = Cli::new("x").port(7000);
        let args = parse(&cli, &[]).unwrap().unwrap();
        assert_eq!((args.host.as_str(), args.port), ("127.0.0.1", 7000));
        assert_eq!(args.loops, None);
        assert!(!args.tls);
        let args = parse(&cli, &["--host", "::1", "--port", "0", "--loops", "3"])
            .unwrap()
            .unwrap();
        assert_eq!(args.addr(), ("::1", 0));
        assert_eq!(args.loops, Some(3));
    }

    #[test]
    fn a_single_loop_example_refuses_loops_and_says_so_in_its_help() {
        let cli = Cli::new("echo").single_loop();
        let error = parse(&cli, &["--loops", "2"]).unwrap_err();
        assert!(error.contains("echo runs a single event loop"), "{error}");
        let help = cli.help();
        assert!(!help.contains("[--loops N]"), "{help}");
        assert!(help.contains("--loops is refused"), "{help}");
    }

    #[test]
    fn tls_flags_only_where_offered() {
        let off = Cli::new("x");
        assert!(parse(&off, &["--tls"]).is_err());
        assert!(parse(&off, &["--cert", "c.pem"]).is_err());
        let optional = Cli::new("x").tls(Tls::Optional);
        assert!(parse(&optional, &["--tls"]).unwrap().unwrap().tls);
        let args = parse(&optional, &["--cert", "c", "--key", "k"])
            .unwrap()
            .unwrap();
        assert!(args.tls);
        let always = Cli::new("x").tls(Tls::Always);
        assert!(parse(&always, &[]).unwrap().unwrap().tls);
        assert!(parse(&always, &["--tls"]).is_err());
    }

    #[test]
    fn errors_name_the_flag_and_a_positional_address_gets_the_flags() {
        let cli = Cli::new("x");
        let error = parse(&cli, &["--port", "eighty"]).unwrap_err();
        assert!(error.starts_with("--port \"eighty\""), "{error}");
        assert_eq!(
            parse(&cli, &["--port"]).unwrap_err(),
            "--port needs a value"
        );
        let error = parse(&cli, &["127.0.0.1:7000"]).unwrap_err();
        assert!(error.contains("--host 127.0.0.1 --port 7000"), "{error}");
        let error = parse(&cli, &["--bogus"]).unwrap_err();
        assert!(error.contains("unknown argument \"--bogus\""), "{error}");
    }

    #[test]
    fn an_examples_own_flags_go_through_the_hook_and_into_the_help() {
        let cli = Cli::new("x").flag("--root DIR", "serve DIR");
        let mut root = None;
        let mut threads = 0usize;
        let args = ["--root", "/tmp", "--threads", "4"].map(String::from);
        cli.parse_from(args, |flag| {
            match flag.name() {
                "--root" => root = Some(flag.value()?),
                "--threads" => threads = flag.parse()?,
                _ => return Ok(false),
            }
            Ok(true)
        })
        .unwrap()
        .unwrap();
        assert_eq!((root.as_deref(), threads), (Some("/tmp"), 4));
        let help = cli.help();
        assert!(help.starts_with("usage: x [--host H] [--port P] [--loops N] --root DIR\n"));
        assert!(help.contains("\n  --root DIR"), "{help}");
    }
}
