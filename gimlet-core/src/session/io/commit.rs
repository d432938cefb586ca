//! The end of a request: the plan applied in one backend call, healed and
//! tried again if a record it updates is gone, then folded into the state.

use crate::key::ChannelKind;
use crate::session::io::plan::Plan;
use crate::session::model::Channel;
use crate::session::status::Activity;
use crate::{Error, Session};

/// How many times a commit runs a request's updates again on fresh values
/// before it answers [`BackendErrorKind::Changed`](crate::backend::BackendErrorKind::Changed)
/// (a 409): enough for sixteen requests racing on one key of one
/// session, with the pauses between rounds.
pub(crate) const MAX_REPLAYS: u32 = 16;

impl Session {
    /// Marks the session committed, and answers whether the commit has
    /// work to do: not when it was committed already, nor when the handler
    /// did not use it (rule 1: a request that did not touch the session
    /// sends nothing, even when a refresh would be due).
    pub(crate) fn start_commit(&self) -> bool {
        self.state().start_commit()
    }

    /// See [`Gimlet::commit`](crate::Gimlet::commit).
    pub(crate) async fn commit(&self) -> Result<Vec<String>, Error> {
        // A handler that used its session, but no key, still has the
        // peer's session imported, and its cookie removed. (The state is
        // looked at without opening the cookies: an unused session stays
        // unused.)
        if self.engine().import.is_some()
            && self.state().peer().unresolved()
            && let Some(import) = self.import_due()
        {
            import.await?;
        }
        if !self.start_commit() {
            return Ok(Vec::new());
        }
        {
            let mut state = self.state();
            if state.channels().iter().any(Channel::dirty) {
                state.note(Activity::Changed);
            }
        }
        // A cookie due its check is not re-issued with new data before the
        // check: if its record is gone, the new data goes to a fresh channel.
        let unchecked = |ch: &Channel| ch.unchecked() && (ch.client_dirty() || ch.reissue());
        if self.state().channels().iter().any(unchecked) {
            self.ensure_loaded().await?;
        }
        let engine = self.engine();
        // Each round that heals turns at least one channel's update into a
        // create, which cannot find its record gone: two rounds at most.
        // Rounds that run updates again are bounded apart.
        let mut replays = 0;
        loop {
            let now = engine.now();
            let plan = Plan::new(engine, &self.state(), now)?;
            if !plan.batch.is_empty() {
                let Some(backend) = &engine.backend else {
                    return Err(Error::Internal {
                        what: "a server-side write without a backend",
                    });
                };
                engine.meters().commits.increment(1);
                match self
                    .backend_call("commit", backend.commit(&plan.batch))
                    .await
                {
                    Ok(()) => {}
                    Err(e) if e.is_gone() && self.heal_gone(&plan).await? => continue,
                    Err(e) if e.is_changed() && replays < MAX_REPLAYS => {
                        engine.meters().conflicts.increment(1);
                        replays += 1;
                        self.replay_changed(&plan, replays).await?;
                        continue;
                    }
                    // Logged where the response is decided (the adapter's
                    // `finish`), once.
                    Err(e) => return Err(e.into()),
                }
            }
            self.settle(&plan);
            let mut set_cookies = plan.set_cookies;
            self.finish_import(&mut set_cookies);
            return Ok(set_cookies);
        }
    }

    /// After a commit was refused because a key an `update` read has
    /// changed since: loads the channels whose writes expected keys (one
    /// round trip), and runs their updates again on what the store holds
    /// now. A pause first, random up to 10 ms, doubling each round up to
    /// 160 ms, so that racing requests spread out. A record found gone is left to the next round, which
    /// heals it.
    async fn replay_changed(&self, plan: &Plan, round: u32) -> Result<(), Error> {
        let random = crate::SessionId::generate()?;
        let jitter = u64::from(u16::from_le_bytes(random.group()));
        let ceiling_us = 5000u64 << round.min(5);
        tokio::time::sleep(std::time::Duration::from_micros(jitter % ceiling_us)).await;
        let wanted = plan.expecting(&self.state());
        let records = self.load(&wanted).await?;
        let mut state = self.state();
        for (&(kind, id), record) in wanted.iter().zip(&records) {
            if let Some(record) = record {
                state.replay(kind, id, record)?;
            }
        }
        tracing::debug!(round, "a key an update read changed; updated again");
        Ok(())
    }

