//! Changes on PostgreSQL, for the app servers' near caches: triggers on
//! the key and session tables notify one channel with the session id of
//! every row a commit writes or deletes (`pg_notify`, delivered when the
//! transaction commits, once per id), whatever wrote it: a commit, log out
//! everywhere, the cleanup. Each app server with a near cache creates the
//! triggers if missing and `LISTEN`s on a connection of its own;
//! gimlet-core's loop ([`gimlet_core::backend::changes`]) drops those ids
//! from its cache as the notifications arrive, and keeps the cache off
//! while the listener is down. Its ping is a notification of the app
//! server's own, with an empty payload, sent through the pool: it proves
//! the whole path, not only the connection.

use std::sync::Arc;
use std::time::Duration;

use gimlet_core::SessionId;
use gimlet_core::backend::NearCache;
use gimlet_core::backend::changes::{self, ChangeChannel, ChangePinger, ChangeReader, Heard, Ping};
use sqlx::postgres::PgListener;

use crate::{Dialect, SqlBackend};

impl SqlBackend {
    /// Starts keeping `cache` told of every change on PostgreSQL; not
    /// outside a runtime.
    pub(crate) fn follow_changes_on(&self, cache: &Arc<NearCache>) -> bool {
        let channel = Channel {
            backend: self.clone(),
            name: Dialect::changes_channel(&self.inner.tables),
        };
        changes::follow(channel, cache)
    }
}

/// The channel of changes as one app server listens to it.
struct Channel {
    backend: SqlBackend,
    name: String,
}

/// The listening connection.
struct Reader(PgListener);

/// What sends the app server's own notification.
struct Pinger {
    backend: SqlBackend,
    name: String,
}

impl ChangeChannel for Channel {
    type Reader = Reader;
    type Pinger = Pinger;

    /// The triggers in place, and a connection listening.
    async fn subscribe(&self, _attempt: usize) -> Result<(Reader, Pinger), String> {
        let inner = &self.backend.inner;
        let listening = async {
            for statement in Dialect::change_triggers(&inner.tables) {
                sqlx::query(&statement).execute(&inner.pool).await?;
            }
            let mut listener = PgListener::connect(&inner.url).await?;
            listener.listen(&self.name).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let listener = listening.await.map_err(|e| e.to_string())?;
        let pinger = Pinger {
            backend: self.backend.clone(),
            name: self.name.clone(),
        };
        Ok((Reader(listener), pinger))
    }

    fn timeout(&self) -> Duration {
        self.backend.inner.timeout
    }

    fn name(&self) -> &'static str {
        "postgres"
    }
}

impl ChangeReader for Reader {
    async fn next(&mut self) -> Option<Heard> {
        let notification = self.0.try_recv().await.ok()??;
        Some(match notification.payload() {
            "" => Heard::Pong,
            id => Heard::Changed(id.parse::<SessionId>().into_iter().collect()),
        })
    }
}

impl ChangePinger for Pinger {
    async fn ping(&mut self) -> Option<Ping> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(self.name.as_str())
            .execute(&self.backend.inner.pool)
            .await
            .ok()
            .map(|_| Ping::Sent)
    }
}
