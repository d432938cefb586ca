//! A subscription to one channel over a plain TCP connection, speaking
//! just the part of the Redis protocol a subscriber needs: `AUTH`,
//! `SUBSCRIBE`, `PING`, and the replies and messages they bring.
//!
//! Every write on every app server sends each subscribed app server one
//! message, so the cost of taking one in is paid per write, fleet-wide.
//! redis-rs's pub/sub client decodes each through its general parser and
//! forwards it between tasks; reading the few shapes a subscriber gets
//! straight off the socket costs a fraction of that (docs/benchmarks.md).
//! Connections over TLS or a Unix socket keep redis-rs's client.

use std::io;

use deadpool_redis::redis::{ConnectionAddr, ConnectionInfo};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The longest value a reply may carry: a message of changes is a few ids.
const MAX_BULK: usize = 1 << 20;

/// What the connection brought.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A message on the channel: its payload.
    Message(Vec<u8>),
    /// The answer to a `PING`.
    Pong,
}

/// A confirmed subscription: its two halves, to read and to ping from
/// two futures at once (reading is not cancellation-safe: a read given up
/// halfway loses its place in the stream).
pub(crate) struct Subscriber {
    pub(crate) reader: Reader,
    pub(crate) writer: Writer,
}

/// What the server sends.
pub(crate) struct Reader {
    reader: BufReader<OwnedReadHalf>,
    line: Vec<u8>,
}

/// What the subscriber sends.
pub(crate) struct Writer {
    writer: OwnedWriteHalf,
}

/// One element of a reply.
#[derive(Debug, PartialEq, Eq)]
enum Frame {
    Bulk(Vec<u8>),
    Int(i64),
    Simple(Vec<u8>),
}

fn broken(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("redis subscription: {what}"),
    )
}

impl Subscriber {
    /// Whether `info` is reached over plain TCP, which this speaks.
    pub(crate) fn speaks(info: &ConnectionInfo) -> bool {
        matches!(info.addr(), ConnectionAddr::Tcp(..))
    }

    /// Connects to the server `info` names, authenticates as it says, and
    /// subscribes to `channel`; answers once the server confirmed.
    pub(crate) async fn subscribe(info: &ConnectionInfo, channel: &str) -> io::Result<Subscriber> {
        let ConnectionAddr::Tcp(host, port) = info.addr() else {
            return Err(broken("not a plain TCP address"));
        };
        let stream = TcpStream::connect((host.as_str(), *port)).await?;
        stream.set_nodelay(true)?;
        let (reader, writer) = stream.into_split();
        let (mut reader, mut writer) = (
            Reader {
                reader: BufReader::new(reader),
                line: Vec::with_capacity(64),
            },
            Writer { writer },
        );
        let settings = info.redis_settings();
        if let Some(password) = settings.password() {
            let auth: Vec<&[u8]> = match settings.username() {
                Some(user) => vec![b"AUTH", user.as_bytes(), password.as_bytes()],
                None => vec![b"AUTH", password.as_bytes()],
            };
            writer.send(&auth).await?;
            match reader.reply().await? {
                Some(frames) if frames == [Frame::Simple(b"OK".to_vec())] => {}
                _ => return Err(broken("AUTH was refused")),
            }
        }
        writer.send(&[b"SUBSCRIBE", channel.as_bytes()]).await?;
        match reader.reply().await?.as_deref() {
            Some([Frame::Bulk(kind), Frame::Bulk(name), Frame::Int(_)])
                if kind == b"subscribe" && name == channel.as_bytes() => {}
            _ => return Err(broken("SUBSCRIBE was not confirmed")),
        }
        Ok(Subscriber { reader, writer })
    }
}

impl Writer {
    /// Sends a `PING`; its answer comes as [`Event::Pong`].
    pub(crate) async fn ping(&mut self) -> io::Result<()> {
        self.send(&[b"PING"]).await
    }

    async fn send(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let mut command = format!("*{}\r\n", parts.len()).into_bytes();
        for part in parts {
            command.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
            command.extend_from_slice(part);
            command.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&command).await
    }
}

impl Reader {
    /// The next message or answer; `None` when the server closed the
    /// connection.
    pub(crate) async fn next(&mut self) -> io::Result<Option<Event>> {
        let Some(frames) = self.reply().await? else {
            return Ok(None);
        };
        match <[Frame; 3]>::try_from(frames) {
            Ok([Frame::Bulk(kind), Frame::Bulk(_), Frame::Bulk(payload)]) if kind == b"message" => {
                Ok(Some(Event::Message(payload)))
            }
            Ok(_) => Err(broken("an unexpected reply")),
            Err(frames) => match frames.as_slice() {
                [Frame::Bulk(kind), Frame::Bulk(_)] if kind == b"pong" => Ok(Some(Event::Pong)),
                _ => Err(broken("an unexpected reply")),
            },
        }
    }

