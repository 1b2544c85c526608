//! [`MemoryBudget`]: a bound on the memory that the connections of a
//! server hold for input that is not yet a whole message, written once for
//! every adapter.
//!
//! Each connection in a budget keeps a [`Reservation`] in its driver: the
//! bytes of unfinished input it holds beyond a small floor of its own
//! ([`Connection::incomplete_input`](crate::Connection::incomplete_input)).
//! Before every read the read loop asks for room for what the read may
//! bring; when the budget is spent the connection does not read at all —
//! the kernel's receive buffer fills and TCP pushes back on the sender — and
//! waits until another connection gives memory back (its message completed,
//! or it ended). Nothing the peer sent is lost: it waits in the kernel. A
//! connection that waits longer than the budget's wait limit is closed with
//! 1013 (Try Again Later) and its bytes freed.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The memory a server's connections may hold for messages still arriving,
/// all connections together: a peer that sends half of a large message and
/// stops cannot make the server hold it, and a few hundred such peers
/// cannot exhaust the machine.
///
/// Counted: what each connection holds of input that is not a whole
/// message yet — received bytes of frames still arriving, the fragments of
/// a message still arriving, what a compressed message inflated to so far —
/// beyond a per-connection floor (64 KiB by default) that is never counted,
/// so that small messages, Pings, the closing handshake and new clients
/// always get through. A connection that needs more while the budget is
/// spent stops reading (TCP back-pressure) and goes on as soon as memory is
/// given back; after [`wait_limit`](Self::wait_limit) (10 s by default) it
/// is closed with 1013 Try Again Later. Complete messages waiting for the
/// application to take them are not counted: the read loop hands them out
/// before it reads more.
///
/// Give it to the server builder
/// ([`ServerBuilder::memory_budget`](crate::adapter::ServerBuilder::memory_budget))
/// or to the axum extractor. Cheap to clone: clones are the same budget.
///
/// One read is granted in full or not at all, so the total stays at or
/// under the limit, with one exception: a compressed message inflates
/// after its bytes were read, and what it inflated to is counted then, so a
/// connection may go over by what one read inflates to (bounded by
/// [`Config::max_message_size`](crate::Config::max_message_size)); it then
/// reads nothing more until the budget is back under the limit.
#[derive(Clone)]
pub struct MemoryBudget {
    inner: Arc<BudgetInner>,
}

struct BudgetInner {
    limit: usize,
    floor: usize,
    wait_limit: Option<Duration>,
    used: AtomicUsize,
    peak: AtomicUsize,
    waiting: Mutex<Vec<Waker>>,
}

impl fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("limit", &self.inner.limit)
            .field("used", &self.used())
            .field("floor", &self.inner.floor)
            .field("wait_limit", &self.inner.wait_limit)
            .finish()
    }
}

/// The floor each connection holds outside the budget.
const FLOOR: usize = 64 << 10;

/// How long a connection waits for memory before it is closed.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

impl MemoryBudget {
    /// A budget of `limit` bytes for the whole server, with a 64 KiB floor
    /// per connection and a 10 s wait limit.
    pub fn new(limit: usize) -> MemoryBudget {
        MemoryBudget::with(limit, FLOOR, Some(WAIT_LIMIT))
    }

    fn with(limit: usize, floor: usize, wait_limit: Option<Duration>) -> MemoryBudget {
        MemoryBudget {
            inner: Arc::new(BudgetInner {
                limit,
                floor,
                wait_limit,
                used: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                waiting: Mutex::new(Vec::new()),
            }),
        }
    }

    /// How long a connection may wait for memory before it is closed with
    /// 1013 (`None`: as long as it takes). Set before connections join.
    #[must_use]
    pub fn wait_limit(self, limit: Option<Duration>) -> MemoryBudget {
        MemoryBudget::with(self.inner.limit, self.inner.floor, limit)
    }

    /// What each connection may hold outside the budget. Set before
    /// connections join.
    #[must_use]
    pub fn floor(self, bytes: usize) -> MemoryBudget {
        MemoryBudget::with(self.inner.limit, bytes, self.inner.wait_limit)
    }

    /// The limit, in bytes.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// The bytes counted now.
    pub fn used(&self) -> usize {
        self.inner.used.load(Ordering::Acquire)
    }

    /// The most bytes ever counted at once.
    pub fn peak(&self) -> usize {
        self.inner.peak.load(Ordering::Acquire)
    }

