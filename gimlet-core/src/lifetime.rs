//! How long a session lives: each channel's configured lifetimes, a
//! session's own ([`Lifetime`], set with
//! [`Session::set_lifetime`](crate::Session::set_lifetime)), and the
//! expiry and age checks that follow from them.

use std::time::Duration;

use crate::key::ChannelKind;

/// Cookies issued this far in the future are rejected (clock skew allowance).
const CLOCK_SKEW: u64 = 300;

/// The longest lifetime a cookie carries, in seconds (136 years).
const WIRE_MAX: u64 = u32::MAX as u64;

/// A lifetime of one session's own, in place of the configured ones: "remember
/// me for 90 days" at a login, or "this kiosk session ends after 10 idle
/// minutes".
///
/// The idle lifetime replaces both channels' configured idle lifetimes:
/// it is the permanent cookie's `Max-Age` and every record's expiry,
/// renewed as the session is used. The absolute lifetime, if given, replaces
/// the configured absolute ones; otherwise they still bound the session.
/// Both are whole seconds, from one second to the configured
/// `max_session_lifetime`.
///
/// ```
/// use std::time::Duration;
/// use gimlet_core::Lifetime;
///
/// let remembered = Lifetime::idle(Duration::from_secs(90 * 24 * 3600));
/// let kiosk = Lifetime::idle(Duration::from_secs(600)).absolute(Duration::from_secs(3600));
/// assert_eq!(kiosk.idle_secs(), 600);
/// assert_eq!(kiosk.absolute_secs(), Some(3600));
/// assert_eq!(remembered.absolute_secs(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lifetime {
    idle: u64,
    /// 0: the configured absolute lifetime.
    absolute: u64,
}

impl Lifetime {
    /// A session that ends after `idle` without use (whole seconds; a
    /// fraction of a second is dropped).
    pub fn idle(idle: Duration) -> Self {
        Lifetime {
            idle: idle.as_secs(),
            absolute: 0,
        }
    }

    /// Ends the session `absolute` after it began, however it is used.
    pub fn absolute(self, absolute: Duration) -> Self {
        Lifetime {
            absolute: absolute.as_secs(),
            ..self
        }
    }

    /// The idle lifetime, in seconds.
    pub fn idle_secs(&self) -> u64 {
        self.idle
    }

    /// The absolute lifetime in seconds, if this lifetime sets one.
    pub fn absolute_secs(&self) -> Option<u64> {
        (self.absolute > 0).then_some(self.absolute)
    }

    /// As a cookie carries it: idle and absolute seconds (0: none), each
    /// at most `u32::MAX` (136 years), so that it takes at most 5 bytes.
    pub(crate) fn to_wire(self) -> (u32, u32) {
        let clamp = |secs: u64| u32::try_from(secs).unwrap_or(u32::MAX);
        (clamp(self.idle), clamp(self.absolute))
    }

    /// From a cookie's fields; `None` for an idle lifetime of 0, which no
    /// cookie Gimlet wrote carries.
    pub(crate) fn from_wire(idle: u64, absolute: u64) -> Option<Self> {
        let (idle, absolute) = (idle.min(WIRE_MAX), absolute.min(WIRE_MAX));
        (idle > 0).then_some(Lifetime { idle, absolute })
    }
}

/// The configured lifetimes, and the decisions made from them and a
/// session's own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    /// Each channel's idle lifetime in seconds, by [`ChannelKind::index`].
    pub(crate) idle: [u64; 2],
    /// Each channel's absolute lifetime in seconds, by [`ChannelKind::index`].
    pub(crate) absolute: [u64; 2],
    /// The longest lifetime a session may be given, in seconds.
    pub(crate) max: u64,
}

impl Lifetimes {
    /// `kind`'s idle lifetime, for a session with `own` lifetime. A cookie
    /// issued under a larger maximum is held to today's.
    pub(crate) fn idle(&self, kind: ChannelKind, own: Option<Lifetime>) -> u64 {
        match own {
            Some(own) => own.idle.min(self.max),
            None => self.idle[kind.index()],
        }
    }

    /// `kind`'s absolute lifetime, for a session with `own` lifetime.
    pub(crate) fn absolute(&self, kind: ChannelKind, own: Option<Lifetime>) -> u64 {
        match own.and_then(|own| own.absolute_secs()) {
            Some(absolute) => absolute.min(self.max),
            None => self.absolute[kind.index()],
        }
    }

    /// When a channel created at `created` and renewed `now` expires.
    pub(crate) fn expiry(
        &self,
        kind: ChannelKind,
        own: Option<Lifetime>,
        created: u64,
        now: u64,
    ) -> u64 {
        let idle = now.saturating_add(self.idle(kind, own));
        idle.min(created.saturating_add(self.absolute(kind, own)))
    }

