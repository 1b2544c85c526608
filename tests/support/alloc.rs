//! The counting allocator: `System` with every allocation counted. A test
//! binary that measures heap declares it (one binary, one global
//! allocator):
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: support::alloc::Counting = support::alloc::Counting;
//! ```
//!
//! It keeps, for the whole process, the live heap bytes (requested sizes,
//! not the allocator's rounding), their peak since [`reset_peak`], the
//! largest single request and the number of allocations; and for each
//! thread its own allocations and live bytes, so tests running in
//! parallel do not disturb a per-thread figure. A reallocation counts as
//! an allocation. The benchmarks' `memory` bench uses this file too, and
//! [`trace`] (a backtrace for each allocation a measured thread makes).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering};

pub struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_ALLOCS: Cell<u64> = const { Cell::new(0) };
    static THREAD_LIVE: Cell<isize> = const { Cell::new(0) };
    static TRACE: Cell<Trace> = const { Cell::new(Trace::Off) };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trace {
    Off,
    On,
    /// Inside the tracer: its own allocations (the backtrace, the
    /// printing) are not traced again.
    Capturing,
}

/// Notes a change of `bytes` in live heap, by an allocation (or
/// reallocation) of `size` bytes when `size` is `Some`.
fn note(bytes: isize, size: Option<usize>) {
    let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
    // `try_with`: the slots are gone while a thread is being torn down.
    let _ = THREAD_LIVE.try_with(|c| c.set(c.get() + bytes));
    let Some(size) = size else { return };
    LARGEST.fetch_max(size, Ordering::Relaxed);
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    let trace = TRACE.try_with(Cell::get);
    if trace == Ok(Trace::Capturing) {
        return;
    }
    let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
    if trace == Ok(Trace::On) {
        TRACE.with(|t| t.set(Trace::Capturing));
        let trace = std::backtrace::Backtrace::force_capture();
        eprintln!("allocation of {size} B on the measured thread:\n{trace}");
        TRACE.with(|t| t.set(Trace::On));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize, Some(layout.size()));
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize, Some(layout.size()));
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize), None);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize, Some(new_size));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Live heap bytes, all threads.
pub fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

/// The most live heap bytes since the last [`reset_peak`].
pub fn peak() -> isize {
    PEAK.load(Ordering::SeqCst)
}

/// Starts a new peak at the live heap of now.
pub fn reset_peak() {
    PEAK.store(live(), Ordering::SeqCst);
}

/// The largest single allocation (or reallocation) so far, in bytes.
pub fn largest() -> usize {
    LARGEST.load(Ordering::Relaxed)
}

/// Allocations so far, all threads.
pub fn allocs() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

/// Allocations made by this thread so far.
pub fn thread_allocs() -> u64 {
    THREAD_ALLOCS.with(Cell::get)
}

/// Live heap bytes this thread has allocated and not freed (what other
/// threads free of it is theirs).
pub fn thread_live() -> isize {
    THREAD_LIVE.with(Cell::get)
}

/// Allocations this thread makes in `f`.
pub fn allocations(f: impl FnOnce()) -> u64 {
    let before = thread_allocs();
    f();
    thread_allocs() - before
}

/// What `f` returns, and the heap bytes this thread still holds for it
/// once it has returned.
pub fn held_bytes<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let before = thread_live();
    let value = f();
    (value, thread_live() - before)
}

/// [`allocations`], printing a backtrace for each allocation when
/// `trace` is set.
pub fn trace(trace: bool, f: impl FnOnce()) -> u64 {
    let before = thread_allocs();
    TRACE.with(|t| t.set(if trace { Trace::On } else { Trace::Off }));
    f();
    TRACE.with(|t| t.set(Trace::Off));
    thread_allocs() - before
}
