//! What an application says about an import ([`Import`]), and what its
//! configuration reads a peer's cookie and record with ([`Importer`]).

use std::fmt;
use std::sync::Arc;

use super::peer_cookie::{self, PeerKey, Protection};
use super::{PeerStore, actix_session, tower_sessions};
use crate::cookie::{expire, valid_domain, valid_name, valid_path};
use crate::error::ConfigErrorKind;
use crate::{ConfigError, Placement};

/// The keys and values of a peer's session, sorted by key.
pub(crate) type Entries = Vec<(String, serde_json::Value)>;

/// Which rule maps a peer's key to a Gimlet placement, or drops it.
type Rule = Arc<dyn Fn(&str) -> Option<Placement> + Send + Sync>;

/// A peer library whose sessions a Gimlet imports on first use.
///
/// A request that carries no Gimlet cookie but the peer's session cookie
/// has the peer's session read (one round trip to the peer's store, or
/// none for a session kept in the cookie) before the handler's first use
/// of its session. Its keys are copied into the fresh Gimlet session,
/// where [`keys`](Import::keys) places them, and the response removes the
/// peer's cookie. A cookie that does not verify, or whose session has
/// expired or is missing, imports nothing and is removed too. A request
/// with a Gimlet session never imports: an import never overwrites one.
///
/// Values keep their JSON shape, so a handler reads them with the types
/// it used with the peer.
///
/// ```
/// # use gimlet_core::{Gimlet, Placement};
/// # use gimlet_core::import::{Import, PeerStore};
/// # fn build(tower_sessions_redis: impl PeerStore) -> Result<Gimlet, gimlet_core::ConfigError> {
/// let import = Import::tower_sessions(tower_sessions_redis)
///     // The peer's `with_signed(key)`, if any (`private` for `with_private`).
///     .signed(&[7; 64])
///     .keys(|key| match key {
///         "theme" => Some(Placement::new().clientside(true)),
///         "csrf" => None, // dropped
///         _ => Some(Placement::new().permanent(true)),
///     });
/// Gimlet::builder()
///     .secret("0123456789abcdef0123456789abcdef")
///     .import(import)
///     .build()
/// # }
/// ```
#[derive(Clone)]
pub struct Import {
    source: Source,
    cookie_name: String,
    cookie_path: String,
    cookie_domain: Option<String>,
    key: Option<(Mode, Vec<u8>)>,
    rule: Rule,
    delete_records: bool,
}

/// Which of the `cookie` crate's protections the peer's key is for.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Signed,
    Private,
    Either,
}

#[derive(Clone)]
enum Source {
    TowerSessions(Arc<dyn PeerStore>),
    ActixSession(Arc<dyn PeerStore>),
    ActixCookie,
}

impl fmt::Debug for Import {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Import")
            .field("from", &self.name())
            .field("cookie_name", &self.cookie_name)
            .field("cookie_path", &self.cookie_path)
            .field("cookie_domain", &self.cookie_domain)
            .field("key", &self.key.as_ref().map(|(mode, _)| mode))
            .field("delete_records", &self.delete_records)
            .finish_non_exhaustive()
    }
}

impl Import {
    fn new(source: Source) -> Self {
        Import {
            source,
            cookie_name: "id".into(),
            cookie_path: "/".into(),
            cookie_domain: None,
            key: None,
            rule: Arc::new(|_| Some(Placement::new())),
            delete_records: false,
        }
    }

    /// tower-sessions' sessions, in `store` (tower-sessions-redis-store or
    /// tower-sessions-sqlx-store). Its cookie is plain unless
    /// [`signed`](Import::signed) or [`private`](Import::private) gives
    /// the key of its `with_signed` or `with_private`.
    pub fn tower_sessions(store: impl PeerStore) -> Self {
        Import::new(Source::TowerSessions(Arc::new(store)))
    }

