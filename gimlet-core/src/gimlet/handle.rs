//! The `Gimlet` handle: a cheap clone of the engine, which opens a request's
//! session and commits it.
//!
//! `impl Gimlet` is here, and in two feature files: `owners.rs` (log out
//! everywhere) and `crate::adapter` (`finish`, the end of a request as an
//! adapter drives it). `builder.rs` makes one.

use std::fmt;
use std::sync::Arc;

use super::GimletBuilder;
use crate::backend::Backend;
use crate::engine::Engine;
use crate::{Error, Session};

/// Gimlet's engine: everything a request needs to open and commit sessions.
///
/// Build one at startup with [`Gimlet::builder`], hand it to your framework's
/// adapter, and clone it freely (it is an `Arc`). Adapters call
/// [`Gimlet::open_from_headers`] before the handler and [`Gimlet::commit`]
/// after it.
///
/// # Driving a request by hand
///
/// This is all an adapter does, with the HTTP parts left out:
///
/// ```
/// use gimlet_core::{Gimlet, MemoryBackend, Placement};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), gimlet_core::Error> {
/// let gimlet = Gimlet::builder()
///     .secret("a secret of at least thirty-two bytes!")
///     .backend(MemoryBackend::new())
///     .clientside_keys(["user_id"])
///     .build()
///     .expect("valid configuration");
///
/// // Request 1 carries no cookie.
/// let session = gimlet.open_from_headers([]); // no I/O
/// session.insert("user_id", &42_u64).await?; // whitelisted: lives in the cookie
/// session.insert("cart", &vec!["gin", "lime"]).await?; // lives in the backend
/// let set_cookies: Vec<String> = gimlet.commit(&session).await?; // one backend write
/// assert_eq!(set_cookies.len(), 1); // the transient cookie, `gimlet-n=…`
///
/// // Request 2 sends the cookie back.
/// let cookie_header = set_cookies[0].split(';').next().unwrap().to_owned();
/// let session = gimlet.open_from_headers([cookie_header.as_str()]);
/// assert_eq!(session.get::<u64>("user_id").await?, Some(42)); // no I/O
/// let cart: Option<Vec<String>> = session.get("cart").await?; // one load
/// assert_eq!(cart.unwrap(), ["gin", "lime"]);
/// assert!(gimlet.commit(&session).await?.is_empty()); // read-only: no cookie, no write
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Gimlet {
    pub(crate) engine: Arc<Engine>,
}

impl fmt::Debug for Gimlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.engine;
        f.debug_struct("Gimlet")
            .field("codec", &e.codec)
            .field("backend", &e.backend)
            .field("cookies", &e.cookies)
            .field("clientside_keys", &e.clientside_keys)
            .field("permanent_keys", &e.permanent_keys)
            .field("lifetimes", &e.lifetimes)
            .field("revocations", &e.revocations)
            .field("near_cache", &e.near_cache)
            .finish_non_exhaustive()
    }
}

impl Gimlet {
    /// Starts a configuration.
    pub fn builder() -> GimletBuilder {
        GimletBuilder::new()
    }

    /// Names the framework this Gimlet serves (`axum`, `actix`, `rocket`):
    /// the `framework` label of its metrics. Each adapter calls it when it
    /// takes the Gimlet; the first name given stays.
    #[must_use]
    pub fn serving(self, framework: &'static str) -> Self {
        let _ = self.engine.framework.set(framework);
        self
    }

