//! A browser with a cookie jar, a manual clock and a counted memory
//! backend: enough to drive Gimlet request by request.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gimlet_core::testing::{CountingBackend, Counts, ManualClock};
use gimlet_core::{Gimlet, GimletBuilder, MemoryBackend, Session};

pub const SECRET: &str = "test secret: thirty-two bytes or more";
pub const START: u64 = 1_700_000_000;

/// An environment of these `GIMLET_*` variables, with the test secret
/// unless they set one: for `GimletBuilder::env_lookup`.
pub fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let mut map: std::collections::HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    map.entry("GIMLET_SECRET".into())
        .or_insert_with(|| SECRET.to_owned());
    move |name| map.get(name).cloned()
}

pub struct Browser {
    pub gimlet: Gimlet,
    pub backend: Arc<CountingBackend<MemoryBackend>>,
    pub clock: ManualClock,
    pub jar: BTreeMap<String, String>,
    /// The `Set-Cookie` values of the last response.
    pub last: Vec<String>,
}

/// A browser against Gimlet with a memory backend and `configure`'s settings.
pub fn browser(configure: impl FnOnce(GimletBuilder) -> GimletBuilder) -> Browser {
    let clock = ManualClock::new(START);
    let backend = Arc::new(CountingBackend::new(
        MemoryBackend::new().clock(clock.clone()),
    ));
    // Plain cookie names, so tests can name them; `cookies.rs` covers the
    // `__Host-` default.
    let builder = Gimlet::builder()
        .secret(SECRET)
        .host_prefix(false)
        .shared_backend(backend.clone())
        .clock(clock.clone());
    Browser {
        gimlet: configure(builder).build().expect("configuration"),
        backend,
        clock,
        jar: BTreeMap::new(),
        last: Vec::new(),
    }
}

/// A browser against Gimlet with no backend.
pub fn cookie_only(configure: impl FnOnce(GimletBuilder) -> GimletBuilder) -> Gimlet {
    configure(Gimlet::builder().secret(SECRET).host_prefix(false))
        .build()
        .expect("configuration")
}

impl Browser {
    pub fn header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Opens a session from the jar, as a request would.
    pub fn open(&self) -> Session {
        let header = self.header();
        self.gimlet.open_from_headers([header.as_str()])
    }

    /// Commits, stores the cookies in the jar, and returns them.
    pub async fn commit(&mut self, session: &Session) -> Vec<String> {
        let cookies = self.gimlet.commit(session).await.expect("commit");
        self.store(&cookies);
        self.last = cookies.clone();
        cookies
    }

    pub fn store(&mut self, set_cookies: &[String]) {
        for set_cookie in set_cookies {
            let pair = set_cookie.split(';').next().expect("a pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            if set_cookie.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub fn counts(&self) -> Counts {
        self.backend.counts()
    }

    pub fn reset_counts(&self) {
        self.backend.reset();
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// The names of the cookies set by the last response.
    pub fn last_names(&self) -> Vec<&str> {
        self.last
            .iter()
            .filter_map(|c| c.split('=').next())
            .collect()
    }
}

/// The counts of a request that made `loads` loads and `commits` commits
/// (and no other call).
pub fn calls(loads: usize, commits: usize) -> Counts {
    Counts {
        loads,
        commits,
        deletes_expired: 0,
        owner_calls: 0,
    }
}

pub fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

/// A logged-in session: `user_id` in the cookie, `cart` in the backend.
pub async fn logged_in(configure: impl FnOnce(GimletBuilder) -> GimletBuilder) -> Browser {
    let mut b = browser(|g| configure(g.clientside_keys(["user_id"])));
    let s = b.open();
    s.insert("user_id", &42).await.unwrap();
    s.insert("cart", &vec!["gin"]).await.unwrap();
    b.commit(&s).await;
    b.reset_counts();
    b
}

/// A browser holding a transient cookie with one clientside key
/// (`k` = 1), under `configure`'s settings.
pub async fn with_clientside_key(
    configure: impl FnOnce(GimletBuilder) -> GimletBuilder,
) -> Browser {
    let mut b = browser(configure);
    let s = b.open();
    s.insert_with("k", &1, gimlet_core::Placement::new().clientside(true))
        .await
        .expect("insert");
    b.commit(&s).await;
    b
}

/// A browser on a store with revocation off, holding a transient cookie
/// with one clientside key (`k` = 1) and no record behind it.
pub async fn clientside_only_without_revocation() -> Browser {
    with_clientside_key(|g| g.revocable(false)).await
}