    /// One reply: an array's elements, or a simple string or integer as
    /// one element; an error reply is an error. `None` at the end of the
    /// stream.
    async fn reply(&mut self) -> io::Result<Option<Vec<Frame>>> {
        let Some((kind, value)) = self.header().await? else {
            return Ok(None);
        };
        let frames = match kind {
            b'*' => {
                let len = length(&value)?;
                let mut frames = Vec::with_capacity(len.min(8));
                for _ in 0..len {
                    let (kind, value) = self.header().await?.ok_or_else(|| broken("cut short"))?;
                    frames.push(self.frame(kind, value).await?);
                }
                frames
            }
            _ => vec![self.frame(kind, value).await?],
        };
        Ok(Some(frames))
    }

    async fn frame(&mut self, kind: u8, value: Vec<u8>) -> io::Result<Frame> {
        match kind {
            b'$' => {
                let len = length(&value)?;
                if len > MAX_BULK {
                    return Err(broken("a value too long"));
                }
                let mut bytes = vec![0; len + 2];
                self.reader.read_exact(&mut bytes).await?;
                if !bytes.ends_with(b"\r\n") {
                    return Err(broken("a value without its end"));
                }
                bytes.truncate(len);
                Ok(Frame::Bulk(bytes))
            }
            b':' => std::str::from_utf8(&value)
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Frame::Int)
                .ok_or_else(|| broken("a bad integer")),
            b'+' => Ok(Frame::Simple(value)),
            b'-' => Err(broken(&format!(
                "the server answered {}",
                String::from_utf8_lossy(&value)
            ))),
            _ => Err(broken("an unknown reply type")),
        }
    }

    /// A reply line: its type byte and the rest, without `\r\n`.
    async fn header(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        self.line.clear();
        let read = (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut self.line)
            .await?;
        if read == 0 {
            return Ok(None);
        }
        let Some(line) = self.line.strip_suffix(b"\r\n") else {
            return Err(broken("a line without its end"));
        };
        let (&kind, rest) = line.split_first().ok_or_else(|| broken("an empty line"))?;
        Ok(Some((kind, rest.to_vec())))
    }
}

/// The longest reply line read: a type, a length or a short status.
const MAX_LINE: u64 = 1024;

fn length(value: &[u8]) -> io::Result<usize> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| broken("a bad length"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::*;
    use deadpool_redis::redis::IntoConnectionInfo;

    /// A server that answers the subscription with `script`'s bytes after
    /// reading what the subscriber sends first.
    async fn serve(script: &'static [u8]) -> ConnectionInfo {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0; 256];
            let _ = socket.read(&mut buf).await;
            socket.write_all(script).await.unwrap();
            // Keep the connection open while the test reads.
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        format!("redis://127.0.0.1:{port}")
            .into_connection_info()
            .unwrap()
    }

    #[tokio::test]
    async fn messages_and_pongs_are_read_and_anything_else_refused() {
        let info = serve(
            b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n\
              *3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nab,cd\r\n\
              *2\r\n$4\r\npong\r\n$0\r\n\r\n\
              *3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$0\r\n\r\n\
              -ERR no\r\n",
        )
        .await;
        let mut reader = Subscriber::subscribe(&info, "ch").await.unwrap().reader;
        let next = reader.next().await.unwrap();
        assert_eq!(next, Some(Event::Message(b"ab,cd".to_vec())));
        assert_eq!(reader.next().await.unwrap(), Some(Event::Pong));
        assert_eq!(
            reader.next().await.unwrap(),
            Some(Event::Message(Vec::new()))
        );
        assert!(reader.next().await.is_err(), "an error reply");
    }

    #[tokio::test]
    async fn a_subscription_not_confirmed_fails() {
        for script in [
            &b"*3\r\n$9\r\nsubscribe\r\n$5\r\nother\r\n:1\r\n"[..],
            b"-NOAUTH Authentication required.\r\n",
            b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n$99999999\r\n",
        ] {
            let script: &'static [u8] = Box::leak(script.to_vec().into_boxed_slice());
            let info = serve(script).await;
            assert!(Subscriber::subscribe(&info, "ch").await.is_err());
        }
    }

    #[tokio::test]
    async fn a_value_longer_than_the_bound_is_refused() {
        let info = serve(
            b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$999999999\r\n",
        )
        .await;
        let mut reader = Subscriber::subscribe(&info, "ch").await.unwrap().reader;
        assert!(reader.next().await.is_err());
    }
}
