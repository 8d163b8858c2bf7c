//! Futures over the loop's timers: [`sleep`], [`sleep_until`] and
//! [`timeout`] (asyncio's `sleep` and `wait_for`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::handle::TimerHandle;
use crate::{Error, ErrorKind, EventLoop, Result};

/// Completes at its deadline, never earlier. Created by [`sleep`].
///
/// The timer is armed on the loop that first polls it; dropping the future
/// cancels the timer.
pub struct Sleep {
    deadline: Instant,
    /// The loop timer that wakes this future; it is gone from the loop's
    /// timers once it ran.
    armed: Option<TimerHandle>,
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
    // The running loop's clock (paused in tests), else real time.
    let now = EventLoop::try_current().map_or_else(Instant::now, |lp| lp.time());
    sleep_until(
        now.checked_add(duration)
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
        let lp =
            EventLoop::try_current().expect("loopcore: Sleep polled outside a running event loop");
        if let Some(timer) = &self.armed {
            if lp.timer_still_pending(timer, cx.waker()) {
                return Poll::Pending;
            }
            if timer.loop_id() == lp.core_id() {
                // It ran: the deadline has passed.
                return Poll::Ready(());
            }
            // Moved to another loop of this thread: arm there instead.
            timer.cancel();
        }
        // Against the iteration's time (at or before now): never early,
        // and no clock read per sleep; one already due by now but not by
        // then fires on the next iteration.
        if lp.core.iteration_now() >= self.deadline {
            return Poll::Ready(());
        }
        self.armed = Some(lp.wake_at(self.deadline, cx.waker()));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(timer) = &self.armed {
            timer.cancel();
        }
    }
}

/// Runs `future` for at most `duration` (asyncio's `wait_for`): its output,
/// or an error of kind [`TimedOut`](ErrorKind::TimedOut), in which case the
/// future is dropped.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut sleep = sleep(duration);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Error::new(
                ErrorKind::TimedOut,
                "the operation did not complete before its timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
