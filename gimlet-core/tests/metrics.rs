//! The `metrics` Gimlet reports, through a recorder installed in this test
//! binary (one test: the recorder is global): each request's counters move
//! by exactly the backend calls it made, as `CountingBackend` counts them,
//! and by what they found; labels name the backend and the framework only.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{Browser, browser};
use gimlet_core::testing::{Counts, Rival, WithoutFeed};
use gimlet_core::{Gimlet, MemoryBackend};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// What moved since the last look: each counter's increase and each
/// histogram's values, by name and labels (`name{label=value,…}`), and
/// each gauge's value.
fn moved(snapshotter: &Snapshotter) -> BTreeMap<String, DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(_, _, _, value)| match value {
            DebugValue::Counter(n) => *n > 0,
            DebugValue::Histogram(values) => !values.is_empty(),
            DebugValue::Gauge(_) => true,
        })
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

fn counter(moved: &BTreeMap<String, DebugValue>, name: &str) -> u64 {
    let key = format!("{name}{{backend=memory,framework=test}}");
    match moved.get(&key) {
        Some(DebugValue::Counter(n)) => *n,
        None => 0,
        Some(other) => panic!("{key} is {other:?}"),
    }
}

/// Asserts that the counters moved by `counts`' calls, and by the given
/// heals, pushed and checked revocations and conflicts.
fn assert_moved(moved: &BTreeMap<String, DebugValue>, counts: Counts, found: [u64; 4]) {
    let calls = |n: usize| n as u64;
    assert_eq!(
        counter(moved, "gimlet_loads_total"),
        calls(counts.loads),
        "{moved:#?}"
    );
    assert_eq!(
        counter(moved, "gimlet_commits_total"),
        calls(counts.commits)
    );
    assert_eq!(
        counter(moved, "gimlet_round_trips_total"),
        calls(counts.round_trips()),
        "{moved:#?}"
    );
    assert_eq!(counter(moved, "gimlet_heals_total"), found[0], "{moved:#?}");
    let revoked = |how: &str| {
        let key =
            format!("gimlet_revoked_cookies_total{{backend=memory,framework=test,how={how}}}");
        match moved.get(&key) {
            Some(DebugValue::Counter(n)) => *n,
            _ => 0,
        }
    };
    assert_eq!(revoked("pushed"), found[1], "{moved:#?}");
    assert_eq!(revoked("checked"), found[2], "{moved:#?}");
    assert_eq!(counter(moved, "gimlet_update_conflicts_total"), found[3]);
    for (key, _) in moved.iter() {
        assert!(
            !key.contains("cart") && !key.contains("user"),
            "a key name in a label: {key}"
        );
    }
}

async fn request(b: &mut Browser, work: impl AsyncFnOnce(&gimlet_core::Session)) {
    b.reset_counts();
    let s = b.open();
    work(&s).await;
    b.commit(&s).await;
}

