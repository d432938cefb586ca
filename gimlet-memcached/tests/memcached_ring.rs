//! What a ring of memcached servers does for sessions: a session's records
//! live on one server; a load is one round trip and so is the commit that
//! follows it; a server that is down fails its own sessions promptly with
//! a 503 while the others keep working; and when it comes back empty, its
//! sessions heal.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use gimlet_core::conformance::server_url;
use gimlet_core::testing::{CutProxy, WithoutFeed};
use gimlet_core::{Gimlet, SessionId};
use gimlet_memcached::MemcachedBackend;

const SECRET: &str = "memcached server tests, 32+ bytes";

/// A Gimlet on `backend`, without its feed of endings: its reads would
/// count among the round trips.
fn gimlet(backend: &MemcachedBackend) -> Gimlet {
    Gimlet::builder()
        .secret(SECRET)
        .without_env()
        .backend(WithoutFeed(backend.clone()))
        .build()
        .unwrap()
}

/// The `Cookie` header of `set_cookies` (removals left out).
fn header(set_cookies: &[String]) -> String {
    let pairs: Vec<&str> = set_cookies
        .iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .filter_map(|c| c.split(';').next())
        .collect();
    pairs.join("; ")
}

/// A session with a server key in each channel; its `Cookie` header.
async fn session(gimlet: &Gimlet) -> String {
    let s = gimlet.open_from_headers([]);
    s.insert("cart", &["gin"]).await.unwrap();
    s.insert_with(
        "remembered",
        &1,
        gimlet_core::Placement::new().permanent(true),
    )
    .await
    .unwrap();
    header(&gimlet.commit(&s).await.unwrap())
}

/// The ids the cookies of `header` name.
fn ids(header: &str) -> Vec<SessionId> {
    let codec =
        gimlet_core::cookie::CookieCodec::new(&[gimlet_core::Secret::new(SECRET)], &[], false)
            .unwrap();
    header
        .split("; ")
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| codec.decode(name, value).unwrap().id())
        .collect()
}