    /// Whether a cookie created at `created`, issued at `issued` with
    /// `own` lifetime is still young enough to use `now`.
    pub(crate) fn check_age(
        &self,
        kind: ChannelKind,
        own: Option<Lifetime>,
        (created, issued): (u64, u64),
        now: u64,
    ) -> Result<(), &'static str> {
        if issued > now.saturating_add(CLOCK_SKEW) {
            return Err("issued in the future");
        }
        if now >= issued.saturating_add(self.idle(kind, own)) {
            return Err("expired");
        }
        if now >= created.saturating_add(self.absolute(kind, own)) {
            return Err("past its absolute lifetime");
        }
        Ok(())
    }

    /// The idle or absolute seconds of `own` that are out of bounds (from
    /// one second to the maximum), if any.
    pub(crate) fn out_of_range(&self, own: Lifetime) -> Option<u64> {
        let within = |secs: u64| (1..=self.max).contains(&secs);
        [Some(own.idle), own.absolute_secs()]
            .into_iter()
            .flatten()
            .find(|&secs| !within(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 24 * 3600;

    fn lifetimes() -> Lifetimes {
        Lifetimes {
            idle: [30 * DAY, 2 * 3600],
            absolute: [90 * DAY, 12 * 3600],
            max: 400 * DAY,
        }
    }

    #[test]
    fn without_an_own_lifetime_each_channel_keeps_its_configured_ones() {
        let l = lifetimes();
        assert_eq!(l.idle(ChannelKind::Permanent, None), 30 * DAY);
        assert_eq!(l.idle(ChannelKind::Transient, None), 2 * 3600);
        assert_eq!(
            l.expiry(ChannelKind::Transient, None, 0, 100),
            100 + 2 * 3600
        );
        assert_eq!(
            l.expiry(ChannelKind::Transient, None, 0, 11 * 3600),
            12 * 3600
        );
    }

    #[test]
    fn an_own_idle_lifetime_replaces_both_channels_idle_ones_and_keeps_the_absolute() {
        let l = lifetimes();
        let own = Some(Lifetime::idle(Duration::from_secs(600)));
        for kind in ChannelKind::BOTH {
            assert_eq!(l.expiry(kind, own, 0, 1000), 1600);
            assert_eq!(l.check_age(kind, own, (0, 1000), 1599), Ok(()));
            assert_eq!(l.check_age(kind, own, (0, 1000), 1600), Err("expired"));
        }
        let long = Some(Lifetime::idle(Duration::from_secs(60 * DAY)));
        assert_eq!(
            l.expiry(ChannelKind::Permanent, long, 0, 40 * DAY),
            90 * DAY
        );
    }

    #[test]
    fn an_own_absolute_lifetime_replaces_the_configured_one() {
        let l = lifetimes();
        let own = Lifetime::idle(Duration::from_secs(600)).absolute(Duration::from_secs(900));
        assert_eq!(l.expiry(ChannelKind::Permanent, Some(own), 0, 500), 900);
        assert_eq!(
            l.check_age(ChannelKind::Permanent, Some(own), (0, 500), 900),
            Err("past its absolute lifetime")
        );
    }

    #[test]
    fn a_cookie_issued_past_the_clock_skew_allowance_is_refused() {
        let l = lifetimes();
        let now = 10_000;
        let at = |issued| l.check_age(ChannelKind::Permanent, None, (0, issued), now);
        assert_eq!(at(now + CLOCK_SKEW), Ok(()));
        assert_eq!(at(now + CLOCK_SKEW + 1), Err("issued in the future"));
        let own = Lifetime::idle(Duration::from_secs(42));
        assert_eq!((own.idle_secs(), own.absolute_secs()), (42, None));
    }

    #[test]
    fn a_lifetime_past_todays_maximum_is_held_to_it() {
        let mut l = lifetimes();
        let own = Lifetime::idle(Duration::from_secs(300 * DAY));
        l.max = 10 * DAY;
        assert_eq!(l.idle(ChannelKind::Permanent, Some(own)), 10 * DAY);
        assert_eq!(l.out_of_range(own), Some(300 * DAY));
        assert_eq!(
            l.out_of_range(Lifetime::idle(Duration::from_secs(10 * DAY))),
            None
        );
        assert_eq!(
            l.out_of_range(Lifetime::idle(Duration::from_millis(999))),
            Some(0)
        );
        let absolute =
            Lifetime::idle(Duration::from_secs(60)).absolute(Duration::from_secs(11 * DAY));
        assert_eq!(l.out_of_range(absolute), Some(11 * DAY));
    }
}
