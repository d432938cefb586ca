//! Commits. memcached changes one item at a time, so a batch is applied
//! in steps:
//! 1. Read the items it changes, or take what this request's load just
//!    read.
//! 2. Check every condition of the batch (`Gone`, `Collision`, `Changed`)
//!    before anything is written.
//! 3. Write every changed item with compare-and-set, in one round trip.
//! 4. Only then delete the items the batch ends: a retired one (a cycle's
//!    old id, whose data moved) with compare-and-set, as it was read; a
//!    logout's whatever it holds. One more round trip, for batches that
//!    end records.
//!
//! If another request wrote one of the items before step 3 or 4 reached
//! it, the items written in step 3 are put back as they were
//! (compare-and-set again, so nothing written since is undone), and the
//! batch starts over from a fresh read, a bounded number of times: a
//! concurrent writer's keys are merged, never lost. A delete is never
//! undone (an item put back by an add could bring back a session another
//! request ended): a delete that fails in step 4 leaves the ones before it
//! done, all of them ids the batch was ending, and the fresh read then
//! answers `Gone`. A put-back that itself fails (another request wrote the
//! item since) leaves the outcome unknown: the commit fails rather than
//! start over on top of its own write.

use std::time::Duration;

use futures_util::future::join_all;
use gimlet_core::SessionId;
use gimlet_core::backend::{BackendError, BackendErrorKind, Batch, Op, WriteMode};

use crate::backend::{MemcachedBackend, unexpected};
use crate::item;
use crate::protocol::{Pipeline, Reply, SetMode};
use crate::recent::Seen;

/// What memcached adds to a key and a value to make an item, at most:
/// its header, the CAS token, and the value's line end.
const ITEM_OVERHEAD: usize = 64;

/// How many times a batch starts over when other requests keep writing
/// its items.
const MAX_ROUNDS: u32 = 64;

/// One item's change, and what it was before, to put it back.
#[derive(Debug)]
enum Step {
    Set {
        id: SessionId,
        item: Vec<u8>,
        mode: SetMode,
        expires_at: u64,
        before: Option<Seen>,
    },
    Delete {
        id: SessionId,
        /// Only if it still has the token it was read with.
        before: Option<Seen>,
    },
}

impl Step {
    fn id(&self) -> SessionId {
        match self {
            Step::Set { id, .. } | Step::Delete { id, .. } => *id,
        }
    }
}

/// What a round trip of writes did.
#[derive(Default)]
struct Applied {
    /// The steps done, with the items' new CAS tokens (0 for a delete).
    done: Vec<(usize, u64)>,
    /// Another request wrote one of the items first.
    raced: bool,
    /// A server failed: its steps may or may not be done.
    failed: Option<BackendError>,
}

impl MemcachedBackend {
    pub(crate) async fn commit_now(&self, batch: &Batch) -> Result<(), BackendError> {
        let mut fresh = false;
        for round in 0..MAX_ROUNDS {
            let before = self.before(batch, fresh).await?;
            let steps = plan(batch, before)?;
            self.check_sizes(&steps).await?;
            let (writes, deletes): (Vec<usize>, Vec<usize>) =
                (0..steps.len()).partition(|&at| matches!(steps[at], Step::Set { .. }));
            let written = self.apply(&steps, &writes).await;
            if written.failed.is_none() && !written.raced {
                let deleted = self.apply(&steps, &deletes).await;
                if deleted.failed.is_none() && !deleted.raced {
                    return Ok(());
                }
                self.put_back(&steps, &written.done).await?;
                if let Some(error) = deleted.failed {
                    return Err(error);
                }
            } else {
                self.put_back(&steps, &written.done).await?;
                if let Some(error) = written.failed {
                    return Err(error);
                }
            }
            fresh = true;
            tokio::time::sleep(pause(round)).await;
        }
        Err(BackendError::new(
            BackendErrorKind::Unavailable,
            "other requests kept writing the session's items: the commit gave up",
        ))
    }

