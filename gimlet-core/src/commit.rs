//! The end of a request: one batch for the backend, and the `Set-Cookie`
//! values. Also the write-through of server-side writes made after it.

use crate::backend::{Batch, Op, Write, WriteMode};
use crate::channel::Channel;
use crate::client::ClientMap;
use crate::gimlet::Engine;
use crate::payload::Header;
use crate::placement::Kind;
use crate::session::State;
use crate::{Error, Session, SessionId};

/// What the commit does to one channel's cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CookieAction {
    Keep,
    Issue { issued: u64 },
    Remove,
}

/// The commit worked out under the lock, before any I/O.
struct Plan {
    batch: Batch,
    set_cookies: Vec<String>,
    /// Per channel: whether the batch writes its record, and its cookie.
    outcome: [(bool, CookieAction); 2],
}

impl Plan {
    /// The channels whose writes need their record to exist.
    fn updates(&self, state: &State) -> Vec<(Kind, SessionId)> {
        Kind::BOTH
            .into_iter()
            .filter_map(|kind| {
                let ch = state.ch(kind);
                let id = ch.id?;
                let updates = self.batch.ops.iter().any(
                    |op| matches!(op, Op::Write(w) if w.id == id && w.mode == WriteMode::Update),
                );
                updates.then_some((kind, id))
            })
            .collect()
    }
}

impl Channel {
    fn write_mode(&self) -> WriteMode {
        if self.fresh {
            WriteMode::Create
        } else if self.stored {
            WriteMode::Update
        } else {
            WriteMode::Upsert
        }
    }

    /// The write this channel's changes need, if any. A channel with no
    /// record and nothing to set needs none (deleting from nothing is
    /// nothing), unless `create` asks for its record to exist.
    fn changes(&self, id: SessionId, expires_at: u64, create: bool) -> Option<Write> {
        let mode = self.write_mode();
        let set: Vec<_> = self
            .pending
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
            .collect();
        let remove: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        let needed = !set.is_empty()
            || (mode == WriteMode::Update && (self.cleared || !remove.is_empty()))
            || (mode == WriteMode::Create && create);
        needed.then_some(Write {
            id,
            mode,
            clear: self.cleared,
            set,
            remove,
            expires_at,
        })
    }
}

impl Engine {
    fn refresh_due(&self, ch: &Channel, now: u64) -> bool {
        let lifetime = self.lifetime(ch.kind) as f64;
        let threshold = (lifetime * self.refresh_fraction) as u64;
        ch.from_cookie && now >= ch.issued.saturating_add(threshold)
    }

    fn plan(&self, state: &mut State, now: u64) -> Result<Plan, Error> {
        let mut ops: Vec<Op> = Vec::new();
        for id in &state.retired {
            if !ops.contains(&Op::Delete(*id)) {
                ops.push(Op::Delete(*id));
            }
        }
        let mut set_cookies = Vec::new();
        let mut outcome = [(false, CookieAction::Keep); 2];
        for kind in Kind::BOTH {
            let ch = state.ch(kind);
            let Some(id) = ch.id else {
                if ch.removal {
                    set_cookies.push(self.cookies.removal(kind));
                    outcome[kind.index()].1 = CookieAction::Remove;
                }
                continue;
            };
            let expires_at = self.expiry(kind, ch.created, now);
            let refresh = self.refresh_due(ch, now);
            let holds_cookie = !ch.client.is_empty() || ch.pinned;
            // A revocable channel has a record from its first cookie on.
            let create = self.revocable && self.backend.is_some() && holds_cookie;
            let write = ch
                .changes(id, expires_at, create)
                .or_else(|| (refresh && ch.stored).then(|| Write::touch(id, expires_at)));
            let wrote = write.is_some();
            ops.extend(write.map(Op::Write));
            let stored = ch.stored || wrote;
            let holds = holds_cookie || stored;
            // The window restarts once a check has seen the record.
            let rechecked = ch.check_due && ch.confirmed && self.revalidate_after > 0;
            let action = if !holds {
                if (ch.from_cookie && ch.client_dirty) || ch.removal {
                    CookieAction::Remove
                } else {
                    CookieAction::Keep
                }
            } else if !ch.from_cookie
                || ch.client_dirty
                || ch.reissue
                || refresh
                || rechecked
                || (wrote && !ch.stored_in_cookie)
            {
                // A cookie may start a new lifetime only if the record's
                // expiry moves with it (or there is no record).
                let issued = if wrote || !stored { now } else { ch.issued };
                CookieAction::Issue { issued }
            } else {
                CookieAction::Keep
            };
            match action {
                CookieAction::Issue { issued } => {
                    // A write that succeeds proves the record exists now; a
                    // load proved it when it ran (`checked`), and a logout
                    // may have landed since: the window counts from there.
                    let checked = if wrote { now } else { ch.checked };
                    let header = ch.header(issued, checked, stored).ok_or(Error::Internal {
                        what: "a cookie for a channel without an id",
                    })?;
                    set_cookies.push(self.issue(kind, &ch.client, &header, ch.created, now)?);
                }
                CookieAction::Remove => set_cookies.push(self.cookies.removal(kind)),
                CookieAction::Keep => {}
            }
            outcome[kind.index()] = (wrote, action);
        }
        Ok(Plan {
            batch: Batch { ops },
            set_cookies,
            outcome,
        })
    }

