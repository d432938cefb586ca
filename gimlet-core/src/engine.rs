//! The engine: one application's configuration, keys, backend and clock,
//! shared by all its requests, and the decisions that depend on them alone:
//! where a key goes, when a channel expires, whether a cookie is still young
//! enough to use.

use std::sync::Arc;

use crate::Clock;
use crate::backend::{Backend, NearCache, Revocations};
use crate::cookie::{CookieCodec, CookieJar, TransportWatch, VerifiedCookies};
use crate::error::Error;
use crate::key::{ChannelKind, KeySet, Place, Placement};

/// Cookies issued this far in the future are rejected (clock skew allowance).
const CLOCK_SKEW: u64 = 300;

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
    /// ChannelKind of each channel in seconds, by [`ChannelKind::index`].
    pub(crate) lifetimes: [u64; 2],
    /// Absolute lifetime of each channel in seconds, by [`ChannelKind::index`].
    pub(crate) absolute: [u64; 2],
    /// Seconds a confirmed record is trusted before it is checked again.
    pub(crate) revalidate_after: u64,
    /// The endings this app server has heard of, in the last window.
    pub(crate) revocations: Arc<Revocations>,
    /// Records kept near, with a store that says what changes.
    pub(crate) near_cache: Option<Arc<NearCache>>,
    /// Every new channel gets a record (with a backend).
    pub(crate) revocable: bool,
    pub(crate) commit_failed_requests: bool,
    pub(crate) refresh_fraction: f64,
    pub(crate) max_value_size: usize,
    pub(crate) max_session_bytes: Option<usize>,
    pub(crate) max_sessions_per_owner: Option<usize>,
}

impl Engine {
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

    pub(crate) fn lifetime(&self, kind: ChannelKind) -> u64 {
        self.lifetimes[kind.index()]
    }

    /// When a channel created at `created` and renewed `now` expires.
    pub(crate) fn expiry(&self, kind: ChannelKind, created: u64, now: u64) -> u64 {
        let idle = now.saturating_add(self.lifetime(kind));
        idle.min(created.saturating_add(self.absolute[kind.index()]))
    }

    /// Whether a verified cookie is still young enough to use.
    pub(crate) fn check_age(
        &self,
        kind: ChannelKind,
        payload: &crate::cookie::Header,
        now: u64,
    ) -> Result<(), &'static str> {
        if payload.issued > now.saturating_add(CLOCK_SKEW) {
            return Err("issued in the future");
        }
        if now >= payload.issued.saturating_add(self.lifetime(kind)) {
            return Err("expired");
        }
        if now >= payload.created.saturating_add(self.absolute[kind.index()]) {
            return Err("past its absolute lifetime");
        }
        Ok(())
    }

    /// The backend, if it keeps the owner index.
    pub(crate) fn owner_index(&self) -> Result<&dyn Backend, Error> {
        match &self.backend {
            Some(backend) if backend.owner_index() => Ok(backend.as_ref()),
            _ => Err(Error::NoOwnerIndex),
        }
    }
}
