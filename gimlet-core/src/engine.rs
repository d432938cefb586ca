//! The engine: one application's configuration, keys, backend and clock,
//! shared by all its requests, and the decisions that depend on them alone:
//! where a key goes, when a channel expires, whether a cookie is still young
//! enough to use.

use std::sync::{Arc, OnceLock};

use crate::Clock;
use crate::backend::{Backend, NearCache, Revocations};
use crate::cookie::{CookieCodec, CookieJar, TransportWatch, VerifiedCookies};
use crate::error::Error;
use crate::import::Importer;
use crate::key::{ChannelKind, KeySet, Place, Placement};
use crate::lifetime::Lifetimes;
use crate::meters::Meters;

pub(crate) struct Engine {
    pub(crate) codec: CookieCodec,
    /// Each cookie name's values verified before.
    pub(crate) verified: [VerifiedCookies; 2],
    pub(crate) backend: Option<Arc<dyn Backend>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cookies: CookieJar,
    /// The one warning about `Secure` cookies on plain HTTP.
    pub(crate) transport: TransportWatch,
    pub(crate) clientside_keys: KeySet,
    pub(crate) permanent_keys: KeySet,
    pub(crate) default_clientside: bool,
    pub(crate) default_permanent: bool,
    /// A clientside value too large for its cookie is kept in the store.
    pub(crate) cookie_overflow: bool,
    /// Each channel's configured lifetimes, and the longest a session's
    /// own may be.
    pub(crate) lifetimes: Lifetimes,
    /// Seconds a confirmed record is trusted before it is checked again.
    pub(crate) revalidate_after: u64,
    /// The endings this app server has heard of, in the last window.
    pub(crate) revocations: Arc<Revocations>,
    /// Records kept near, with a store that says what changes.
    pub(crate) near_cache: Option<Arc<NearCache>>,
    /// Another library's sessions, imported on first use.
    pub(crate) import: Option<Importer>,
    /// Every new channel gets a record (with a backend).
    pub(crate) revocable: bool,
    pub(crate) commit_failed_requests: bool,
    pub(crate) refresh_fraction: f64,
    pub(crate) max_value_size: usize,
    pub(crate) max_session_bytes: Option<usize>,
    pub(crate) max_sessions_per_owner: Option<usize>,
    /// The framework an adapter serves this engine on (a label of the
    /// meters): set once, by the adapter.
    pub(crate) framework: OnceLock<&'static str>,
    /// The meters, made at the first request.
    pub(crate) meters: OnceLock<Meters>,
}

impl Engine {
    /// The meters, made from the recorder installed at the first use.
    pub(crate) fn meters(&self) -> &Meters {
        self.meters.get_or_init(|| {
            let backend = self.backend.as_ref().map_or("none", |b| b.name());
            let framework = self.framework.get().copied().unwrap_or("none");
            Meters::new(backend, framework)
        })
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }

    pub(crate) fn whitelisted(&self, key: &str) -> bool {
        self.clientside_keys.contains(key)
    }

    /// Where an insert of `key` goes.
    pub(crate) fn resolve(&self, key: &str, placement: Placement) -> Result<Place, Error> {
        let whitelisted = self.whitelisted(key);
        let clientside = match placement.clientside {
            Some(false) if whitelisted => {
                return Err(Error::Whitelisted { key: key.into() });
            }
            Some(side) => side,
            None => whitelisted || self.default_clientside,
        };
        if !clientside && self.backend.is_none() {
            return Err(Error::NoBackend { key: key.into() });
        }
        let permanent = placement
            .permanent
            .unwrap_or_else(|| self.permanent_keys.contains(key) || self.default_permanent);
        Ok(Place {
            kind: ChannelKind::of(permanent),
            clientside,
        })
    }

    /// Whether a verified cookie is still young enough to use.
    pub(crate) fn check_age(
        &self,
        kind: ChannelKind,
        cookie: &crate::cookie::Header,
        now: u64,
    ) -> Result<(), &'static str> {
        let times = (cookie.created, cookie.issued);
        self.lifetimes.check_age(kind, cookie.lifetime, times, now)
    }

    /// The backend, if it keeps the owner index.
    pub(crate) fn owner_index(&self) -> Result<&dyn Backend, Error> {
        match &self.backend {
            Some(backend) if backend.owner_index() => Ok(backend.as_ref()),
            _ => Err(Error::NoOwnerIndex),
        }
    }
}
