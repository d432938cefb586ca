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
    /// The write token's cookie.
    token_name: String,
    /// Its `Max-Age`: the permanent channel's lifetime, so that it lasts
    /// as long as any cookie of the session.
    token_age: u64,
    config: CookieConfig,
    /// Bytes of a `Set-Cookie` value besides the cookie value, by kind.
    overhead: [usize; 2],
}

/// Whether the names carry `__Host-`: as configured, or by default whenever
/// the attributes allow it.
pub(crate) fn host_prefix(config: &CookieConfig) -> bool {
    config
        .host_prefix
        .unwrap_or(config.secure && config.path == "/" && config.domain.is_none())
}

impl CookieJar {
    pub(crate) fn new(config: CookieConfig, permanent_lifetime: u64) -> Self {
        let prefix = if host_prefix(&config) { "__Host-" } else { "" };
        let names = [
            format!("{prefix}{}", config.permanent_name),
            format!("{prefix}{}", config.transient_name),
        ];
        let mut writer = CookieJar {
            names,
            token_name: format!("{prefix}{}", config.token_name),
            token_age: permanent_lifetime,
            config,
            overhead: [0; 2],
        };
        writer.overhead = [
            writer
                .set(ChannelKind::Permanent, "", Some(permanent_lifetime))
                .len(),
            writer.set(ChannelKind::Transient, "", None).len(),
        ];
        writer
    }

    pub(crate) fn name(&self, kind: ChannelKind) -> &str {
        &self.names[kind.index()]
    }

    pub(crate) fn kind_of(&self, name: &[u8]) -> Option<ChannelKind> {
        ChannelKind::BOTH
            .into_iter()
            .find(|&k| self.name(k).as_bytes() == name)
    }

    /// Gimlet's cookies in `Cookie` header values, by channel, in the order
    /// sent: `name=value` pairs separated by `;`, with the spaces around
    /// names and values dropped. Other cookies and malformed pairs are
    /// skipped.
    pub(crate) fn scan<'a>(
        &'a self,
        text: &'a [u8],
    ) -> impl Iterator<Item = (ChannelKind, &'a [u8])> {
        text.split(|&b| b == b';').filter_map(|pair| {
            let equals = pair.iter().position(|&b| b == b'=')?;
            let (name, value) = (&pair[..equals], &pair[equals + 1..]);
            Some((self.kind_of(name.trim_ascii())?, value.trim_ascii()))
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

    /// The write token the request's cookies carry: the last of the
    /// token's cookies that parses (16 hex digits), or 0. It is not
    /// signed: a browser that sends another token only makes its own next
    /// read load from the store, or be answered with what an app server
    /// holds for that token, which is never older than the changes the
    /// store has told it of.
    pub(crate) fn read_token(&self, text: &[u8]) -> u64 {
        let name = self.token_name.as_bytes();
        text.split(|&b| b == b';')
            .filter_map(|pair| {
                let equals = pair.iter().position(|&b| b == b'=')?;
                if pair[..equals].trim_ascii() != name {
                    return None;
                }
                let value = std::str::from_utf8(pair[equals + 1..].trim_ascii()).ok()?;
                (value.len() == 16)
                    .then(|| u64::from_str_radix(value, 16).ok())
                    .flatten()
            })
            .last()
            .unwrap_or(0)
    }

    /// The `Set-Cookie` value of a new write token.
    pub(crate) fn token(&self, token: u64) -> String {
        let value = format!("{token:016x}");
        let age = i64::try_from(self.token_age).unwrap_or(i64::MAX);
        self.attributes(Cookie::build((self.token_name.clone(), value)))
            .max_age(Duration::seconds(age))
            .build()
            .to_string()
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
        self.builder(kind, "")
            .max_age(Duration::ZERO)
            .expires(OffsetDateTime::UNIX_EPOCH)
            .build()
            .to_string()
    }
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
        let writer = CookieJar::new(config, 60);
        let (p, n) = (
            writer.name(ChannelKind::Permanent),
            writer.name(ChannelKind::Transient),
        );
        let text =
            format!("theme=dark; {n}=one;{p} = two ;junk; ={n}; {n}=three=3;other={p};{n}=\"q\"");
        let found: Vec<(ChannelKind, &[u8])> = writer.scan(text.as_bytes()).collect();
        let expected: [(ChannelKind, &[u8]); 4] = [
            (ChannelKind::Transient, b"one"),
            (ChannelKind::Permanent, b"two"),
            (ChannelKind::Transient, b"three=3"),
            (ChannelKind::Transient, b"\"q\""),
        ];
        assert_eq!(found, expected);
        assert_eq!(writer.scan(b"").count(), 0);
        assert_eq!(writer.scan(b";;; = ;").count(), 0);
        let binary = [n.as_bytes(), b"=\xff\xfe; x=\x80"].concat();
        let found: Vec<(ChannelKind, &[u8])> = writer.scan(&binary).collect();
        assert_eq!(
            found,
            [(ChannelKind::Transient, &b"\xff\xfe"[..])],
            "bytes, as sent"
        );
    }

    #[test]
    fn the_write_token_is_the_last_well_formed_one_and_round_trips() {
        let config = CookieConfig {
            secure: false,
            ..CookieConfig::default()
        };
        let jar = CookieJar::new(config, 60);
        let set = jar.token(0x0123_4567_89ab_cdef);
        assert!(set.starts_with("gimlet-w=0123456789abcdef;"), "{set}");
        assert!(
            set.contains("Max-Age=60") && set.contains("HttpOnly"),
            "{set}"
        );
        let pair = set.split(';').next().unwrap();
        assert_eq!(
            jar.read_token(format!("a=b; {pair}").as_bytes()),
            0x0123_4567_89ab_cdef
        );
        let text =
            "gimlet-w=00000000000000ff; gimlet-w=zz; gimlet-w=1; gimlet-w = 000000000000000a ";
        assert_eq!(jar.read_token(text.as_bytes()), 10);
        assert_eq!(jar.read_token(b"gimlet-w=0123456789abcdef0"), 0, "too long");
        assert_eq!(
            jar.read_token(b"gimlet-n=0123456789abcdef"),
            0,
            "another name"
        );
        assert_eq!(jar.read_token(b""), 0);
    }
}