fn ring_url() -> Option<String> {
    server_url("GIMLET_TEST_MEMCACHED_RING_URL", "the memcached ring tests")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_s_records_live_on_one_server() {
    let Some(url) = ring_url() else { return };
    let ring = MemcachedBackend::from_url(&url).unwrap();
    let gimlet = gimlet(&ring);
    let servers: Vec<String> = url["memcache://".len()..]
        .split(',')
        .map(str::to_owned)
        .collect();
    let mut used = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let ids = ids(&session(&gimlet).await);
        assert_eq!(ids.len(), 2);
        let home = ring.server_of(&ids[0]).to_owned();
        assert_eq!(ring.server_of(&ids[1]), home);
        used.insert(home.clone());
        // Each server alone: only the home one holds the records.
        for server in &servers {
            let alone = MemcachedBackend::from_url(&format!("memcache://{server}")).unwrap();
            let found = gimlet_core::backend::Backend::load(&alone, &ids)
                .await
                .unwrap();
            let held = found.iter().filter(|r| r.is_some()).count();
            assert_eq!(held, if *server == home { 2 } else { 0 }, "{server}");
        }
    }
    assert!(
        used.len() > 1,
        "twelve sessions all on one server: {used:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_is_one_round_trip_and_so_is_the_commit_after_it() {
    let Some(url) = ring_url() else { return };
    let ring = MemcachedBackend::from_url(&url).unwrap();
    let gimlet = gimlet(&ring);
    let header = session(&gimlet).await;
    let before = ring.round_trips();
    let s = gimlet.open_from_headers([header.as_str()]);
    s.update("cart", |cart: &mut Option<Vec<String>>| {
        cart.get_or_insert_with(Vec::new).push("tonic".into());
    })
    .await
    .unwrap();
    s.insert_with(
        "remembered",
        &2,
        gimlet_core::Placement::new().permanent(true),
    )
    .await
    .unwrap();
    gimlet.commit(&s).await.unwrap();
    assert_eq!(ring.round_trips() - before, 2, "one load, one commit");
    let s = gimlet.open_from_headers([header.as_str()]);
    let cart: Vec<String> = s.get("cart").await.unwrap().unwrap();
    assert_eq!(cart, ["gin", "tonic"]);
}

/// A ring whose first server is reached through a proxy a test can cut.
async fn ring_with_a_cut_point(url: &str) -> (CutProxy, MemcachedBackend, String) {
    let servers: Vec<&str> = url["memcache://".len()..].split(',').collect();
    let (proxy, through) = CutProxy::in_front_of(&format!("memcache://{}", servers[0]))
        .await
        .unwrap();
    let first = &through["memcache://".len()..];
    let proxied = format!("memcache://{first},{}", servers[1..].join(","));
    let backend = MemcachedBackend::from_url(&proxied)
        .unwrap()
        .timeout(Duration::from_millis(500));
    (proxy, backend, first.to_owned())
}

/// Sessions until one lives on `wanted` and one does not.
async fn one_on_and_one_off(
    gimlet: &Gimlet,
    ring: &MemcachedBackend,
    wanted: &str,
) -> (String, String) {
    let (mut on, mut off) = (None, None);
    while on.is_none() || off.is_none() {
        let header = session(gimlet).await;
        if ring.server_of(&ids(&header)[0]) == wanted {
            on.get_or_insert(header);
        } else {
            off.get_or_insert(header);
        }
    }
    (on.unwrap(), off.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_fails_its_own_sessions_promptly_and_the_others_work() {
    let Some(url) = ring_url() else { return };
    let (proxy, ring, first) = ring_with_a_cut_point(&url).await;
    let gimlet = gimlet(&ring);
    let (on, off) = one_on_and_one_off(&gimlet, &ring, &first).await;
    proxy.cut();

    let started = Instant::now();
    let s = gimlet.open_from_headers([on.as_str()]);
    let error = s.get::<Vec<String>>("cart").await.unwrap_err();
    assert_eq!(error.status_code(), 503, "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "within the timeout"
    );
    let s = gimlet.open_from_headers([off.as_str()]);
    let cart: Vec<String> = s.get("cart").await.unwrap().unwrap();
    assert_eq!(cart, ["gin"], "another server's session keeps working");
    s.insert("cart", &["gin", "lime"]).await.unwrap();
    gimlet.commit(&s).await.unwrap();
    proxy.restore().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_back_empty_heals_its_sessions() {
    let Some(url) = ring_url() else { return };
    let (proxy, ring, first) = ring_with_a_cut_point(&url).await;
    let gimlet = gimlet(&ring);
    let (on, _) = one_on_and_one_off(&gimlet, &ring, &first).await;
    // A restart: every connection drops, and the data is gone.
    proxy.cut();
    let behind = url["memcache://".len()..].split(',').next().unwrap();
    let direct = MemcachedBackend::from_url(&format!("memcache://{behind}")).unwrap();
    let ops = ids(&on)
        .into_iter()
        .map(gimlet_core::backend::Op::Delete)
        .collect();
    gimlet_core::backend::Backend::commit(&direct, &gimlet_core::backend::Batch { ops })
        .await
        .unwrap();
    proxy.restore().await.unwrap();

    // The next request succeeds on a fresh session: no error, nothing old.
    let s = gimlet.open_from_headers([on.as_str()]);
    s.insert("after", &1).await.unwrap();
    let set_cookies = gimlet.commit(&s).await.unwrap();
    let healed = header(&set_cookies);
    let s = gimlet.open_from_headers([healed.as_str()]);
    assert_eq!(s.keys().await.unwrap(), ["after"]);
    assert!(
        ids(&healed).iter().all(|id| !ids(&on).contains(id)),
        "new ids"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_over_the_item_limit_fails_its_commit_and_the_backend_goes_on() {
    use gimlet_core::backend::{Backend, Batch, Op, Write, WriteMode};
    let Some(url) = server_url("GIMLET_TEST_MEMCACHED_URL", "the memcached item limit") else {
        return;
    };
    let backend = MemcachedBackend::from_url(&url).unwrap();
    let id = SessionId::generate().unwrap();
    let write = |value: Vec<u8>| Write {
        id,
        mode: WriteMode::Upsert,
        clear: false,
        set: vec![("big".to_owned(), value)],
        remove: Vec::new(),
        expect: Vec::new(),
        expires_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600,
        owner: None,
    };
    let too_big = Batch {
        ops: vec![Op::Write(write(vec![7; 1_100_000]))],
    };
    let error = backend.commit(&too_big).await.unwrap_err();
    assert!(format!("{error:?}").contains("too large"), "{error:?}");
    assert_eq!(backend.load(&[id]).await.unwrap(), [None]);
    let fits = Batch {
        ops: vec![Op::Write(write(vec![7; 100_000]))],
    };
    backend.commit(&fits).await.unwrap();
    let record = backend.load(&[id]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!(record["big"].len(), 100_000);
}

/// A batch of two writes whose second fails (its item over the limit): the
/// first is put back, so the batch applies nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_fails_puts_back_the_one_before_it() {
    use gimlet_core::backend::{Backend, Batch, Op, Write, WriteMode};
    let Some(url) = server_url("GIMLET_TEST_MEMCACHED_URL", "the memcached item limit") else {
        return;
    };
    let backend = MemcachedBackend::from_url(&url).unwrap();
    let first = SessionId::generate().unwrap();
    let second = SessionId::generate_beside(&first).unwrap();
    let expires_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let write = |id, mode, value: Vec<u8>| {
        Op::Write(Write {
            id,
            mode,
            clear: false,
            set: vec![("k".to_owned(), value)],
            remove: Vec::new(),
            expect: Vec::new(),
            expires_at,
            owner: None,
        })
    };
    let created = Batch {
        ops: vec![
            write(first, WriteMode::Create, vec![1]),
            write(second, WriteMode::Create, vec![1]),
        ],
    };
    backend.commit(&created).await.unwrap();
    let failing = Batch {
        ops: vec![
            write(first, WriteMode::Update, vec![2]),
            write(second, WriteMode::Update, vec![7; 1_100_000]),
        ],
    };
    let error = backend.commit(&failing).await.unwrap_err();
    assert!(format!("{error:?}").contains("too large"), "{error:?}");
    let records = backend.load(&[first, second]).await.unwrap();
    for record in records {
        assert_eq!(record.unwrap()["k"], [1], "the batch applied nothing");
    }
}
