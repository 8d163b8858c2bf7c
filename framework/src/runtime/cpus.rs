//! Which CPUs the runtime may use: the default loop count and pinning.

use crate::{Error, ErrorKind, Result};

/// Where loop threads run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Pinning {
    /// The scheduler places the threads (the default: right for shared
    /// machines and CPU-quota containers, where the CPUs in the affinity
    /// mask are not all ours to keep busy).
    #[default]
    Off,
    /// Loop `i` is pinned to the `i`-th CPU of this process's affinity
    /// mask, wrapping around when there are more loops than CPUs.
    Cores,
    /// Loop `i` is pinned to `cpus[i % cpus.len()]` (CPU ids as the kernel
    /// numbers them).
    List(Vec<usize>),
}

impl Pinning {
    /// The CPU of each loop, or `None` when unpinned.
    pub(crate) fn cpus_for(&self, loops: usize) -> Result<Option<Vec<usize>>> {
        let cpus = match self {
            Pinning::Off => return Ok(None),
            Pinning::Cores => allowed_cpus(),
            Pinning::List(cpus) => cpus.clone(),
        };
        if cpus.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "pinning needs at least one CPU (the list is empty, or the affinity mask could not be read)",
            ));
        }
        Ok(Some((0..loops).map(|i| cpus[i % cpus.len()]).collect()))
    }
}

/// The CPUs in this process's affinity mask, as the kernel numbers them
/// (for splitting a machine between a server and its load generator).
///
/// ```
/// assert!(!loopcore::allowed_cpus().is_empty());
/// ```
pub fn allowed_cpus() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|core| core.id)
        .collect()
}

/// How many CPUs this process may keep busy: its affinity mask, capped by
/// its cgroup CPU quota (both as `std::thread::available_parallelism`
/// reads them). The default loop count.
///
/// ```
/// assert!(loopcore::available_cpus() >= 1);
/// ```
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Pins the calling thread; a failure is logged, not fatal (the loop runs
/// unpinned).
pub(crate) fn pin_current_thread(cpu: usize) {
    if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        tracing::warn!(
            "loopcore runtime: could not pin a loop thread to CPU {cpu}; running unpinned"
        );
    }
}