    /// actix-session's sessions, in `store` (its `RedisSessionStore`). Its
    /// cookie is always private (its default) or signed:
    /// [`private`](Import::private) or [`signed`](Import::signed) is
    /// required.
    pub fn actix_session(store: impl PeerStore) -> Self {
        Import::new(Source::ActixSession(Arc::new(store)))
    }

    /// actix-session's sessions kept in its cookie (`CookieSessionStore`):
    /// no store to read. [`private`](Import::private) or
    /// [`signed`](Import::signed) is required.
    pub fn actix_session_cookie() -> Self {
        Import::new(Source::ActixCookie)
    }

    /// The peer signs its cookie under the `cookie::Key` made from
    /// `master` (`Key::from(master)`; `key.master()` gives its 64 bytes):
    /// tower-sessions' `with_signed(key)`, actix-session's
    /// `CookieContentSecurity::Signed`. Only values signed under it are
    /// read.
    #[must_use]
    pub fn signed(self, master: &[u8]) -> Self {
        self.keyed(Mode::Signed, master)
    }

    /// The peer encrypts its cookie under the `cookie::Key` made from
    /// `master`: tower-sessions' `with_private(key)`, actix-session's
    /// default. Only values sealed under it are read.
    #[must_use]
    pub fn private(self, master: &[u8]) -> Self {
        self.keyed(Mode::Private, master)
    }

    /// Values signed *or* sealed under the `cookie::Key` made from
    /// `master` are read, for a deployment that does not know which its
    /// peer used. Use it only if that key protects no other cookie: a
    /// value the application signed for another purpose would then be
    /// read as a session too.
    #[must_use]
    pub fn signed_or_private(self, master: &[u8]) -> Self {
        self.keyed(Mode::Either, master)
    }

    fn keyed(mut self, mode: Mode, master: &[u8]) -> Self {
        self.key = Some((mode, master.to_vec()));
        self
    }

    /// The peer's cookie name, if not its default, `id`.
    #[must_use]
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// The `Path` the peer set its cookie with, if not `/`: the removal
    /// must name the same path for the browser to drop the cookie.
    #[must_use]
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie_path = path.into();
        self
    }

    /// The `Domain` the peer set its cookie with, if any.
    #[must_use]
    pub fn cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.cookie_domain = Some(domain.into());
        self
    }

    /// Where each of the peer's keys goes in Gimlet: a [`Placement`] (an
    /// empty one leaves it to the configuration, as an `insert` would), or
    /// `None` to drop the key. By default every key is kept, placed as an
    /// `insert` would place it.
    #[must_use]
    pub fn keys(
        mut self,
        rule: impl Fn(&str) -> Option<Placement> + Send + Sync + 'static,
    ) -> Self {
        self.rule = Arc::new(rule);
        self
    }

    /// Delete the peer's record once its data is committed to Gimlet
    /// (default: off, so the peer's store keeps it until it expires). The
    /// delete runs after the response's commit, off the request's path.
    #[must_use]
    pub fn delete_records(mut self, delete: bool) -> Self {
        self.delete_records = delete;
        self
    }

    /// The peer, as logs and metrics name it.
    pub(crate) fn name(&self) -> &'static str {
        match self.source {
            Source::TowerSessions(_) => "tower-sessions",
            Source::ActixSession(_) | Source::ActixCookie => "actix-session",
        }
    }

    /// The importer of this import, for a Gimlet whose own cookies are
    /// named `names` and are `secure` or not.
    pub(crate) fn prepare(self, names: &[&str], secure: bool) -> Result<Importer, ConfigError> {
        let refuse = |message: String| Err(ConfigError::new(ConfigErrorKind::Import, message));
        let name = &self.cookie_name;
        if !valid_name(name) {
            return refuse(format!(
                "the peer's cookie name {name:?} is not a cookie name"
            ));
        }
        if names.contains(&name.as_str()) {
            return refuse(format!(
                "the peer's cookie name {name:?} is one of Gimlet's own"
            ));
        }
        let domain = self.cookie_domain.as_deref();
        if !valid_path(&self.cookie_path) || !domain.is_none_or(valid_domain) {
            return refuse("the peer's cookie path or domain is not a cookie's".into());
        }
        let protection = match (&self.key, &self.source) {
            (Some((mode, master)), _) => {
                let key = PeerKey::new(master)?;
                match mode {
                    Mode::Signed => Protection::Signed(key),
                    Mode::Private => Protection::Private(key),
                    Mode::Either => Protection::Either(key),
                }
            }
            (None, Source::TowerSessions(_)) => Protection::Plain,
            (None, _) => {
                return refuse(
                    "actix-session always signs or encrypts its cookie: \
                     give the import its key (`private`, its default, or `signed`)"
                        .into(),
                );
            }
        };
        let mut removal = cookie::Cookie::build((name.clone(), ""))
            .path(self.cookie_path.clone())
            .secure(secure);
        if let Some(domain) = domain {
            removal = removal.domain(domain.to_owned());
        }
        let removal = expire(removal);
        Ok(Importer {
            import: self,
            protection,
            removal,
        })
    }
}

