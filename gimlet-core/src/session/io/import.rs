//! Importing another library's session ([`Import`](crate::import::Import)):
//! before the handler's first use of a key (or at the commit, if it used
//! none), at most one round trip to the peer's store; then, at the commit,
//! the removal of the peer's cookie and, if configured, of its record.

use crate::engine::Engine;
use crate::import::{Claim, Entries, Importer};
use crate::session::access::{admit, check_key, stored};
use crate::session::model::State;
use crate::{Error, Session};

/// An import under way: see [`Session::import_due`].
pub(crate) type Importing<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send + 'a>>;

impl Session {
    /// The import of the peer's session the request's cookie names, to
    /// await before a use of the session, when one is configured: it
    /// imports if an import is due, and a concurrent use waits for it.
    /// Without an import configured, or once it is over, there is nothing
    /// to build or await, and the import's state stays out of every
    /// caller's future (it is boxed).
    ///
    /// Its errors are the peer store's: the import stays due, for the next
    /// use or the next request.
    pub(crate) fn import_due(&self) -> Option<Importing<'_>> {
        let importer = self.engine().import.as_ref()?;
        // The first use opens the cookies, and finds the peer's.
        if !self.for_handler().peer().unresolved() {
            return None;
        }
        Some(Box::pin(self.import(importer)))
    }

    async fn import(&self, importer: &Importer) -> Result<(), Error> {
        let _gate = self.inner.load_gate.lock().await;
        let Some(value) = self.state().peer_mut().start() else {
            return Ok(()); // imported while this use waited
        };
        // Dropped halfway (a handler's timeout, a client gone) or failed,
        // the import is due again.
        let mut due = Due {
            session: self,
            value: Some(value),
        };
        let found = self.read_peer(importer, due.value()).await?;
        due.value = None;
        let meters = self.engine().meters();
        let mut state = self.state();
        if !state.peer().importing() {
            // The handler cleared or ended the session meanwhile.
            return Ok(());
        }
        let Some((entries, record)) = found else {
            meters.imports_refused.increment(1);
            state.peer_mut().done(None);
            return Ok(());
        };
        let (kept, left) = place_imported(self.engine(), &mut state, importer, &entries);
        state
            .peer_mut()
            .done(record.filter(|_| importer.deletes_records()));
        let span = state.span().clone();
        drop(state);
        meters.imports.increment(1);
        tracing::info!(parent: &span, from = importer.name(), kept, left, "session imported");
        Ok(())
    }

    /// The entries of the peer's session, with the key of its record in
    /// the peer's store; `None` for a cookie that does not verify or a
    /// session that is missing, expired or unreadable.
    async fn read_peer(
        &self,
        importer: &Importer,
        value: &[u8],
    ) -> Result<Option<(Entries, Option<String>)>, Error> {
        let span = self.span();
        let (key, id) = match importer.claim(value) {
            Ok(Claim::Carried(entries)) => return Ok(Some((entries, None))),
            Ok(Claim::Stored { key, id }) => (key, id),
            Err(reason) => {
                tracing::debug!(parent: &span, from = importer.name(), reason, "peer cookie refused");
                return Ok(None);
            }
        };
        let Some(store) = importer.store() else {
            return Ok(None);
        };
        let Some(bytes) = self.backend_call("import", store.load(&key)).await? else {
            tracing::debug!(parent: &span, from = importer.name(), "peer session missing or expired");
            return Ok(None);
        };
        match importer.decode(&bytes, id, self.engine().now()) {
            Ok(Some(entries)) => Ok(Some((entries, Some(key)))),
            Ok(None) => Ok(None),
            Err(reason) => {
                tracing::warn!(parent: &span, from = importer.name(), reason, "peer session unreadable; not imported");
                Ok(None)
            }
        }
    }

    /// After a commit: removes the peer's cookie (appended to
    /// `set_cookies`) once its import is over, and deletes its record,
    /// if configured, off the request's path.
    pub(crate) fn finish_import(&self, set_cookies: &mut Vec<String>) {
        let Some(importer) = &self.engine().import else {
            return;
        };
        let record = {
            let mut state = self.state();
            if !state.peer().spent() {
                return;
            }
            set_cookies.push(importer.removal().to_owned());
            state.peer_mut().take_record()
        };
        if let (Some(record), Some(store), Ok(runtime)) = (
            record,
            importer.store().cloned(),
            tokio::runtime::Handle::try_current(),
        ) {
            let from = importer.name();
            runtime.spawn(async move {
                if let Err(e) = store.delete(&record).await {
                    tracing::warn!(from, error = %e, "the imported peer record was not deleted");
                }
            });
        }
    }
}

/// Puts an import back to due when it ends without an answer.
struct Due<'a> {
    session: &'a Session,
    value: Option<Box<[u8]>>,
}

impl Due<'_> {
    fn value(&self) -> &[u8] {
        self.value.as_deref().unwrap_or_default()
    }
}

impl Drop for Due<'_> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            self.session.state().peer_mut().failed(value);
        }
    }
}

/// Places each entry the import's rule keeps, as an insert would, and
/// answers how many it placed and how many it left out (refused by a
/// limit: an invalid key, a value too large; those the rule drops are
/// not counted).
fn place_imported(
    engine: &Engine,
    state: &mut State,
    importer: &Importer,
    entries: &Entries,
) -> (usize, usize) {
    let (mut kept, mut left) = (0, 0);
    for (key, value) in entries {
        let Some(placement) = importer.place(key) else {
            continue;
        };
        let placed = check_key(key).and_then(|()| {
            let place = engine.resolve(key, placement)?;
            let bytes = rmp_serde::to_vec_named(value).map_err(|e| Error::serialize(key, e))?;
            let fits = || state.fits_in_cookie(engine, place.kind, key, bytes.len());
            if stored(engine, place, fits) {
                admit(engine, key, bytes.len(), Some((state, place.kind)))?;
            }
            state.place(engine, key, bytes, place)
        });
        match placed {
            Ok(()) => kept += 1,
            Err(e) => {
                left += 1;
                tracing::warn!(from = importer.name(), error = %e, "an imported key was left out");
            }
        }
    }
    (kept, left)
}
