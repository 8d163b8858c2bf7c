//! Logs from a runtime's loops say which loop they come from: every loop
//! thread runs inside a `loop{index}` span, so a user's subscriber sees
//! the index on the exception handler's reports and the shutdown events.
//! (Its own test binary: it installs the process-wide subscriber.)

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use loopcore::Runtime;
use tracing_subscriber::fmt::MakeWriter;

/// A writer into a shared buffer, as the subscriber's output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The lines of `text` logged inside loop `index`'s span that contain
/// `needle`.
fn lines_of_loop<'t>(text: &'t str, index: usize, needle: &str) -> Vec<&'t str> {
    let span = format!("loop{{index={index}");
    text.lines()
        .filter(|line| line.contains(&span) && line.contains(needle))
        .collect()
}

#[test]
fn logs_from_two_loops_carry_their_loop_index() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let runtime = Runtime::builder().loops(2).build().unwrap();
    // A callback that panics on each loop: the default exception handler
    // reports it through tracing.
    runtime.handle().broadcast(|lp| {
        lp.call_soon(|_| panic!("a panic on purpose"));
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while (0..2).any(|i| lines_of_loop(&captured.text(), i, "a panic on purpose").is_empty()) {
        assert!(Instant::now() < deadline, "{}", captured.text());
        std::thread::sleep(Duration::from_millis(10));
    }
    runtime.shutdown(Duration::from_secs(1));
    runtime.run().unwrap();

    let text = captured.text();
    for index in 0..2 {
        let panics = lines_of_loop(&text, index, "a panic on purpose");
        assert!(panics[0].contains("ERROR"), "{text}");
        assert!(panics[0].contains("loop_id="), "{text}");
        assert_eq!(
            lines_of_loop(&text, index, "shutdown began").len(),
            1,
            "{text}"
        );
        assert_eq!(
            lines_of_loop(&text, index, "every connection closed").len(),
            1,
            "{text}"
        );
    }
}
