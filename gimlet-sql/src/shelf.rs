//! Connections kept between a backend's loads and commits, so that using
//! one costs no round trip but the work's own.
//!
//! sqlx's pool pings a connection when it hands it out and again when it
//! takes it back: two round trips to the database around every statement
//! or transaction, besides a task spawned for each return. The shelf takes
//! connections from the pool and keeps them, most recently used on top:
//! one used a moment ago is handed out as it is; one idle for
//! [`PING_AFTER_IDLE`] or more is pinged first (the server may have closed
//! it meanwhile); one idle for [`RETURN_AFTER_IDLE`] goes back to the pool,
//! which closes it in its time. A connection whose work did not finish (an
//! error, a timeout that dropped it halfway) goes back to the pool too,
//! where sqlx's own check decides whether it lives.
//!
//! Every lease holds one of the pool's `max_connections` permits, so the
//! calls in flight and the shelf never hold more connections than the pool
//! may open: a lease that finds the shelf empty always gets one from the
//! pool, as soon as whoever else borrowed from it (the feed, the cleanup,
//! the application's own queries) gives it back. The shelf keeps at most
//! `max_connections - 1`, so that those always find one; a pool of one
//! connection (SQLite in memory) keeps none, and works as sqlx's does.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::AnyConnection;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Connection};
use tokio::sync::{Semaphore, SemaphorePermit};

/// A connection idle this long is pinged before it is used again.
pub(crate) const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A connection idle this long goes back to the pool.
pub(crate) const RETURN_AFTER_IDLE: Duration = Duration::from_secs(60);

/// The connections kept, and the permits that bound them.
pub(crate) struct Shelf {
    permits: Semaphore,
    /// How many connections it keeps at most.
    cap: usize,
    idle: Mutex<Vec<Kept>>,
}

struct Kept {
    conn: PoolConnection<Any>,
    since: Instant,
}

/// A connection lent by the shelf. Derefs to the connection; call
/// [`Lease::done`] once its work finished, or it goes back to the pool.
pub(crate) struct Lease<'a> {
    shelf: &'a Shelf,
    conn: Option<PoolConnection<Any>>,
    done: bool,
    _permit: SemaphorePermit<'a>,
}

impl Shelf {
    /// A shelf for a pool of at most `max_connections`.
    pub(crate) fn new(max_connections: u32) -> Self {
        let max = usize::try_from(max_connections).unwrap_or(1).max(1);
        Shelf {
            permits: Semaphore::new(max),
            cap: max - 1,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A connection: the most recently used one kept (pinged first if it
    /// was idle long), or a new one from `pool`.
    pub(crate) async fn lease(&self, pool: &AnyPool) -> Result<Lease<'_>, sqlx::Error> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let kept = self.lock().pop();
            let conn = match kept {
                Some(mut kept) => {
                    if kept.since.elapsed() >= PING_AFTER_IDLE && kept.conn.ping().await.is_err() {
                        // Closed under us: the pool drops it.
                        kept.conn.close_on_drop();
                        continue;
                    }
                    kept.conn
                }
                None => pool.acquire().await?,
            };
            return Ok(Lease {
                shelf: self,
                conn: Some(conn),
                done: false,
                _permit: permit,
            });
        }
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

impl Lease<'_> {
    /// The work on the connection finished (whatever its answer, as long as
    /// the connection itself worked): it goes back on the shelf.
    pub(crate) fn done(mut self) {
        self.done = true;
    }

    /// The work finished when `result` is not a broken connection's error.
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
        if !self.done {
            // Dropped halfway, or broken: the pool checks it.
            return;
        }
        let now = Instant::now();
        let mut idle = self.shelf.lock();
        // The least recently used lie at the bottom: those idle too long
        // go back to the pool (dropped here, returned by sqlx).
        let stale = idle
            .iter()
            .take_while(|k| now.duration_since(k.since) >= RETURN_AFTER_IDLE)
            .count();
        let returned: Vec<Kept> = idle.drain(..stale).collect();
        let full = idle.len() >= self.shelf.cap;
        if !full {
            idle.push(Kept { conn, since: now });
        }
        drop(idle);
        // Back to the pool, outside the lock.
        drop(returned);
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use sqlx::any::AnyPoolOptions;

    async fn pool(max: u32) -> AnyPool {
        sqlx::any::install_default_drivers();
        let path = std::env::temp_dir().join(format!(
            "gimlet-shelf-{}.db",
            gimlet_core::SessionId::generate().expect("rng")
        ));
        AnyPoolOptions::new()
            .max_connections(max)
            .connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("pool")
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
        let shelf = Shelf::new(3);
        let leases = [
            shelf.lease(&pool).await.expect("lease"),
            shelf.lease(&pool).await.expect("lease"),
            shelf.lease(&pool).await.expect("lease"),
        ];
        for lease in leases {
            lease.done();
        }
        assert_eq!(shelf.kept(), 2, "room left for the pool's other users");
        // Its other users still get one, and leases still come.
        let other = pool.acquire().await.expect("the pool's own");
        let lease = shelf.lease(&pool).await.expect("lease");
        drop((other, lease));
        // A pool of one connection: nothing is kept.
        let single = Shelf::new(1);
        let one = pool.acquire().await.map(drop);
        assert!(one.is_ok());
        let lease = single.lease(&pool).await.expect("lease");
        lease.done();
        assert_eq!(single.kept(), 0);
    }
}
