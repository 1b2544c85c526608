//! The JavaScript callbacks this module hands the browser, counted: each
//! [`Callback`] adds one to a process-wide count while it lives, so a test
//! can see that every `WebSocket` dropped (and every timer) gave its
//! closures back ([`live_callbacks`]).

use core::sync::atomic::{AtomicUsize, Ordering};

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::{Closure, WasmClosure};

/// How many callbacks of this module the browser may still call.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The number of JavaScript callbacks (socket event handlers, timers) of
/// this module alive now: 0 once every `WebSocket`, reader, writer and
/// timer has been dropped. For leak tests; not part of the API.
#[doc(hidden)]
pub fn live_callbacks() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// A Rust closure the browser can call, counted while it lives. Dropping
/// it frees the closure: unhook it from the browser first.
pub(crate) struct Callback<T: ?Sized> {
    closure: Closure<T>,
}

impl<T: ?Sized + WasmClosure> Callback<T> {
    pub(crate) fn new(closure: Closure<T>) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Callback { closure }
    }

    /// The function to hand the browser.
    pub(crate) fn function(&self) -> &js_sys::Function {
        self.closure.as_ref().unchecked_ref()
    }
}

impl<T: ?Sized> Drop for Callback<T> {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}
