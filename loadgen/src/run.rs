//! Running a load: a loopcore [`Runtime`] with one loop per client thread,
//! the connections spread over the loops, each loop recording into its own
//! [`Recorder`]; a per-loop ticker checks timeouts and ends the loop's part
//! of the run; the recordings, the loops' busy time and the process's CPU
//! time come back to the caller as a [`Outcome`].

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use loopcore::{EventLoop, Pinning, Runtime};

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::client::{LoopRun, Plan};
use crate::stats::Recorder;

/// How often each loop checks for timeouts and for the end of the run.
const TICK: Duration = Duration::from_millis(10);

/// The longest wait for answers still in flight after the last send.
const MAX_DRAIN: Duration = Duration::from_secs(2);

/// How a run is spread over the machine.
#[derive(Debug, Clone)]
pub struct Spread {
    /// Client loops (threads).
    pub loops: usize,
    /// Pin loop `i` to `cpus[i % len]`; empty: not pinned.
    pub cpus: Vec<usize>,
    /// Stop after this many requests in total.
    pub requests: Option<u64>,
}

/// One loop's part of the result.
#[derive(Debug, Clone)]
pub struct LoopOutcome {
    /// What it recorded.
    pub recorder: Recorder,
    /// The share of its wall time the loop spent running callbacks (not
    /// waiting in epoll): near 1.0 means the generator was the limit.
    pub busy: f64,
    /// CPU time the loop's thread used (user + system), in seconds.
    pub cpu_seconds: f64,
}

/// What loops tell the thread that started them.
enum Message {
    /// One second of latencies (`--hdr-log`): interval `index` counted
    /// from the start of the measured window.
    Interval {
        index: u64,
        histogram: Histogram<u64>,
    },
    /// The loop is done.
    Finished(Box<Finished>),
}

/// A loop's report at its end.
#[derive(Debug, Clone)]
struct Finished {
    index: usize,
    recorder: Recorder,
    /// When it ended (capped at the end of the measured window).
    at: Instant,
    /// CPU seconds its thread used.
    cpu: f64,
    /// Seconds its thread was ready to run but waited for a CPU.
    waited: f64,
}

/// What a loop thread has used so far: CPU time, and time spent waiting
/// for a CPU while runnable.
#[derive(Debug, Clone, Copy)]
struct ThreadUsage {
    cpu: f64,
    waited: f64,
}

