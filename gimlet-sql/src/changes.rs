//! Changes on PostgreSQL, for the app servers' near caches: triggers on
//! the key and session tables notify one channel with the session id of
//! every row a commit writes or deletes (`pg_notify`, delivered when the
//! transaction commits, once per id), whatever wrote it: a commit, log out
//! everywhere, the cleanup. Each app server with a near cache creates the
//! triggers if missing, `LISTEN`s on a connection of its own, and drops
//! those ids from its cache as the notifications arrive.
//!
//! PostgreSQL keeps nothing for a listener that is away: while the
//! connection is not listening, after it fails, or when the app server's
//! own notification (sent every second through the pool, `pg_notify` with
//! an empty payload) has not come back by the next, the cache is down (it
//! serves nothing, and drops what it held) until it listens again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use gimlet_core::SessionId;
use gimlet_core::backend::NearCache;
use sqlx::postgres::PgListener;

use crate::{Dialect, SqlBackend};

/// How often the listener's own notification is sent: a listener that
/// stopped hearing is given up within about twice this.
const PING_EVERY: Duration = Duration::from_secs(1);

/// The wait before listening again after a failure.
const RETRY_AFTER: Duration = Duration::from_millis(200);

impl SqlBackend {
    /// Starts the task that keeps `cache` told of every change, on the
    /// current Tokio runtime, until `cache` is dropped: on PostgreSQL
    /// only, and not outside a runtime.
    pub(crate) fn follow_changes_on(&self, cache: &Arc<NearCache>) -> bool {
        if self.inner.dialect != Dialect::Postgres {
            return false;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no Tokio runtime when Gimlet was built: no near cache over PostgreSQL");
            return false;
        };
        cache.feed_down();
        let listener = Listener {
            backend: self.clone(),
            channel: Dialect::changes_channel(&self.inner.tables),
            cache: Arc::downgrade(cache),
        };
        runtime.spawn(listener.run());
        true
    }
}

struct Listener {
    backend: SqlBackend,
    channel: String,
    cache: Weak<NearCache>,
}

impl Listener {
    async fn run(self) {
        let mut warned = false;
        while self.cache.strong_count() > 0 {
            let timeout = self.backend.inner.timeout;
            match tokio::time::timeout(timeout, self.subscribe()).await {
                Ok(Ok(listener)) => {
                    let Some(cache) = self.cache.upgrade() else {
                        return;
                    };
                    cache.feed_up();
                    drop(cache);
                    if warned {
                        tracing::info!("listening to PostgreSQL's channel of changes again");
                    }
                    self.listen(listener).await;
                    if let Some(cache) = self.cache.upgrade() {
                        cache.feed_down();
                    }
                    tracing::warn!(
                        "lost PostgreSQL's channel of changes: the near cache is off until it is back"
                    );
                    warned = true;
                }
                Ok(Err(e)) if !warned => {
                    tracing::warn!(error = %e, "listening to PostgreSQL's channel of changes failed");
                    warned = true;
                }
                Err(_) if !warned => {
                    tracing::warn!("listening to PostgreSQL's channel of changes timed out");
                    warned = true;
                }
                _ => {}
            }
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }

    /// The triggers in place, and a connection listening.
    async fn subscribe(&self) -> Result<PgListener, sqlx::Error> {
        let inner = &self.backend.inner;
        for statement in Dialect::change_triggers(&inner.tables) {
            sqlx::query(&statement).execute(&inner.pool).await?;
        }
        let mut listener = PgListener::connect(&inner.url).await?;
        listener.listen(&self.channel).await?;
        Ok(listener)
    }

    /// Drops each notification's id from the cache, until the connection
    /// fails, the listener's own notification does not come back by the
    /// next, or the cache is dropped.
    async fn listen(&self, mut listener: PgListener) {
        let answered = AtomicBool::new(true);
        let reading = async {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        let payload = notification.payload();
                        if payload.is_empty() {
                            answered.store(true, Ordering::Relaxed);
                            continue;
                        }
                        let Some(cache) = self.cache.upgrade() else {
                            return;
                        };
                        cache.changed(payload.parse::<SessionId>().ok());
                    }
                    _ => return,
                }
            }
        };
        let pinging = async {
            let mut ping = tokio::time::interval(PING_EVERY);
            ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ping.tick().await;
                let unanswered = !answered.swap(false, Ordering::Relaxed);
                if self.cache.strong_count() == 0 || unanswered {
                    return;
                }
                let inner = &self.backend.inner;
                let sent = sqlx::query("SELECT pg_notify($1, '')")
                    .bind(self.channel.as_str())
                    .execute(&inner.pool);
                if !matches!(tokio::time::timeout(inner.timeout, sent).await, Ok(Ok(_))) {
                    return;
                }
            }
        };
        // Either ends the subscription.
        tokio::select! {
            () = reading => {}
            () = pinging => {}
        }
    }
}