    /// Each op's item as it is now: `None` for an op that needs no read (a
    /// first round's create, a delete).
    /// The first round takes what this request's load read, if recent.
    async fn before(&self, batch: &Batch, fresh: bool) -> Result<Vec<Option<Seen>>, BackendError> {
        let needs = |op: &Op| match op {
            // A create adds only if there is none; after a raced round,
            // read, to tell a collision from a race.
            Op::Write(write) => write.mode != WriteMode::Create || fresh,
            // It must exist, and be deleted only as read: its data moved.
            Op::Retire(_) => true,
            // Deleted whatever it holds.
            Op::Delete(_) => false,
        };
        let mut before: Vec<Option<Seen>> = Vec::with_capacity(batch.ops.len());
        let mut unread = Vec::new();
        for (at, op) in batch.ops.iter().enumerate() {
            let kept = self.inner.recent.take(&op.id());
            before.push(if fresh || !needs(op) { None } else { kept });
            if needs(op) && before[at].is_none() {
                unread.push(at);
            }
        }
        if !unread.is_empty() {
            let ids: Vec<SessionId> = unread.iter().map(|&at| batch.ops[at].id()).collect();
            for (at, seen) in unread.into_iter().zip(self.read(&ids).await?) {
                before[at] = seen;
            }
        }
        Ok(before)
    }