    /// A connection's account, empty.
    pub(crate) fn join(&self) -> Reservation {
        Reservation {
            budget: self.inner.clone(),
            floor: self.inner.floor,
            held: 0,
            waiting_since: None,
        }
    }
}

impl BudgetInner {
    /// Counts `n` more bytes if they fit.
    fn try_take(&self, n: usize) -> bool {
        let mut used = self.used.load(Ordering::Acquire);
        loop {
            let Some(next) = used.checked_add(n).filter(|&next| next <= self.limit) else {
                return false;
            };
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::AcqRel);
                    return true;
                }
                Err(now) => used = now,
            }
        }
    }

    /// Counts `n` more bytes whether they fit or not (inflated output,
    /// already held).
    fn force_take(&self, n: usize) {
        let next = self.used.fetch_add(n, Ordering::AcqRel) + n;
        self.peak.fetch_max(next, Ordering::AcqRel);
    }

    /// Gives `n` bytes back and wakes the connections waiting for memory.
    fn give_back(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.used.fetch_sub(n, Ordering::AcqRel);
        let wakers = std::mem::take(&mut *lock(&self.waiting));
        for waker in wakers {
            waker.wake();
        }
    }
}

/// What one read may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    /// Read at most this many bytes.
    Read(usize),
    /// Wait for memory until this instant, then give up (close with
    /// 1013).
    Wait(Option<Instant>),
}

/// A connection's account in a [`MemoryBudget`]: the bytes it counts
/// there. Gives them back when dropped.
pub(crate) struct Reservation {
    budget: Arc<BudgetInner>,
    /// The budget's floor, copied here: every read and every settling
    /// compares with it, and the shared part is a pointer away.
    floor: usize,
    held: usize,
    /// Since when no read could be granted at all (the wait limit runs).
    waiting_since: Option<Instant>,
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("held", &self.held)
            .finish()
    }
}

impl Reservation {
    /// Room for a read of `want` bytes on top of `incomplete` bytes held:
    /// what the floor and this account cover is granted at once, more is
    /// asked of the budget. When nothing can be granted, the waker is kept
    /// for the next give-back and the connection waits.
    #[inline]
    pub(crate) fn grant(
        &mut self,
        incomplete: usize,
        want: usize,
        waker: &Waker,
        now: impl FnOnce() -> Instant,
    ) -> Grant {
        // What the floor and this account cover (the first case of
        // `try_grant`, which leaves `held` as it is): the usual read of a
        // connection whose messages are small, so inline and without the
        // shared count.
        if incomplete.saturating_add(want) <= self.floor + self.held {
            self.waiting_since = None;
            return Grant::Read(want);
        }
        self.grant_beyond(incomplete, want, waker, now)
    }

    /// Room beyond what this account holds: from the budget, or a wait.
    fn grant_beyond(
        &mut self,
        incomplete: usize,
        want: usize,
        waker: &Waker,
        now: impl FnOnce() -> Instant,
    ) -> Grant {
        if let Some(read) = self.try_grant(incomplete, want) {
            return read;
        }
        // Registered before looking again, so that a give-back between the
        // two is not missed.
        let mut waiting = lock(&self.budget.waiting);
        if !waiting.iter().any(|w| w.will_wake(waker)) {
            waiting.push(waker.clone());
        }
        drop(waiting);
        if let Some(read) = self.try_grant(incomplete, want) {
            return read;
        }
        let since = *self.waiting_since.get_or_insert_with(now);
        Grant::Wait(self.budget.wait_limit.map(|limit| since + limit))
    }

    /// Room for the read if there is any: all of `want`, or what the floor,
    /// this account and what is left of the budget cover.
    #[inline]
    fn try_grant(&mut self, incomplete: usize, want: usize) -> Option<Grant> {
        let floor = self.floor;
        let need = (incomplete + want).saturating_sub(floor);
        if need <= self.held || self.budget.try_take(need - self.held) {
            self.held = self.held.max(need);
            self.waiting_since = None;
            return Some(Grant::Read(want));
        }
        let granted = {
            let free = self
                .budget
                .limit
                .saturating_sub(self.budget.used.load(Ordering::Acquire));
            let covered = (floor + self.held).saturating_sub(incomplete);
            if covered + free == 0 || !self.budget.try_take(free) {
                return None;
            }
            self.held += free;
            self.waiting_since = None;
            covered + free
        };
        // Less than asked, but progress: the wait (if any) is over.
        Some(Grant::Read(granted.min(want)))
    }

