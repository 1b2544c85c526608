//! Compression states shared by many connections: the "shared compressor"
//! of a server whose connections keep none between messages.

use std::sync::{Mutex, MutexGuard, PoisonError};

use flate2::Decompress;

use super::codec::Settings;

/// Compressors and decompressors for reuse by any number of connections,
/// on any threads: the shared compressor of [`ServerMode::Stateless`](super::ServerMode::Stateless).
///
/// A direction without context takeover needs its state only while one
/// message goes through it. Without a pool, that state is allocated for
/// the message and freed after it; with one, it is taken from the pool
/// (or allocated when none fits) and given back, reset, afterwards: no
/// allocation per message once the pool is warm, and never more states
/// than messages being compressed or inflated at that instant. At most
/// `max_idle` of each kind wait in the pool; more are freed.
///
/// It is an explicit handle, not a global: give a `&'static` reference in
/// [`DeflateConfig::pool`](super::DeflateConfig::pool), from a `static`
/// or from [`leak`](Self::leak). Everything the connections given that
/// configuration compress goes through it. Thread-safe: a lock held only
/// to take or give back a state, never while compressing.
///
/// Memory: each idle compressor holds what zlib-rs allocates for its
/// settings (273 KiB at 15 window bits and memLevel 5, the defaults; see
/// the [module docs](super)), each idle decompressor 46 KiB. A pool of 4
/// holds at most about 1.3 MiB, whatever the number of connections.
///
/// ```
/// use wsproto::deflate::{DeflateConfig, DeflatePool};
///
/// static POOL: DeflatePool = DeflatePool::new(4);
/// let mut deflate = DeflateConfig::default();
/// deflate.pool = Some(&POOL);
/// let server = wsproto::blocking::ServerBuilder::new().deflate(deflate);
/// # let _ = server;
/// ```
pub struct DeflatePool {
    max_idle: usize,
    compressors: Mutex<Vec<(Settings, zlib_rs::Deflate)>>,
    inflaters: Mutex<Vec<(u8, Decompress)>>,
}

impl DeflatePool {
    /// An empty pool that keeps at most `max_idle` idle compressors and as
    /// many idle decompressors. `const`: it can be a `static`.
    pub const fn new(max_idle: usize) -> DeflatePool {
        DeflatePool {
            max_idle,
            compressors: Mutex::new(Vec::new()),
            inflaters: Mutex::new(Vec::new()),
        }
    }

    /// A pool that lives until the process ends, for a pool sized at run
    /// time (e.g. by the number of worker threads).
    pub fn leak(max_idle: usize) -> &'static DeflatePool {
        Box::leak(Box::new(DeflatePool::new(max_idle)))
    }

    /// Idle compressors waiting in the pool.
    pub fn idle_compressors(&self) -> usize {
        lock(&self.compressors).len()
    }

    /// Idle decompressors waiting in the pool.
    pub fn idle_decompressors(&self) -> usize {
        lock(&self.inflaters).len()
    }

    /// A compressor made with `settings`, reset, if one is idle.
    pub(crate) fn take_compressor(&self, settings: Settings) -> Option<zlib_rs::Deflate> {
        let mut idle = lock(&self.compressors);
        let at = idle.iter().rposition(|(s, _)| *s == settings)?;
        Some(idle.swap_remove(at).1)
    }

    /// Gives back a compressor after a message: reset (RFC 7692 §7.2.1,
    /// the next message starts "with an empty LZ77 sliding window") and
    /// kept if there is room, freed otherwise.
    pub(crate) fn put_compressor(&self, settings: Settings, mut state: zlib_rs::Deflate) {
        state.reset();
        let mut idle = lock(&self.compressors);
        if idle.len() < self.max_idle {
            idle.push((settings, state));
        }
    }

    /// A decompressor for `window_bits`, reset, if one is idle.
    pub(crate) fn take_decompressor(&self, window_bits: u8) -> Option<Decompress> {
        let mut idle = lock(&self.inflaters);
        let at = idle.iter().rposition(|(bits, _)| *bits == window_bits)?;
        Some(idle.swap_remove(at).1)
    }

    /// Gives back a decompressor after a message, reset.
    pub(crate) fn put_decompressor(&self, window_bits: u8, mut state: Decompress) {
        state.reset(false);
        let mut idle = lock(&self.inflaters);
        if idle.len() < self.max_idle {
            idle.push((window_bits, state));
        }
    }
}

/// The lock, even if a thread panicked while holding it: the vectors stay
/// consistent (a push or a swap_remove either happened or did not).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl std::fmt::Debug for DeflatePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeflatePool")
            .field("max_idle", &self.max_idle)
            .field("idle_compressors", &self.idle_compressors())
            .field("idle_decompressors", &self.idle_decompressors())
            .finish()
    }
}

/// Pools are compared by identity: two configurations are equal when they
/// share the same pool.
impl PartialEq for DeflatePool {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for DeflatePool {}
