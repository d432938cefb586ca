//! Near caches across app servers: cases for a store whose
//! [`Backend::follow_changes`](crate::backend::Backend::follow_changes)
//! answers `true`. Each takes app servers of their own on one shared store
//! (their own pools, as other processes would have).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::SharedBackend;
use super::suite::SECRET;
use crate::testing::{CountingBackend, CutProxy};
use crate::{Gimlet, Session};

/// One app server with a near cache, and the count of its calls.
struct Server {
    gimlet: Gimlet,
    counted: Arc<CountingBackend<SharedBackend>>,
}

impl Server {
    fn on(backend: SharedBackend) -> Server {
        let counted = Arc::new(CountingBackend::new(backend));
        let gimlet = Gimlet::builder()
            .secret(SECRET)
            .shared_backend(counted.clone())
            .near_cache_bytes(1 << 20)
            .build()
            .expect("a store that follows changes");
        Server { gimlet, counted }
    }

    async fn until(&self, live: bool) {
        let started = Instant::now();
        while self.gimlet.near_cache().map(|c| c.live) != Some(live) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the near cache never became {}: {:?}",
                if live { "live" } else { "down" },
                self.gimlet.near_cache()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sets `cart` with `header`'s cookies; answers the new header.
    async fn set_cart(&self, header: &str, cart: &str) -> String {
        let s = self.gimlet.open_from_headers([header]);
        s.insert("cart", &cart).await.expect("insert");
        let cookies = self.gimlet.commit(&s).await.expect("commit");
        jar(header, &cookies)
    }

    async fn cart(&self, header: &str) -> Result<Option<String>, crate::Error> {
        let s: Session = self.gimlet.open_from_headers([header]);
        let cart = s.get::<String>("cart").await?;
        self.gimlet.commit(&s).await?;
        Ok(cart)
    }

    fn loads(&self) -> usize {
        self.counted.counts().loads
    }

    /// Reads `cart` until a read is answered near, with no load: a
    /// write's own word may reach this app server after its first read
    /// kept the record, and drop it once more. Answers what it read.
    async fn until_near(&self, header: &str) -> Option<String> {
        let started = Instant::now();
        loop {
            let loads = self.loads();
            let cart = self.cart(header).await.expect("read");
            if self.loads() == loads {
                return cart;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no read was answered near"
            );
        }
    }
}

/// The `Cookie` header after a response set `cookies` on `header`'s.
fn jar(header: &str, cookies: &[String]) -> String {
    let mut pairs: Vec<(String, String)> = header
        .split("; ")
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for cookie in cookies {
        let Some((name, value)) = cookie.split(';').next().and_then(|p| p.split_once('=')) else {
            continue;
        };
        pairs.retain(|(k, _)| k != name);
        if !cookie.contains("Max-Age=0") {
            pairs.push((name.to_owned(), value.to_owned()));
        }
    }
    let pairs: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("; ")
}

/// A second read of a record on an app server costs no round trip; a
/// browser's own write on one app server is read at once on another; a
/// write through a copy of the cookie (another browser) reaches the
/// other app server's cache through the store.
pub async fn a_near_cache_hears_every_app_servers_writes(server: impl AsyncFn() -> SharedBackend) {
    let first = Server::on(server().await);
    let second = Server::on(server().await);
    first.until(true).await;
    second.until(true).await;

    let header = first.set_cart("", "gin").await;
    assert_eq!(
        second.cart(&header).await.expect("read").as_deref(),
        Some("gin")
    );
    assert_eq!(second.until_near(&header).await.as_deref(), Some("gin"));

    // The browser's own write: read at once on the other app server.
    let header = first.set_cart(&header, "rum").await;
    assert_eq!(
        second.cart(&header).await.expect("read").as_deref(),
        Some("rum")
    );

    // Another browser with a copy of the cookie writes; the first
    // browser's cookie keeps its token, so only the store's word drops
    // the other app server's entry.
    assert_eq!(second.until_near(&header).await.as_deref(), Some("rum"));
    first.set_cart(&header, "port").await;
    let started = Instant::now();
    while second.cart(&header).await.expect("read").as_deref() != Some("port") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the change never reached the other app server"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The store's word cut (its connection killed, as by a restart) on one
/// app server while another writes: the cut app server's cache stops
/// serving at once and drops what it held, so once back it reads the
/// write. `second` reaches the store through `proxy`, `first` directly.
pub async fn a_cut_near_cache_serves_nothing_it_may_have_missed(
    first: SharedBackend,
    second: SharedBackend,
    proxy: &CutProxy,
) {
    let (first, second) = (Server::on(first), Server::on(second));
    first.until(true).await;
    second.until(true).await;
    let header = first.set_cart("", "gin").await;
    assert_eq!(second.until_near(&header).await.as_deref(), Some("gin"));

    proxy.cut();
    second.until(false).await;
    // A copy of the cookie writes while the second app server is deaf.
    first.set_cart(&header, "rum").await;
    let read = second.cart(&header).await;
    assert!(
        !matches!(read.as_ref().map(Option::as_deref), Ok(Some("gin"))),
        "served from the cache while deaf: {read:?}"
    );

    proxy.restore().await.expect("the proxy's port");
    second.until(true).await;
    assert_eq!(
        second.cart(&header).await.expect("read").as_deref(),
        Some("rum")
    );
}
