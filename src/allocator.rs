//! Settings of mimalloc, the global allocator of the `fsl` binary, the examples and the
//! benchmarks.

use libmimalloc_sys::mi_option_t;

/// `mi_option_purge_delay`, the 16th entry of the `mi_option_e` enumeration in mimalloc's v3
/// `mimalloc.h` (the version libmimalloc-sys builds by default); the Rust bindings do not name it.
const PURGE_DELAY: mi_option_t = 15;

/// The purge delay that turns purging off.
const NEVER: std::ffi::c_long = -1;

/// Makes mimalloc keep the pages it frees instead of returning them to the operating system.
///
/// A training step frees and allocates again tensors of several megabytes. When mimalloc
/// purges them between steps, every step faults the pages in again and the kernel clears
/// them: 12,020 page faults against 439 over the same Conv-4 training benchmark run. The
/// memory of a process stays at its peak instead, which suits a training run.
///
/// Call it first in `main`; it has no effect unless mimalloc is the global allocator.
pub fn keep_freed_pages() {
    // SAFETY: `mi_option_set` takes two integers and only stores the value in mimalloc's option
    // table, which any thread may do at any time. The index is below `_mi_option_last` (47 in
    // v3), so it is within the table.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, NEVER);
    }
}

/// Returns mimalloc's purge delay in milliseconds (-1: never purge).
pub fn purge_delay() -> std::ffi::c_long {
    // SAFETY: as in `keep_freed_pages`, a read of one entry of the option table.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_get(PURGE_DELAY)
    }
}
