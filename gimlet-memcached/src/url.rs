//! `memcache://host:port[,host:port…]`: the servers of a ring.

use gimlet_core::backend::{BackendError, BackendErrorKind};

/// memcached's own port, for a server named without one.
const DEFAULT_PORT: u16 = 11211;

/// The `host:port` of every server a URL names, in its order.
pub(crate) fn servers(url: &str) -> Result<Vec<String>, BackendError> {
    let bad = |why: &str| {
        BackendError::new(
            BackendErrorKind::Unsupported,
            format!("not a memcache:// URL ({why}): expected memcache://host:port[,host:port…]"),
        )
    };
    let rest = url
        .strip_prefix("memcache://")
        .or_else(|| url.strip_prefix("memcached://"))
        .ok_or_else(|| bad("the scheme"))?;
    let rest = rest.trim_end_matches('/');
    let mut servers = Vec::new();
    for server in rest.split(',') {
        let server = server.trim();
        if server.is_empty() || server.contains(['/', '?', '@', ' ']) {
            return Err(bad("a server"));
        }
        let named = match server.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && !host.ends_with(':') => {
                port.parse::<u16>().map_err(|_| bad("a port"))?;
                server.to_owned()
            }
            Some(_) => return Err(bad("a server")),
            None => format!("{server}:{DEFAULT_PORT}"),
        };
        if servers.contains(&named) {
            return Err(bad("a server named twice"));
        }
        servers.push(named);
    }
    Ok(servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_or_many_with_the_default_port() {
        assert_eq!(
            servers("memcache://127.0.0.1:11211").unwrap(),
            ["127.0.0.1:11211"]
        );
        assert_eq!(
            servers("memcache://a:1,b,c:3/").unwrap(),
            ["a:1", "b:11211", "c:3"]
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for url in [
            "redis://a:1",
            "memcache://",
            "memcache://a:1,,b:2",
            "memcache://a:port",
            "memcache://a:1,a:1",
            "memcache://user@a:1",
            "memcache://a:1/db",
        ] {
            assert!(servers(url).is_err(), "{url}");
        }
    }
}
