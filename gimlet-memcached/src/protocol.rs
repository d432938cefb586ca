//! The part of memcached's meta protocol Gimlet speaks: `mg` (value, CAS
//! token and remaining lifetime), `ms` (with compare-and-set, add mode and
//! an expiry), `md` (with compare-and-set), sent several at once and read
//! back in order. Written here rather than taken from a client crate: the
//! async ones send one command per round trip, or none of these flags.

use std::io;

use gimlet_core::backend::{BackendError, BackendErrorKind};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

/// The commands of one round trip, and how many replies they will get.
#[derive(Debug, Default)]
pub(crate) struct Pipeline {
    buf: Vec<u8>,
    count: usize,
    /// Whether a command changes anything: such a pipeline is never sent
    /// twice.
    writes: bool,
}

/// How an `ms` treats an item that is, or is not, there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetMode {
    /// Only if there is none (`ME`): a create.
    Add,
    /// Only if the item still has this CAS token (`C`).
    Replace(u64),
    /// Whatever is there.
    Overwrite,
}

impl Pipeline {
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether a command changes anything.
    pub(crate) fn writes(&self) -> bool {
        self.writes
    }

    /// `mn`: answers `MN`; nothing else.
    pub(crate) fn noop(&mut self) {
        self.line(format_args!("mn\r\n"));
    }

    /// `mg`: the item's value, CAS token and remaining lifetime.
    pub(crate) fn get(&mut self, key: &str) {
        self.line(format_args!("mg {key} v c t\r\n"));
    }

    /// `ms`: stores `data` under `key` until `expires_at` (Unix seconds; 0:
    /// never), as `mode` says; the reply carries the new CAS token.
    pub(crate) fn set(&mut self, key: &str, data: &[u8], mode: SetMode, expires_at: u64) {
        // memcached reads an expiry of more than 30 days as a Unix time,
        // and one in the past expires the item at once.
        self.writes = true;
        match mode {
            SetMode::Add => self.line(format_args!(
                "ms {key} {} T{expires_at} ME c\r\n",
                data.len()
            )),
            SetMode::Replace(cas) => self.line(format_args!(
                "ms {key} {} T{expires_at} C{cas} c\r\n",
                data.len()
            )),
            SetMode::Overwrite => {
                self.line(format_args!("ms {key} {} T{expires_at}\r\n", data.len()));
            }
        }
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `ma`: adds one to the counter `key` (made at 0, never expiring, if
    /// there is none) and answers its value.
    pub(crate) fn increment(&mut self, key: &str) {
        self.writes = true;
        self.line(format_args!("ma {key} N0 J0 v\r\n"));
    }

    /// `mg` of the value alone.
    pub(crate) fn value(&mut self, key: &str) {
        self.line(format_args!("mg {key} v\r\n"));
    }

    /// `md`: deletes `key`, only if it still has `cas` when one is given.
    pub(crate) fn delete(&mut self, key: &str, cas: Option<u64>) {
        self.writes = true;
        match cas {
            Some(cas) => self.line(format_args!("md {key} C{cas}\r\n")),
            None => self.line(format_args!("md {key}\r\n")),
        }
    }

    fn line(&mut self, line: std::fmt::Arguments<'_>) {
        use std::io::Write as _;
        // Writing into a Vec cannot fail.
        let _ = self.buf.write_fmt(line);
        self.count += 1;
    }
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `VA`: the item's value, CAS token and remaining lifetime in seconds
    /// (-1: none).
    Value { data: Vec<u8>, cas: u64, ttl: i64 },
    /// `HD`: done; the item's CAS token when it was asked for.
    Done { cas: u64 },
    /// `EN`: no such item.
    Miss,
    /// `NS`: not stored (an add found the item there).
    NotStored,
    /// `EX`: the item's CAS token differs.
    Exists,
    /// `NF`: no such item (a compare-and-set on a missing item).
    NotFound,
    /// `MN`: the answer to `mn`.
    Noop,
    /// `SERVER_ERROR …` for this one command (an item over the size limit,
    /// out of memory): the server goes on with the next command.
    Failed(String),
}

/// One connection to one server.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: BufStream<TcpStream>,
}

impl Connection {
    pub(crate) async fn connect(addr: &str) -> Result<Self, BackendError> {
        let stream = TcpStream::connect(addr).await.map_err(unavailable)?;
        stream.set_nodelay(true).map_err(unavailable)?;
        Ok(Connection {
            stream: BufStream::new(stream),
        })
    }

