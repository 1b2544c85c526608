//! A sleep on the browser's clock: a future over `setTimeout`, cancelled
//! (`clearTimeout`, its closure freed) when dropped before it fires.

use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::callback::Callback;

/// The global scope's function `name` (`setTimeout`, `clearTimeout`):
/// found at run time, so that a worker has them too (no `window`), and
/// without an `extern` binding of ours that could clash with an
/// application's own binding of the same function at link time.
fn global_function(name: &str) -> Option<js_sys::Function> {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str(name))
        .ok()?
        .dyn_into()
        .ok()
}

fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue {
    global_function("setTimeout")
        .and_then(|f| {
            f.call2(&JsValue::UNDEFINED, handler, &JsValue::from(ms))
                .ok()
        })
        .unwrap_or(JsValue::UNDEFINED)
}

fn clear_timeout(id: &JsValue) {
    if let Some(f) = global_function("clearTimeout") {
        let _ = f.call1(&JsValue::UNDEFINED, id);
    }
}

/// What the timeout's closure and the future share.
#[derive(Default)]
struct Fired {
    done: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// Resolves once `duration` has passed (browsers clamp to their minimum,
/// about 4 ms for nested timeouts, and slow timers in background tabs).
pub(crate) struct Sleep {
    fired: Rc<Fired>,
    id: JsValue,
    // Kept until the timeout fired or was cleared.
    _callback: Callback<dyn FnMut()>,
}

/// A [`Sleep`] of `duration` (at most `i32::MAX` ms, about 24 days).
pub(crate) fn sleep(duration: Duration) -> Sleep {
    let fired = Rc::new(Fired::default());
    let shared = fired.clone();
    let callback = Callback::new(Closure::<dyn FnMut()>::new(move || {
        shared.done.set(true);
        if let Some(waker) = shared.waker.borrow_mut().take() {
            waker.wake();
        }
    }));
    let ms = duration.as_millis().min(i32::MAX as u128) as i32;
    let id = set_timeout(callback.function(), ms);
    Sleep {
        fired,
        id,
        _callback: callback,
    }
}

impl core::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sleep")
            .field("fired", &self.fired.done.get())
            .finish()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.fired.done.get() {
            return Poll::Ready(());
        }
        *self.fired.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if !self.fired.done.get() {
            clear_timeout(&self.id);
        }
    }
}