    /// Fails, before anything is written, if an item would be larger than
    /// its server stores: memcached would refuse it, and drop the item it
    /// replaces.
    async fn check_sizes(&self, steps: &[Step]) -> Result<(), BackendError> {
        for step in steps {
            if let Step::Set { id, item, .. } = step {
                // An item's header, key and value, by memcached's count.
                let size = item.len() + self.key(id).len() + ITEM_OVERHEAD;
                let limit = self.item_size_max(self.server_index(id)).await?;
                if size > limit {
                    return Err(BackendError::new(
                        BackendErrorKind::Other,
                        format!(
                            "a session record of {size} bytes is over the memcached item limit \
                             of {limit} (-I): too large to store"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Applies the steps at `which`, one round trip per server (one, for a
    /// session's), the servers at once.
    async fn apply(&self, steps: &[Step], which: &[usize]) -> Applied {
        let mut applied = Applied::default();
        if which.is_empty() {
            return applied;
        }
        let ids: Vec<SessionId> = which.iter().map(|&at| steps[at].id()).collect();
        let by_server = self.by_server(ids.iter());
        let calls = by_server.iter().map(|(server, positions)| {
            let mut pipeline = Pipeline::default();
            for &position in positions {
                match &steps[which[position]] {
                    Step::Set {
                        id,
                        item,
                        mode,
                        expires_at,
                        ..
                    } => pipeline.set(&self.key(id), item, *mode, *expires_at),
                    Step::Delete { id, before } => {
                        pipeline.delete(&self.key(id), before.as_ref().map(|b| b.cas));
                    }
                }
            }
            async move { self.call(*server, &pipeline).await }
        });
        for ((_, positions), replies) in by_server.iter().zip(join_all(calls).await) {
            let replies = match replies {
                Ok(replies) => replies,
                Err(error) => {
                    applied.failed = Some(error);
                    continue;
                }
            };
            for (&position, reply) in positions.iter().zip(replies) {
                let at = which[position];
                match (&steps[at], reply) {
                    (Step::Set { .. }, Reply::Done { cas: 0 }) => {
                        applied.failed = Some(BackendError::new(
                            BackendErrorKind::Corrupt,
                            "memcached returned no CAS token (is it run with -C?)",
                        ));
                    }
                    (_, Reply::Done { cas }) => applied.done.push((at, cas)),
                    // Deleting what is not there: done already.
                    (Step::Delete { before: None, .. }, Reply::NotFound) => {}
                    (_, Reply::NotStored | Reply::Exists | Reply::NotFound) => applied.raced = true,
                    (_, Reply::Failed(text)) => {
                        applied.failed = Some(BackendError::new(
                            BackendErrorKind::Other,
                            format!("memcached answered: {text}"),
                        ));
                    }
                    (_, other) => applied.failed = Some(unexpected(&other)),
                }
            }
        }
        applied
    }

    /// Puts back the items a failed round wrote, each only if nobody wrote
    /// it since: one round trip per server.
    ///
    /// # Errors
    ///
    /// An item that could not be put back: the batch's outcome is unknown.
    async fn put_back(&self, steps: &[Step], done: &[(usize, u64)]) -> Result<(), BackendError> {
        let ids: Vec<SessionId> = done.iter().map(|&(at, _)| steps[at].id()).collect();
        let mut calls = Vec::new();
        for (server, positions) in self.by_server(ids.iter()) {
            let mut pipeline = Pipeline::default();
            for (at, cas) in positions.into_iter().map(|p| done[p]) {
                let key = self.key(&steps[at].id());
                match &steps[at] {
                    Step::Set {
                        before: Some(before),
                        ..
                    } => pipeline.set(&key, &before.item, SetMode::Replace(cas), before.expires_at),
                    Step::Set { before: None, .. } => pipeline.delete(&key, Some(cas)),
                    // Never undone; deletes run after every write.
                    Step::Delete { .. } => {}
                }
            }
            if !pipeline.is_empty() {
                calls.push(async move { (server, self.call(server, &pipeline).await) });
            }
        }
        for (server, result) in join_all(calls).await {
            let addr = &self.inner.servers[server].addr;
            match result {
                Ok(replies) if replies.iter().all(|r| matches!(r, Reply::Done { .. })) => {}
                Ok(replies) => {
                    tracing::warn!(server = %addr, ?replies, "a failed memcached commit could not put every item back");
                    return Err(BackendError::new(
                        BackendErrorKind::Unavailable,
                        "a failed memcached commit could not put its items back: another request wrote them since",
                    ));
                }
                Err(error) => {
                    tracing::warn!(server = %addr, %error, "a failed memcached commit could not put its items back");
                    return Err(error);
                }
            }
        }
        Ok(())
    }
}

/// The steps of `batch` on the items as `before` has them, once every
/// condition holds.
fn plan(batch: &Batch, before: Vec<Option<Seen>>) -> Result<Vec<Step>, BackendError> {
    let mut steps = Vec::with_capacity(batch.ops.len());
    for (op, before) in batch.ops.iter().zip(before) {
        steps.push(match op {
            Op::Write(write) => {
                match (write.mode, &before) {
                    (WriteMode::Update, None) => return Err(BackendError::gone()),
                    (WriteMode::Create, Some(_)) => return Err(BackendError::collision()),
                    _ => {}
                }
                let mut record = match &before {
                    Some(seen) => item::decode(&seen.item)?,
                    None => gimlet_core::backend::Record::new(),
                };
                if !write.expectations_hold(Some(&record)) {
                    return Err(BackendError::changed());
                }
                write.apply_to(&mut record);
                let mode = before
                    .as_ref()
                    .map_or(SetMode::Add, |b| SetMode::Replace(b.cas));
                Step::Set {
                    id: write.id,
                    item: item::encode(&record),
                    mode,
                    expires_at: write.expires_at,
                    before,
                }
            }
            Op::Retire(id) => {
                if before.is_none() {
                    return Err(BackendError::gone());
                }
                Step::Delete { id: *id, before }
            }
            Op::Delete(id) => Step::Delete { id: *id, before },
        });
    }
    Ok(steps)
}

/// A random pause before round `round + 1`: up to 1 ms, doubling to 32 ms.
fn pause(round: u32) -> Duration {
    let cap = 1_000u64 << round.min(5);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut x = u64::from(nanos) ^ (u64::from(round) << 32);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    Duration::from_micros(x % cap)
}
