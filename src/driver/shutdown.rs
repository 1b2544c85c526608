//! [`ConnectionSet`]: the connections of a server, told to close together
//! (graceful shutdown with 1001 Going Away) and waited for — written once
//! for every adapter.
//!
//! Each accepted connection holds a [`Membership`] in its driver. The read
//! loop looks at the set before every step (one atomic load): once the set
//! is shutting down it queues the Close, after whatever the application
//! queued before, and the closing handshake runs as for any Close. A
//! reader waiting for input is woken: a task through the waker the member
//! keeps, a blocking thread by its read timeout, which is capped while the
//! connection is in a set (see [`Runtime::reads_are_woken`]). A member leaves the
//! set when its end has been reported, or when the socket is dropped.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::runtime::Runtime;
use crate::CloseCode;

/// The reason a [`ConnectionSet::shutdown`] sends.
const SHUTDOWN_REASON: &str = "server shutting down";

/// How long a connection cut at the deadline may take to notice it: a
/// blocking reader looks again this often while in a set.
pub(crate) const SET_POLL: Duration = Duration::from_millis(200);

/// How long connections cut at the deadline have to notice it before the
/// wait returns.
const CUT_GRACE: Duration = Duration::from_secs(1);

/// Where a member keeps the waker of its reader while it waits.
type Slot = Arc<Mutex<Option<Waker>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The live connections of a server, and how to close them all: a
/// graceful shutdown.
///
/// Give it to the server builder ([`ServerBuilder::connection_set`]) or to
/// the axum extractor; every connection accepted there joins it and leaves
/// when its closing handshake is over (or its socket is dropped). Cheap to
/// clone: clones are the same set.
///
/// [`shutdown`](Self::shutdown) starts the closing handshake on every live
/// connection — whatever was queued before is written first, then a Close
/// with 1001 Going Away — and wakes a reader waiting for input; from then
/// on new upgrades are refused with `503 Service Unavailable` and
/// `Retry-After: 1` (the listener stays open, so that a client that asks
/// gets an answer it can act on rather than a refused connection). The
/// adapters' `wait_timeout` then waits until every connection has
/// finished its closing handshake, and at the deadline cuts the rest and
/// says how many it cut ([`ShutdownReport`]).
///
/// Name it through an adapter: `wsproto::blocking::ConnectionSet` or
/// `wsproto::tokio::ConnectionSet`, whose `wait_timeout` blocks or awaits.
///
/// [`ServerBuilder::connection_set`]: crate::adapter::ServerBuilder::connection_set
pub struct ConnectionSet<R> {
    pub(crate) inner: Arc<SetInner>,
    runtime: PhantomData<fn() -> R>,
}

/// What a [`ConnectionSet`]'s `wait_timeout` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Connections that ended on their own since the shutdown began (their
    /// closing handshake completed, or their peer went away).
    pub closed: usize,
    /// Connections cut at the deadline (their peer never answered the
    /// Close): each saw its connection lost.
    pub cut: usize,
}

pub(crate) struct SetInner {
    /// `shutdown` was called: members close, new upgrades are refused.
    closing: AtomicBool,
    /// The deadline passed: members still live end at once.
    cutting: AtomicBool,
    /// `closing` or `cutting`, set after either: what a member checks at
    /// every step (one load while the set is quiet, not two).
    ordered: AtomicBool,
    state: Mutex<SetState>,
    /// Blocking threads waiting for the set to empty.
    emptied: Condvar,
}

struct SetState {
    code: CloseCode,
    reason: String,
    next_id: u64,
    /// Each live member's slot for the waker of its reader.
    members: HashMap<u64, Slot>,
    /// Tasks waiting for the set to empty.
    waiters: Vec<Waker>,
    closed: usize,
    cut: usize,
}

impl<R> Clone for ConnectionSet<R> {
    fn clone(&self) -> Self {
        ConnectionSet {
            inner: self.inner.clone(),
            runtime: PhantomData,
        }
    }
}

impl<R> Default for ConnectionSet<R> {
    fn default() -> Self {
        ConnectionSet::new()
    }
}

impl<R> fmt::Debug for ConnectionSet<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionSet")
            .field("live", &self.live())
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}

impl<R> ConnectionSet<R> {
    /// An empty set.
    pub fn new() -> Self {
        ConnectionSet {
            inner: Arc::new(SetInner {
                closing: AtomicBool::new(false),
                cutting: AtomicBool::new(false),
                ordered: AtomicBool::new(false),
                state: Mutex::new(SetState {
                    code: CloseCode::GOING_AWAY,
                    reason: SHUTDOWN_REASON.to_owned(),
                    next_id: 0,
                    members: HashMap::new(),
                    waiters: Vec::new(),
                    closed: 0,
                    cut: 0,
                }),
                emptied: Condvar::new(),
            }),
            runtime: PhantomData,
        }
    }