    /// The `Set-Cookie` value of a channel's cookie.
    fn issue(
        &self,
        kind: Kind,
        client: &ClientMap,
        header: &Header,
        created: u64,
        now: u64,
    ) -> Result<String, Error> {
        let name = self.cookies.name(kind);
        let value = self.codec.encode_parts(name, header, client.iter())?;
        let max_age = match kind {
            Kind::Permanent => Some(
                self.expiry(kind, created, header.issued)
                    .saturating_sub(now),
            ),
            Kind::Transient => None,
        };
        let set_cookie = self.cookies.set(kind, &value, max_age);
        if set_cookie.len() > self.cookies.max_size() {
            // Inserts keep cookies within the limit, so this is Gimlet's
            // fault (or a format change's), not the client's.
            tracing::error!(
                size = set_cookie.len(),
                limit = self.cookies.max_size(),
                "session cookie over the size limit at commit"
            );
            return Err(Error::Internal {
                what: "the session cookie grew over the size limit",
            });
        }
        Ok(set_cookie)
    }
}

impl Session {
    /// See [`Gimlet::commit`](crate::Gimlet::commit).
    pub(crate) async fn commit(&self) -> Result<Vec<String>, Error> {
        {
            let mut state = self.state();
            if state.committed {
                return Ok(Vec::new());
            }
            state.committed = true;
            if !state.used {
                // Rule 1: a request that did not touch the session sends
                // nothing, even when a refresh would be due.
                return Ok(Vec::new());
            }
        }
        // A cookie due its check is not re-issued with new data before the
        // check: if its record is gone, the new data goes to a fresh channel.
        let unchecked = |ch: &Channel| ch.unchecked() && (ch.client_dirty || ch.reissue);
        if self.state().channels.iter().any(unchecked) {
            self.ensure_loaded().await?;
        }
        let engine = self.engine();
        // Each round that heals turns at least one channel's update into a
        // create, which cannot find its record gone: two rounds at most.
        loop {
            let now = engine.now();
            let plan = engine.plan(&mut self.state(), now)?;
            if !plan.batch.is_empty() {
                let Some(backend) = &engine.backend else {
                    return Err(Error::Internal {
                        what: "a server-side write without a backend",
                    });
                };
                match backend.commit(&plan.batch).await {
                    Ok(()) => {}
                    Err(e) if e.is_gone() => {
                        if self.heal_gone(&plan).await? {
                            continue;
                        }
                        tracing::error!(error = %e, "session commit found a record gone");
                        return Err(e.into());
                    }
                    Err(e) => {
                        tracing::error!(error = %e, detail = ?e, "session commit failed");
                        return Err(e.into());
                    }
                }
            }
            self.settle(&plan);
            return Ok(plan.set_cookies);
        }
    }

