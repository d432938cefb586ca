//! The lazy load: both channels' server data in one round trip, once.

use crate::backend::{BackendError, BackendErrorKind, Record};
use crate::session::model::RecordState;
use crate::{Error, Session};

impl Session {
    /// Loads the server data of every channel that came with a cookie and is
    /// not loaded yet, in one round trip. Concurrent callers share one load.
    pub(crate) async fn ensure_loaded(&self) -> Result<(), Error> {
        let Some(backend) = self.engine().backend.clone() else {
            return Ok(());
        };
        if self.for_handler().unloaded().is_empty() {
            return Ok(());
        }
        let _gate = self.inner.load_gate.lock().await;
        let wanted = self.state().unloaded();
        if wanted.is_empty() {
            return Ok(());
        }
        let ids: Vec<_> = wanted.iter().map(|&(_, id)| id).collect();
        let records = self.backend_call("load", backend.load(&ids)).await;
        let records = records.inspect_err(|e| {
            tracing::error!(error = %e, detail = ?e, "session load failed");
        })?;
        if records.len() != ids.len() {
            return Err(BackendError::from_kind(BackendErrorKind::Corrupt).into());
        }
        let now = self.engine().now();
        let mut state = self.state();
        let span = state.span.clone();
        let beside = state.anchor();
        for ((kind, id), record) in wanted.into_iter().zip(records) {
            let ch = state.ch_mut(kind);
            if ch.id != Some(id) {
                continue; // invalidated while the load ran
            }
            match record {
                Some(record) => {
                    // A blind delete of a key that is not stored is moot.
                    if !ch.cleared {
                        ch.pending
                            .retain(|k, v| v.is_some() || record.contains_key(k));
                    }
                    ch.loaded = Some(record);
                    ch.record = RecordState::Seen;
                    ch.checked = now;
                }
                None if ch.claimed() => {
                    // The record this cookie points at is gone: the session
                    // was ended elsewhere, expired, or was lost. Its data,
                    // clientside included, goes with it; this request's own
                    // writes move to a fresh channel.
                    tracing::info!(parent: &span, channel = kind.name(), "session record gone; healing");
                    ch.heal(now, beside)?;
                }
                None => {
                    ch.pending.retain(|_, v| v.is_some());
                    ch.cleared = false;
                    ch.loaded = Some(Record::new());
                    ch.record = RecordState::Absent;
                }
            }
        }
        Ok(())
    }
}
