//! Loading server data: the lazy load of both channels in one round trip,
//! once, and the one backend load that it and the commit's heal share.

use crate::backend::{BackendError, BackendErrorKind, Record};
use crate::key::ChannelKind;
use crate::session::model::Loaded;
use crate::{Error, Session, SessionId};

impl Session {
    /// Loads the server data of every channel that came with a cookie and is
    /// not loaded yet, in one round trip. Concurrent callers share one load.
    pub(crate) async fn ensure_loaded(&self) -> Result<(), Error> {
        if let Some(import) = self.import_due() {
            import.await?;
        }
        if self.engine().backend.is_none() || !self.for_handler().needs_load() {
            return Ok(());
        }
        let _gate = self.inner.load_gate.lock().await;
        let wanted = self.state().unloaded();
        if wanted.is_empty() {
            return Ok(());
        }
        let (records, seen) = self.load_wanted(&wanted).await?;
        let now = self.engine().now();
        // Records answered near were seen when the store last showed them
        // (and are all there: a heal, which starts new ids now, needs a
        // record the store did not have).
        let seen = seen.unwrap_or(now);
        let mut state = self.state();
        let span = state.span().clone();
        let beside = state.anchor();
        let mut gone = Vec::new();
        for ((kind, id), record) in wanted.into_iter().zip(records) {
            let ch = state.ch_mut(kind);
            if ch.id() != Some(id) {
                continue; // invalidated while the load ran
            }
            if ch.loaded(record, seen, beside)? == Loaded::Healed {
                // Its data, clientside included, went with the record; this
                // request's own writes moved to a fresh channel.
                tracing::info!(parent: &span, channel = kind.name(), "session record gone; healing");
                let meters = self.engine().meters();
                meters.heals.increment(1);
                meters.revoked_checked.increment(1);
                gone.push(id);
            }
        }
        // Every copy of the cookie yields nothing on this server from now
        // on, with no load.
        self.engine().revocations.revoke(gone);
        Ok(())
    }

    /// The records of `channels`' ids, in one backend call: one answer per
    /// id, or the call's error.
    pub(crate) async fn load(
        &self,
        channels: &[(ChannelKind, SessionId)],
    ) -> Result<Vec<Option<Record>>, Error> {
        let Some(backend) = &self.engine().backend else {
            return Ok(vec![None; channels.len()]);
        };
        let ids: Vec<SessionId> = channels.iter().map(|&(_, id)| id).collect();
        self.engine().meters().loads.increment(1);
        let records = self.backend_call("load", backend.load(&ids)).await?;
        if records.len() != ids.len() {
            return Err(BackendError::from_kind(BackendErrorKind::Corrupt).into());
        }
        Ok(records)
    }
}
