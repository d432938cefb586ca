//! One channel's state during a request: its identity, its clientside map
//! and its lifecycle (new, from a cookie, cycled, ended, healed,
//! committed). Its server-side data, and the write that carries it, are in
//! `server.rs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::backend::{Owner, Record};
use crate::cookie::{ClientsideMap, Header, VerifiedCookie};
use crate::key::ChannelKind;
use crate::lifetime::Lifetime;
use crate::{Error, SessionId};

use super::facts::{Browser, CookieAction, Loaded, Origin, RecordState, Retired};

mod server;

#[derive(Debug)]
pub(crate) struct Channel {
    kind: ChannelKind,
    id: Option<SessionId>,
    origin: Origin,
    record: RecordState,
    /// Before the commit, what the browser sent; after it, what the
    /// browser holds.
    browser: Browser,
    created: u64,
    issued: u64,
    /// When the record was last seen to exist (0: never).
    checked: u64,
    /// The cookie's revalidation window has passed: its data may be used
    /// only once a load has seen the record.
    check_due: bool,
    /// `id()` or `created_at()` was read: the cookie must be issued.
    pinned: bool,
    client: ClientsideMap,
    client_dirty: bool,
    /// Clientside keys this request set: what survives a heal.
    client_written: BTreeSet<String>,
    /// Server data as loaded; `None` until loaded. A channel without a
    /// cookie has nothing stored, so it starts as loaded and empty.
    loaded: Option<Record>,
    /// Server changes not committed yet: `Some` sets, `None` deletes.
    pending: BTreeMap<String, Option<Vec<u8>>>,
    /// Every stored key is to be deleted before `pending` applies.
    cleared: bool,
    /// The keys of `pending` that a cycle carried over from the retired
    /// id, rather than this request's writes: what a heal drops. A list
    /// (empty but after a cycle), which costs nothing to make or drop.
    carried: Vec<String>,
    /// The retired id this channel's data came from, while the commit has
    /// yet to prove that its record still exists.
    moved_from: Option<SessionId>,
    /// Whose session this channel is (`Session::set_owner`): its record
    /// is in that owner's index.
    owner: Option<Owner>,
    /// This request made the channel `owner`'s: the login survives a heal.
    took_owner: bool,
    /// The length of the `name=value` pair the browser holds for this
    /// channel: as received, then as the commit set it (0: none).
    cookie_len: usize,
}

impl Channel {
    // What the request reads of the channel.

    pub(crate) fn kind(&self) -> ChannelKind {
        self.kind
    }

    pub(crate) fn id(&self) -> Option<SessionId> {
        self.id
    }

    pub(crate) fn record(&self) -> RecordState {
        self.record
    }

    pub(crate) fn browser(&self) -> Browser {
        self.browser
    }

    pub(crate) fn created(&self) -> u64 {
        self.created
    }

    pub(crate) fn issued(&self) -> u64 {
        self.issued
    }

    pub(crate) fn checked(&self) -> u64 {
        self.checked
    }

    pub(crate) fn check_due(&self) -> bool {
        self.check_due
    }

    pub(crate) fn pinned(&self) -> bool {
        self.pinned
    }

    /// The clientside map, as the cookie will carry it.
    pub(crate) fn client(&self) -> &ClientsideMap {
        &self.client
    }

    /// The clientside map changed: the cookie must be issued again.
    pub(crate) fn client_dirty(&self) -> bool {
        self.client_dirty
    }

