//! Server-side writes made after the commit, straight to the backend: the
//! cookie has been sent, so only keys whose channel the browser holds can
//! change.

use crate::backend::{Batch, Op, Write};
use crate::key::ChannelKind;
use crate::session::model::Browser;
use crate::session::status::Activity;
use crate::{Error, Session};

impl Session {
    /// Writes one server-side change straight to the backend, after the
    /// commit. `kind` is the channel to set `key` in; a removal (`value`
    /// `None`) goes to every channel that may hold the key.
    pub(crate) async fn write_through(
        &self,
        key: &str,
        value: Option<Vec<u8>>,
        kind: Option<ChannelKind>,
    ) -> Result<(), Error> {
        let engine = self.engine();
        let Some(backend) = &engine.backend else {
            return Err(Error::NoBackend { key: key.into() });
        };
        let now = engine.now();
        let batch = {
            let state = self.state();
            let mut ops = Vec::new();
            for k in ChannelKind::BOTH {
                let ch = state.ch(k);
                let target = kind == Some(k);
                let Some(id) = ch.id().filter(|_| ch.browser() == Browser::ThisId) else {
                    if target {
                        return Err(Error::Committed {
                            what: "a write to a session whose cookie was not sent",
                        });
                    }
                    continue;
                };
                let expires_at = engine
                    .lifetimes
                    .expiry(k, state.lifetime(), ch.created(), now);
                let (set, remove) = match &value {
                    Some(v) if target => (vec![(key.to_owned(), v.clone())], Vec::new()),
                    _ if ch.stored() => (Vec::new(), vec![key.to_owned()]),
                    _ => continue,
                };
                ops.push(Op::Write(Write {
                    id,
                    mode: ch.write_mode(),
                    clear: false,
                    set,
                    remove,
                    expect: Vec::new(),
                    expires_at,
                    // An owned channel's record exists after the commit:
                    // only its creation names the owner.
                    owner: None,
                }));
            }
            Batch { ops }
        };
        if batch.is_empty() {
            return Ok(());
        }
        self.engine().meters().commits.increment(1);
        self.backend_call("commit", backend.commit(&batch)).await?;
        self.changed(&batch);
        let mut state = self.state();
        state.note(Activity::Changed);
        for op in &batch.ops {
            let Op::Write(write) = op else { continue };
            for ch in state.channels_mut() {
                if ch.id() == Some(write.id) {
                    ch.wrote_through(&write.set, &write.remove);
                }
            }
        }
        Ok(())
    }
}
