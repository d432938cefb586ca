//! The end of a request: one batch for the backend, and the `Set-Cookie`
//! values. Also the write-through of server-side writes made after it.

use crate::backend::{Batch, Op, Write, WriteMode};
use crate::channel::Channel;
use crate::gimlet::Engine;
use crate::placement::Kind;
use crate::session::State;
use crate::{Error, Session};

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
    /// record and nothing to set needs none: deleting from nothing is
    /// nothing.
    fn changes(&self, id: crate::SessionId, expires_at: u64) -> Option<Write> {
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
        let needed =
            !set.is_empty() || (mode == WriteMode::Update && (self.cleared || !remove.is_empty()));
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
            let write = ch
                .changes(id, expires_at)
                .or_else(|| (refresh && ch.stored).then(|| Write::touch(id, expires_at)));
            let wrote = write.is_some();
            ops.extend(write.map(Op::Write));
            let stored = ch.stored || wrote;
            let holds = !ch.client.is_empty() || stored || ch.pinned;
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
                    set_cookies.push(self.issue(ch, issued, stored, now)?);
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

    /// The `Set-Cookie` value carrying `ch`.
    fn issue(&self, ch: &Channel, issued: u64, stored: bool, now: u64) -> Result<String, Error> {
        let kind = ch.kind;
        let Some(header) = ch.header(issued, stored) else {
            return Err(Error::Committed {
                what: "a channel without an id",
            });
        };
        let name = self.cookies.name(kind);
        let value = self.codec.encode_parts(name, &header, ch.client.iter())?;
        let max_age = match kind {
            Kind::Permanent => Some(self.expiry(kind, ch.created, issued).saturating_sub(now)),
            Kind::Transient => None,
        };
        let set_cookie = self.cookies.set(kind, &value, max_age);
        if set_cookie.len() > self.cookies.max_size() {
            return Err(Error::CookieTooLarge {
                key: String::new(),
                size: set_cookie.len(),
                limit: self.cookies.max_size(),
            });
        }
        Ok(set_cookie)
    }
}

impl Session {
    /// See [`Gimlet::commit`](crate::Gimlet::commit).
    pub(crate) async fn commit(&self) -> Result<Vec<String>, Error> {
        let engine = self.engine();
        let now = engine.now();
        let plan = {
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
            engine.plan(&mut state, now)?
        };
        if !plan.batch.is_empty() {
            let Some(backend) = &engine.backend else {
                return Err(Error::NoBackend { key: String::new() });
            };
            if let Err(e) = backend.commit(&plan.batch).await {
                tracing::error!(error = %e, detail = ?e, "session commit failed");
                return Err(e.into());
            }
        }
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
        Ok(plan.set_cookies)
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
