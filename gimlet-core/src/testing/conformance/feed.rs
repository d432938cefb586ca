//! Pushed revocation across app servers: cases for a store whose
//! [`Backend::subscribe`](crate::backend::Backend::subscribe) answers
//! `true`. Each takes a function that opens an app server of its own on
//! one shared store (its own pool, as another process would have).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::SharedBackend;
use super::suite::SECRET;
use crate::testing::{CountingBackend, CutProxy};
use crate::{Gimlet, SessionId};

/// One app server: its Gimlet, and the count of its calls to the store.
struct Server {
    gimlet: Gimlet,
    counted: Arc<CountingBackend<SharedBackend>>,
}

impl Server {
    async fn open(server: &impl AsyncFn() -> SharedBackend) -> Server {
        Server::on(server().await)
    }

    fn on(backend: SharedBackend) -> Server {
        let counted = Arc::new(CountingBackend::new(backend));
        let gimlet = Gimlet::builder()
            .secret(SECRET)
            .shared_backend(counted.clone())
            .clientside_keys(["user_id"])
            .build()
            .expect("a valid configuration");
        Server { gimlet, counted }
    }

    /// Waits until the feed has caught up: the app server trusts cookies.
    async fn until_live(&self) {
        self.until_feed("live").await;
    }

    async fn until_feed(&self, state: &str) {
        let started = Instant::now();
        while !format!("{:?}", self.gimlet).contains(&format!("feed: \"{state}\"")) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the feed never caught up: {:?}",
                self.gimlet
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Logs a browser in: a clientside user id, a server cart, an owner
    /// (with an owner index). Answers its `Cookie` header.
    async fn logged_in(&self, user: &str) -> String {
        let s = self.gimlet.open_from_headers([]);
        s.login(user).await.expect("login");
        s.insert("user_id", &7).await.expect("insert");
        s.insert("cart", &["gin"]).await.expect("insert");
        let cookies = self.gimlet.commit(&s).await.expect("commit");
        cookies
            .iter()
            .filter_map(|c| c.split(';').next())
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn logout(&self, header: &str) {
        let s = self.gimlet.open_from_headers([header]);
        s.invalidate().expect("invalidate");
        self.gimlet.commit(&s).await.expect("commit");
    }

    /// The clientside user id the cookie reads.
    async fn user_id(&self, header: &str) -> Option<u32> {
        self.try_user_id(header).await.expect("a read")
    }

    async fn try_user_id(&self, header: &str) -> Result<Option<u32>, crate::Error> {
        let s = self.gimlet.open_from_headers([header]);
        let id = s.get::<u32>("user_id").await?;
        self.gimlet.commit(&s).await?;
        Ok(id)
    }

    /// Until `header` is refused, polling. How fast is not asserted here:
    /// tests do not time (gimlet-bench measures it).
    async fn until_refused(&self, header: &str) {
        let started = Instant::now();
        while self.user_id(header).await.is_some() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the ending never arrived"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

fn user() -> String {
    format!("user-{}", SessionId::generate().expect("rng"))
}

/// A logout and (with an owner index) a log out everywhere on one app server reach a copy of the
/// cookies on another, which refuses it with no load; a server that starts
/// later replays them before it trusts a cookie. A read of clientside data
/// costs no round trip meanwhile.
pub async fn an_ending_reaches_every_app_server(server: impl AsyncFn() -> SharedBackend) {
    let first = Server::open(&server).await;
    let second = Server::open(&server).await;
    let caught_up = second.gimlet.feed_caught_up(Duration::from_secs(10)).await;
    assert!(caught_up, "the feed never caught up: {:?}", second.gimlet);
    let debug = format!("{:?}", second.gimlet);
    assert!(debug.contains("feed: \"live\""), "{debug}");

    let header = first.logged_in(&user()).await;
    second.counted.reset();
    assert_eq!(second.user_id(&header).await, Some(7));
    assert_eq!(
        second.counted.counts().round_trips(),
        0,
        "a read costs nothing"
    );
    first.logout(&header).await;
    second.until_refused(&header).await;
    assert_eq!(
        second.counted.counts().loads,
        0,
        "the copy was refused on what the server heard, not by a load"
    );

    // Log out everywhere, from the first server, of a session the second
    // one reads (with an owner index).
    if first.counted.inner().owner_index() {
        let bob = user();
        let header = first.logged_in(&bob).await;
        assert_eq!(second.user_id(&header).await, Some(7));
        let ended = first.gimlet.end_sessions_of(&bob, None).await;
        assert_eq!(ended.expect("end_sessions_of"), 1);
        second.until_refused(&header).await;
    }

    // A server that starts later replays the log first.
    let header = first.logged_in(&user()).await;
    first.logout(&header).await;
    let third = Server::open(&server).await;
    third.until_live().await;
    third.counted.reset();
    assert_eq!(third.user_id(&header).await, None);
    assert_eq!(
        third.counted.counts().loads,
        0,
        "refused on the replayed log"
    );
}

/// The feed cut (its connection killed, as by a restart of the store) on
/// one app server while another logs out: until the feed is back, the
/// first checks every use of a cookie, and no copy of the ended session is
/// trusted; once back, it reads what it missed. `second` reaches the store
/// through `proxy`, `first` directly.
pub async fn a_cut_feed_trusts_no_copy(
    first: SharedBackend,
    second: SharedBackend,
    proxy: &CutProxy,
) {
    let (first, second) = (Server::on(first), Server::on(second));
    second.until_live().await;
    let header = first.logged_in(&user()).await;
    assert_eq!(second.user_id(&header).await, Some(7));

    proxy.cut();
    second.until_feed("down").await;
    first.logout(&header).await;
    for _ in 0..3 {
        // Checked on use, and the check fails while the store is out of
        // reach: an error, never the ended session.
        let read = second.try_user_id(&header).await;
        assert!(!matches!(read, Ok(Some(_))), "trusted while deaf: {read:?}");
    }

    proxy.restore().await.expect("the proxy's port");
    second.until_live().await;
    second.counted.reset();
    assert_eq!(second.user_id(&header).await, None);
    assert_eq!(
        second.counted.counts().loads,
        0,
        "refused on the endings read after the outage"
    );
}