    /// How many connections are live (joined and not yet ended).
    pub fn live(&self) -> usize {
        lock(&self.inner.state).members.len()
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.closing.load(Ordering::Acquire)
    }

    /// Starts the closing handshake on every live connection with 1001
    /// (Going Away) and the reason "server shutting down"; see the type's
    /// docs.
    pub fn shutdown(&self) {
        self.shutdown_with(CloseCode::GOING_AWAY, SHUTDOWN_REASON);
    }

    /// [`shutdown`](Self::shutdown) with a code and reason of your own, such
    /// as 1012 (Service Restart). A reason over 123 bytes is cut at a
    /// character boundary; a code that may not be sent becomes 1001.
    pub fn shutdown_with(&self, code: impl Into<CloseCode>, reason: &str) {
        let code = code.into();
        let mut state = lock(&self.inner.state);
        if !self.inner.closing.load(Ordering::Acquire) {
            state.code = match code.is_allowed_on_wire() {
                true => code,
                false => CloseCode::GOING_AWAY,
            };
            state.reason = cut_reason(reason).to_owned();
            self.inner.closing.store(true, Ordering::Release);
            self.inner.ordered.store(true, Ordering::Release);
        }
        wake_members(&mut state);
    }

    /// Waits until the set is empty or `deadline` passes, then cuts what
    /// is left and gives the cut connections [`CUT_GRACE`] to notice (one
    /// whose task or thread does not read meanwhile is counted as cut and
    /// left to its owner).
    // Awaited by the async adapters only.
    #[allow(dead_code)]
    pub(crate) fn poll_wait(
        &self,
        cx: &mut Context<'_>,
        rt: &mut R,
        deadline: Instant,
    ) -> Poll<ShutdownReport>
    where
        R: Runtime,
    {
        let mut state = lock(&self.inner.state);
        if state.members.is_empty() {
            return Poll::Ready(state.report(0));
        }
        if !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            state.waiters.push(cx.waker().clone());
        }
        drop(state);
        let cutting = self.inner.cutting.load(Ordering::Acquire);
        let until = if cutting {
            deadline + CUT_GRACE
        } else {
            deadline
        };
        if rt.poll_until(cx, until).is_pending() {
            return Poll::Pending;
        }
        if cutting {
            let state = lock(&self.inner.state);
            return Poll::Ready(state.report(state.members.len()));
        }
        self.cut();
        // Woken by the members leaving, or at the grace's end.
        self.poll_wait(cx, rt, deadline)
    }

    /// [`poll_wait`](Self::poll_wait) for a thread that blocks (the
    /// blocking adapter's).
    #[allow(dead_code)]
    pub(crate) fn wait_blocking(&self, deadline: Instant) -> ShutdownReport {
        let mut state = lock(&self.inner.state);
        let mut until = deadline;
        loop {
            if state.members.is_empty() {
                return state.report(0);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                if self.inner.cutting.load(Ordering::Acquire) {
                    return state.report(state.members.len());
                }
                drop(state);
                self.cut();
                until = deadline + CUT_GRACE;
                state = lock(&self.inner.state);
                continue;
            }
            state = match self.inner.emptied.wait_timeout(state, left) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Ends every live member at its next step.
    fn cut(&self) {
        self.inner.cutting.store(true, Ordering::Release);
        self.inner.ordered.store(true, Ordering::Release);
        wake_members(&mut lock(&self.inner.state));
    }

    /// The default deadline of `wait`: the default close timeout, long
    /// enough for a peer that answers.
    pub(crate) fn default_deadline() -> Duration {
        crate::Config::default().close_timeout
    }

    /// A place in the set for a connection about to be upgraded, taken
    /// before the response goes out; `None` once the set is shutting down
    /// (answer `503` with `Retry-After` instead).
    ///
    /// For a server whose upgrades another HTTP server answers (hyper,
    /// with [`WebSocket::from_negotiated`]): take the place in the request
    /// handler and hand it to the socket with [`WebSocket::join_set`] once
    /// upgraded. Taking it first is what makes it race-free: a shutdown
    /// either comes before (refused) or finds the place taken, and a
    /// `wait` does not return while it is held. Dropped unused, it leaves
    /// the set. `ServerBuilder::connection_set` and the axum extractor do
    /// this themselves.
    ///
    /// [`WebSocket::from_negotiated`]: crate::adapter::WebSocket::from_negotiated
    /// [`WebSocket::join_set`]: crate::adapter::WebSocket::join_set
    pub fn admit(&self) -> Option<Admission> {
        // Under the lock that `shutdown_with` sets the flag under: a
        // member taken here is among those it wakes and `wait` counts.
        let mut state = lock(&self.inner.state);
        if self.inner.closing.load(Ordering::Acquire) {
            return None;
        }
        Some(Admission(self.join_locked(&mut state)))
    }

    /// A new member.
    fn join_locked(&self, state: &mut SetState) -> Membership {
        let id = state.next_id;
        state.next_id += 1;
        let slot = Slot::default();
        state.members.insert(id, slot.clone());
        Membership {
            set: self.inner.clone(),
            id,
            slot,
            acted: false,
            registered: None,
        }
    }
}

impl SetState {
    /// The report, with `left` connections still live counted as cut.
    fn report(&self, left: usize) -> ShutdownReport {
        ShutdownReport {
            closed: self.closed,
            cut: self.cut + left,
        }
    }
}

fn wake_members(state: &mut SetState) {
    for slot in state.members.values() {
        if let Some(waker) = lock(slot).take() {
            waker.wake();
        }
    }
}

/// At most 123 bytes of `reason`, cut at a character boundary.
fn cut_reason(reason: &str) -> &str {
    let mut end = reason.len().min(crate::MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// A connection's place in a [`ConnectionSet`], taken before its upgrade
/// is answered ([`ConnectionSet::admit`]); leaves the set when dropped.
#[derive(Debug)]
pub struct Admission(pub(crate) Membership);

/// A connection's place in a [`ConnectionSet`]; leaves it when dropped.
pub(crate) struct Membership {
    set: Arc<SetInner>,
    id: u64,
    slot: Slot,
    /// The shutdown (or the cut) has been acted on.
    acted: bool,
    /// The waker last put in `slot` by `register`.
    registered: Option<Waker>,
}

impl fmt::Debug for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Membership").field("id", &self.id).finish()
    }
}

/// What a member must do at its next step.
pub(crate) enum Order {
    /// Start the closing handshake with this code and reason.
    Close(CloseCode, String),
    /// End now: the deadline passed.
    Cut,
}

impl Membership {
    /// What the set asks of this connection, once (two atomic loads, inline,
    /// when nothing is asked: this runs at every step of every reader).
    #[inline]
    pub(crate) fn order(&mut self) -> Option<Order> {
        if self.quiet() {
            return None;
        }
        self.order_slow()
    }

    /// Nothing asked of the set's members yet: no shutdown, no cut.
    #[inline]
    fn quiet(&self) -> bool {
        // Stored after `closing` or `cutting`: seen set, they are too.
        !self.set.ordered.load(Ordering::Acquire)
    }

    #[cold]
    fn order_slow(&mut self) -> Option<Order> {
        if self.set.cutting.load(Ordering::Acquire) {
            return Some(Order::Cut);
        }
        if self.acted || !self.set.closing.load(Ordering::Acquire) {
            return None;
        }
        self.acted = true;
        let state = lock(&self.set.state);
        Some(Order::Close(state.code, state.reason.clone()))
    }

    /// Keeps the waker of a reader about to wait, so that a shutdown wakes
    /// it.
    ///
    /// Without the slot's lock when the slot still holds this waker, which
    /// is known without looking while the set is quiet: only
    /// `wake_members` empties a slot, and it runs after a shutdown or a
    /// cut is flagged; the wake it sends makes the reader step again and
    /// see the flag. (The lock was a tenth of the tokio echo's user-space
    /// instructions for small messages, see docs/PERFORMANCE.md.)
    #[inline]
    pub(crate) fn register(&mut self, waker: &Waker) {
        if self.registered.as_ref().is_some_and(|w| w.will_wake(waker)) && self.quiet() {
            return;
        }
        self.register_slow(waker);
    }

    fn register_slow(&mut self, waker: &Waker) {
        let mut slot = lock(&self.slot);
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
        drop(slot);
        if !self.registered.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.registered = Some(waker.clone());
        }
    }

    /// Whether the set may ask something of this connection while its
    /// reader waits (a blocking reader then caps its wait).
    pub(crate) fn may_order(&self) -> bool {
        !self.set.cutting.load(Ordering::Acquire)
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut state = lock(&self.set.state);
        state.members.remove(&self.id);
        if self.set.cutting.load(Ordering::Acquire) {
            state.cut += 1;
        } else if self.set.closing.load(Ordering::Acquire) {
            state.closed += 1;
        }
        if state.members.is_empty() {
            for waker in state.waiters.drain(..) {
                waker.wake();
            }
            self.set.emptied.notify_all();
        }
    }
}
