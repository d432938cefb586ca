//! The conformance app's routes (docs/testing.md lists them), once for all
//! three frameworks.

use std::time::Duration;

use gimlet_core::{Error, Lifetime, Placement, Session};

/// What a route answers: a status and a `text/plain` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: String,
}

impl Reply {
    fn ok(body: impl Into<String>) -> Self {
        Reply {
            status: 200,
            body: body.into(),
        }
    }

    fn not_found() -> Self {
        Reply {
            status: 404,
            body: "not found".into(),
        }
    }

    /// The error's status (400 for usage errors, 503 when the backend is
    /// down) and short generic text; the details go to the log.
    fn error(error: &Error) -> Self {
        tracing::warn!(%error, "session error");
        Reply {
            status: error.status_code(),
            body: error.public_message().into(),
        }
    }
}

/// The query options a route reads.
#[derive(Debug, Default)]
struct Query<'a> {
    clientside: Option<bool>,
    permanent: Option<bool>,
    queue: &'a str,
    allow_duplicate: bool,
}

impl<'a> Query<'a> {
    fn parse(query: Option<&'a str>) -> Self {
        let mut q = Query {
            allow_duplicate: true,
            ..Query::default()
        };
        for pair in query.unwrap_or("").split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "clientside" => q.clientside = Some(value == "1"),
                "permanent" => q.permanent = Some(value == "1"),
                "queue" => q.queue = value,
                "allow_duplicate" => q.allow_duplicate = value != "0",
                _ => {}
            }
        }
        q
    }

    fn placement(&self) -> Placement {
        Placement {
            clientside: self.clientside,
            permanent: self.permanent,
        }
    }

    fn has_options(&self) -> bool {
        self.clientside.is_some() || self.permanent.is_some()
    }
}

fn flag(value: bool) -> Reply {
    Reply::ok(if value { "true" } else { "false" })
}

fn lines(items: &[String]) -> Reply {
    Reply::ok(items.join("\n"))
}

/// Answers `path` (without its leading `/`) with `query`. `/hello` and
/// `/metrics` never touch the session.
pub async fn dispatch(session: &Session, path: &str, query: Option<&str>) -> Reply {
    let q = Query::parse(query);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if parts == ["hello"] {
        return Reply::ok("hello");
    }
    if parts == ["metrics"] {
        return Reply::ok(gimlet_example_stores::prometheus::render());
    }
    route(session, &parts, &q)
        .await
        .unwrap_or_else(|e| Reply::error(&e))
}

async fn route(session: &Session, parts: &[&str], q: &Query<'_>) -> Result<Reply, Error> {
    Ok(match *parts {
        ["set", key, value] => {
            session.insert_with(key, value, q.placement()).await?;
            Reply::ok("ok")
        }
        ["set_then_fail", key, value] => {
            session.insert_with(key, value, q.placement()).await?;
            Reply {
                status: 500,
                body: "failed on purpose".into(),
            }
        }
        ["get", key] => {
            let value: Option<String> = if q.has_options() {
                session.get_from(key, q.placement()).await?
            } else {
                session.get(key).await?
            };
            value.map_or_else(Reply::not_found, Reply::ok)
        }
        ["has", key] => flag(session.contains_key(key).await?),
        ["delete", key] => {
            if !session.contains_key(key).await? {
                return Ok(Reply::not_found());
            }
            session.remove(key).await?;
            Reply::ok("ok")
        }
        ["append", key, value] => {
            let value = (*value).to_owned();
            session
                .update(key, move |list: &mut Option<Vec<String>>| {
                    list.get_or_insert_with(Vec::new).push(value.clone());
                })
                .await?;
            Reply::ok("ok")
        }
        ["flatten", key] => match session.get::<Vec<String>>(key).await? {
            Some(list) => Reply::ok(list.join(":")),
            None => Reply::not_found(),
        },
        ["is_permanent", key] => flag(session.is_permanent(key).await?),
        ["is_clientside", key] => flag(session.is_clientside(key).await?),
        ["id"] => Reply::ok(session.id()?),
        ["timestamp"] => Reply::ok(session.created_at()?.to_string()),
        ["len"] => Reply::ok(session.len().await?.to_string()),
        ["iter"] => lines(&session.keys().await?),
        ["clear"] => {
            session.clear()?;
            Reply::ok("ok")
        }
        ["cycle"] => {
            session.cycle_id().await?;
            Reply::ok("ok")
        }
        ["invalidate"] => {
            session.invalidate()?;
            Reply::ok("ok")
        }
        ["invalidate_then_fail"] => {
            session.invalidate()?;
            Reply {
                status: 500,
                body: "failed on purpose".into(),
            }
        }
        ["set_expiry", seconds] => {
            let Ok(seconds) = seconds.parse() else {
                return Ok(Reply {
                    status: 400,
                    body: "not a number of seconds".into(),
                });
            };
            session.set_lifetime(Lifetime::idle(Duration::from_secs(seconds)))?;
            Reply::ok("ok")
        }
        ["flash", message] => {
            session
                .flash_to(q.queue, message, q.allow_duplicate)
                .await?;
            Reply::ok("ok")
        }
        ["peek_flash"] => lines(&session.peek_flash(q.queue).await?),
        ["pop_flash"] => lines(&session.pop_flash(q.queue).await?),
        ["csrf"] => Reply::ok(session.csrf_token().await?),
        ["csrf", "verify", token] => flag(session.verify_csrf(token).await?),
        ["owner", name] => {
            session.set_owner(name).await?;
            Reply::ok("ok")
        }
        ["sessions_of", name] => {
            let sessions = session.gimlet().sessions_of(name, Some(session)).await?;
            Reply::ok(sessions.len().to_string())
        }
        ["end_sessions_of", name] => Reply::ok(
            session
                .gimlet()
                .end_sessions_of(name, None)
                .await?
                .to_string(),
        ),
        _ => Reply::not_found(),
    })
}
