//! A shop's sessions and requests, through Gimlet as an adapter drives it
//! (open from the `Cookie` header, the handler's work, commit), without
//! HTTP: a user id and a cart id clientside, a 20-item cart server-side.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gimlet_core::backend::Backend;
use gimlet_core::cookie::CookieCodec;
use gimlet_core::{Gimlet, Secret, SessionId};

const SECRET: &str = "scaling measurements secret, thirty-two bytes";

/// What a request does with its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Hello,
    ClientRead,
    ServerRead,
    AddToCart,
    BlindWrite,
    Login,
    Logout,
}

impl Route {
    pub(crate) const ALL: [Route; 7] = [
        Route::Hello,
        Route::ClientRead,
        Route::ServerRead,
        Route::AddToCart,
        Route::BlindWrite,
        Route::Login,
        Route::Logout,
    ];

    pub(crate) fn path(self) -> &'static str {
        match self {
            Route::Hello => "untouched (`/hello`)",
            Route::ClientRead => "read the clientside user id",
            Route::ServerRead => "read the cart",
            Route::AddToCart => "add an item to the cart (read, then write)",
            Route::BlindWrite => "write a key without reading",
            Route::Login => "log in (`cycle_id`)",
            Route::Logout => "log out (`invalidate`)",
        }
    }

    /// Whether the request leaves its cookie pointing at nothing.
    pub(crate) fn ends_session(self) -> bool {
        matches!(self, Route::Login | Route::Logout)
    }
}

pub(crate) struct Shop {
    gimlet: Gimlet,
    codec: CookieCodec,
}

fn cart() -> Vec<(String, u32)> {
    (0..20)
        .map(|i| (format!("sku-{:06}", 100_000 + i * 37), 1 + i % 3))
        .collect()
}

impl Shop {
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Arc<Shop> {
        let gimlet = Gimlet::builder()
            .secret(SECRET)
            .host_prefix(false)
            .clientside_keys(["user_id", "cart_id"])
            .shared_backend(backend)
            .build()
            .expect("configuration");
        Arc::new(Shop {
            gimlet,
            codec: CookieCodec::new(&[Secret::new(SECRET)], &[], false).expect("codec"),
        })
    }

    /// Creates `n` sessions, 32 at a time, and answers their `Cookie`
    /// headers.
    pub(crate) async fn establish(self: &Arc<Self>, n: usize) -> Vec<String> {
        let next = Arc::new(AtomicU64::new(0));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (shop, next) = (self.clone(), next.clone());
            workers.spawn(async move {
                let mut made = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n as u64 {
                        return made;
                    }
                    made.push(shop.create(i).await);
                }
            });
        }
        workers.join_all().await.concat()
    }

    async fn create(&self, i: u64) -> String {
        let session = self.gimlet.open_from_headers([]);
        session
            .insert("user_id", &(1_000_000 + i))
            .await
            .expect("insert");
        session
            .insert("cart_id", &format!("cart-{i:08}"))
            .await
            .expect("insert");
        session.insert("cart", &cart()).await.expect("insert");
        let set = self.gimlet.commit(&session).await.expect("commit");
        set.iter()
            .map(|c| c.split(';').next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The channel id of every session's cookie.
    pub(crate) fn ids(&self, cookies: &[String]) -> Vec<SessionId> {
        cookies
            .iter()
            .filter_map(|header| {
                let value = header.strip_prefix("gimlet-n=")?;
                Some(self.codec.decode("gimlet-n", value).ok()?.id())
            })
            .collect()
    }

    /// One request on the session of `cookie`.
    pub(crate) async fn request(&self, route: Route, cookie: &str, i: u64) {
        let s = self.gimlet.open_from_headers([cookie]);
        match route {
            Route::Hello => {}
            Route::ClientRead => {
                s.get::<u64>("user_id").await.expect("get");
            }
            Route::ServerRead => {
                s.get::<Vec<(String, u32)>>("cart").await.expect("get");
            }
            Route::AddToCart => {
                let mut cart: Vec<(String, u32)> =
                    s.get("cart").await.expect("get").unwrap_or_default();
                cart.push((format!("sku-{i:06}"), 1));
                cart.truncate(25);
                s.insert("cart", &cart).await.expect("insert");
            }
            Route::BlindWrite => s.insert("seen", &i).await.expect("insert"),
            Route::Login => s.cycle_id().await.expect("cycle"),
            Route::Logout => s.invalidate().expect("invalidate"),
        }
        self.gimlet.commit(&s).await.expect("commit");
    }

    /// The mix, `tasks` at a time for `duration`: answers how many
    /// requests were made, and in what time.
    pub(crate) async fn mix(
        self: &Arc<Self>,
        cookies: &[String],
        duration: Duration,
        tasks: usize,
    ) -> (u64, Duration) {
        let cookies: Arc<[String]> = cookies.into();
        let start = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for t in 0..tasks {
            let (shop, cookies) = (self.clone(), cookies.clone());
            workers.spawn(async move {
                let mut done = 0u64;
                let mut i = t as u64;
                while start.elapsed() < duration {
                    let route = match i % 10 {
                        0..=6 => Route::ClientRead,
                        7 | 8 => Route::ServerRead,
                        _ => Route::AddToCart,
                    };
                    let cookie = &cookies[(i as usize).wrapping_mul(7919) % cookies.len()];
                    shop.request(route, cookie, i).await;
                    done += 1;
                    i += tasks as u64;
                }
                done
            });
        }
        let done = workers.join_all().await.iter().sum();
        (done, start.elapsed())
    }
}
