//! The near cache's side of a session's I/O: a lazy load answered from it
//! when it holds every record for the cookie's write token, a load from
//! the store kept in it, and what a commit changed dropped from it.

use crate::backend::{Batch, Op, Record};
use crate::key::ChannelKind;
use crate::{Error, Session, SessionId};

impl Session {
    /// The records of `wanted`'s channels: from the near cache if it holds
    /// all of them for the session's write token, with no I/O; otherwise
    /// from the store, in one call, and kept near for the next requests.
    /// A cookie due its check is answered by the store only: only a load
    /// may vouch that its record still exists. Answers, for records
    /// answered near, when the store last showed them (the oldest), which
    /// is when the cookie's revalidation window then counts from.
    pub(crate) async fn load_wanted(
        &self,
        wanted: &[(ChannelKind, SessionId)],
    ) -> Result<(Vec<Option<Record>>, Option<u64>), Error> {
        let Some(cache) = &self.engine().near_cache else {
            return Ok((self.load(wanted).await?, None));
        };
        let (token, check_due) = {
            let state = self.state();
            let due = wanted.iter().any(|&(kind, _)| state.ch(kind).check_due());
            (state.token(), due)
        };
        if !check_due {
            let mut seen = u64::MAX;
            let near: Option<Vec<Option<Record>>> = wanted
                .iter()
                .map(|(_, id)| {
                    let (record, filled) = cache.get(id, token)?;
                    seen = seen.min(filled);
                    Some(Some(Record::clone(&record)))
                })
                .collect();
            if let Some(records) = near {
                return Ok((records, Some(seen)));
            }
        }
        let ticket = cache.ticket();
        let records = self.load(wanted).await?;
        for (&(_, id), record) in wanted.iter().zip(&records) {
            if let Some(record) = record {
                cache.fill(ticket, id, token, record);
            }
        }
        Ok((records, None))
    }

    /// Drops from the near cache the records a batch this app server
    /// applied changed: at once here; the store's feed tells the others.
    pub(crate) fn changed(&self, batch: &Batch) {
        if let Some(cache) = &self.engine().near_cache {
            cache.changed(batch.ops.iter().map(Op::id));
        }
    }
}
