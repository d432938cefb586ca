//! Following a store's channel of changes into a [`NearCache`]: the loop
//! every store with a push channel (Redis pub/sub, PostgreSQL's
//! `LISTEN`) runs on each app server, and when it tells the cache it may
//! serve.
//!
//! A channel keeps nothing for a subscriber that is away, so the cache is
//! live only between a confirmed subscription and the moment it fails: the
//! reader ends, or a ping is not answered by the next one, a second
//! later. Reading and pinging run as two futures, since a read given up
//! halfway may lose its place in the stream.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::NearCache;
use crate::SessionId;

/// How often a subscription is pinged: one that stopped answering is
/// given up within about twice this.
pub const PING_EVERY: Duration = Duration::from_secs(1);

/// The wait before subscribing again after a failure.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// What a subscription's reader heard.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    /// The records of these ids changed or ended.
    Changed(Vec<SessionId>),
    /// The answer to a ping sent with [`Ping::Sent`].
    Pong,
}

/// How a ping went.
#[derive(Debug, PartialEq, Eq)]
pub enum Ping {
    /// Sent: its answer comes to the reader, as [`Heard::Pong`].
    Sent,
    /// Sent and answered already.
    Answered,
}

/// A store's channel of changes, as one app server subscribes to it.
pub trait ChangeChannel: Send + Sync + 'static {
    /// What reads a subscription.
    type Reader: ChangeReader;
    /// What pings it.
    type Pinger: ChangePinger;

    /// A confirmed subscription; `attempt` counts the tries so far (a
    /// store with several nodes may try them in turn).
    fn subscribe(
        &self,
        attempt: usize,
    ) -> impl Future<Output = Result<(Self::Reader, Self::Pinger), String>> + Send;

    /// The bound on a subscription and on a ping.
    fn timeout(&self) -> Duration;

    /// The store's name, for the log lines.
    fn name(&self) -> &'static str;
}

/// The reading half of a subscription.
pub trait ChangeReader: Send + 'static {
    /// The next thing heard; `None` when the subscription failed.
    fn next(&mut self) -> impl Future<Output = Option<Heard>> + Send;
}

/// The pinging half of a subscription.
pub trait ChangePinger: Send + 'static {
    /// Pings; `None` when the ping could not be sent.
    fn ping(&mut self) -> impl Future<Output = Option<Ping>> + Send;
}

/// Keeps `cache` told of every change `channel` carries, on the current
/// Tokio runtime, until `cache` is dropped. Answers `false`, and starts
/// nothing, outside a runtime.
pub fn follow(channel: impl ChangeChannel, cache: &Arc<NearCache>) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            store = channel.name(),
            "no Tokio runtime when Gimlet was built: no near cache"
        );
        return false;
    };
    cache.feed_down();
    runtime.spawn(run(channel, Arc::downgrade(cache)));
    true
}