    /// After a commit was refused because a record it updates is gone:
    /// finds which (one load), and heals those channels, so that the next
    /// plan writes this request's changes to fresh ones. Answers whether
    /// any channel was healed.
    async fn heal_gone(&self, plan: &Plan) -> Result<bool, Error> {
        let Some(backend) = &self.engine().backend else {
            return Ok(false);
        };
        let updates = plan.updates(&self.state());
        if updates.is_empty() {
            return Ok(false);
        }
        let ids: Vec<SessionId> = updates.iter().map(|&(_, id)| id).collect();
        let records = backend.load(&ids).await.inspect_err(|e| {
            tracing::error!(error = %e, detail = ?e, "session load failed");
        })?;
        let now = self.engine().now();
        let mut state = self.state();
        let beside = state.anchor();
        let mut healed = false;
        for ((kind, id), record) in updates.into_iter().zip(records) {
            let ch = state.ch_mut(kind);
            if record.is_none() && ch.id == Some(id) {
                tracing::info!(
                    channel = kind.name(),
                    "session record gone at commit; healing"
                );
                ch.heal(now, beside)?;
                healed = true;
            }
        }
        Ok(healed)
    }

    /// Folds a committed plan into the state.
    fn settle(&self, plan: &Plan) {
        let mut state = self.state();
        state.retired.clear();
        for kind in Kind::BOTH {
            let (wrote, action) = plan.outcome[kind.index()];
            let ch = state.ch_mut(kind);
            if wrote {
                ch.settle();
                ch.stored = true;
                ch.fresh = false;
            }
            match action {
                CookieAction::Issue { issued } => {
                    ch.issued = issued;
                    ch.in_browser = true;
                }
                CookieAction::Remove => ch.in_browser = false,
                CookieAction::Keep => ch.in_browser = ch.from_cookie,
            }
        }
    }

    /// Ends the request without committing: nothing is written and no
    /// cookie is sent, as for a request that failed. Later server-side
    /// writes still go through to channels the browser holds.
    pub(crate) fn discard(&self) {
        let mut state = self.state();
        state.committed = true;
        for ch in &mut state.channels {
            ch.in_browser = ch.from_cookie;
        }
    }

    /// Writes one server-side change straight to the backend, after the
    /// commit. `kind` is the channel to set `key` in; a removal (`value`
    /// `None`) goes to every channel that may hold the key.
    pub(crate) async fn write_through(
        &self,
        key: &str,
        value: Option<Vec<u8>>,
        kind: Option<Kind>,
    ) -> Result<(), Error> {
        let engine = self.engine();
        let Some(backend) = &engine.backend else {
            return Err(Error::NoBackend { key: key.into() });
        };
        let now = engine.now();
        let batch = {
            let state = self.state();
            let mut ops = Vec::new();
            for k in Kind::BOTH {
                let ch = state.ch(k);
                let target = kind == Some(k);
                let Some(id) = ch.id.filter(|_| ch.in_browser) else {
                    if target {
                        return Err(Error::Committed {
                            what: "a write to a session whose cookie was not sent",
                        });
                    }
                    continue;
                };
                let expires_at = engine.expiry(k, ch.created, now);
                let (set, remove) = match &value {
                    Some(v) if target => (vec![(key.to_owned(), v.clone())], Vec::new()),
                    _ if ch.stored => (Vec::new(), vec![key.to_owned()]),
                    _ => continue,
                };
                ops.push(Op::Write(Write {
                    id,
                    mode: ch.write_mode(),
                    clear: false,
                    set,
                    remove,
                    expires_at,
                }));
            }
            Batch { ops }
        };
        if batch.is_empty() {
            return Ok(());
        }
        backend.commit(&batch).await?;
        let mut state = self.state();
        for op in &batch.ops {
            let Op::Write(write) = op else { continue };
            for ch in &mut state.channels {
                if ch.id == Some(write.id) {
                    ch.stored = true;
                    ch.fresh = false;
                    if let Some(record) = &mut ch.loaded {
                        for k in &write.remove {
                            record.remove(k);
                        }
                        record.extend(write.set.iter().cloned());
                    }
                }
            }
        }
        Ok(())
    }
}
