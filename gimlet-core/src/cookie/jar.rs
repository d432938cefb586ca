//! The jar of Gimlet's two cookies: it finds them in a request's `Cookie`
//! header, and writes their `Set-Cookie` values (names, attributes, the
//! size limit).

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

    fn builder<'c>(&self, kind: ChannelKind, value: &'c str) -> CookieBuilder<'c> {
        let c = &self.config;
        let mut builder = Cookie::build((self.name(kind).to_owned(), value))
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
}