#[tokio::test]
async fn the_counters_move_by_the_calls_a_request_made_and_what_they_found() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let mut b = browser(|g| g);
    b.gimlet = b.gimlet.clone().serving("test");
    let _ = moved(&snapshotter);

    // A write: one commit, and the cookie it set.
    request(&mut b, async |s| s.insert("cart", &["gin"]).await.unwrap()).await;
    let after = moved(&snapshotter);
    assert_moved(&after, b.counts(), [0, 0, 0, 0]);
    let cookie = "gimlet_cookie_bytes{backend=memory,framework=test}";
    match after.get(cookie) {
        Some(DebugValue::Histogram(sizes)) => {
            let set: Vec<f64> = b
                .last
                .iter()
                .map(|c| c.split(';').next().unwrap().len() as f64)
                .collect();
            let sizes: Vec<f64> = sizes.iter().map(|s| s.into_inner()).collect();
            assert_eq!(sizes, set);
        }
        other => panic!("{other:?}"),
    }
    let took = "gimlet_backend_call_seconds{backend=memory,call=commit,framework=test}";
    assert!(
        matches!(after.get(took), Some(DebugValue::Histogram(t)) if t.len() == 1),
        "{after:#?}"
    );
    let gauge = "gimlet_memory_store_bytes{backend=memory}";
    assert!(
        matches!(after.get(gauge), Some(DebugValue::Gauge(bytes)) if bytes.into_inner() > 0.0),
        "{after:#?}"
    );

    // A read: one load.
    request(&mut b, async |s| {
        s.get::<Vec<String>>("cart").await.unwrap();
    })
    .await;
    assert_moved(&moved(&snapshotter), b.counts(), [0, 0, 0, 0]);

    // A copy of the cookies after a logout on this app server: refused on
    // what it heard, with no I/O.
    let copy = b.jar.clone();
    request(&mut b, async |s| s.invalidate().unwrap()).await;
    assert_moved(&moved(&snapshotter), b.counts(), [0, 0, 0, 0]);
    b.jar = copy;
    request(&mut b, async |s| {
        assert_eq!(s.get::<Vec<String>>("cart").await.unwrap(), None);
    })
    .await;
    assert_eq!(b.counts().round_trips(), 0);
    assert_moved(&moved(&snapshotter), b.counts(), [1, 1, 0, 0]);

    // A record lost behind this app server's back, on a store that does
    // not tell it: found gone by a load.
    let mut b = browser(|g| g);
    b.gimlet = Gimlet::builder()
        .secret(common::SECRET)
        .without_env()
        .host_prefix(false)
        .shared_backend(Arc::new(WithoutFeed(b.backend.clone())))
        .revalidate_after(std::time::Duration::ZERO)
        .build()
        .unwrap()
        .serving("test");
    request(&mut b, async |s| s.insert("cart", &["gin"]).await.unwrap()).await;
    let _ = moved(&snapshotter);
    let ids: Vec<_> = {
        let codec = gimlet_core::cookie::CookieCodec::new(
            &[gimlet_core::Secret::new(common::SECRET)],
            &[],
            false,
        )
        .unwrap();
        b.jar
            .iter()
            .map(|(n, v)| codec.decode(n, v).unwrap().id())
            .collect()
    };
    let ops = ids
        .into_iter()
        .map(gimlet_core::backend::Op::Delete)
        .collect();
    let inner: &MemoryBackend = b.backend.inner();
    gimlet_core::backend::Backend::commit(inner, &gimlet_core::backend::Batch { ops })
        .await
        .unwrap();
    let _ = moved(&snapshotter);
    request(&mut b, async |s| {
        assert_eq!(s.get::<Vec<String>>("cart").await.unwrap(), None);
    })
    .await;
    assert_moved(&moved(&snapshotter), b.counts(), [1, 0, 1, 0]);

    // An update that always loses: a conflict per round.
    let rival = Arc::new(Rival::new(MemoryBackend::new()));
    let gimlet = Gimlet::builder()
        .secret(common::SECRET)
        .without_env()
        .shared_backend(rival.clone())
        .build()
        .unwrap()
        .serving("test");
    let s = gimlet.open_from_headers([]);
    s.insert("n", &1u32).await.unwrap();
    let cookies = gimlet.commit(&s).await.unwrap();
    let header = cookies[0].split(';').next().unwrap().to_owned();
    let _ = moved(&snapshotter);
    let s = gimlet.open_from_headers([header.as_str()]);
    s.update("n", |n: &mut Option<u32>| *n = Some(2))
        .await
        .unwrap();
    assert!(gimlet.commit(&s).await.is_err());
    let after = moved(&snapshotter);
    assert_eq!(
        counter(&after, "gimlet_update_conflicts_total"),
        16,
        "{after:#?}"
    );
    assert_eq!(counter(&after, "gimlet_commits_total"), 17);
    assert_eq!(
        counter(&after, "gimlet_loads_total"),
        17,
        "the read and one per round"
    );

    // Imports from actix-session's cookie store: one imported, one refused
    // (a cookie under another key); neither reads a store.
    let peer = |key: &[u8]| {
        let mut jar = cookie::CookieJar::new();
        jar.private_mut(&cookie::Key::from(key))
            .add(cookie::Cookie::new("id", r#"{"user":"\"ana\""}"#));
        format!("id={}", jar.get("id").unwrap().value())
    };
    let gimlet = Gimlet::builder()
        .secret(common::SECRET)
        .without_env()
        .import(gimlet_core::import::Import::actix_session_cookie().private(&[9; 64]))
        .build()
        .unwrap()
        .serving("test");
    let _ = moved(&snapshotter);
    for key in [[9; 64], [3; 64]] {
        let s = gimlet.open_from_headers([peer(&key).as_str()]);
        s.get::<String>("user").await.unwrap();
        gimlet.commit(&s).await.unwrap();
    }
    let after = moved(&snapshotter);
    let imports = |outcome: &str| {
        let key = format!("gimlet_imports_total{{backend=none,framework=test,outcome={outcome}}}");
        match after.get(&key) {
            Some(DebugValue::Counter(n)) => *n,
            _ => 0,
        }
    };
    assert_eq!(
        (imports("imported"), imports("refused")),
        (1, 1),
        "{after:#?}"
    );
    assert!(
        !after.keys().any(|k| k.contains("round_trips")),
        "{after:#?}"
    );
}
