//! The suite's cases that drive whole sessions through [`Gimlet`], and the
//! check of an unreachable store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::suite::{SharedBackend, at_once, commit, id, without_feed, write};
use crate::Gimlet;
use crate::backend::{BackendErrorKind, Op, WriteMode};
use crate::testing::CountingBackend;

const SECRET: &str = "conformance suite secret, 32+ bytes long";

/// A Gimlet on `backend`, without its revocation feed: the I/O counts of
/// these cases must not depend on whether a feed has caught up yet.
fn gimlet(backend: SharedBackend) -> Gimlet {
    Gimlet::builder()
        .secret(SECRET)
        .shared_backend(without_feed(backend))
        .clientside_keys(["user_id"])
        .build()
        .expect("configuration")
}

fn cookie_header(set_cookies: &[String]) -> String {
    set_cookies
        .iter()
        .filter_map(|c| c.split(';').next())
        .filter(|pair| !pair.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Through a whole session: a commit of both channels is one backend call,
/// a later read of server data is one load of both channels, and a request
/// that only reads clientside keys makes none.
pub async fn session_round_trips_are_one_load_and_one_commit(backend: SharedBackend) {
    let counting = Arc::new(CountingBackend::new(backend));
    let gimlet = gimlet(counting.clone());
    let session = gimlet.open_from_headers([]);
    session.insert("user_id", &7).await.expect("insert");
    session.insert("cart", &vec!["gin"]).await.expect("insert");
    session
        .insert_with("theme", &"dark", crate::Placement::new().permanent(true))
        .await
        .expect("insert");
    let cookies = gimlet.commit(&session).await.expect("commit");
    assert_eq!(counting.counts().commits, 1);
    assert_eq!(cookies.len(), 2, "both channels have cookies");

    let header = cookie_header(&cookies);
    let session = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(session.get::<u32>("user_id").await.expect("get"), Some(7));
    assert_eq!(
        counting.counts().loads,
        0,
        "a clientside read made a backend call"
    );
    assert_eq!(
        session
            .get::<String>("theme")
            .await
            .expect("get")
            .as_deref(),
        Some("dark")
    );
    assert_eq!(
        session.get::<Vec<String>>("cart").await.expect("get"),
        Some(vec!["gin".into()])
    );
    assert_eq!(counting.counts().loads, 1, "both channels load in one call");
    assert!(gimlet.commit(&session).await.expect("commit").is_empty());
    assert_eq!(counting.counts().commits, 1, "a read-only request wrote");
}

/// 50 concurrent requests with the same cookies, each setting its own
/// server-side key: all 50 keys survive.
pub async fn concurrent_requests_of_one_session_all_survive(backend: SharedBackend) {
    let gimlet = gimlet(backend);
    let session = gimlet.open_from_headers([]);
    session.insert("base", &0).await.expect("insert");
    let header = cookie_header(&gimlet.commit(&session).await.expect("commit"));
    at_once(&gimlet, &header, 50, |session, i| async move {
        session
            .insert(&format!("key-{i}"), &i)
            .await
            .expect("insert");
    })
    .await;
    let session = gimlet.open_from_headers([header.as_str()]);
    let mut expected: Vec<(String, u32)> = (0..50).map(|i| (format!("key-{i}"), i)).collect();
    expected.push(("base".to_owned(), 0));
    expected.sort();
    let mut found = Vec::new();
    for key in session.keys().await.expect("keys") {
        let value = session
            .get::<u32>(&key)
            .await
            .expect("get")
            .expect("a value");
        found.push((key, value));
    }
    assert_eq!(found, expected);
}

/// The ids of the channels `set_cookies` carry, read with the suite's key.
fn ids(set_cookies: &[String]) -> Vec<crate::SessionId> {
    let codec = super::suite::codec();
    set_cookies
        .iter()
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| codec.decode(name, value).expect("a valid cookie").id())
        .collect()
}

/// A logout that lands while another request of the session is in flight
/// (it read the session before the logout and writes after it): the slow
/// request succeeds, but its write goes to a fresh session holding only
/// what it wrote. The old records stay deleted and the old cookie reaches
/// nothing, clientside data included.
pub async fn a_request_that_outlives_a_logout_does_not_resurrect(backend: SharedBackend) {
    let gimlet = gimlet(backend.clone());
    let session = gimlet.open_from_headers([]);
    session.insert("user_id", &7).await.expect("insert");
    session.insert("cart", &1).await.expect("insert");
    let first = gimlet.commit(&session).await.expect("commit");
    let old_ids = ids(&first);
    let header = cookie_header(&first);

    let slow = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(slow.get::<u32>("cart").await.expect("get"), Some(1));
    let logout = gimlet.open_from_headers([header.as_str()]);
    logout.invalidate().expect("invalidate");
    let removal = gimlet.commit(&logout).await.expect("logout commit");
    assert!(
        removal.iter().all(|c| c.contains("Max-Age=0")),
        "{removal:?}"
    );

    slow.insert("cart", &2).await.expect("insert");
    let healed = gimlet
        .commit(&slow)
        .await
        .expect("the slow request succeeds");
    let new_ids = ids(&healed);
    assert_eq!(new_ids.len(), 1, "{healed:?}");
    assert!(!old_ids.contains(&new_ids[0]), "the old id came back");
    assert_eq!(
        backend.load(&old_ids).await.expect("load"),
        vec![None],
        "the old record came back"
    );

    let after = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(after.get::<u32>("cart").await.expect("get"), None);
    assert_eq!(after.get::<u32>("user_id").await.expect("get"), None);
    let fresh = gimlet.open_from_headers([cookie_header(&healed).as_str()]);
    assert_eq!(fresh.get::<u32>("cart").await.expect("get"), Some(2));
    assert_eq!(fresh.get::<u32>("user_id").await.expect("get"), None);
    assert_eq!(fresh.keys().await.expect("keys"), ["cart"]);
}

/// A login cycles the ids while another request with the old cookie is in
/// flight: the old id never comes back.
pub async fn a_request_that_outlives_a_cycle_does_not_resurrect_the_old_id(backend: SharedBackend) {
    let gimlet = gimlet(backend.clone());
    let session = gimlet.open_from_headers([]);
    session.insert("cart", &1).await.expect("insert");
    let first = gimlet.commit(&session).await.expect("commit");
    let old_ids = ids(&first);
    let header = cookie_header(&first);

    let slow = gimlet.open_from_headers([header.as_str()]);
    slow.insert("late", &1).await.expect("insert");
    let login = gimlet.open_from_headers([header.as_str()]);
    login.cycle_id().await.expect("cycle");
    let cycled = gimlet.commit(&login).await.expect("commit");
    gimlet
        .commit(&slow)
        .await
        .expect("the slow request succeeds");

    assert_eq!(backend.load(&old_ids).await.expect("load"), vec![None]);
    let after = gimlet.open_from_headers([cookie_header(&cycled).as_str()]);
    assert_eq!(after.keys().await.expect("keys"), ["cart"]);
}

/// The record behind a cookie is lost (a flush, a restart without
/// persistence, an eviction, an admin's delete): the next write succeeds
/// on a fresh channel, and later reads see only the new values.
pub async fn a_lost_record_heals_on_the_next_write(backend: SharedBackend) {
    let gimlet = gimlet(backend.clone());
    let session = gimlet.open_from_headers([]);
    session.insert("user_id", &7).await.expect("insert");
    session.insert("cart", &1).await.expect("insert");
    let first = gimlet.commit(&session).await.expect("commit");
    let old_ids = ids(&first);
    let ops = old_ids.iter().map(|&id| Op::Delete(id)).collect();
    commit(&backend, ops).await.expect("delete");

    let header = cookie_header(&first);
    for _ in 0..3 {
        let session = gimlet.open_from_headers([header.as_str()]);
        session.insert("other", &2).await.expect("insert");
        let healed = gimlet.commit(&session).await.expect("no run of errors");
        let fresh = gimlet.open_from_headers([cookie_header(&healed).as_str()]);
        assert_eq!(fresh.keys().await.expect("keys"), ["other"]);
    }
}

/// A key with a NUL byte is a usage error, whatever the store.
pub async fn a_key_with_nul_is_a_usage_error(backend: SharedBackend) {
    let gimlet = gimlet(backend);
    let session = gimlet.open_from_headers([]);
    let err = session.insert("a\0b", &1).await.expect_err("refused");
    assert!(matches!(err, crate::Error::InvalidKey), "{err}");
    assert_eq!(err.status_code(), 400);
    assert!(session.get::<u32>("a\0b").await.is_err());
    session.insert("ok", &1).await.expect("insert");
    gimlet.commit(&session).await.expect("commit");
}

/// A TCP server on loopback that accepts connections and never says a
/// word: a store that hangs. It stops when the handle is dropped.
#[derive(Debug)]
pub struct SilentServer {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SilentServer {
    /// Starts listening on a port of its own.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        SilentServer { addr, task }
    }

    /// `host:port`, for a URL.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// For a backend whose store cannot be reached (nothing listens at its
/// address, or nothing answers), configured with `timeout`: load and commit
/// fail with `Unavailable` or `Timeout` within about twice the timeout,
/// keeping the driver's error as their source, and a session on it answers
/// 503. Not part of [`backend_conformance!`](crate::backend_conformance): the backend crate builds the
/// unreachable backend and calls it.
pub async fn unreachable_backend_fails_promptly(backend: SharedBackend, timeout: Duration) {
    let check = |err: &crate::backend::BackendError| {
        assert!(
            matches!(
                err.kind(),
                BackendErrorKind::Unavailable | BackendErrorKind::Timeout
            ),
            "{err:?}"
        );
    };
    let started = Instant::now();
    let err = backend.load(&[id()]).await.expect_err("a load must fail");
    check(&err);
    assert!(
        std::error::Error::source(&err).is_some(),
        "the driver's error is lost"
    );
    let batch = vec![Op::Write(write(id(), WriteMode::Create, &[("k", b"v")]))];
    let err = commit(&backend, batch)
        .await
        .expect_err("a commit must fail");
    check(&err);
    assert!(
        std::error::Error::source(&err).is_some(),
        "the driver's error is lost from the commit's"
    );

    let gimlet = gimlet(backend);
    let session = gimlet.open_from_headers([]);
    session
        .insert("k", &1)
        .await
        .expect("a write needs no backend");
    let err = gimlet
        .commit(&session)
        .await
        .expect_err("the commit must fail");
    assert_eq!(err.status_code(), 503, "{err}");
    let limit = timeout * 2 + Duration::from_secs(1);
    assert!(started.elapsed() < limit, "took {:?}", started.elapsed());
}
