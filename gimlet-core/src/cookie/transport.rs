//! The one warning about `Secure` cookies on plain HTTP.
//!
//! Browsers drop a `Secure` cookie set over plain HTTP (on any host but
//! localhost), so every request of theirs starts a new session: "visit 1"
//! forever, and a login that never sticks. Gimlet's cookies are `Secure`
//! by default, rightly for production; the developer who serves the app
//! over plain HTTP under another name hears about it once, in the log,
//! with the fix. Two signs tell:
//!
//! - a request without a Gimlet cookie whose headers show plain HTTP on a
//!   host that is not loopback: `X-Forwarded-Proto: http` (or `Forwarded:
//!   proto=http`), or an `Origin` or `Referer` of `http://` on its own host;
//!   the warning comes at once;
//! - otherwise, [`DROPPED_AFTER`] new sessions started for such requests
//!   (not loopback, not forwarded as HTTPS) with no request ever coming back
//!   with a Gimlet cookie.
//!
//! Once a verified Gimlet cookie comes back, cookies evidently reach the
//! app, and the watch is off for good: from then on it costs a request one
//! relaxed atomic load.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// New sessions, on requests that may have dropped their cookie, after
/// which the watch warns if no cookie ever came back.
pub(crate) const DROPPED_AFTER: u32 = 10;

/// Whether anything is still to be said, and the count of suspect new
/// sessions.
#[derive(Debug)]
pub(crate) struct TransportWatch {
    /// Cookies are `Secure`, nothing has been said, and no cookie has come
    /// back yet.
    armed: AtomicBool,
    suspect_sessions: AtomicU32,
}

/// What a request's headers say of how it reached the app.
#[derive(Debug, PartialEq, Eq)]
enum Transport {
    /// Plain HTTP to a host that is not loopback.
    Plain,
    /// HTTPS, or loopback, where browsers keep `Secure` cookies.
    Kept,
    /// Nothing says.
    Unknown,
}

impl TransportWatch {
    pub(crate) fn new(secure: bool) -> Self {
        TransportWatch {
            armed: AtomicBool::new(secure),
            suspect_sessions: AtomicU32::new(0),
        }
    }

    pub(crate) fn armed(&self) -> bool {
        self.armed.load(Ordering::Relaxed)
    }

    /// A request without a Gimlet cookie, through its headers (`header`
    /// answers a lower-case name): warns at once when they show plain HTTP;
    /// answers whether a new session for it counts as suspect.
    pub(crate) fn inspect<'h>(&self, header: impl Fn(&'static str) -> Option<&'h [u8]>) -> bool {
        let host = header("x-forwarded-host")
            .or_else(|| header("host"))
            .and_then(|h| std::str::from_utf8(h).ok())
            .map(|h| h.split(',').next().unwrap_or(h).trim());
        match transport(host, &header) {
            Transport::Plain => {
                if self.armed.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        host = host.unwrap_or(""),
                        "gimlet: a request reached {} over plain HTTP, and the session cookies \
                         are Secure: browsers drop them there (on any host but localhost), so \
                         every request starts a new session. Serve the app over HTTPS; behind \
                         a proxy that ends TLS, have it send X-Forwarded-Proto: https; to \
                         develop over plain HTTP, set GIMLET_COOKIE_SECURE=0 (or \
                         GimletBuilder::secure(false))",
                        host.unwrap_or("the app"),
                    );
                }
                false
            }
            Transport::Kept => false,
            Transport::Unknown => true,
        }
    }

    /// A verified Gimlet cookie came back: cookies reach the app.
    pub(crate) fn cookie_returned(&self) {
        if self.armed.load(Ordering::Relaxed) {
            self.armed.store(false, Ordering::Relaxed);
        }
    }

    /// A new session's cookie went to a suspect request.
    pub(crate) fn suspect_session(&self) {
        let count = self.suspect_sessions.fetch_add(1, Ordering::Relaxed) + 1;
        if count >= DROPPED_AFTER && self.armed.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                sessions = count,
                "gimlet: {count} sessions were started for requests without a session \
                 cookie, and no request has come back with one. If the app is served over \
                 plain HTTP (on any host but localhost), browsers drop its Secure cookies, so \
                 every request starts a new session: serve it over HTTPS, or, to develop over \
                 plain HTTP, set GIMLET_COOKIE_SECURE=0 (or GimletBuilder::secure(false))"
            );
        }
    }
}

