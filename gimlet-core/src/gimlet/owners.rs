//! Log out everywhere: listing and ending every session of one owner
//! through the owner index.

use crate::backend::{OwnedRecord, Owner};
use crate::key::ChannelKind;
use crate::{Error, Gimlet, Session};

/// One live session of an owner, as [`Gimlet::sessions_of`] lists it: a
/// line of a "your devices" page.
///
/// Each of a session's two channels (its permanent and its transient
/// cookie) is listed on its own: a browser that holds both shows twice,
/// once with `permanent` set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnedSession {
    /// A name for the session that reveals nothing of its id: 16 hex
    /// characters of a digest of the id, the same on every listing.
    pub name: String,
    /// The permanent channel (a "remember me" cookie) rather than the
    /// transient one.
    pub permanent: bool,
    /// When the channel was created, in Unix seconds.
    pub created: u64,
    /// When the channel's record was last renewed, in Unix seconds. Records
    /// renew when written, and when a request finds a fraction of their
    /// lifetime gone (`refresh_fraction`), so this is as fine as that.
    pub last_seen: u64,
    /// When it ends unless used again, in Unix seconds.
    pub expires_at: u64,
    /// It is the session given as `current`.
    pub current: bool,
}

impl Gimlet {
    /// The owner index's key for the owner named `name`, as
    /// [`Session::set_owner`] records it: an HMAC-SHA256 of the name
    /// under a key derived from the signing secret, so that no cookie and
    /// no store names a user, nor lets anyone without the secret confirm
    /// a guess.
    pub fn owner(&self, name: &str) -> Owner {
        self.engine.codec.owners(name)[0]
    }

    /// Every live session of `owner` (see [`Session::set_owner`]), in one
    /// backend call (one more per previous secret, for sessions that
    /// logged in before a rotation); `current` marks the request's own.
    ///
    /// # Errors
    ///
    /// [`Error::NoOwnerIndex`] without a backend that keeps the index, or
    /// the backend's error.
    pub async fn sessions_of(
        &self,
        owner: impl AsRef<str>,
        current: Option<&Session>,
    ) -> Result<Vec<OwnedSession>, Error> {
        let backend = self.engine.owner_index()?;
        let now = self.engine.now();
        let mut records = Vec::new();
        for owner in self.engine.codec.owners(owner.as_ref()) {
            let call = backend.sessions_of(&owner, now);
            records.extend(match current {
                Some(session) => session.backend_call("sessions_of", call).await,
                None => call.await,
            }?);
        }
        let current = current.map(Session::channel_ids).unwrap_or_default();
        let mut sessions: Vec<OwnedSession> = records
            .into_iter()
            .map(|r| self.listed(&r, current.contains(&r.id)))
            .collect();
        sessions.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.name.cmp(&b.name)));
        Ok(sessions)
    }

    /// Ends every session of `owner` but `except` (the request's own, for a
    /// "log out my other devices" button), in one backend call (one more
    /// per previous secret), and answers how many channels it ended. Their data, clientside included, stops
    /// being served within `revalidate_after`; an ended session that writes
    /// starts afresh, never under its owner.
    ///
    /// To end the request's own session too, pass `None` and call
    /// [`Session::invalidate`] on it: its cookies go at once.
    ///
    /// # Errors
    ///
    /// As [`Gimlet::sessions_of`].
    pub async fn end_sessions_of(
        &self,
        owner: impl AsRef<str>,
        except: Option<&Session>,
    ) -> Result<u64, Error> {
        let backend = self.engine.owner_index()?;
        let kept = except.map(Session::channel_ids).unwrap_or_default();
        let mut ended = 0;
        for owner in self.engine.codec.owners(owner.as_ref()) {
            let call = backend.end_sessions_of(&owner, &kept);
            // A failure is logged where the response is decided, once.
            ended += match except {
                Some(session) => session.backend_call("end_sessions_of", call).await,
                None => call.await,
            }?;
        }
        tracing::info!(ended, "ended an owner's sessions");
        Ok(ended)
    }

    fn listed(&self, record: &OwnedRecord, current: bool) -> OwnedSession {
        let digest = ring::digest::digest(&ring::digest::SHA256, record.id.as_bytes());
        let kind = ChannelKind::of(record.permanent);
        OwnedSession {
            name: hex::encode(&digest.as_ref()[..8]),
            permanent: record.permanent,
            created: record.created,
            last_seen: record
                .expires_at
                .saturating_sub(self.engine.lifetimes.idle(kind, None))
                .max(record.created),
            expires_at: record.expires_at,
            current,
        }
    }
}
