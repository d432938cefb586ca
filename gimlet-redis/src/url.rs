//! The URLs `RedisBackend::from_url` reads: one server, a cluster, or a
//! primary found through Sentinel.

use std::fmt;

/// What a URL names, with one `redis://` or `rediss://` URL per node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `redis://host:port/db` or `rediss://…`.
    Server(String),
    /// `redis+cluster://host:port[,host:port…]`, or `rediss+cluster://…`:
    /// the seed nodes.
    Cluster(Vec<String>),
    /// `redis+sentinel://host:port[,host:port…]/service_name`: the
    /// sentinels, the service, and the URL of a data node with the
    /// credentials and database the URL gave.
    Sentinel {
        sentinels: Vec<String>,
        service: String,
        tls: bool,
        insecure: bool,
        username: Option<String>,
        password: Option<String>,
        db: i64,
    },
}

/// A URL that is none of the forms above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlError(String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

fn error(what: &str) -> UrlError {
    // Never the URL itself: it may hold a password.
    UrlError(format!("invalid Redis URL: {what}"))
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| error("no scheme"))?;
        let (tls, topology) = match scheme {
            "redis" | "rediss" | "redis+unix" | "unix" => {
                return Ok(Target::Server(url.to_owned()));
            }
            "redis+cluster" => (false, Topology::Cluster),
            "rediss+cluster" => (true, Topology::Cluster),
            "redis+sentinel" => (false, Topology::Sentinel),
            "rediss+sentinel" => (true, Topology::Sentinel),
            _ => {
                return Err(error(
                    "the scheme is not redis, rediss, redis+cluster, rediss+cluster or redis+sentinel",
                ));
            }
        };
        let (rest, fragment) = match rest.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (rest, None),
        };
        let insecure = match fragment {
            None => false,
            Some("insecure") => true,
            Some(_) => return Err(error("the only fragment is #insecure")),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((authority, path)) => (authority, path),
            None => (rest, ""),
        };
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        let hosts: Vec<&str> = hosts.split(',').map(str::trim).collect();
        if hosts.iter().any(|h| h.is_empty()) {
            return Err(error("a host is missing"));
        }
        let base = if tls { "rediss" } else { "redis" };
        let node = |host: &str, userinfo: Option<&str>, path: &str| {
            let mut url = format!("{base}://");
            if let Some(userinfo) = userinfo {
                url.push_str(userinfo);
                url.push('@');
            }
            url.push_str(host);
            if !path.is_empty() {
                url.push('/');
                url.push_str(path);
            }
            if insecure {
                url.push_str("#insecure");
            }
            url
        };
        match topology {
            Topology::Cluster => {
                if !matches!(path, "" | "0") {
                    return Err(error("a cluster has only database 0"));
                }
                Ok(Target::Cluster(
                    hosts.iter().map(|h| node(h, userinfo, "")).collect(),
                ))
            }
            Topology::Sentinel => {
                let (service, db) = match path.split_once('/') {
                    Some((service, db)) => (
                        service,
                        db.parse()
                            .map_err(|_| error("the database is not a number"))?,
                    ),
                    None => (path, 0),
                };
                if service.is_empty() {
                    return Err(error("a Sentinel URL ends with /service_name"));
                }
                let (username, password) = credentials(userinfo);
                Ok(Target::Sentinel {
                    // The sentinels themselves take no credentials here.
                    sentinels: hosts.iter().map(|h| node(h, None, "")).collect(),
                    service: service.to_owned(),
                    tls,
                    insecure,
                    username,
                    password,
                    db,
                })
            }
        }
    }
}

enum Topology {
    Cluster,
    Sentinel,
}

/// `user:password`, `:password` or `user` (percent-encoding is kept as is).
fn credentials(userinfo: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(userinfo) = userinfo else {
        return (None, None);
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    };
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    (some(user), password.and_then(some))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_server_url_is_passed_on_whole() {
        for url in [
            "redis://127.0.0.1:6379/2",
            "rediss://cache.example:6380/#insecure",
            "redis://:secret@host/",
        ] {
            assert_eq!(Target::parse(url), Ok(Target::Server(url.to_owned())));
        }
    }

    #[test]
    fn a_cluster_url_names_every_seed_node() {
        assert_eq!(
            Target::parse("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001"),
            Ok(Target::Cluster(vec![
                "redis://:pw@10.0.0.1:7000".into(),
                "redis://:pw@10.0.0.2:7001".into(),
            ]))
        );
        assert_eq!(
            Target::parse("rediss+cluster://a:7000/#insecure"),
            Ok(Target::Cluster(vec!["rediss://a:7000#insecure".into()]))
        );
        assert!(Target::parse("redis+cluster://a:7000/3").is_err());
        assert!(Target::parse("redis+cluster://a:7000,,b:7001").is_err());
    }

    #[test]
    fn a_sentinel_url_names_the_sentinels_and_the_service() {
        assert_eq!(
            Target::parse("redis+sentinel://user:pw@s1:26379,s2:26380/main/3"),
            Ok(Target::Sentinel {
                sentinels: vec!["redis://s1:26379".into(), "redis://s2:26380".into()],
                service: "main".into(),
                tls: false,
                insecure: false,
                username: Some("user".into()),
                password: Some("pw".into()),
                db: 3,
            })
        );
        assert!(Target::parse("redis+sentinel://s1:26379").is_err());
        assert!(Target::parse("redis+sentinel://s1:26379/").is_err());
        assert!(Target::parse("redis+sentinel://s1:26379/main/x").is_err());
    }

    #[test]
    fn errors_never_repeat_the_url() {
        let error = Target::parse("redis+cluster://:hunter2@a:1#bad").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(Target::parse("http://a").is_err());
        assert!(Target::parse("nothing").is_err());
    }
}