/// What the headers say; `host` is the request's own.
fn transport<'h>(
    host: Option<&str>,
    header: &impl Fn(&'static str) -> Option<&'h [u8]>,
) -> Transport {
    if host.is_some_and(loopback) {
        return Transport::Kept;
    }
    let proto = header("x-forwarded-proto")
        .and_then(|p| p.split(|&b| b == b',').next())
        .map(<[u8]>::trim_ascii)
        .or_else(|| forwarded_proto(header("forwarded")?));
    match proto {
        Some(p) if p.eq_ignore_ascii_case(b"https") => return Transport::Kept,
        Some(p) if p.eq_ignore_ascii_case(b"http") => return Transport::Plain,
        _ => {}
    }
    let Some(host) = host else {
        return Transport::Unknown;
    };
    // A page of this host over http:// sent the request: a same-origin
    // form's `Origin`, or a link's `Referer`.
    for name in ["origin", "referer"] {
        let Some(url) = header(name) else { continue };
        if let Some(rest) = url.strip_prefix(b"http://") {
            let url_host = rest.split(|&b| b == b'/').next().unwrap_or(rest);
            if url_host.eq_ignore_ascii_case(host.as_bytes()) {
                return Transport::Plain;
            }
        } else if url.starts_with(b"https://") {
            return Transport::Kept;
        }
    }
    Transport::Unknown
}

/// The first `proto=` of a `Forwarded` header.
fn forwarded_proto(forwarded: &[u8]) -> Option<&[u8]> {
    let first = forwarded.split(|&b| b == b',').next()?;
    first.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let (name, value) = pair.split_at(pair.iter().position(|&b| b == b'=')?);
        name.eq_ignore_ascii_case(b"proto")
            .then(|| {
                value[1..]
                    .trim_ascii_start()
                    .strip_prefix(b"\"")
                    .unwrap_or(&value[1..])
            })
            .map(|v| v.strip_suffix(b"\"").unwrap_or(v))
    })
}

/// Hosts browsers treat as secure contexts even over plain HTTP.
fn loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => return v6.split(']').next() == Some("::1"),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(
        pairs: &'a [(&'static str, &'a str)],
    ) -> impl Fn(&'static str) -> Option<&'a [u8]> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_bytes())
        }
    }

    fn verdict(pairs: &[(&'static str, &str)]) -> Transport {
        let header = headers(pairs);
        let host = header("host").and_then(|h| std::str::from_utf8(h).ok());
        transport(host, &header)
    }

    #[test]
    fn plain_http_on_a_host_that_is_not_loopback_is_told_by_its_headers() {
        let cases: [(&[(&str, &str)], Transport); 12] = [
            (&[("host", "myapp.test:3000")], Transport::Unknown),
            (
                &[
                    ("host", "myapp.test:3000"),
                    ("referer", "http://myapp.test:3000/cart"),
                ],
                Transport::Plain,
            ),
            (
                &[
                    ("host", "myapp.test:3000"),
                    ("origin", "http://myapp.test:3000"),
                ],
                Transport::Plain,
            ),
            (
                &[("host", "myapp.test"), ("referer", "http://other.example/")],
                Transport::Unknown,
            ),
            (
                &[("host", "myapp.test"), ("origin", "https://myapp.test")],
                Transport::Kept,
            ),
            (
                &[("host", "myapp.test"), ("x-forwarded-proto", "https")],
                Transport::Kept,
            ),
            (
                &[("host", "myapp.test"), ("x-forwarded-proto", "http, https")],
                Transport::Plain,
            ),
            (
                &[
                    ("host", "myapp.test"),
                    ("forwarded", "for=1.2.3.4;proto=http"),
                ],
                Transport::Plain,
            ),
            (
                &[("host", "myapp.test"), ("forwarded", "proto=\"https\"")],
                Transport::Kept,
            ),
            (
                &[
                    ("host", "localhost:8080"),
                    ("referer", "http://localhost:8080/"),
                ],
                Transport::Kept,
            ),
            (
                &[("host", "127.0.0.1:8080"), ("x-forwarded-proto", "http")],
                Transport::Kept,
            ),
            (
                &[("host", "[::1]:8080"), ("origin", "http://[::1]:8080")],
                Transport::Kept,
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(verdict(pairs), expected, "{pairs:?}");
        }
    }

    #[test]
    fn it_warns_once_and_falls_silent_when_a_cookie_comes_back() {
        let watch = TransportWatch::new(true);
        let plain = [("host", "myapp.test"), ("referer", "http://myapp.test/")];
        assert!(!watch.inspect(headers(&plain)));
        assert!(!watch.armed(), "said once");

        let watch = TransportWatch::new(true);
        for _ in 0..DROPPED_AFTER - 1 {
            assert!(watch.inspect(headers(&[("host", "myapp.test")])));
            watch.suspect_session();
        }
        assert!(watch.armed(), "not yet");
        watch.suspect_session();
        assert!(!watch.armed(), "said after {DROPPED_AFTER}");

        let watch = TransportWatch::new(true);
        watch.cookie_returned();
        assert!(!watch.armed(), "cookies come back: nothing to say");
        assert!(
            !TransportWatch::new(false).armed(),
            "not Secure: nothing to say"
        );
    }
}
