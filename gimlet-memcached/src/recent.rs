//! The items this app server loaded in the last seconds, with their CAS
//! tokens: a commit that follows a load in the same request writes with
//! compare-and-set at once, in one round trip, rather than read the items
//! again. A token gone stale only makes the write fail and read afresh, so
//! correctness never rests on this memory.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gimlet_core::SessionId;

/// How long a load's token is used.
const MAX_AGE: Duration = Duration::from_secs(10);
/// The most bytes of items kept.
const MAX_BYTES: usize = 8 << 20;
/// Larger items are read again at commit rather than kept.
const MAX_ITEM: usize = 64 << 10;

/// An item as a read found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) cas: u64,
    pub(crate) item: Vec<u8>,
    /// Unix seconds; 0: never.
    pub(crate) expires_at: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Recent {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    items: HashMap<SessionId, (Instant, Seen)>,
    order: VecDeque<(SessionId, Instant)>,
    bytes: usize,
}

impl Recent {
    /// Keeps what a load of `id` found.
    pub(crate) fn put(&self, id: SessionId, seen: Seen) {
        if seen.item.len() > MAX_ITEM {
            return;
        }
        let mut inner = self.lock();
        let now = Instant::now();
        inner.bytes += seen.item.len();
        if let Some((_, old)) = inner.items.insert(id, (now, seen)) {
            inner.bytes -= old.item.len();
        }
        inner.order.push_back((id, now));
        while inner.bytes > MAX_BYTES || inner.order.len() > 4 * inner.items.len() + 64 {
            let Some((id, at)) = inner.order.pop_front() else {
                break;
            };
            if inner.items.get(&id).is_some_and(|(kept, _)| *kept == at) {
                inner.take(&id);
            }
        }
    }

    /// What the last load of `id` found, if it is recent: taken, so that
    /// one load serves one commit.
    pub(crate) fn take(&self, id: &SessionId) -> Option<Seen> {
        let (at, seen) = self.lock().take(id)?;
        (at.elapsed() < MAX_AGE).then_some(seen)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn take(&mut self, id: &SessionId) -> Option<(Instant, Seen)> {
        let taken = self.items.remove(id)?;
        self.bytes -= taken.1.item.len();
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(len: usize) -> Seen {
        Seen {
            cas: 7,
            item: vec![1; len],
            expires_at: 0,
        }
    }

    #[test]
    fn a_load_serves_one_commit() {
        let recent = Recent::default();
        let id = SessionId::from_bytes([1; 16]);
        recent.put(id, seen(10));
        assert_eq!(recent.take(&id), Some(seen(10)));
        assert_eq!(recent.take(&id), None);
    }

    #[test]
    fn memory_stays_bounded_and_large_items_are_not_kept() {
        let recent = Recent::default();
        recent.put(SessionId::from_bytes([0; 16]), seen(MAX_ITEM + 1));
        for i in 0..400u32 {
            let mut bytes = [0; 16];
            bytes[..4].copy_from_slice(&i.to_be_bytes());
            recent.put(SessionId::from_bytes(bytes), seen(MAX_ITEM));
        }
        let inner = recent.lock();
        assert!(inner.bytes <= MAX_BYTES, "{}", inner.bytes);
        assert_eq!(
            inner.bytes,
            inner
                .items
                .values()
                .map(|(_, s)| s.item.len())
                .sum::<usize>()
        );
    }
}