    /// After a commit was refused because a record it needs is gone:
    /// finds which (one load), and heals those channels, so that the next
    /// plan writes this request's changes to fresh ones. A channel whose
    /// data a cycle moved from a record now gone keeps only this request's
    /// writes; a channel created beside a sibling now gone keeps nothing.
    /// Answers whether any channel was healed.
    async fn heal_gone(&self, plan: &Plan) -> Result<bool, Error> {
        let updates = plan.updates(&self.state());
        let retires = plan.retires();
        if updates.is_empty() && retires.is_empty() {
            return Ok(false);
        }
        // The retired ids belong to no channel any more; the load only
        // needs their ids.
        let mut wanted = updates.clone();
        wanted.extend(retires.iter().map(|&id| (ChannelKind::Permanent, id)));
        let records = self.load(&wanted).await?;
        let (updated, retired) = records.split_at(updates.len());
        let now = self.engine().now();
        let mut state = self.state();
        let span = state.span().clone();
        let beside = state.anchor();
        let mut healed = false;
        // Every copy of a cookie whose record is gone yields nothing on
        // this server from now on, clientside data included.
        let gone = updates
            .iter()
            .map(|&(_, id)| id)
            .chain(retires.iter().copied());
        let gone = gone
            .zip(records.iter())
            .filter(|(_, record)| record.is_none());
        self.engine().revocations.revoke(gone.map(|(id, _)| id));
        for (&(kind, id), record) in updates.iter().zip(updated) {
            if record.is_some() || state.ch(kind).id() != Some(id) {
                continue;
            }
            tracing::info!(
                parent: &span,
                channel = kind.name(),
                "session record gone at commit; healing"
            );
            state.lost(kind, now, beside)?;
            self.engine().meters().heals.increment(1);
            if plan.vouchers.contains(&kind) {
                // What the new sibling holds may have come from here.
                state.ch_mut(kind.other()).end(false);
            }
            healed = true;
        }
        for (&id, record) in retires.iter().zip(retired) {
            if record.is_none() {
                tracing::info!(
                    parent: &span,
                    "session ended before its cycle committed; starting afresh"
                );
                state.moved_from_gone(id, now, beside)?;
                self.engine().meters().heals.increment(1);
                healed = true;
            }
        }
        Ok(healed)
    }

    /// Folds a committed plan into the state. The ids it deleted are
    /// revoked on this server at once (a store with a feed tells the
    /// others).
    fn settle(&self, plan: &Plan) {
        self.engine().revocations.revoke(plan.batch.ended());
        let issued = plan.cookie_lens.iter().flatten().filter(|&&len| len > 0);
        for &len in issued {
            self.engine().meters().cookie_bytes.record(len as f64);
        }
        self.changed(&plan.batch);
        let mut state = self.state();
        for kind in ChannelKind::BOTH {
            let i = kind.index();
            let (wrote, action) = plan.outcome[i];
            let (owner, len) = (plan.owners[i], plan.cookie_lens[i]);
            state.ch_mut(kind).committed(wrote, action, owner, len);
        }
    }

    /// Ends a failed request: nothing it wrote is committed and no cookie
    /// is sent (later server-side writes still go through to channels the
    /// browser holds), but a logout
    /// it made still takes effect (its deletes and removal cookies), so
    /// that an error after `invalidate()` cannot keep a session alive.
    pub(crate) async fn abandon(&self) -> Result<Vec<String>, Error> {
        {
            let mut state = self.state();
            if !state.ended() {
                state.discard();
                return Ok(Vec::new());
            }
            state.keep_only_ending();
        }
        self.commit().await
    }
}
