//! Commits. memcached changes one item at a time, so a batch is applied
//! as: read the items it changes (or take what this request's load just
//! read), check every condition of the batch (`Gone`, `Collision`,
//! `Changed`) before anything is written, then write every item with
//! compare-and-set, all in one round trip. If another request wrote one of
//! the items in between, the items this batch did write are put back as
//! they were (compare-and-set again), and the whole batch starts over from
//! a fresh read, a bounded number of times: a concurrent writer's keys
//! are merged, never lost, and a batch applies all or nothing.

use std::time::Duration;

use futures_util::future::try_join_all;
use gimlet_core::SessionId;
use gimlet_core::backend::{BackendError, BackendErrorKind, Batch, Op, WriteMode};

use crate::backend::{MemcachedBackend, unexpected};
use crate::item;
use crate::protocol::{Pipeline, Reply, SetMode};
use crate::recent::Seen;

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
struct Applied {
    /// The steps written, with the items' new CAS tokens.
    done: Vec<(usize, u64)>,
    /// Another request wrote one of the items first.
    raced: bool,
}

impl MemcachedBackend {
    pub(crate) async fn commit_now(&self, batch: &Batch) -> Result<(), BackendError> {
        let ended: Vec<SessionId> = batch.ended().collect();
        let mut fresh = false;
        for round in 0..MAX_ROUNDS {
            let before = self.before(batch, fresh).await?;
            let steps = plan(batch, before)?;
            let applied = self.apply(&steps).await?;
            if !applied.raced {
                self.log_endings(&ended).await;
                return Ok(());
            }
            self.put_back(&steps, &applied.done).await;
            fresh = true;
            tokio::time::sleep(pause(round)).await;
        }
        Err(BackendError::new(
            BackendErrorKind::Unavailable,
            "other requests kept writing the session's items: the commit gave up",
        ))
    }

    /// Each op's item as it is now: `None` for an op that needs no read (a
    /// first round's create; a batch of deletes only).
    /// The first round takes what this request's load read, if recent.
    async fn before(&self, batch: &Batch, fresh: bool) -> Result<Vec<Option<Seen>>, BackendError> {
        let only_deletes = batch.ops.iter().all(|op| matches!(op, Op::Delete(_)));
        let needs = |op: &Op| match op {
            // A create adds only if there is none; after a raced round,
            // read, to tell a collision from a race.
            Op::Write(write) => write.mode != WriteMode::Create || fresh,
            Op::Retire(_) => true,
            // To put it back if another item of the batch races.
            Op::Delete(_) => !only_deletes,
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

    /// Writes every step, one round trip per server (one, for a session).
    async fn apply(&self, steps: &[Step]) -> Result<Applied, BackendError> {
        let ids: Vec<SessionId> = steps.iter().map(Step::id).collect();
        let by_server = self.by_server(ids.iter());
        let calls = by_server.iter().map(|(server, list)| {
            let mut pipeline = Pipeline::default();
            for &at in list {
                match &steps[at] {
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
        let replies = try_join_all(calls).await?;
        let mut applied = Applied {
            done: Vec::new(),
            raced: false,
        };
        for ((_, list), replies) in by_server.iter().zip(replies) {
            for (&at, reply) in list.iter().zip(replies) {
                match (&steps[at], reply) {
                    (_, Reply::Done { cas }) => applied.done.push((at, cas)),
                    // Deleting what is not there: done already.
                    (Step::Delete { before: None, .. }, Reply::NotFound) => {}
                    (_, Reply::NotStored | Reply::Exists | Reply::NotFound) => applied.raced = true,
                    (_, other) => return Err(unexpected(&other)),
                }
            }
        }
        Ok(applied)
    }

    /// Puts back the items a raced round wrote, each only if nobody wrote
    /// it since: one round trip per server.
    async fn put_back(&self, steps: &[Step], done: &[(usize, u64)]) {
        let ids: Vec<SessionId> = done.iter().map(|&(at, _)| steps[at].id()).collect();
        let mut by_server: Vec<(usize, Pipeline)> = Vec::new();
        for (server, positions) in self.by_server(ids.iter()) {
            let mut pipeline = Pipeline::default();
            for (at, cas) in positions.into_iter().map(|p| done[p]) {
                let step = &steps[at];
                let key = self.key(&step.id());
                match step {
                    Step::Set {
                        before: Some(before),
                        ..
                    } => pipeline.set(&key, &before.item, SetMode::Replace(cas), before.expires_at),
                    Step::Set { before: None, .. } => pipeline.delete(&key, Some(cas)),
                    Step::Delete {
                        before: Some(before),
                        ..
                    } => pipeline.set(&key, &before.item, SetMode::Add, before.expires_at),
                    Step::Delete { before: None, .. } => {}
                }
            }
            by_server.push((server, pipeline));
        }
        for (server, pipeline) in by_server {
            if pipeline.is_empty() {
                continue;
            }
            let addr = &self.inner.servers[server].addr;
            match self.call(server, &pipeline).await {
                Ok(replies) if replies.iter().all(|r| matches!(r, Reply::Done { .. })) => {}
                Ok(replies) => tracing::warn!(
                    server = %addr,
                    ?replies,
                    "a raced memcached commit could not put every item back: another request wrote it since"
                ),
                Err(error) => tracing::warn!(
                    server = %addr,
                    %error,
                    "a raced memcached commit could not put its items back"
                ),
            }
        }
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
