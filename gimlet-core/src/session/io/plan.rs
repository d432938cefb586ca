//! The plan of a commit, worked out under the session's lock before any
//! I/O: one batch for the backend, and what becomes of each channel's
//! cookie.

use crate::backend::{Batch, Op, Owner, Ownership, Write, WriteMode};
use crate::cookie::{ClientsideMap, Header};
use crate::engine::Engine;
use crate::key::ChannelKind;
use crate::session::model::{Browser, Channel, CookieAction, RecordState, State};
use crate::{Error, SessionId};

/// The commit worked out under the lock, before any I/O.
pub(crate) struct Plan {
    pub(crate) batch: Batch,
    pub(crate) set_cookies: Vec<String>,
    /// Per channel: whether the batch writes its record, and its cookie.
    pub(crate) outcome: [(bool, CookieAction); 2],
    /// Per channel: its owner once the batch is applied.
    pub(crate) owners: [Option<Owner>; 2],
    /// Per channel: the length of the `name=value` pair the commit sets (0
    /// for a removal), or `None` when it leaves the cookie as it is.
    pub(crate) cookie_lens: [Option<usize>; 2],
    /// The channels whose records the batch touches only to vouch for a
    /// sibling it creates: if one is gone, so is what the sibling took
    /// from it.
    pub(crate) vouchers: Vec<ChannelKind>,
}

impl Plan {
    /// The retired ids whose records the batch needs to exist, because
    /// their data moves to new ids.
    pub(crate) fn retires(&self) -> Vec<SessionId> {
        self.batch
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Retire(id) => Some(*id),
                _ => None,
            })
            .collect()
    }

    /// The channels whose writes expect keys unchanged (an `update` read
    /// them from the store).
    pub(crate) fn expecting(&self, state: &State) -> Vec<(ChannelKind, SessionId)> {
        ChannelKind::BOTH
            .into_iter()
            .filter_map(|kind| {
                let id = state.ch(kind).id()?;
                let expects = self
                    .batch
                    .ops
                    .iter()
                    .any(|op| matches!(op, Op::Write(w) if w.id == id && !w.expect.is_empty()));
                expects.then_some((kind, id))
            })
            .collect()
    }

    /// The channels whose writes need their record to exist.
    pub(crate) fn updates(&self, state: &State) -> Vec<(ChannelKind, SessionId)> {
        ChannelKind::BOTH
            .into_iter()
            .filter_map(|kind| {
                let ch = state.ch(kind);
                let id = ch.id()?;
                let updates = self.batch.ops.iter().any(
                    |op| matches!(op, Op::Write(w) if w.id == id && w.mode == WriteMode::Update),
                );
                updates.then_some((kind, id))
            })
            .collect()
    }
}

impl Plan {
    fn refresh_due(engine: &Engine, state: &State, ch: &Channel, now: u64) -> bool {
        if state.lifetime_set() && ch.came_with_cookie() {
            // A new lifetime renews every cookie and record under it.
            return true;
        }
        let lifetime = engine.lifetimes.idle(ch.kind(), state.lifetime()) as f64;
        let threshold = (lifetime * engine.refresh_fraction) as u64;
        ch.came_with_cookie() && now >= ch.issued().saturating_add(threshold)
    }

