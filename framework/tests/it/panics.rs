//! Panics in user code reach the exception handler; the loop keeps running.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loopcore::{EventLoop, ExceptionContext};

/// Captures what `tracing` logs on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn with_captured_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    (result, text)
}

#[test]
fn a_panicking_callback_reaches_the_handler_and_the_loop_keeps_running() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, ctx: &ExceptionContext| {
        s.borrow_mut().push((
            ctx.message.clone(),
            ctx.panic_message.clone(),
            ctx.source,
            ctx.panic_location.is_some(),
        ));
    }));
    assert!(lp.get_exception_handler().is_some());
    lp.call_soon(|_| panic!("boom in a callback"));
    lp.call_later(Duration::ZERO, |_| panic!("boom in a timer"));
    let after = Rc::new(std::cell::Cell::new(false));
    let a = after.clone();
    lp.call_later(Duration::from_millis(1), move |lp| {
        a.set(true);
        lp.stop();
    });
    lp.run_forever().unwrap();
    assert!(after.get(), "the loop stopped serving after a panic");
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].1.as_deref(), Some("boom in a callback"));
    assert_eq!(seen[0].2, Some("callback"));
    assert!(seen[0].3, "location recorded");
    assert_eq!(seen[1].1.as_deref(), Some("boom in a timer"));
    assert_eq!(seen[1].2, Some("timer callback"));
    assert_eq!(lp.stats().panics, 2);
}

#[test]
fn a_panicking_handler_falls_back_to_the_default_handler() {
    let ((), logs) = with_captured_logs(|| {
        let lp = EventLoop::new().unwrap();
        lp.set_exception_handler(Some(|_: &EventLoop, _: &ExceptionContext| {
            panic!("the handler itself broke")
        }));
        lp.call_soon(|_| panic!("original failure"));
        let ok = Rc::new(std::cell::Cell::new(false));
        let o = ok.clone();
        lp.call_soon(move |lp| {
            o.set(true);
            lp.stop();
        });
        lp.run_forever().unwrap();
        assert!(ok.get());
    });
    assert!(logs.contains("the handler itself broke"), "logs: {logs}");
    assert!(logs.contains("original failure"), "logs: {logs}");
}

#[test]
fn the_default_handler_logs_and_can_be_restored() {
    let ((), logs) = with_captured_logs(|| {
        let lp = EventLoop::new().unwrap();
        lp.set_exception_handler(Some(|_: &EventLoop, _: &ExceptionContext| {}));
        lp.set_exception_handler(None::<fn(&EventLoop, &ExceptionContext)>);
        assert!(lp.get_exception_handler().is_none());
        lp.call_soon(|_| panic!("logged by default"));
        lp.call_soon(|lp| lp.stop());
        lp.run_forever().unwrap();
        lp.call_exception_handler(&ExceptionContext::new("reported by hand"));
    });
    assert!(logs.contains("logged by default"), "logs: {logs}");
    assert!(logs.contains("reported by hand"), "logs: {logs}");
}

#[test]
fn debug_mode_reports_slow_callbacks() {
    let ((), logs) = with_captured_logs(|| {
        let lp = EventLoop::new().unwrap();
        assert!(!lp.get_debug() || std::env::var_os(loopcore::DEBUG_ENV).is_some());
        lp.set_debug(true);
        assert!(lp.get_debug());
        assert_eq!(lp.slow_callback_duration(), Duration::from_millis(100));
        lp.set_slow_callback_duration(Duration::from_millis(5));
        lp.call_soon(|_| std::thread::sleep(Duration::from_millis(20)));
        lp.call_soon(|_| {});
        lp.call_soon(|lp| lp.stop());
        lp.run_forever().unwrap();
        assert_eq!(lp.stats().slow_callbacks, 1);
    });
    assert!(logs.contains("slow callback"), "logs: {logs}");
}

#[test]
fn slow_callbacks_are_not_timed_outside_debug_mode() {
    let lp = EventLoop::new().unwrap();
    lp.set_debug(false);
    lp.set_slow_callback_duration(Duration::from_millis(1));
    lp.call_soon(|_| std::thread::sleep(Duration::from_millis(5)));
    lp.call_soon(|lp| lp.stop());
    lp.run_forever().unwrap();
    assert_eq!(lp.stats().slow_callbacks, 0);
}

/// Run by `loopcore_debug_env_turns_debug_mode_on` in a child process with
/// the variable set (setting it here would race with the other tests).
#[test]
#[ignore = "run as a child process by loopcore_debug_env_turns_debug_mode_on"]
fn debug_env_child() {
    assert!(std::env::var_os(loopcore::DEBUG_ENV).is_some());
    let lp = EventLoop::new().unwrap();
    assert!(lp.get_debug(), "LOOPCORE_DEBUG did not turn debug mode on");
}

#[test]
fn loopcore_debug_env_turns_debug_mode_on() {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "panics::debug_env_child", "--ignored", "--quiet"])
        .env(loopcore::DEBUG_ENV, "1")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "child test failed: {status}");
    // An empty value means off, as PYTHONASYNCIODEBUG does.
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "panics::debug_env_child", "--ignored", "--quiet"])
        .env(loopcore::DEBUG_ENV, "")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "an empty LOOPCORE_DEBUG turned debug mode on"
    );
}