    /// After a read or a message handed out: counts what is held now
    /// beyond the floor, giving back what is no longer held (and counting
    /// what a compressed message inflated to beyond the grant).
    #[inline]
    pub(crate) fn settle(&mut self, incomplete: usize) {
        let need = incomplete.saturating_sub(self.floor);
        // Unchanged (within the floor, as small messages stay): inline.
        if need != self.held {
            self.settle_changed(need);
        }
    }

    fn settle_changed(&mut self, need: usize) {
        if need < self.held {
            self.budget.give_back(self.held - need);
        } else if need > self.held {
            self.budget.force_take(need - self.held);
        }
        self.held = need;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waker() -> Waker {
        Waker::noop().clone()
    }

    #[test]
    fn a_read_is_granted_within_the_floor_then_from_the_budget_then_waits() {
        let budget = MemoryBudget::new(100 << 10).floor(10 << 10);
        let mut a = budget.join();
        let now = Instant::now;
        // Within the floor: nothing counted.
        assert!(matches!(a.grant(0, 4 << 10, &waker(), now), Grant::Read(n) if n == 4 << 10));
        a.settle(4 << 10);
        assert_eq!(budget.used(), 0);
        // Beyond it: counted.
        assert!(
            matches!(a.grant(8 << 10, 64 << 10, &waker(), now), Grant::Read(n) if n == 64 << 10)
        );
        assert_eq!(budget.used(), 62 << 10);
        a.settle(72 << 10);
        assert_eq!(budget.used(), 62 << 10);
        // Another connection gets what is left, then waits.
        let mut b = budget.join();
        assert!(
            matches!(b.grant(10 << 10, 64 << 10, &waker(), now), Grant::Read(n) if n == 38 << 10)
        );
        assert_eq!(budget.used(), 100 << 10);
        b.settle(48 << 10);
        assert!(matches!(
            b.grant(48 << 10, 4 << 10, &waker(), now),
            Grant::Wait(Some(_))
        ));
        // A message of `a` completes: memory goes back, `b` reads again.
        a.settle(0);
        assert_eq!(budget.used(), 38 << 10);
        assert!(
            matches!(b.grant(48 << 10, 4 << 10, &waker(), now), Grant::Read(n) if n == 4 << 10)
        );
        drop(b);
        assert_eq!(budget.used(), 0);
        assert_eq!(budget.peak(), 100 << 10);
    }

    proptest::proptest! {
        /// Against a model: the budget counts exactly what the accounts
        /// hold beyond their floors, never grants past its limit, and is
        /// back to 0 when every account is gone.
        #[test]
        fn the_count_matches_a_model(ops in proptest::collection::vec((0usize..4, 0u8..3, 0usize..200_000, 0usize..70_000), 1..200)) {
            let limit = 300_000;
            let floor = 64 << 10;
            let budget = MemoryBudget::new(limit).floor(floor);
            let mut accounts: Vec<Option<Reservation>> = (0..4).map(|_| Some(budget.join())).collect();
            // Per account: the input it holds now.
            let mut holding = [0usize; 4];
            for (i, op, incomplete, want) in ops {
                let Some(account) = accounts[i].as_mut() else { continue };
                match op {
                    0 => {
                        let before = budget.used();
                        match account.grant(holding[i], want, &waker(), Instant::now) {
                            Grant::Read(n) => {
                                proptest::prop_assert!(n <= want);
                                // What it may read is covered.
                                proptest::prop_assert!(holding[i] + n <= floor + account.held);
                                holding[i] += n;
                            }
                            Grant::Wait(_) => proptest::prop_assert_eq!(budget.used(), before),
                        }
                        // A grant never goes past the limit on its own.
                        proptest::prop_assert!(budget.used() <= limit.max(before));
                    }
                    1 => {
                        // A read brought less, or a message completed, or
                        // a compressed one inflated: settle on what is held.
                        holding[i] = incomplete;
                        account.settle(incomplete);
                    }
                    _ => {
                        accounts[i] = None;
                        holding[i] = 0;
                    }
                }
                let expected: usize = accounts.iter().flatten().map(|a| a.held).sum();
                proptest::prop_assert_eq!(budget.used(), expected);
            }
            drop(accounts);
            proptest::prop_assert_eq!(budget.used(), 0);
        }
    }
}
