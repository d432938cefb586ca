//! The owner index's types: which sessions belong to one owner (a user),
//! so that all of them can be listed and ended at once.

use std::fmt;

use crate::SessionId;

/// An owner's key in the index: the first 16 bytes of an HMAC-SHA256 of
/// the owner's name (a user id, say) under a key derived from the signing
/// secret ([`Gimlet::owner`](crate::Gimlet::owner)), so that the index and
/// the cookie hold a fixed-size value that names nobody, and that nobody
/// without the secret can match to a name.
///
/// Its first two bytes are the group ([`SessionId::group`]) that every id
/// of an owned session is generated in: a store that shards by group (Redis
/// Cluster) finds an owner's index and all its sessions' records on one
/// shard.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner([u8; 16]);

impl Owner {
    /// The owner with these bytes (as read back from a cookie or a store).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Owner(bytes)
    }

    /// The key's bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The group every id of the owner's sessions is generated in.
    pub const fn group(&self) -> [u8; 2] {
        [self.0[0], self.0[1]]
    }
}

impl fmt::Display for Owner {
    /// 32 lowercase hex characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SessionId::from_bytes(self.0).fmt(f)
    }
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Owner(<redacted>)")
    }
}

/// What a [`Write`](super::Write) tells the store to record in the owner
/// index: the record belongs to `owner`.
///
/// The entry lasts until the record is gone: ended, expired or deleted.
/// `until` bounds it (the channel's absolute lifetime), so that a store
/// which cannot drop an entry with its record can drop it by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ownership {
    /// Whose session the record is.
    pub owner: Owner,
    /// The record is the session's permanent channel.
    pub permanent: bool,
    /// When the channel was created, in Unix seconds.
    pub created: u64,
    /// The latest the record can live to, in Unix seconds.
    pub until: u64,
}

/// One live record of an owner, as [`Backend::sessions_of`](super::Backend::sessions_of)
/// lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnedRecord {
    /// The record's channel id.
    pub id: SessionId,
    /// As recorded by the [`Ownership`].
    pub permanent: bool,
    /// As recorded by the [`Ownership`].
    pub created: u64,
    /// When the record expires now, in Unix seconds.
    pub expires_at: u64,
}
