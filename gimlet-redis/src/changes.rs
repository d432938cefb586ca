//! Changes on Redis, for the app servers' near caches: every commit
//! script (and every run of log out everywhere) publishes the keys of the
//! records it changed on one channel, `{prefix}changed`, comma-separated,
//! in the same atomic run; each app server with a near cache subscribes on
//! a connection of its own and drops those ids from its cache as the
//! messages arrive.
//!
//! A published message reaches every subscriber on every node of a
//! cluster, and the replicas' subscribers too, so one subscription on any
//! node hears every change. Pub/sub keeps nothing for a subscriber that
//! is away: while the subscription is not confirmed, or after its
//! connection fails or stops answering pings, the cache is down (it
//! serves nothing, and drops what it held) until a new subscription is
//! confirmed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use deadpool_redis::redis::aio::{PubSubSink, PubSubStream};
use deadpool_redis::redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use deadpool_redis::redis::{self, Client, RedisConnectionInfo, TlsMode};
use futures_util::StreamExt;
use gimlet_core::SessionId;
use gimlet_core::backend::NearCache;

use crate::RedisBackend;
use crate::subscriber::{Event, Subscriber};
use crate::url::Target;

/// A confirmed subscription: on plain TCP, read by Gimlet's own
/// [`Subscriber`]; over TLS or a Unix socket, by redis-rs's client.
enum Subscription {
    Lean(Subscriber),
    Client(PubSubSink, PubSubStream),
}

/// How often an idle subscription is pinged: a connection that stopped
/// answering is given up within about twice this, plus the timeout.
const PING_EVERY: Duration = Duration::from_secs(1);

/// The wait before subscribing again after a failure.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// The channel of changes of the keys under `prefix`.
pub(crate) fn channel(prefix: &str) -> Arc<str> {
    format!("{prefix}changed").into()
}

/// The ids of a message: each record key's hash tag and hex rest (see
/// `RedisBackend::key`), read from its last `{`; what does not parse is
/// skipped.
fn parse(message: &[u8]) -> Vec<SessionId> {
    message
        .split(|&b| b == b',')
        .filter_map(id_of_key)
        .collect()
}

/// The id a record key names: `…{TTTT}` and 28 hex digits, the tag's four
/// letters each `@` + a nibble.
fn id_of_key(key: &[u8]) -> Option<SessionId> {
    let open = key.iter().rposition(|&b| b == b'{')?;
    let rest = key.get(open + 1..)?;
    let (tag, rest) = rest.split_at_checked(4)?;
    let hex = rest.strip_prefix(b"}")?;
    let mut bytes = [0u8; 16];
    for (i, pair) in tag.chunks(2).enumerate() {
        let [high, low] = [pair[0], pair[1]].map(|c| c.checked_sub(0x40).filter(|n| *n < 16));
        bytes[i] = high? << 4 | low?;
    }
    hex::decode_to_slice(hex, &mut bytes[2..]).ok()?;
    Some(SessionId::from_bytes(bytes))
}

impl RedisBackend {
    /// Starts the task that keeps `cache` told of every change, on the
    /// current Tokio runtime, until `cache` is dropped. Not for a backend
    /// built on the application's own pool (no URL to subscribe with), nor
    /// outside a runtime.
    pub(crate) fn follow_changes_on(&self, cache: &Arc<NearCache>) -> bool {
        let Some(target) = self.target() else {
            tracing::warn!(
                "a Redis backend built on the application's pool cannot subscribe to changes: \
                 build it with RedisBackend::from_url for a near cache"
            );
            return false;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no Tokio runtime when Gimlet was built: no near cache over Redis");
            return false;
        };
        cache.feed_down();
        let listener = Listener {
            target,
            channel: self.changes_channel().to_owned(),
            timeout: self.timeout_limit(),
            cache: Arc::downgrade(cache),
        };
        runtime.spawn(listener.run());
        true
    }
}

struct Listener {
    target: Arc<Target>,
    channel: String,
    timeout: Duration,
    cache: Weak<NearCache>,
}

