//! Changes on Redis, for the app servers' near caches: every commit
//! script (and every run of log out everywhere) publishes the keys of the
//! records it changed on one channel, `{prefix}changed`, comma-separated,
//! in the same atomic run; each app server with a near cache subscribes on
//! a connection of its own, and gimlet-core's loop
//! ([`gimlet_core::backend::changes`]) drops those ids from its cache as
//! the messages arrive, and keeps the cache off while the subscription is
//! down.
//!
//! A published message reaches every subscriber on every node of a
//! cluster, and the replicas' subscribers too, so one subscription on any
//! node hears every change.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis::aio::{PubSubSink, PubSubStream};
use deadpool_redis::redis::sentinel::Sentinel;
use deadpool_redis::redis::{self, Client};
use futures_util::StreamExt;
use gimlet_core::SessionId;
use gimlet_core::backend::NearCache;
use gimlet_core::backend::changes::{self, ChangeChannel, ChangePinger, ChangeReader, Heard, Ping};

use crate::RedisBackend;
use crate::connection::sentinel_node;
use crate::subscriber::{self, Event, Subscriber};
use crate::url::Target;

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
    /// Starts keeping `cache` told of every change. Not for a backend built
    /// on the application's own pool (no URL to subscribe with), nor
    /// outside a runtime.
    pub(crate) fn follow_changes_on(&self, cache: &Arc<NearCache>) -> bool {
        let Some(target) = self.target() else {
            tracing::warn!(
                "a Redis backend built on the application's pool cannot subscribe to changes: \
                 build it with RedisBackend::from_url for a near cache"
            );
            return false;
        };
        let channel = Channel {
            target,
            name: self.changes_channel().to_owned(),
            timeout: self.timeout_limit(),
        };
        changes::follow(channel, cache)
    }
}

/// The channel of changes as one app server subscribes to it.
struct Channel {
    target: Arc<Target>,
    name: String,
    timeout: Duration,
}

/// A subscription's reading half: on plain TCP, Gimlet's own
/// [`Subscriber`]; over TLS or a Unix socket, redis-rs's client.
enum Reader {
    Lean(subscriber::Reader),
    Client(PubSubStream),
}

/// Its pinging half.
enum Pinger {
    Lean(subscriber::Writer),
    Client(PubSubSink),
}

impl ChangeChannel for Channel {
    type Reader = Reader;
    type Pinger = Pinger;

    /// A confirmed subscription, on the node this attempt tries.
    async fn subscribe(&self, attempt: usize) -> Result<(Reader, Pinger), String> {
        let client = self.client(attempt).await.map_err(|e| e.to_string())?;
        let info = client.get_connection_info();
        if Subscriber::speaks(info) {
            let subscriber = Subscriber::subscribe(info, &self.name).await;
            let Subscriber { reader, writer } = subscriber.map_err(|e| e.to_string())?;
            return Ok((Reader::Lean(reader), Pinger::Lean(writer)));
        }
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&self.name).await?;
            Ok::<_, redis::RedisError>(pubsub.split())
        };
        let (sink, stream) = subscribed.await.map_err(|e| e.to_string())?;
        Ok((Reader::Client(stream), Pinger::Client(sink)))
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}

impl Channel {
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
                let node = sentinel_node(
                    *tls,
                    *insecure,
                    username.as_deref(),
                    password.as_deref(),
                    *db,
                )
                .into();
                let mut sentinel = Sentinel::build(sentinels.iter().map(String::as_str).collect())?;
                sentinel.async_master_for(service, Some(&node)).await
            }
        }
    }
}

impl ChangeReader for Reader {
    async fn next(&mut self) -> Option<Heard> {
        match self {
            Reader::Lean(reader) => match reader.next().await {
                Ok(Some(Event::Message(payload))) => Some(Heard::Changed(parse(&payload))),
                Ok(Some(Event::Pong)) => Some(Heard::Pong),
                _ => None,
            },
            Reader::Client(stream) => {
                let message = stream.next().await?;
                Some(Heard::Changed(parse(message.get_payload_bytes())))
            }
        }
    }
}

impl ChangePinger for Pinger {
    async fn ping(&mut self) -> Option<Ping> {
        match self {
            Pinger::Lean(writer) => writer.ping().await.ok().map(|()| Ping::Sent),
            // redis-rs's sink waits for the answer itself.
            Pinger::Client(sink) => sink
                .ping::<redis::Value>()
                .await
                .ok()
                .map(|_| Ping::Answered),
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