    /// Opens a session from the request's cookies, given as name-value
    /// pairs. It does no I/O and no cryptography: it keeps the two Gimlet
    /// cookies, which are verified when the handler first uses the session,
    /// so a request that never touches it pays for nothing. A cookie that
    /// fails to verify, or has expired, counts as absent and its channel
    /// starts fresh.
    pub fn open<'a, I>(&self, cookies: I) -> Session
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut text = Vec::new();
        for (name, value) in cookies {
            if self.engine.cookies.named(name.as_bytes()).is_some() {
                text.extend([name, "=", value, ";"].iter().flat_map(|s| s.bytes()));
            }
        }
        Session::open(self.engine.clone(), text)
    }

    /// Opens a session from the values of the request's `Cookie` headers:
    /// it copies them, and scans them at the first use. Malformed pairs
    /// are skipped.
    pub fn open_from_headers<'a, I>(&self, headers: I) -> Session
    where
        I: IntoIterator<Item = &'a str>,
    {
        self.open_from_header_bytes(headers.into_iter().map(str::as_bytes))
    }

    /// Like [`Gimlet::open_from_headers`], with the header values as bytes,
    /// as HTTP sends them: adapters need not check that they are text (only
    /// Gimlet's own cookies are, at the first use).
    pub fn open_from_header_bytes<'a, I>(&self, headers: I) -> Session
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut headers = headers.into_iter();
        let mut text = headers.next().map(<[u8]>::to_vec).unwrap_or_default();
        for header in headers {
            text.push(b';');
            text.extend_from_slice(header);
        }
        Session::open(self.engine.clone(), text)
    }

    /// Like [`Gimlet::open_from_header_bytes`], for an adapter that can
    /// also show the request's other headers: `header` answers a lower-case
    /// name with the first value. Only while cookies have never come back
    /// are any read (`Host`, `X-Forwarded-Proto`, `Forwarded`, `Origin`,
    /// `Referer`), to warn once, in the log, when `Secure` cookies are
    /// served over plain HTTP, where browsers drop them.
    pub fn open_request<'a, 'h, I>(
        &self,
        cookies: I,
        header: impl Fn(&'static str) -> Option<&'h [u8]>,
    ) -> Session
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let session = self.open_from_header_bytes(cookies);
        let engine = &self.engine;
        if engine.transport.armed() {
            let mut state = session.state();
            let without_cookie = !state.has_gimlet_cookie(engine);
            if without_cookie && engine.transport.inspect(header) {
                state.suspect();
            }
        }
        session
    }

    /// Commits the session at the end of the request: at most one backend
    /// round trip carrying only what changed, then the `Set-Cookie` header
    /// values to append to the response (often none).
    ///
    /// # Errors
    ///
    /// A backend failure. The response should then answer
    /// [`Error::status_code`] and send none of the session's cookies: the
    /// batch was not applied, so a cookie would point at unsaved state.
    pub async fn commit(&self, session: &Session) -> Result<Vec<String>, Error> {
        session.commit().await
    }

    /// The configured backend, if any.
    pub fn backend(&self) -> Option<&Arc<dyn Backend>> {
        self.engine.backend.as_ref()
    }

    /// This app server's near cache ([`GimletBuilder::near_cache_bytes`](crate::GimletBuilder::near_cache_bytes)):
    /// whether it serves, what it holds. `None` without one.
    pub fn near_cache(&self) -> Option<crate::backend::NearCacheStatus> {
        self.engine.near_cache.as_ref().map(|cache| cache.status())
    }

    /// Waits until this app server has read its store's log of endings
    /// (at start it replays the last window), at most `timeout`; answers
    /// whether it has. Until then every cookie is checked on use: safe, but
    /// a load per request, so an application may wait for this before it
    /// takes traffic. With a store that does not push, at once.
    pub async fn feed_caught_up(&self, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.engine.revocations.caught_up() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

impl Session {
    /// The [`Gimlet`](crate::Gimlet) this session was opened by: for
    /// [`Gimlet::sessions_of`](crate::Gimlet::sessions_of) and
    /// [`Gimlet::end_sessions_of`](crate::Gimlet::end_sessions_of) from a
    /// handler that only has the session.
    pub fn gimlet(&self) -> crate::Gimlet {
        crate::Gimlet {
            engine: self.inner.engine.clone(),
        }
    }
}