/// What a verified peer cookie claims.
#[derive(Debug)]
pub(crate) enum Claim {
    /// A record in the peer's store, under `key`; `id` is tower-sessions'
    /// id, which its record repeats.
    Stored { key: String, id: Option<i128> },
    /// The session itself, which the cookie carried.
    Carried(Entries),
}

/// An [`Import`], ready: the key made, the removal cookie written.
#[derive(Debug)]
pub(crate) struct Importer {
    import: Import,
    protection: Protection,
    /// The `Set-Cookie` value that removes the peer's cookie.
    removal: String,
}

impl Importer {
    pub(crate) fn cookie_name(&self) -> &str {
        &self.import.cookie_name
    }

    pub(crate) fn removal(&self) -> &str {
        &self.removal
    }

    pub(crate) fn name(&self) -> &'static str {
        self.import.name()
    }

    pub(crate) fn deletes_records(&self) -> bool {
        self.import.delete_records
    }

    /// Where `key` goes, or `None` to drop it.
    pub(crate) fn place(&self, key: &str) -> Option<Placement> {
        (self.import.rule)(key)
    }

    /// The store the peer's records are in, if it has one.
    pub(crate) fn store(&self) -> Option<&Arc<dyn PeerStore>> {
        match &self.import.source {
            Source::TowerSessions(store) | Source::ActixSession(store) => Some(store),
            Source::ActixCookie => None,
        }
    }

    /// What the peer's cookie `value` claims, if it verifies and holds
    /// what the peer puts there.
    pub(crate) fn claim(&self, value: &[u8]) -> Result<Claim, &'static str> {
        let text = peer_cookie::read(&self.import.cookie_name, value, &self.protection)?;
        match self.import.source {
            Source::TowerSessions(_) => {
                let id = tower_sessions::parse_id(&text).ok_or("not a tower-sessions id")?;
                Ok(Claim::Stored {
                    key: text,
                    id: Some(id),
                })
            }
            Source::ActixSession(_) if actix_session::is_session_key(&text) => Ok(Claim::Stored {
                key: text,
                id: None,
            }),
            Source::ActixSession(_) => Err("not an actix-session key"),
            Source::ActixCookie => actix_session::decode(text.as_bytes()).map(Claim::Carried),
        }
    }

    /// The entries of the record `bytes` a [`Claim::Stored`] found; `None`
    /// if it has expired at `now`.
    pub(crate) fn decode(
        &self,
        bytes: &[u8],
        id: Option<i128>,
        now: u64,
    ) -> Result<Option<Entries>, &'static str> {
        match id {
            Some(id) => tower_sessions::decode(bytes, id, now),
            // actix-session's store expires its records itself.
            None => actix_session::decode(bytes).map(Some),
        }
    }
}