    /// The server's largest item, in bytes (`-I`), from `stats settings`.
    pub(crate) async fn item_size_max(&mut self) -> Result<usize, BackendError> {
        self.stream
            .write_all(b"stats settings\r\n")
            .await
            .map_err(unavailable)?;
        self.stream.flush().await.map_err(unavailable)?;
        let mut found = None;
        let mut line = String::new();
        loop {
            line.clear();
            let read = self
                .stream
                .read_line(&mut line)
                .await
                .map_err(unavailable)?;
            if read == 0 {
                return Err(unavailable(io::Error::from(io::ErrorKind::UnexpectedEof)));
            }
            let line = line.trim_end();
            if line == "END" {
                break;
            }
            if let Some(value) = line.strip_prefix("STAT item_size_max ") {
                found = value.parse().ok();
            }
        }
        found.ok_or_else(|| corrupt("stats settings without item_size_max"))
    }

    /// Whether the server closed this idle connection (it restarted, or
    /// timed the connection out), or sent something unasked: either way it
    /// must not be used. No I/O waits.
    pub(crate) fn is_stale(&self) -> bool {
        let mut byte = [0; 1];
        !matches!(
            self.stream.get_ref().try_read(&mut byte),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        )
    }

    /// Sends `pipeline` and reads its replies, in order. An error leaves
    /// the connection out of step: the caller drops it.
    pub(crate) async fn round_trip(
        &mut self,
        pipeline: &Pipeline,
    ) -> Result<Vec<Reply>, BackendError> {
        self.stream
            .write_all(&pipeline.buf)
            .await
            .map_err(unavailable)?;
        self.stream.flush().await.map_err(unavailable)?;
        let mut replies = Vec::with_capacity(pipeline.count);
        let mut line = Vec::new();
        for _ in 0..pipeline.count {
            replies.push(self.reply(&mut line).await?);
        }
        Ok(replies)
    }

    async fn reply(&mut self, line: &mut Vec<u8>) -> Result<Reply, BackendError> {
        line.clear();
        let read = self
            .stream
            .read_until(b'\n', line)
            .await
            .map_err(unavailable)?;
        if read == 0 {
            return Err(unavailable(io::Error::from(io::ErrorKind::UnexpectedEof)));
        }
        let text = std::str::from_utf8(line)
            .map_err(|_| corrupt("a reply that is not text"))?
            .trim_end_matches(['\r', '\n']);
        let mut words = text.split(' ');
        let code = words.next().unwrap_or_default();
        let flag = |words: std::str::Split<'_, char>, name: char| {
            words
                .clone()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|v| v.parse::<i64>().ok())
        };
        let reply = match code {
            "VA" => {
                let size: usize = words
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| corrupt("a VA reply without a size"))?;
                let cas = flag(words.clone(), 'c').unwrap_or_default();
                let ttl = flag(words, 't').unwrap_or(-1);
                let mut data = vec![0; size + 2];
                self.stream
                    .read_exact(&mut data)
                    .await
                    .map_err(unavailable)?;
                if !data.ends_with(b"\r\n") {
                    return Err(corrupt("a value not ended by CRLF"));
                }
                data.truncate(size);
                Reply::Value {
                    data,
                    cas: u64::try_from(cas).unwrap_or_default(),
                    ttl,
                }
            }
            "HD" => Reply::Done {
                cas: flag(words, 'c')
                    .and_then(|c| u64::try_from(c).ok())
                    .unwrap_or_default(),
            },
            "EN" => Reply::Miss,
            "NS" => Reply::NotStored,
            "EX" => Reply::Exists,
            "NF" => Reply::NotFound,
            "MN" => Reply::Noop,
            "SERVER_ERROR" => Reply::Failed(text.to_owned()),
            _ => {
                // CLIENT_ERROR or ERROR: the connection may be out of step.
                return Err(BackendError::new(
                    BackendErrorKind::Other,
                    format!("memcached answered: {text}"),
                ));
            }
        };
        Ok(reply)
    }
}

fn unavailable(error: io::Error) -> BackendError {
    BackendError::new(BackendErrorKind::Unavailable, error)
}

fn corrupt(what: &'static str) -> BackendError {
    BackendError::new(BackendErrorKind::Corrupt, what)
}
