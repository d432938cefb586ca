//! Connections kept between a backend's loads and commits, so that using
//! one costs no round trip but the work's own.
//!
//! sqlx's pool pings a connection when it hands it out and again when it
//! takes it back: two round trips to the database around every statement
//! or transaction, besides a task spawned for each return. The shelf takes
//! connections from the pool and keeps them, most recently used on top:
//! one used a moment ago is handed out as it is; one idle for
//! [`PING_AFTER_IDLE`] or more is pinged first (the server may have closed
//! it meanwhile). A connection goes back to the pool, which checks it and
//! closes it in its time, when its work did not finish (a broken
//! connection, an error inside a transaction, a call dropped halfway),
//! when it has been idle [`RETURN_AFTER_IDLE`], when it has been out of
//! the pool for the pool's `max_lifetime`, and when the pool is closed.
//!
//! Every lease holds one of `max_connections - 1` permits, and a
//! connection is kept only while the connections kept and those in use
//! number no more than that: one connection is always left to the pool, so
//! its other users (the feed, the application's own queries) are never
//! kept waiting by the shelf, and a lease that finds the shelf empty gets
//! one from the pool as soon as they give theirs back. Under full load
//! every finished connection is kept, and the next lease takes it: none
//! goes through the pool. A pool of one connection (SQLite in memory)
//! keeps none, and works as sqlx's does. Waiting for a permit and the ping
//! are bounded by the pool's `acquire_timeout`, as sqlx's own wait is.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::{Semaphore, SemaphorePermit};

/// A connection idle this long is pinged before it is used again: longer
/// than the pause between two requests of a busy server, shorter than
/// anything a person would notice.
pub(crate) const PING_AFTER_IDLE: Duration = Duration::from_millis(100);

/// A connection idle this long goes back to the pool.
pub(crate) const RETURN_AFTER_IDLE: Duration = Duration::from_secs(60);

/// The connections kept, and the permits that bound them.
pub(crate) struct Shelf {
    permits: Semaphore,
    /// How many connections the shelf may hold, kept and lent together:
    /// one less than the pool's size.
    cap: usize,
    /// How many connections leases hold now.
    lent: AtomicUsize,
    idle: Mutex<Vec<Kept>>,
}

struct Kept {
    conn: PoolConnection<Any>,
    /// When it was taken from the pool.
    taken: Instant,
    /// When its last work finished.
    since: Instant,
}

/// A connection lent by the shelf. Derefs to the connection; call
/// [`Lease::done`] once its work finished, or it goes back to the pool.
pub(crate) struct Lease<'a> {
    shelf: &'a Shelf,
    pool: &'a AnyPool,
    conn: Option<PoolConnection<Any>>,
    taken: Instant,
    done: bool,
    _permit: SemaphorePermit<'a>,
}

