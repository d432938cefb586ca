//! Where a key lives: which channel, and which side of the wire.

/// Where a call puts or looks for a key. Each field left `None` is decided
/// by the configuration: the clientside and permanent whitelists first, then
/// the defaults.
///
/// # Example
///
/// ```
/// use gimlet_core::Placement;
///
/// // In the long-lived cookie itself, whatever the defaults say:
/// let place = Placement::new().clientside(true).permanent(true);
/// assert_eq!(place.clientside, Some(true));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placement {
    /// `Some(true)`: in the cookie. `Some(false)`: in the backend.
    pub clientside: Option<bool>,
    /// `Some(true)`: the permanent channel. `Some(false)`: the transient
    /// channel.
    pub permanent: Option<bool>,
}

impl Placement {
    /// Leaves both choices to the configuration.
    pub const fn new() -> Self {
        Placement {
            clientside: None,
            permanent: None,
        }
    }

    /// Chooses the side: `true` for the cookie, `false` for the backend.
    #[must_use]
    pub const fn clientside(mut self, clientside: bool) -> Self {
        self.clientside = Some(clientside);
        self
    }

    /// Chooses the channel: `true` for the permanent one.
    #[must_use]
    pub const fn permanent(mut self, permanent: bool) -> Self {
        self.permanent = Some(permanent);
        self
    }
}

/// One of a session's two channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelKind {
    Permanent = 0,
    Transient = 1,
}

impl ChannelKind {
    pub(crate) const BOTH: [ChannelKind; 2] = [ChannelKind::Permanent, ChannelKind::Transient];

    pub(crate) fn of(permanent: bool) -> Self {
        if permanent {
            ChannelKind::Permanent
        } else {
            ChannelKind::Transient
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The session's other channel.
    pub(crate) fn other(self) -> Self {
        match self {
            ChannelKind::Permanent => ChannelKind::Transient,
            ChannelKind::Transient => ChannelKind::Permanent,
        }
    }

    /// The channel's name in logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ChannelKind::Permanent => "permanent",
            ChannelKind::Transient => "transient",
        }
    }

    /// Whether `filter` (a call's `permanent` option) admits this channel.
    pub(crate) fn admits(self, filter: Option<bool>) -> bool {
        filter.is_none_or(|p| ChannelKind::of(p) == self)
    }
}

/// A resolved place: a channel and a side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) kind: ChannelKind,
    pub(crate) clientside: bool,
}