impl Listener {
    async fn run(self) {
        let mut attempt = 0usize;
        let mut warned = false;
        while self.cache.strong_count() > 0 {
            let subscribed = tokio::time::timeout(self.timeout, self.subscribe(attempt)).await;
            match subscribed {
                Ok(Ok(subscription)) => {
                    let Some(cache) = self.cache.upgrade() else {
                        return;
                    };
                    cache.feed_up();
                    drop(cache);
                    if warned {
                        tracing::info!("subscribed to the Redis channel of changes again");
                    }
                    match subscription {
                        Subscription::Lean(subscriber) => self.listen_lean(subscriber).await,
                        Subscription::Client(sink, stream) => self.listen(sink, stream).await,
                    }
                    if let Some(cache) = self.cache.upgrade() {
                        cache.feed_down();
                    }
                    tracing::warn!(
                        "lost the Redis channel of changes: the near cache is off until it is back"
                    );
                    warned = true;
                }
                Ok(Err(e)) if !warned => {
                    tracing::warn!(error = %e, "subscribing to the Redis channel of changes failed");
                    warned = true;
                }
                Err(_) if !warned => {
                    tracing::warn!("subscribing to the Redis channel of changes timed out");
                    warned = true;
                }
                _ => {}
            }
            attempt += 1;
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }

    /// A confirmed subscription, on the node this attempt tries.
    async fn subscribe(&self, attempt: usize) -> Result<Subscription, String> {
        let client = self.client(attempt).await.map_err(|e| e.to_string())?;
        let info = client.get_connection_info();
        if Subscriber::speaks(info) {
            let subscriber = Subscriber::subscribe(info, &self.channel).await;
            return subscriber
                .map(Subscription::Lean)
                .map_err(|e| e.to_string());
        }
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, redis::RedisError>(pubsub.split())
        };
        let (sink, stream) = subscribed.await.map_err(|e| e.to_string())?;
        Ok(Subscription::Client(sink, stream))
    }

    /// Drops each message's ids from the cache, until the connection fails,
    /// a ping goes unanswered until the next, or the cache is dropped.
    async fn listen_lean(&self, subscriber: Subscriber) {
        let Subscriber {
            mut reader,
            mut writer,
        } = subscriber;
        let answered = AtomicBool::new(true);
        let reading = async {
            loop {
                match reader.next().await {
                    Ok(Some(Event::Message(payload))) => {
                        let Some(cache) = self.cache.upgrade() else {
                            return;
                        };
                        cache.changed(parse(&payload));
                    }
                    Ok(Some(Event::Pong)) => answered.store(true, Ordering::Relaxed),
                    _ => return,
                }
            }
        };
        let pinging = async {
            let mut ping = tokio::time::interval(PING_EVERY);
            ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ping.tick().await;
            loop {
                ping.tick().await;
                let unanswered = !answered.swap(false, Ordering::Relaxed);
                if self.cache.strong_count() == 0 || unanswered || writer.ping().await.is_err() {
                    return;
                }
            }
        };
        // Either ends the subscription; the read given up with it is not
        // resumed.
        tokio::select! {
            () = reading => {}
            () = pinging => {}
        }
    }

    /// A client for one node: the server; a cluster's seeds in turn; the
    /// primary the sentinels name now.
    async fn client(&self, attempt: usize) -> redis::RedisResult<Client> {
        match &*self.target {
            Target::Server(url) => Client::open(url.as_str()),
            Target::Cluster(nodes) => Client::open(nodes[attempt % nodes.len()].as_str()),
            Target::Sentinel {
                sentinels,
                service,
                tls,
                insecure,
                username,
                password,
                db,
            } => {
                let mut info = RedisConnectionInfo::default().set_db(*db);
                if let Some(username) = username {
                    info = info.set_username(username);
                }
                if let Some(password) = password {
                    info = info.set_password(password);
                }
                let mut node =
                    SentinelNodeConnectionInfo::default().set_redis_connection_info(info);
                if *tls {
                    node = node.set_tls_mode(if *insecure {
                        TlsMode::Insecure
                    } else {
                        TlsMode::Secure
                    });
                }
                let mut sentinel = Sentinel::build(sentinels.iter().map(String::as_str).collect())?;
                sentinel.async_master_for(service, Some(&node)).await
            }
        }
    }

    /// [`Listener::listen_lean`], on redis-rs's client.
    async fn listen(&self, mut sink: PubSubSink, mut stream: PubSubStream) {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { return };
                    let Some(cache) = self.cache.upgrade() else { return };
                    cache.changed(parse(message.get_payload_bytes()));
                }
                _ = ping.tick() => {
                    if self.cache.strong_count() == 0 {
                        return;
                    }
                    let answered = tokio::time::timeout(self.timeout, sink.ping::<redis::Value>()).await;
                    if !matches!(answered, Ok(Ok(_))) {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ids_of_a_message_of_keys_are_read_and_bad_keys_skipped() {
        let backend = RedisBackend::from_url("redis://127.0.0.1:1")
            .unwrap()
            .prefix("app,{x}:");
        let ids: Vec<SessionId> = (0..3).map(|_| SessionId::generate().unwrap()).collect();
        let keys: Vec<String> = ids.iter().map(|id| backend.key(id)).collect();
        let message = keys.join(",");
        assert_eq!(parse(message.as_bytes()), ids, "a prefix with , and {{ too");
        assert_eq!(parse(format!("zz,{message},").as_bytes()), ids);
        assert!(parse(b"").is_empty());
        assert!(parse(b"p:{@@@@}00").is_empty(), "too short");
        assert!(parse(b"p:{ZZZZ}00000000000000000000000000000000").is_empty());
        assert!(parse(&[0xff, b'{']).is_empty());
    }
}