impl Shelf {
    /// A shelf for a pool of at most `max_connections`.
    pub(crate) fn new(max_connections: u32) -> Self {
        let max = usize::try_from(max_connections).unwrap_or(1).max(1);
        let cap = max - 1;
        // A pool of one lends its one connection, and keeps none.
        let leases = cap.max(1);
        Shelf {
            permits: Semaphore::new(leases),
            cap,
            lent: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A connection: the most recently used one kept (pinged first if it
    /// was idle long), or one from `pool`.
    pub(crate) async fn lease<'a>(&'a self, pool: &'a AnyPool) -> Result<Lease<'a>, sqlx::Error> {
        let deadline = tokio::time::Instant::now() + pool.options().get_acquire_timeout();
        let permit = tokio::time::timeout_at(deadline, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        if pool.is_closed() {
            self.trim(pool);
            return Err(sqlx::Error::PoolClosed);
        }
        loop {
            let kept = self.lock().pop();
            let (conn, taken) = match kept {
                Some(mut kept) => {
                    if kept.since.elapsed() >= PING_AFTER_IDLE {
                        let ping = tokio::time::timeout_at(deadline, kept.conn.ping()).await;
                        if !matches!(ping, Ok(Ok(()))) {
                            // Closed under us, or silent: the pool drops it.
                            kept.conn.close_on_drop();
                            continue;
                        }
                    }
                    (kept.conn, kept.taken)
                }
                None => (pool.acquire().await?, Instant::now()),
            };
            self.lent.fetch_add(1, Ordering::Relaxed);
            return Ok(Lease {
                shelf: self,
                pool,
                conn: Some(conn),
                taken,
                done: false,
                _permit: permit,
            });
        }
    }

    /// Hands back to the pool the connections idle [`RETURN_AFTER_IDLE`]
    /// or out of it for its `max_lifetime`, and all of them once the pool
    /// is closed (its `close` waits for them). The backend's feed calls
    /// this at every read of its log, so a server with no traffic gives
    /// its connections back too.
    pub(crate) fn trim(&self, pool: &AnyPool) {
        let now = Instant::now();
        let options = pool.options();
        let closed = pool.is_closed();
        let lifetime = options.get_max_lifetime();
        let stale = |k: &Kept| {
            closed
                || now.duration_since(k.since) >= RETURN_AFTER_IDLE
                || lifetime.is_some_and(|l| now.duration_since(k.taken) >= l)
        };
        let mut returned = Vec::new();
        {
            let mut idle = self.lock();
            let mut i = 0;
            while i < idle.len() {
                if stale(&idle[i]) {
                    returned.push(idle.remove(i));
                } else {
                    i += 1;
                }
            }
        }
        // Back to the pool, outside the lock.
        drop(returned);
    }

    /// How many connections are kept.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Kept>> {
        // Pushes and pops are whole under the lock.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Shelf {
    fn drop(&mut self) {
        let kept = std::mem::take(&mut *self.lock());
        if tokio::runtime::Handle::try_current().is_err() {
            // sqlx returns a connection to its pool in a task: with no
            // runtime to run it, close the connections here instead.
            for kept in kept {
                drop(kept.conn.detach());
            }
        }
    }
}

impl Lease<'_> {
    /// The work on the connection finished and left it ready for the next:
    /// it goes back on the shelf.
    pub(crate) fn done(mut self) {
        self.done = true;
    }

    /// [`Lease::done`] unless `result` is an error that says the connection
    /// itself is gone: for a statement of its own, outside a transaction.
    pub(crate) fn done_unless_broken<T>(self, result: &Result<T, sqlx::Error>) {
        if !matches!(result, Err(e) if crate::errors::is_broken_connection(e)) {
            self.done();
        }
    }
}

impl Deref for Lease<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        self.conn
            .as_ref()
            .expect("a lease holds its connection until dropped")
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let mut idle = self.shelf.lock();
        // The connections the shelf holds, lent (this one included) and
        // kept, stay below the pool's size.
        let lent = self.shelf.lent.fetch_sub(1, Ordering::Relaxed);
        let room = idle.len() + lent <= self.shelf.cap;
        // Dropped halfway, broken, or the pool closing: the pool checks it.
        if self.done && room && !self.pool.is_closed() {
            idle.push(Kept {
                conn,
                taken: self.taken,
                since: Instant::now(),
            });
        }
        // Else dropped here, after the lock: back to the pool.
        drop(idle);
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use sqlx::any::AnyPoolOptions;

    async fn pool(max: u32) -> AnyPool {
        pool_with(AnyPoolOptions::new().max_connections(max)).await
    }

    async fn pool_with(options: AnyPoolOptions) -> AnyPool {
        sqlx::any::install_default_drivers();
        let path = std::env::temp_dir().join(format!(
            "gimlet-shelf-{}.db",
            gimlet_core::SessionId::generate().expect("rng")
        ));
        options
            .connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("pool")
    }

    #[tokio::test]
    async fn the_pool_s_other_users_are_never_kept_waiting() {
        let pool = pool(2).await;
        let shelf = Shelf::new(2);
        let busy = shelf.lease(&pool).await.expect("lease");
        let other = tokio::time::timeout(Duration::from_secs(1), pool.acquire()).await;
        drop(other.expect("not kept waiting").expect("a connection"));
        busy.done();
        assert_eq!(shelf.kept(), 1);
        let other = tokio::time::timeout(Duration::from_secs(1), pool.acquire()).await;
        drop(
            other
                .expect("not kept waiting by the one kept")
                .expect("a connection"),
        );
    }

    #[tokio::test]
    async fn trim_gives_back_the_old_and_everything_once_the_pool_closes() {
        let options = AnyPoolOptions::new()
            .max_connections(3)
            .max_lifetime(Duration::from_millis(50));
        let pool = pool_with(options).await;
        let shelf = Shelf::new(3);
        shelf.lease(&pool).await.expect("lease").done();
        shelf.trim(&pool);
        assert_eq!(shelf.kept(), 1, "young and recently used");
        tokio::time::sleep(Duration::from_millis(60)).await;
        shelf.trim(&pool);
        assert_eq!(shelf.kept(), 0, "out of the pool past its max_lifetime");

        let pool = pool_with(AnyPoolOptions::new().max_connections(3)).await;
        shelf.lease(&pool).await.expect("lease").done();
        assert_eq!(shelf.kept(), 1);
        let closing = tokio::spawn({
            let pool = pool.clone();
            async move { pool.close().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        shelf.trim(&pool);
        assert_eq!(shelf.kept(), 0);
        tokio::time::timeout(Duration::from_secs(2), closing)
            .await
            .expect("close waits for nothing kept")
            .expect("closed");
        assert!(
            shelf.lease(&pool).await.is_err(),
            "no lease from a closed pool"
        );
    }

    async fn select_one(conn: &mut AnyConnection) {
        sqlx::query("SELECT 1").execute(conn).await.expect("select");
    }

    #[tokio::test]
    async fn a_finished_lease_is_kept_and_lent_again_without_the_pool() {
        let pool = pool(4).await;
        let shelf = Shelf::new(4);
        let mut lease = shelf.lease(&pool).await.expect("lease");
        select_one(&mut lease).await;
        lease.done();
        assert_eq!(shelf.kept(), 1);
        assert_eq!(pool.num_idle(), 0, "kept, not returned");
        let mut again = shelf.lease(&pool).await.expect("lease");
        assert_eq!(shelf.kept(), 0, "the kept one is lent");
        assert_eq!(pool.size(), 1, "no second connection opened");
        select_one(&mut again).await;
        again.done();
        assert_eq!(shelf.kept(), 1);
    }

    #[tokio::test]
    async fn an_unfinished_lease_goes_back_to_the_pool() {
        let pool = pool(4).await;
        let shelf = Shelf::new(4);
        let lease = shelf.lease(&pool).await.expect("lease");
        drop(lease);
        assert_eq!(shelf.kept(), 0);
        let broken: Result<(), sqlx::Error> =
            Err(sqlx::Error::Io(std::io::ErrorKind::BrokenPipe.into()));
        let lease = shelf.lease(&pool).await.expect("lease");
        lease.done_unless_broken(&broken);
        assert_eq!(shelf.kept(), 0, "a broken connection is not kept");
        let failed: Result<(), sqlx::Error> = Err(sqlx::Error::RowNotFound);
        let lease = shelf.lease(&pool).await.expect("lease");
        lease.done_unless_broken(&failed);
        assert_eq!(shelf.kept(), 1, "a statement's own error leaves it usable");
    }

    #[tokio::test]
    async fn it_keeps_one_less_than_the_pool_holds_and_never_waits_on_itself() {
        let pool = pool(3).await;
        let shelf = std::sync::Arc::new(Shelf::new(3));
        let leases = [
            shelf.lease(&pool).await.expect("lease"),
            shelf.lease(&pool).await.expect("lease"),
        ];
        // Every permit is out: the next lease waits for one, and takes the
        // connection the first to finish keeps, not one of the pool's.
        let next = tokio::spawn({
            let (shelf, pool) = (shelf.clone(), pool.clone());
            async move { shelf.lease(&pool).await.map(|lease| lease.done()) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!next.is_finished(), "two permits for a pool of three");
        let opened = pool.size();
        let [first, second] = leases;
        first.done();
        second.done();
        next.await.expect("task").expect("lease");
        assert_eq!(pool.size(), opened, "no connection opened for it");
        assert_eq!(shelf.kept(), 2, "one less than the pool holds");
        // A pool of one connection: nothing is kept.
        let single = Shelf::new(1);
        let lease = single.lease(&pool).await.expect("lease");
        lease.done();
        assert_eq!(single.kept(), 0);
    }
}
