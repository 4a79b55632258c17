//! glibc malloc settings for tensor workloads, applied once by every binary (through
//! [`crate::dispatch`]).
//!
//! glibc serves large allocations with fresh `mmap`s above a threshold it keeps raising, and
//! returns freed memory at the top of the heap to the system. A training step allocates and
//! frees the same few-megabyte activation and gradient buffers every step, so it kept paying
//! page faults and page clearing for them (about 5% of a step in `perf`). Fixing the mmap
//! threshold at 32 MB (glibc's maximum on 64-bit) and never trimming keeps those blocks in the
//! heap for the next step: 5-15% less time per MNRL step at batch 16 and 32 in paired runs, with
//! the same peak resident memory (docs/benchmarks.md). A user's own `MALLOC_*_` environment
//! settings win (any of them switches this off; `MALLOC_PERTURB_=0` is a harmless one).
//! [`peak_rss_mb`] reads what the benchmarks report.

/// Keep freed blocks of up to 32 MB in the heap for reuse (glibc on Linux; nothing elsewhere).
pub fn reuse_freed_memory() {
    let user_set = std::env::vars_os().any(|(k, _)| {
        k.to_str()
            .is_some_and(|k| k.starts_with("MALLOC_") && k.ends_with('_'))
    });
    if user_set {
        return;
    }
    apply();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() {
    const MMAP_THRESHOLD: libc::c_int = 32 << 20;
    const TOP_PAD: libc::c_int = 256 << 20;
    // SAFETY: mallopt only changes glibc's allocation policy for later calls; these parameters
    // take plain integers and every value is within glibc's documented range.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
        libc::mallopt(libc::M_TOP_PAD, TOP_PAD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() {}

/// Peak resident memory of this process in MB (Linux `VmHWM`; `None` elsewhere).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