    /// Whether the server data has been loaded (or is known to be empty).
    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded.is_some()
    }

    pub(crate) fn owner(&self) -> Option<Owner> {
        self.owner
    }

    pub(crate) fn cookie_len(&self) -> usize {
        self.cookie_len
    }

    /// Whether a commit would change the server data: what gives the
    /// session a new write token under a near cache.
    pub(crate) fn server_dirty(&self) -> bool {
        self.cleared || !self.pending.is_empty()
    }

    /// How many keys the request knows of: clientside, and server-side
    /// changes not committed yet.
    pub(crate) fn keys_known(&self) -> usize {
        self.client.len() + self.pending.len()
    }

    // What the request does to the channel. Each rule is written once,
    // here: what a clientside write marks, what a load records, what a
    // heal keeps, what a cycle retires, what a commit settles.

    /// Sets a clientside key: the map changes, the cookie is issued again,
    /// and the key counts as this request's write (it survives a heal).
    pub(crate) fn set_clientside(&mut self, key: &str, value: Vec<u8>) {
        self.client.insert(key, value);
        self.client_dirty = true;
        self.client_written.insert(key.to_owned());
    }

    /// Removes a clientside key, answering whether the cookie held it.
    pub(crate) fn remove_clientside(&mut self, key: &str) -> bool {
        if !self.client.remove(key) {
            return false;
        }
        self.client_dirty = true;
        self.client_written.remove(key);
        true
    }

    /// Removes every key, both sides, without a load. The id stays.
    pub(crate) fn clear(&mut self) {
        if !self.client.is_empty() {
            self.client.clear();
            self.client_dirty = true;
        }
        self.client_written.clear();
        self.pending.clear();
        self.carried.clear();
        if self.may_have_server_data() {
            self.cleared = true;
        }
    }

    /// `id()` or `created_at()` was read: the cookie must be issued.
    pub(crate) fn pin(&mut self) {
        self.pinned = true;
    }

    /// The channel becomes `owner`'s. An owned channel keeps a cookie and a
    /// record, so that it can be ended.
    pub(crate) fn take_owner(&mut self, owner: Owner) {
        self.owner = Some(owner);
        self.took_owner = true;
        self.pinned = true;
    }

    /// Moves the channel's data (which must be loaded) under a new id in
    /// the group of `beside`, and answers the old id if it may have a
    /// record for the commit to delete. The absolute lifetime goes on
    /// from the channel's creation, unless `restart` (a login) starts it
    /// anew.
    pub(crate) fn cycle(
        &mut self,
        now: u64,
        beside: Option<SessionId>,
        backend: bool,
        restart: bool,
    ) -> Result<Option<Retired>, Error> {
        let Some(old) = self.id else { return Ok(None) };
        let data = self.server_view();
        // Before the commit, only a channel that came with a cookie can
        // have a record. One a load saw must still exist when the commit
        // moves its data: otherwise the session ended meanwhile.
        let retire = (backend && self.came_with_cookie()).then_some(Retired {
            id: old,
            moved: self.record == RecordState::Seen,
        });
        if let Some(Retired { id, moved: true }) = retire {
            self.moved_from = Some(id);
        }
        let created = if restart { now } else { self.created };
        for (key, _) in &data {
            // A key this request wrote is its own; any other came along.
            let own = matches!(self.pending.get(key), Some(Some(_))) && !self.carried.contains(key);
            if !own && !self.carried.contains(key) {
                self.carried.push(key.clone());
            }
        }
        self.renew_id(now, beside)?;
        self.created = created;
        self.loaded = Some(Record::new());
        self.cleared = false;
        self.pending = data.into_iter().map(|(k, v)| (k, Some(v))).collect();
        Ok(retire)
    }

    /// The retired id this channel's data came from, if the commit must
    /// prove its record still exists.
    pub(crate) fn moved_from(&self) -> Option<SessionId> {
        self.moved_from
    }

    /// Ends the channel, as at logout: everything is dropped, and the id a
    /// verified cookie named is answered for the commit to delete, whatever
    /// the cookie claimed about its record (a concurrent request may have
    /// created one).
    pub(crate) fn end(&mut self, backend: bool) -> Option<Retired> {
        let retire = self.id.filter(|_| backend && self.came_with_cookie());
        self.reset();
        retire.map(|id| Retired { id, moved: false })
    }

    /// Records what a load found for this channel's id: its record, or
    /// none. A record gone that the cookie claimed heals the channel.
    pub(crate) fn loaded(
        &mut self,
        record: Option<Record>,
        now: u64,
        beside: Option<SessionId>,
    ) -> Result<Loaded, Error> {
        match record {
            Some(record) => {
                // A blind delete of a key that is not stored is moot.
                if !self.cleared {
                    self.pending
                        .retain(|k, v| v.is_some() || record.contains_key(k));
                }
                self.loaded = Some(record);
                self.record = RecordState::Seen;
                self.checked = now;
                Ok(Loaded::Seen)
            }
            None if self.claimed() => {
                // The record this cookie points at is gone: the session was
                // ended elsewhere, expired, or was lost.
                self.heal(now, beside)?;
                Ok(Loaded::Healed)
            }
            None => {
                self.pending.retain(|_, v| v.is_some());
                self.cleared = false;
                self.loaded = Some(Record::new());
                self.record = RecordState::Absent;
                Ok(Loaded::Absent)
            }
        }
    }

    /// Folds a committed plan's outcome for this channel into its state:
    /// whether the batch wrote its record, what became of its cookie, its
    /// owner, and the length of the cookie it set.
    pub(crate) fn committed(
        &mut self,
        wrote: bool,
        action: CookieAction,
        owner: Option<Owner>,
        cookie_len: Option<usize>,
    ) {
        if self.id.is_some() {
            self.owner = owner;
        }
        if let Some(len) = cookie_len {
            self.cookie_len = len;
        }
        if wrote {
            self.settle();
            self.record = RecordState::Written;
        }
        // The batch applied: any retired id it moved data from existed.
        self.moved_from = None;
        self.carried.clear();
        self.browser = match action {
            CookieAction::Issue { issued } => {
                self.issued = issued;
                Browser::ThisId
            }
            CookieAction::Remove => Browser::Nothing,
            CookieAction::Keep => self.kept_cookie(),
        };
    }

    /// A write after the commit reached this channel's record.
    pub(crate) fn wrote_through(&mut self, set: &[(String, Vec<u8>)], remove: &[String]) {
        self.record = RecordState::Written;
        if let Some(record) = &mut self.loaded {
            for k in remove {
                record.remove(k);
            }
            record.extend(set.iter().cloned());
        }
    }

    /// Whether the request changed keys of this channel that the commit
    /// has not written yet.
    pub(crate) fn dirty(&self) -> bool {
        self.client_dirty || self.cleared || !self.pending.is_empty()
    }

    /// A session's two channels, new: the permanent one, then the
    /// transient one (in [`ChannelKind::index`] order).
    pub(crate) fn pair() -> [Channel; 2] {
        [
            Channel::new(ChannelKind::Permanent),
            Channel::new(ChannelKind::Transient),
        ]
    }

    /// A channel with no cookie.
    #[inline]
    pub(crate) fn new(kind: ChannelKind) -> Self {
        Channel {
            kind,
            id: None,
            origin: Origin::None,
            record: RecordState::Absent,
            browser: Browser::Nothing,
            created: 0,
            issued: 0,
            checked: 0,
            check_due: false,
            pinned: false,
            client: ClientsideMap::default(),
            client_dirty: false,
            client_written: BTreeSet::new(),
            loaded: Some(Record::new()),
            pending: BTreeMap::new(),
            cleared: false,
            carried: Vec::new(),
            moved_from: None,
            owner: None,
            took_owner: false,
            cookie_len: 0,
        }
    }

    /// A channel restored from a verified cookie. With a backend, a cookie
    /// whose record was last seen `revalidate_after` seconds ago or more is
    /// due a check.
    pub(crate) fn from_cookie(
        kind: ChannelKind,
        cookie: VerifiedCookie,
        backend: bool,
        check_due: bool,
        cookie_len: usize,
    ) -> Self {
        let header = cookie.header;
        Channel {
            id: Some(header.id),
            origin: Origin::Cookie {
                claimed: header.stored,
                reissue: cookie.reissue,
            },
            record: if header.stored {
                RecordState::Claimed
            } else {
                RecordState::Absent
            },
            browser: Browser::ThisId,
            created: header.created,
            issued: header.issued,
            checked: header.checked,
            check_due: backend && header.stored && check_due,
            client: cookie.client,
            loaded: if backend { None } else { Some(Record::new()) },
            owner: header.owner,
            cookie_len,
            ..Channel::new(kind)
        }
    }

    /// Gives the channel an id if it has none, so it can hold data: in the
    /// group of `beside`, the session's other id, if it has one.
    pub(crate) fn ensure_id(
        &mut self,
        now: u64,
        beside: Option<SessionId>,
    ) -> Result<SessionId, Error> {
        if let Some(id) = self.id {
            return Ok(id);
        }
        let id = new_id(beside)?;
        self.id = Some(id);
        self.origin = Origin::New;
        self.created = now;
        self.issued = now;
        Ok(id)
    }

    /// The channel starts over with a new id (and nothing stored under it);
    /// the old cookie is to be replaced or removed.
    fn renew_id(&mut self, now: u64, beside: Option<SessionId>) -> Result<(), Error> {
        let id = new_id(beside)?;
        self.id = Some(id);
        self.browser = self.browser.retired();
        self.origin = Origin::New;
        self.record = RecordState::Absent;
        self.check_due = false;
        self.checked = 0;
        self.created = now;
        self.issued = now;
        Ok(())
    }

    /// Everything is dropped, as after a logout. The browser's cookie, if
    /// any, is to be removed unless new data replaces it.
    fn reset(&mut self) {
        let (browser, cookie_len) = (self.browser.retired(), self.cookie_len);
        *self = Channel::new(self.kind);
        self.browser = browser;
        self.cookie_len = cookie_len;
    }

    /// The id came in a verified cookie.
    pub(crate) fn came_with_cookie(&self) -> bool {
        matches!(self.origin, Origin::Cookie { .. })
    }

    /// The cookie said the record exists.
    pub(crate) fn claimed(&self) -> bool {
        matches!(self.origin, Origin::Cookie { claimed: true, .. })
    }

    /// An old key or format verified the cookie: it is issued again.
    pub(crate) fn reissue(&self) -> bool {
        matches!(self.origin, Origin::Cookie { reissue: true, .. })
    }

    /// What the browser holds after a commit that sent no cookie for this
    /// channel: the cookie it came with, if its id is still the channel's.
    pub(crate) fn kept_cookie(&self) -> Browser {
        if self.came_with_cookie() {
            Browser::ThisId
        } else {
            Browser::Nothing
        }
    }

    /// The channel has (or is thought to have) a record in the backend.
    pub(crate) fn stored(&self) -> bool {
        self.record != RecordState::Absent
    }

    /// The record behind this channel's cookie is gone: the channel ended
    /// elsewhere (logout, expiry, a flush). Nothing it held before this
    /// request is kept; what this request wrote moves to a fresh channel
    /// with a new id, and the dead cookie is replaced or removed.
    pub(crate) fn heal(&mut self, now: u64, beside: Option<SessionId>) -> Result<(), Error> {
        let client: Vec<(String, Vec<u8>)> = std::mem::take(&mut self.client_written)
            .into_iter()
            .filter_map(|k| {
                let value = self.client.get(&k)?.to_vec();
                Some((k, value))
            })
            .collect();
        let carried = std::mem::take(&mut self.carried);
        let pending: BTreeMap<_, _> = std::mem::take(&mut self.pending)
            .into_iter()
            .filter(|(k, v)| v.is_some() && !carried.contains(k))
            .collect();
        let pinned = self.pinned;
        let login = self.owner.filter(|_| self.took_owner);
        self.reset();
        let writes = !client.is_empty() || !pending.is_empty();
        for (key, value) in client {
            self.client.insert(&key, value);
            self.client_written.insert(key);
            self.client_dirty = true;
        }
        self.pending = pending;
        self.pinned = pinned;
        if let Some(owner) = login {
            // The login is this request's own: it moves with the writes.
            self.take_owner(owner);
        }
        if writes || self.pinned {
            self.ensure_id(now, beside)?;
        }
        Ok(())
    }

    /// Whether this channel's data may not be used before a load: its check
    /// is due and no load has seen its record yet.
    pub(crate) fn unchecked(&self) -> bool {
        self.check_due && self.loaded.is_none()
    }

    /// The fixed fields of this channel's cookie.
    pub(crate) fn header(
        &self,
        issued: u64,
        checked: u64,
        stored: bool,
        (owner, lifetime): (Option<Owner>, Option<Lifetime>),
    ) -> Option<Header> {
        Some(Header {
            id: self.id?,
            created: self.created,
            issued,
            checked,
            stored,
            owner,
            lifetime,
        })
    }
}

/// A new id, in the group of `beside` if there is one.
fn new_id(beside: Option<SessionId>) -> Result<SessionId, Error> {
    match beside {
        Some(other) => SessionId::generate_beside(&other),
        None => SessionId::generate(),
    }
}
