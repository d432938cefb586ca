//! The near cache's side of a session's I/O: a lazy load answered from it
//! when it holds every record for the cookie's write token, a load from
//! the store kept in it, and what a commit changed dropped from it.

use crate::backend::{Batch, Op, Record};
use crate::key::ChannelKind;
use crate::{Error, Session, SessionId};

/// What a lazy load wants of one channel: its id, and its cookie's write
/// token, unless the cookie is due its check (then only a load from the
/// store may vouch for the record).
pub(crate) struct Wanted {
    pub(crate) kind: ChannelKind,
    pub(crate) id: SessionId,
    pub(crate) token: u64,
    pub(crate) check_due: bool,
}

impl Session {
    /// The records of `wanted`: from the near cache if it holds all of
    /// them for their tokens, with no I/O; otherwise from the store, in one
    /// call, and kept near for the next requests.
    pub(crate) async fn load_wanted(
        &self,
        wanted: &[Wanted],
    ) -> Result<Vec<Option<Record>>, Error> {
        let channels: Vec<(ChannelKind, SessionId)> =
            wanted.iter().map(|w| (w.kind, w.id)).collect();
        let Some(cache) = &self.engine().near_cache else {
            return self.load(&channels).await;
        };
        let near: Option<Vec<Option<Record>>> = wanted
            .iter()
            .map(|w| {
                let record = cache.get(&w.id, w.token).filter(|_| !w.check_due)?;
                Some(Some(Record::clone(&record)))
            })
            .collect();
        if let Some(records) = near {
            return Ok(records);
        }
        let ticket = cache.ticket();
        let records = self.load(&channels).await?;
        for (w, record) in wanted.iter().zip(&records) {
            if let Some(record) = record {
                cache.fill(ticket, w.id, w.token, record);
            }
        }
        Ok(records)
    }

    /// Drops from the near cache the records a batch this app server
    /// applied changed: at once here; the store's feed tells the others.
    pub(crate) fn changed(&self, batch: &Batch) {
        if let Some(cache) = &self.engine().near_cache {
            cache.changed(batch.ops.iter().map(Op::id));
        }
    }
}