    /// Works out the commit of `state` at `now`.
    pub(crate) fn new(engine: &Engine, state: &State, now: u64) -> Result<Plan, Error> {
        let mut ops: Vec<Op> = Vec::new();
        for retired in state.retired() {
            let op = if retired.moved {
                Op::Retire(retired.id)
            } else {
                Op::Delete(retired.id)
            };
            if !ops.iter().any(|o| o.id() == retired.id) {
                ops.push(op);
            }
        }
        let mut set_cookies = Vec::new();
        let mut outcome = [(false, CookieAction::Keep); 2];
        let owners = ChannelKind::BOTH.map(|kind| owner_of(state, kind));
        let own = state.lifetime();
        let mut vouchers = Vec::new();
        let mut cookie_lens = [None; 2];
        // Under a near cache, a change to the server data gives the
        // session a new write token: no app server holds an entry for it,
        // so this browser's next read, wherever it lands, sees this write.
        let mut new_token = false;
        for kind in ChannelKind::BOTH {
            let ch = state.ch(kind);
            let owner = owners[kind.index()];
            let Some(id) = ch.id() else {
                if ch.browser() == Browser::RetiredId {
                    cookie_lens[kind.index()] = Some(0);
                    set_cookies.push(engine.cookies.removal(kind));
                    outcome[kind.index()].1 = CookieAction::Remove;
                }
                continue;
            };
            let expires_at = engine.lifetimes.expiry(kind, own, ch.created(), now);
            let refresh = Plan::refresh_due(engine, state, ch, now);
            let holds_cookie = !ch.client().is_empty() || ch.pinned();
            // A revocable channel has a record from its first cookie on, and
            // so does an owned one.
            let create =
                (engine.revocable || owner.is_some()) && engine.backend.is_some() && holds_cookie;
            let mut write = ch
                .changes(id, expires_at, create)
                .or_else(|| (refresh && ch.stored()).then(|| Write::touch(id, expires_at)));
            if let (Some(write), Some(owner)) = (&mut write, owner)
                && write.mode != WriteMode::Update
            {
                write.owner = Some(Ownership {
                    owner,
                    permanent: kind == ChannelKind::Permanent,
                    created: ch.created(),
                    until: engine.lifetimes.expiry(kind, own, ch.created(), u64::MAX),
                });
                if ch.owner().is_none() {
                    vouchers.push(kind.other());
                }
            }
            // A channel created beside one with a record may carry what the
            // handler read there (a user id moving to a "remember me"
            // cookie): the sibling vouches that its session still exists.
            let sibling = state.ch(kind.other());
            if write.as_ref().is_some_and(|w| w.mode == WriteMode::Create)
                && sibling.came_with_cookie()
                && sibling.stored()
                && !vouchers.contains(&kind.other())
            {
                vouchers.push(kind.other());
            }
            if let Some(write) = &mut write
                && write.mode != WriteMode::Create
            {
                expect_what_was_read(write, state, kind);
            }
            let wrote = write.is_some();
            new_token |= wrote && ch.server_dirty() && engine.near_cache.is_some();
            ops.extend(write.map(Op::Write));
            let stored = ch.stored() || wrote;
            let holds = holds_cookie || stored;
            // The window restarts once a check has seen the record.
            let seen = ch.record() == RecordState::Seen;
            let rechecked = ch.check_due() && seen && engine.revalidate_after > 0;
            let action = if !holds {
                if (ch.came_with_cookie() && ch.client_dirty())
                    || ch.browser() == Browser::RetiredId
                {
                    CookieAction::Remove
                } else {
                    CookieAction::Keep
                }
            } else if !ch.came_with_cookie()
                || ch.client_dirty()
                || ch.reissue()
                || refresh
                || rechecked
                || (wrote && !ch.claimed())
            {
                // A cookie may start a new lifetime only if the record's
                // expiry moves with it (or there is no record).
                let issued = if wrote || !stored { now } else { ch.issued() };
                CookieAction::Issue { issued }
            } else {
                CookieAction::Keep
            };
            match action {
                CookieAction::Issue { issued } => {
                    // A write that succeeds proves the record exists now; a
                    // load proved it when it ran (`checked`), and a logout
                    // may have landed since: the window counts from there.
                    let checked = if wrote { now } else { ch.checked() };
                    let header = ch.header(issued, checked, stored, (owner, own)).ok_or(
                        Error::Internal {
                            what: "a cookie for a channel without an id",
                        },
                    )?;
                    let set_cookie =
                        Plan::issue(engine, kind, ch.client(), &header, ch.created(), now)?;
                    cookie_lens[kind.index()] = set_cookie.split(';').next().map(str::len);
                    set_cookies.push(set_cookie);
                }
                CookieAction::Remove => {
                    cookie_lens[kind.index()] = Some(0);
                    set_cookies.push(engine.cookies.removal(kind));
                }
                CookieAction::Keep => {}
            }
            outcome[kind.index()] = (wrote, action);
        }
        // A channel that joins its owned sibling's owner, or is created
        // beside a sibling with a record, takes the sibling's word: the
        // batch also updates the sibling's record, so that if the session
        // was ended meanwhile the batch is refused (`Gone`), the sibling
        // heals, the new channel's writes are dropped, and nothing joins
        // the owner.
        for &kind in &vouchers {
            let ch = state.ch(kind);
            let Some(id) = ch.id() else { continue };
            let written = ops
                .iter()
                .any(|op| matches!(op, Op::Write(w) if w.id == id));
            if !written {
                ops.push(Op::Write(Write::touch(
                    id,
                    engine.lifetimes.expiry(kind, own, ch.created(), now),
                )));
            }
        }
        if new_token {
            set_cookies.push(engine.cookies.token(new_token_value()?));
        }
        Ok(Plan {
            batch: Batch { ops },
            set_cookies,
            outcome,
            owners,
            cookie_lens,
            vouchers,
        })
    }

    /// The `Set-Cookie` value of a channel's cookie.
    fn issue(
        engine: &Engine,
        kind: ChannelKind,
        client: &ClientsideMap,
        header: &Header,
        created: u64,
        now: u64,
    ) -> Result<String, Error> {
        let name = engine.cookies.name(kind);
        let value = engine.codec.encode_parts(name, header, client.iter())?;
        let max_age = match kind {
            ChannelKind::Permanent => Some(
                engine
                    .lifetimes
                    .expiry(kind, header.lifetime, created, header.issued)
                    .saturating_sub(now),
            ),
            ChannelKind::Transient => None,
        };
        let set_cookie = engine.cookies.set(kind, &value, max_age);
        if set_cookie.len() > engine.cookies.max_size() {
            // Inserts keep cookies within the limit, so this is Gimlet's
            // fault (or a format change's), not the client's.
            return Err(Error::Internal {
                what: "the session cookie grew over the size limit",
            });
        }
        Ok(set_cookie)
    }
}

/// A new write token: random, never 0.
fn new_token_value() -> Result<u64, Error> {
    use ring::rand::SecureRandom;
    let mut bytes = [0; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Internal {
            what: "the system's random number generator failed",
        })?;
    Ok(u64::from_le_bytes(bytes).max(1))
}

/// A channel's owner: its own, or else its sibling's, which a channel with
/// an id takes on when it is created beside an owned one.
fn owner_of(state: &State, kind: ChannelKind) -> Option<Owner> {
    let ch = state.ch(kind);
    let sibling = state.ch(kind.other());
    ch.id()?;
    ch.owner()
        .or(sibling.owner().filter(|_| sibling.id().is_some()))
}

/// Makes `write` (of `kind`'s channel) expect every key it writes whose
/// new value an `update` made from the store's: a compare-and-set per key,
/// in the same round trip.
fn expect_what_was_read(write: &mut Write, state: &State, kind: ChannelKind) {
    let ch = state.ch(kind);
    for key in state.replays().keys_on(kind, write.id) {
        let written = write.set.iter().any(|(k, _)| *k == key) || write.remove.contains(&key);
        if written {
            let stored = ch.stored_value(&key).map(<[u8]>::to_vec);
            write.expect.push((key, stored));
        }
    }
}
