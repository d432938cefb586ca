//! Round trips as they cross the wire: a proxy between the backend and
//! Redis counts the exchanges (the client speaks, then the server answers).
//! A load of both channels is one exchange, and so is a commit: an extra
//! command after the script, or two separate `HGETALL`s, fail here.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use gimlet_core::testing::WithoutFeed;
use gimlet_core::{Gimlet, Placement};
use gimlet_redis::RedisBackend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Forwards connections to `target`, counting exchanges over all of them.
struct Proxy {
    url: String,
    exchanges: Arc<AtomicUsize>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let exchanges = Arc::new(AtomicUsize::new(0));
        let counter = exchanges.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&target).await.unwrap();
                tokio::spawn(forward(client, server, counter.clone()));
            }
        });
        Proxy {
            url: format!("redis://{addr}/"),
            exchanges,
        }
    }

    /// Exchanges since the last call.
    fn take(&self) -> usize {
        self.exchanges.swap(0, Ordering::SeqCst)
    }
}

/// Copies both ways; a client chunk that follows server data (or opens
/// the connection) starts a new exchange.
async fn forward(client: TcpStream, server: TcpStream, exchanges: Arc<AtomicUsize>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let client_spoke_last = Arc::new(AtomicBool::new(false));
    let spoke = client_spoke_last.clone();
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = client_read.read(&mut buf).await {
            if !spoke.swap(true, Ordering::SeqCst) {
                exchanges.fetch_add(1, Ordering::SeqCst);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = server_read.read(&mut buf).await {
            client_spoke_last.store(false, Ordering::SeqCst);
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(up, down);
}

fn cookie_header(set_cookies: &[String]) -> String {
    set_cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_and_a_commit_are_one_exchange_each_on_the_wire() {
    let Some(url) = common::url("a_load_and_a_commit_are_one_exchange_each_on_the_wire") else {
        return;
    };
    let target = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let proxy = Proxy::start(target).await;
    let unique = gimlet_core::SessionId::generate().unwrap();
    let backend = RedisBackend::from_url(&proxy.url)
        .unwrap()
        .prefix(format!("gimlet-wire:{unique}:"));
    backend.connect().await.unwrap();
    // Without the revocation feed, whose reads of its stream (a few a
    // second, whatever the traffic) would cross this wire too.
    let gimlet = Gimlet::builder()
        .secret("round trip test secret, 32 bytes long")
        .backend(WithoutFeed(backend))
        .clientside_keys(["user_id"])
        .revalidate_after(Duration::ZERO)
        .build()
        .unwrap();

    // Warm up: the script is loaded by its first use.
    let warm = gimlet.open_from_headers([]);
    warm.insert("k", &1).await.unwrap();
    gimlet.commit(&warm).await.unwrap();
    proxy.take();

    // A new session in both channels: one commit.
    let session = gimlet.open_from_headers([]);
    session.insert("cart", &1).await.unwrap();
    session
        .insert_with("theme", &"dark", Placement::new().permanent(true))
        .await
        .unwrap();
    session.insert("user_id", &7).await.unwrap();
    let header = cookie_header(&gimlet.commit(&session).await.unwrap());
    assert_eq!(proxy.take(), 1, "a commit of two new channels");

    // A read of server data: one load of both channels.
    let session = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(session.get::<u32>("cart").await.unwrap(), Some(1));
    assert_eq!(
        session.get::<String>("theme").await.unwrap().as_deref(),
        Some("dark")
    );
    assert_eq!(proxy.take(), 1, "a load of two channels");

    // Writes to both channels: one commit.
    session.insert("cart", &2).await.unwrap();
    session
        .insert_with("theme", &"light", Placement::new().permanent(true))
        .await
        .unwrap();
    assert!(gimlet.commit(&session).await.unwrap().is_empty());
    assert_eq!(proxy.take(), 1, "a commit of two channels");

    // A clientside read whose check is due: one load.
    let session = gimlet.open_from_headers([header.as_str()]);
    assert_eq!(session.get::<u32>("user_id").await.unwrap(), Some(7));
    assert_eq!(proxy.take(), 1, "a revalidation check");

    // A logout: one commit deleting both records.
    session.invalidate().unwrap();
    gimlet.commit(&session).await.unwrap();
    assert_eq!(proxy.take(), 1, "a logout");
}
