//! The cookie of another library whose sessions are imported
//! ([`Import`](crate::import::Import)), as this request found it, and the
//! steps of its import.

/// The peer's cookie in this request.
#[derive(Debug, Default)]
pub(crate) enum Peer {
    /// None sent (or no import configured).
    #[default]
    Absent,
    /// Sent, with no Gimlet session: its value, imported before the
    /// handler's first use of a key.
    Due(Box<[u8]>),
    /// Being imported.
    Importing,
    /// Imported, refused, or sent beside a Gimlet session: the commit
    /// removes it, and deletes `record` from the peer's store after.
    Spent { record: Option<String> },
}

impl Peer {
    /// What the request's peer cookie becomes: imported if there is no
    /// Gimlet session, else only removed, for an import never overwrites
    /// a Gimlet session.
    pub(crate) fn found(value: Option<&[u8]>, gimlet_session: bool) -> Self {
        match value {
            None => Peer::Absent,
            Some(_) if gimlet_session => Peer::Spent { record: None },
            Some(value) => Peer::Due(value.into()),
        }
    }

    /// Whether the handler must wait for an import before it uses a key.
    pub(crate) fn unresolved(&self) -> bool {
        matches!(self, Peer::Due(_) | Peer::Importing)
    }

    /// The value to import, if an import is due: it is under way from now.
    pub(crate) fn start(&mut self) -> Option<Box<[u8]>> {
        match std::mem::replace(self, Peer::Importing) {
            Peer::Due(value) => Some(value),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Whether an import is under way (and neither a `clear` nor a logout
    /// has forgone it meanwhile).
    pub(crate) fn importing(&self) -> bool {
        matches!(self, Peer::Importing)
    }

    /// An import that ended without an answer (the peer's store failed, or
    /// the request dropped it halfway): due again, on the next use or the
    /// next request, unless it was forgone meanwhile.
    pub(crate) fn failed(&mut self, value: Box<[u8]>) {
        if self.importing() {
            *self = Peer::Due(value);
        }
    }

    /// The import is over, with `record` to delete from the peer's store.
    pub(crate) fn done(&mut self, record: Option<String>) {
        *self = Peer::Spent { record };
    }

    /// The handler cleared or ended the session before the import: nothing
    /// is imported, and the cookie is removed.
    pub(crate) fn forgo(&mut self) {
        if self.unresolved() {
            *self = Peer::Spent { record: None };
        }
    }

    /// Whether the commit removes the peer's cookie.
    pub(crate) fn spent(&self) -> bool {
        matches!(self, Peer::Spent { .. })
    }

    /// The peer's record to delete, once the commit is done.
    pub(crate) fn take_record(&mut self) -> Option<String> {
        match self {
            Peer::Spent { record } => record.take(),
            _ => None,
        }
    }
}
