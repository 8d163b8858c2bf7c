//! Futures over the loop's timers: [`sleep`], [`sleep_until`] and
//! [`timeout`] (asyncio's `sleep` and `wait_for`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::handle::TimerHandle;
use crate::{Error, ErrorKind, EventLoop, Result};

#[derive(Default)]
struct Alarm {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// Completes at its deadline, never earlier. Created by [`sleep`].
///
/// The timer is armed on the loop that first polls it; dropping the future
/// cancels the timer.
pub struct Sleep {
    deadline: Instant,
    armed: Option<(TimerHandle, Rc<Alarm>)>,
}

/// Sleeps for `duration` on the current loop.
///
/// ```
/// use std::time::{Duration, Instant};
/// let lp = loopcore::EventLoop::new()?;
/// let start = Instant::now();
/// lp.run_until_complete(loopcore::sleep(Duration::from_millis(2)))?;
/// assert!(start.elapsed() >= Duration::from_millis(2));
/// # Ok::<(), loopcore::Error>(())
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(
        Instant::now()
            .checked_add(duration)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365 * 30)),
    )
}

/// Sleeps until `deadline` on the current loop.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        armed: None,
    }
}

impl Sleep {
    /// When this sleep ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some((_, alarm)) = &self.armed {
            if alarm.fired.get() {
                return Poll::Ready(());
            }
            let mut waker = alarm.waker.borrow_mut();
            if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let lp =
            EventLoop::try_current().expect("loopcore: Sleep polled outside a running event loop");
        let alarm = Rc::new(Alarm {
            fired: Cell::new(false),
            waker: RefCell::new(Some(cx.waker().clone())),
        });
        let ring = Rc::clone(&alarm);
        let handle = lp.call_at(self.deadline, move |_| {
            ring.fired.set(true);
            let waker = ring.waker.borrow_mut().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        self.armed = Some((handle, alarm));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((handle, _)) = &self.armed {
            handle.cancel();
        }
    }
}

/// Runs `future` for at most `duration` (asyncio's `wait_for`): its output,
/// or an error of kind [`TimedOut`](ErrorKind::TimedOut), in which case the
/// future is dropped.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
    .await
}

struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned (never moved out; no Drop or
        // Unpin impl on `Timeout`); `sleep` is Unpin and not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Error::new(
                ErrorKind::TimedOut,
                "the operation did not complete before its timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}
