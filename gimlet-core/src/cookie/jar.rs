//! The jar of Gimlet's cookies: it finds the two channels' cookies (and,
//! under a near cache, the write token) in a request's `Cookie` header,
//! and writes their `Set-Cookie` values (names, attributes, the size
//! limit).

use cookie::time::{Duration, OffsetDateTime};
use cookie::{Cookie, CookieBuilder};

use crate::config::{CookieConfig, SameSite};
use crate::key::ChannelKind;

/// Writes the two channels' `Set-Cookie` values with the configured
/// attributes. Adapters get finished strings, so their own `cookie` crate
/// version does not matter.
#[derive(Debug)]
pub(crate) struct CookieJar {
    names: [String; 2],
    /// The write token's cookie, under a near cache: its name and `=`,
    /// and its attributes after the value (with a `Max-Age` of the
    /// permanent channel's lifetime, so that it lasts as long as any
    /// cookie of the session), written once.
    token: Option<(String, String)>,
    /// The cookie of another library whose sessions are imported.
    peer: Option<String>,
    config: CookieConfig,
    /// Bytes of a `Set-Cookie` value besides the cookie value, by kind.
    overhead: [usize; 2],
}

/// Which of Gimlet's cookies a name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Named {
    /// A channel's.
    Channel(ChannelKind),
    /// The write token's.
    Token,
    /// The cookie of another library whose sessions are imported.
    Peer,
}

/// A write token's value: 16 hex digits, not 0; anything else is no
/// token. It is not signed: a browser that sends another token only makes
/// its own next read load from the store, or be answered with what an app
/// server holds for that token, which is never older than the changes the
/// store has told it of.
pub(crate) fn parse_token(value: &[u8]) -> Option<u64> {
    if value.len() != 16 {
        return None;
    }
    let mut token = 0u64;
    for &b in value {
        let digit = char::from(b).to_digit(16)?;
        token = token << 4 | u64::from(digit);
    }
    (token != 0).then_some(token)
}

/// Whether the names carry `__Host-`: as configured, or by default whenever
/// the attributes allow it.
pub(crate) fn host_prefix(config: &CookieConfig) -> bool {
    config
        .host_prefix
        .unwrap_or(config.secure && config.path == "/" && config.domain.is_none())
}

impl CookieJar {
    /// The jar of `config`'s cookies; with `near`, the write token's too.
    pub(crate) fn new(config: CookieConfig, permanent_lifetime: u64, near: bool) -> Self {
        let prefix = if host_prefix(&config) { "__Host-" } else { "" };
        let names = [
            format!("{prefix}{}", config.permanent_name),
            format!("{prefix}{}", config.transient_name),
        ];
        let mut writer = CookieJar {
            names,
            token: None,
            peer: None,
            config,
            overhead: [0; 2],
        };
        if near {
            let name = format!("{prefix}{}", writer.config.token_name);
            let age = i64::try_from(permanent_lifetime).unwrap_or(i64::MAX);
            let empty = writer
                .attributes(Cookie::build((name.clone(), "")))
                .max_age(Duration::seconds(age))
                .build()
                .to_string();
            let attributes = empty[name.len() + 1..].to_owned();
            writer.token = Some((name + "=", attributes));
        }
        writer.overhead = [
            writer
                .set(ChannelKind::Permanent, "", Some(permanent_lifetime))
                .len(),
            writer.set(ChannelKind::Transient, "", None).len(),
        ];
        writer
    }

    /// Gimlet's own cookie names.
    pub(crate) fn names(&self) -> Vec<&str> {
        let token = self.token.as_ref().map(|(name, _)| &name[..name.len() - 1]);
        self.names.iter().map(String::as_str).chain(token).collect()
    }

    /// Finds the cookie `name` of another library too, as [`Named::Peer`].
    pub(crate) fn peer(&mut self, name: &str) {
        self.peer = Some(name.to_owned());
    }

    pub(crate) fn name(&self, kind: ChannelKind) -> &str {
        &self.names[kind.index()]
    }

    /// Which of Gimlet's cookies `name` names, if any.
    pub(crate) fn named(&self, name: &[u8]) -> Option<Named> {
        if let Some(kind) = ChannelKind::BOTH
            .into_iter()
            .find(|&k| self.name(k).as_bytes() == name)
        {
            return Some(Named::Channel(kind));
        }
        if let Some((token, _)) = &self.token
            && &token.as_bytes()[..token.len() - 1] == name
        {
            return Some(Named::Token);
        }
        (self.peer.as_deref()?.as_bytes() == name).then_some(Named::Peer)
    }