impl ThreadUsage {
    fn now() -> Self {
        Self {
            cpu: cpu_seconds("/proc/thread-self/stat"),
            waited: run_queue_seconds("/proc/thread-self/schedstat"),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// All loops merged.
    pub total: Recorder,
    /// Per loop, in loop order.
    pub per_loop: Vec<LoopOutcome>,
    /// The measured window (after the warm-up, until the last loop ended
    /// or the duration passed).
    pub duration: Duration,
    /// CPU time the client loops' threads used (user + system), in
    /// seconds: the generator's own cost, whatever else runs in the
    /// process.
    pub cpu_seconds: f64,
    /// With `Plan::interval_log`: each second's latencies, merged over the
    /// loops, by second from the start of the measured window.
    pub intervals: BTreeMap<u64, Histogram<u64>>,
}

/// Runs `plan` over `spread` and returns what was measured.
pub fn run(plan: Plan, spread: &Spread) -> Result<Outcome> {
    run_with_progress(plan, spread, |_| {})
}

/// [`run`], calling `progress` with the time since the start about ten
/// times a second.
pub fn run_with_progress(
    plan: Plan,
    spread: &Spread,
    mut progress: impl FnMut(Duration),
) -> Result<Outcome> {
    if spread.loops == 0 {
        bail!("at least one loop (-t) is needed");
    }
    let loops = spread.loops;
    let plan = Arc::new(plan);
    let (done_tx, done_rx) = mpsc::channel::<Message>();
    let mut builder = Runtime::builder()
        .loops(loops)
        .thread_name("loadgen")
        .handle_signals(false);
    if !spread.cpus.is_empty() {
        builder = builder.pinning(Pinning::List(spread.cpus.clone()));
    }
    let requests = spread.requests;
    let loop_plan = plan.clone();
    let runtime = builder
        .on_loop_start(move |lp| {
            let index = loopcore::current_loop_index().unwrap_or(0);
            let budget =
                requests.map(|n| n / loops as u64 + u64::from((index as u64) < n % loops as u64));
            let indexes = (index..loop_plan.connections).step_by(loops);
            let started = ThreadUsage::now();
            let run = LoopRun::start(lp, loop_plan.clone(), indexes, budget);
            tick(lp, run, done_tx.clone(), index, started);
        })
        .build()
        .context("starting the client loops")?;
    let mut finished: Vec<Option<Finished>> = vec![None; loops];
    let give_up = plan.stop_at.checked_add(MAX_DRAIN + Duration::from_secs(5));
    let mut intervals: BTreeMap<u64, Histogram<u64>> = BTreeMap::new();
    let mut received = 0;
    while received < loops {
        let wait = Duration::from_millis(100);
        if give_up.is_some_and(|at| Instant::now() >= at) {
            break;
        }
        let message = match done_rx.recv_timeout(wait) {
            Ok(message) => message,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                progress(plan.start.elapsed());
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match message {
            Message::Interval { index, histogram } => match intervals.get_mut(&index) {
                Some(merged) => {
                    let _ = merged.add(&histogram);
                }
                None => {
                    intervals.insert(index, histogram);
                }
            },
            Message::Finished(finished_loop) => {
                let index = finished_loop.index;
                finished[index] = Some(*finished_loop);
                received += 1;
            }
        }
    }
    let stats = runtime.stats();
    runtime.shutdown(Duration::from_millis(200));
    runtime.run().context("stopping the client loops")?;
    if received < loops {
        bail!(
            "{} of {loops} client loops did not finish in time",
            loops - received
        );
    }
    let mut total = Recorder::default();
    let mut per_loop = Vec::with_capacity(loops);
    let mut last = plan.measure_from;
    let mut cpu_seconds = 0.0;
    for (index, part) in finished.into_iter().enumerate() {
        let Finished {
            recorder,
            at,
            cpu,
            waited,
            ..
        } = part.expect("every loop reported");
        last = last.max(at);
        cpu_seconds += cpu;
        total.merge(&recorder);
        let loop_stats = &stats.per_loop[index];
        // Busy: the time the loop's thread ran or was ready to run and
        // waited for a CPU, over the time the loop ran. (The loop's own
        // busy time is CPU time only; a generator starved of CPU is as
        // much the bottleneck as one using all of it.)
        let ran = (loop_stats.busy_ns + loop_stats.poll_wait_ns) as f64 / 1e9;
        let busy = if ran > 0.0 {
            ((cpu + waited) / ran).min(1.0)
        } else {
            0.0
        };
        per_loop.push(LoopOutcome {
            recorder,
            busy,
            cpu_seconds: cpu,
        });
    }
    let duration = last
        .min(plan.stop_at)
        .saturating_duration_since(plan.measure_from);
    Ok(Outcome {
        total,
        per_loop,
        duration,
        cpu_seconds,
        intervals,
    })
}

/// Checks timeouts every [`TICK`]; ends this loop's part once nothing is
/// in flight and nothing more will be sent, or the drain time is up.
fn tick(
    lp: &EventLoop,
    run: std::rc::Rc<LoopRun>,
    done: mpsc::Sender<Message>,
    index: usize,
    started: ThreadUsage,
) {
    lp.call_later(TICK, move |lp| {
        let now = Instant::now();
        run.sweep_timeouts(now);
        send_intervals(&run, &done, now);
        let plan = &run.plan;
        let drain_until = plan
            .stop_at
            .checked_add(plan.timeout.min(MAX_DRAIN))
            .unwrap_or(plan.stop_at);
        if run.is_idle(now) || now >= drain_until {
            run.finish();
            // The last, partial second.
            send_intervals(&run, &done, now + Duration::from_secs(1));
            let recorder = run.recorder.borrow().clone();
            let usage = ThreadUsage::now();
            let _ = done.send(Message::Finished(Box::new(Finished {
                index,
                recorder,
                at: now.min(plan.stop_at),
                cpu: usage.cpu - started.cpu,
                waited: usage.waited - started.waited,
            })));
            return;
        }
        tick(lp, run, done, index, started);
    });
}

/// Sends the interval histogram of every second of the measured window
/// that has ended by `now` (`--hdr-log`).
fn send_intervals(run: &LoopRun, done: &mpsc::Sender<Message>, now: Instant) {
    let plan = &run.plan;
    if !plan.interval_log || now < plan.measure_from {
        return;
    }
    let elapsed_seconds = now.duration_since(plan.measure_from).as_secs();
    let mut recorder = run.recorder.borrow_mut();
    while recorder.interval_index < elapsed_seconds {
        let index = recorder.interval_index;
        recorder.interval_index += 1;
        if let Some(histogram) = recorder.take_interval() {
            let _ = done.send(Message::Interval { index, histogram });
        }
    }
}

/// Time spent runnable but waiting for a CPU, in seconds, from a
/// `/proc` schedstat file (its second field, in nanoseconds); 0 where the
/// kernel keeps no scheduler statistics.
pub fn run_queue_seconds(schedstat_file: &str) -> f64 {
    std::fs::read_to_string(schedstat_file)
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |nanos| nanos / 1e9)
}

/// User + system CPU time from a `/proc` stat file: `/proc/self/stat`
/// for the process, `/proc/thread-self/stat` for the calling thread.
pub fn cpu_seconds(stat_file: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(stat_file) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; the state (field
    // 3) is the first one after the command name.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    // Linux has used 100 for USER_HZ on every architecture for decades;
    // `getconf CLK_TCK` would need libc.
    100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_queue_time_is_the_second_schedstat_field_in_seconds() {
        let dir = std::env::temp_dir().join(format!("loadgen-schedstat-{}", std::process::id()));
        std::fs::write(&dir, "337234 2500000000 5\n").unwrap();
        assert_eq!(run_queue_seconds(dir.to_str().unwrap()), 2.5);
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(run_queue_seconds("/nonexistent/schedstat"), 0.0);
    }
}