async fn run(channel: impl ChangeChannel, cache: Weak<NearCache>) {
    let (store, mut attempt, mut warned) = (channel.name(), 0, false);
    while cache.strong_count() > 0 {
        let subscribed = tokio::time::timeout(channel.timeout(), channel.subscribe(attempt)).await;
        match subscribed {
            Ok(Ok((reader, pinger))) => {
                let Some(live) = cache.upgrade() else { return };
                live.feed_up();
                drop(live);
                if warned {
                    tracing::info!(store, "subscribed to the channel of changes again");
                }
                listen(&channel, reader, pinger, &cache).await;
                if let Some(cache) = cache.upgrade() {
                    cache.feed_down();
                }
                tracing::warn!(
                    store,
                    "lost the channel of changes: the near cache is off until it is back"
                );
                warned = true;
            }
            Ok(Err(error)) if !warned => {
                tracing::warn!(store, %error, "subscribing to the channel of changes failed");
                warned = true;
            }
            Err(_) if !warned => {
                tracing::warn!(store, "subscribing to the channel of changes timed out");
                warned = true;
            }
            _ => {}
        }
        attempt += 1;
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

/// Drops what the reader hears from the cache, until the reader ends, a
/// ping goes unanswered until the next, or the cache is dropped.
async fn listen(
    channel: &impl ChangeChannel,
    mut reader: impl ChangeReader,
    mut pinger: impl ChangePinger,
    cache: &Weak<NearCache>,
) {
    let answered = AtomicBool::new(true);
    let reading = async {
        while let Some(heard) = reader.next().await {
            match heard {
                Heard::Changed(ids) => {
                    let Some(cache) = cache.upgrade() else { return };
                    cache.changed(ids);
                }
                Heard::Pong => answered.store(true, Ordering::Relaxed),
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
            if cache.strong_count() == 0 || unanswered {
                return;
            }
            match tokio::time::timeout(channel.timeout(), pinger.ping()).await {
                Ok(Some(Ping::Sent)) => {}
                Ok(Some(Ping::Answered)) => answered.store(true, Ordering::Relaxed),
                _ => return,
            }
        }
    };
    // Either ends the subscription; a read given up with it is not resumed.
    tokio::select! {
        () = reading => {}
        () = pinging => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::mpsc;

    use super::*;
    use crate::SystemClock;

    /// A channel whose subscriptions the test feeds by hand; each ping is
    /// answered as the test says.
    struct Scripted {
        subscriptions: Mutex<mpsc::UnboundedReceiver<(Reader, Pinger)>>,
    }

    struct Reader(mpsc::UnboundedReceiver<Heard>);
    struct Pinger(Option<Ping>);

    impl ChangeChannel for Scripted {
        type Reader = Reader;
        type Pinger = Pinger;

        async fn subscribe(&self, _: usize) -> Result<(Reader, Pinger), String> {
            let next = self.subscriptions.lock().unwrap().try_recv();
            next.map_err(|_| "no subscription".to_owned())
        }

        fn timeout(&self) -> Duration {
            Duration::from_millis(100)
        }

        fn name(&self) -> &'static str {
            "scripted"
        }
    }

    impl ChangeReader for Reader {
        async fn next(&mut self) -> Option<Heard> {
            self.0.recv().await
        }
    }

    impl ChangePinger for Pinger {
        async fn ping(&mut self) -> Option<Ping> {
            match &self.0 {
                Some(Ping::Answered) => Some(Ping::Answered),
                Some(Ping::Sent) => Some(Ping::Sent),
                None => None,
            }
        }
    }

    async fn until(what: impl Fn() -> bool) {
        for _ in 0..600 {
            if what() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("never happened");
    }

    /// A cache followed through one scripted subscription, whose pings
    /// go as `ping` says; and the sender of what its reader hears.
    fn followed(ping: Ping) -> (Arc<NearCache>, mpsc::UnboundedSender<Heard>) {
        let cache = Arc::new(NearCache::new(10, 1 << 20, 30, Arc::new(SystemClock)));
        let (subscriptions, rx) = mpsc::unbounded_channel();
        let (heard, reader) = mpsc::unbounded_channel();
        let subscription = (Reader(reader), Pinger(Some(ping)));
        subscriptions.send(subscription).unwrap();
        let channel = Scripted {
            subscriptions: Mutex::new(rx),
        };
        assert!(follow(channel, &cache));
        (cache, heard)
    }

    #[tokio::test]
    async fn live_while_subscribed_and_down_once_the_reader_ends() {
        let (cache, heard) = followed(Ping::Answered);
        until(|| cache.is_live()).await;
        heard
            .send(Heard::Changed(vec![SessionId::generate().unwrap()]))
            .unwrap();
        drop(heard);
        until(|| !cache.is_live()).await;
    }

    /// A ping whose answer never comes takes the cache down by the next.
    #[tokio::test]
    async fn an_unanswered_ping_takes_the_cache_down() {
        let (cache, _heard) = followed(Ping::Sent);
        until(|| cache.is_live()).await;
        until(|| !cache.is_live()).await;
    }
}
