//! What the benchmarks' clients share: a cookie jar, a wait for a server
//! to listen, and a minimal HTTP/1.1 client on one keep-alive connection
//! for the benchmarks that send requests one after another.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The cookies a server set, as a browser keeps them.
#[derive(Debug, Default)]
pub(crate) struct Jar(BTreeMap<String, String>);

impl Jar {
    /// Keeps the `Set-Cookie` values of a response: a removal (`Max-Age=0`)
    /// drops its cookie.
    pub(crate) fn store(&mut self, headers: &reqwest::header::HeaderMap) {
        for value in headers.get_all("set-cookie") {
            let value = value.to_str().expect("ascii");
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((name, v)) = pair.split_once('=') {
                if value.contains("Max-Age=0") {
                    self.0.remove(name);
                } else {
                    self.0.insert(name.to_owned(), v.to_owned());
                }
            }
        }
    }

    /// The `Cookie` header that sends them all back.
    pub(crate) fn header(&self) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join("; ")
    }
}

/// Waits until something accepts connections at `addr` (`host:port`).
///
/// # Panics
///
/// When nothing does within `within`.
pub(crate) fn wait_until_listening(addr: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{addr} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A minimal HTTP/1.1 client on one keep-alive connection.
pub(crate) struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub(crate) fn connect(base: &str) -> Client {
        let addr = base.trim_start_matches("http://");
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            reader: BufReader::new(stream),
        }
    }

    /// Sends `GET path` with `cookie`, reads the whole response, and
    /// answers its status.
    pub(crate) fn get(&mut self, path: &str, cookie: &str) -> u16 {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n");
        if !cookie.is_empty() {
            request.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        request.push_str("\r\n");
        self.reader
            .get_mut()
            .write_all(request.as_bytes())
            .expect("send");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("a status line, not {line:?}"));
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("content-length");
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).expect("body");
        status
    }
}
