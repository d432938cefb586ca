//! A minimal HTTP/1.1 client on one keep-alive connection, for the
//! benchmarks that send requests one after another and read every byte.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

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