    /// Gimlet's cookies in `Cookie` header values, in the order sent:
    /// `name=value` pairs separated by `;`, with the spaces around names
    /// and values dropped. Other cookies and malformed pairs are skipped.
    pub(crate) fn scan<'a>(&'a self, text: &'a [u8]) -> impl Iterator<Item = (Named, &'a [u8])> {
        text.split(|&b| b == b';').filter_map(|pair| {
            let equals = pair.iter().position(|&b| b == b'=')?;
            let (name, value) = (&pair[..equals], &pair[equals + 1..]);
            Some((self.named(name.trim_ascii())?, value.trim_ascii()))
        })
    }

    /// The most bytes a `Set-Cookie` value with a cookie value of
    /// `value_len` bytes can take.
    pub(crate) fn size(&self, kind: ChannelKind, value_len: usize) -> usize {
        self.overhead[kind.index()] + value_len
    }

    pub(crate) fn max_size(&self) -> usize {
        self.config.max_size
    }

    /// The `Set-Cookie` value of a new write token (a jar made with a
    /// near cache).
    pub(crate) fn token(&self, token: u64) -> String {
        let (name, attributes) = self.token.as_ref().map_or(("", ""), |(n, a)| (n, a));
        let mut set_cookie = String::with_capacity(name.len() + 16 + attributes.len());
        set_cookie.push_str(name);
        // Writing into a String cannot fail.
        let _ = std::fmt::Write::write_fmt(&mut set_cookie, format_args!("{token:016x}"));
        set_cookie.push_str(attributes);
        set_cookie
    }

    fn builder<'c>(&self, kind: ChannelKind, value: &'c str) -> CookieBuilder<'c> {
        self.attributes(Cookie::build((self.name(kind).to_owned(), value)))
    }

    /// The configured attributes, on `builder`.
    fn attributes<'c>(&self, builder: CookieBuilder<'c>) -> CookieBuilder<'c> {
        let c = &self.config;
        let mut builder = builder
            .path(c.path.clone())
            .http_only(c.http_only)
            .secure(c.secure)
            .same_site(match c.same_site {
                SameSite::Strict => cookie::SameSite::Strict,
                SameSite::Lax => cookie::SameSite::Lax,
                SameSite::None => cookie::SameSite::None,
            });
        if let Some(domain) = &c.domain {
            builder = builder.domain(domain.clone());
        }
        builder
    }

    /// A cookie carrying `value`; `max_age` in seconds, or, with `None`, a
    /// cookie without `Max-Age` (the transient channel's).
    pub(crate) fn set(&self, kind: ChannelKind, value: &str, max_age: Option<u64>) -> String {
        let mut builder = self.builder(kind, value);
        if let Some(age) = max_age {
            let age = i64::try_from(age).unwrap_or(i64::MAX);
            builder = builder.max_age(Duration::seconds(age));
        }
        builder.build().to_string()
    }

    /// A cookie that makes the browser drop the channel's cookie. It carries
    /// the same attributes, or the browser would not match it.
    pub(crate) fn removal(&self, kind: ChannelKind) -> String {
        expire(self.builder(kind, ""))
    }
}

/// The `Set-Cookie` value of `builder`'s cookie made to expire at once:
/// the browser drops the cookie of the same name, path and domain.
pub(crate) fn expire(builder: CookieBuilder<'_>) -> String {
    builder
        .max_age(Duration::ZERO)
        .expires(OffsetDateTime::UNIX_EPOCH)
        .build()
        .to_string()
}

/// Whether `name` is a cookie name: an RFC 6265 token.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// Whether `path` can be a cookie's `Path`: it starts with `/` and holds
/// no `;`.
pub(crate) fn valid_path(path: &str) -> bool {
    path.starts_with('/') && !path.contains(';')
}

/// A host name, with an optional leading dot: dot-separated labels of 1 to
/// 63 letters, digits and inner hyphens, 253 characters at most.
pub(crate) fn valid_domain(domain: &str) -> bool {
    let name = domain.strip_prefix('.').unwrap_or(domain);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanning_finds_gimlet_s_cookies_in_order_and_skips_the_rest() {
        let config = CookieConfig {
            secure: false,
            ..CookieConfig::default()
        };
        let writer = CookieJar::new(config, 60, true);
        let (p, n) = (
            writer.name(ChannelKind::Permanent),
            writer.name(ChannelKind::Transient),
        );
        let text = format!(
            "theme=dark; {n}=one;{p} = two ;junk; ={n}; {n}=three=3;other={p};{n}=\"q\"; gimlet-w=t"
        );
        let found: Vec<(Named, &[u8])> = writer.scan(text.as_bytes()).collect();
        let (permanent, transient) = (
            Named::Channel(ChannelKind::Permanent),
            Named::Channel(ChannelKind::Transient),
        );
        let expected: [(Named, &[u8]); 5] = [
            (transient, b"one"),
            (permanent, b"two"),
            (transient, b"three=3"),
            (transient, b"\"q\""),
            (Named::Token, b"t"),
        ];
        assert_eq!(found, expected);
        assert_eq!(writer.scan(b"").count(), 0);
        assert_eq!(writer.scan(b";;; = ;").count(), 0);
        let binary = [n.as_bytes(), b"=\xff\xfe; x=\x80"].concat();
        let found: Vec<(Named, &[u8])> = writer.scan(&binary).collect();
        assert_eq!(found, [(transient, &b"\xff\xfe"[..])], "bytes, as sent");
    }

    #[test]
    fn a_write_token_round_trips_and_only_a_well_formed_one_counts() {
        let config = CookieConfig {
            secure: false,
            ..CookieConfig::default()
        };
        let jar = CookieJar::new(config.clone(), 60, true);
        let set = jar.token(0x0123_4567_89ab_cdef);
        assert!(set.starts_with("gimlet-w=0123456789abcdef;"), "{set}");
        assert!(
            set.contains("Max-Age=60") && set.contains("HttpOnly"),
            "{set}"
        );
        let value = set.split(';').next().unwrap().split_once('=').unwrap().1;
        assert_eq!(parse_token(value.as_bytes()), Some(0x0123_4567_89ab_cdef));
        for bad in [
            &b"0123456789abcdeg"[..],
            b"0123456789abcdef0",
            b"1",
            b"",
            b"0000000000000000",
        ] {
            assert_eq!(parse_token(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        // Without a near cache the token's cookie is not Gimlet's.
        let jar = CookieJar::new(config, 60, false);
        assert_eq!(jar.scan(b"gimlet-w=0123456789abcdef").count(), 0);
    }
}
