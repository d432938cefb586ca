//! The end of a request, as every adapter runs it: commit (or not, for a
//! failed response), then the response's `Set-Cookie`, `Cache-Control` and
//! `Vary` headers, or a failure that replaces the response.
//!
//! Adapters implement [`ResponseHeaders`] for their framework's response and
//! call [`Gimlet::finish`]; every decision, status and message lives here.

use std::fmt;

use crate::{Error, Gimlet, Session};

/// A framework's response, as [`Gimlet::finish`] reads and edits it.
pub trait ResponseHeaders {
    /// The response's status code.
    fn status(&self) -> u16;

    /// The values of every header named `name` (lowercase) that are valid
    /// text.
    fn values(&self, name: &'static str) -> impl Iterator<Item = &str>;

    /// Replaces every header named `name` by one with `value`.
    fn set(&mut self, name: &'static str, value: String);

    /// Adds a header named `name`.
    fn append(&mut self, name: &'static str, value: String);
}

/// A commit that failed: the adapter replaces the handler's response, its
/// headers included, with [`Failure::status`] and [`Failure::body`] as
/// `text/plain`, and sends no session cookie.
#[derive(Debug)]
pub struct Failure {
    error: Error,
}

impl Failure {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.error.status_code()
    }

    /// A short, generic body; the details went to the log.
    pub fn body(&self) -> &'static str {
        self.error.public_message()
    }

    /// The error behind it.
    pub fn error(&self) -> &Error {
        &self.error
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.body())
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl Gimlet {
    /// Finishes a request once its handler has answered.
    ///
    /// - A request that did not use its session is left alone: no I/O, no
    ///   header.
    /// - A response with a server error status (5xx) commits nothing, unless
    ///   `commit_failed_requests` is set: a failed handler's half-done
    ///   changes are dropped. (A handler that panics never reaches this.)
    /// - Otherwise the session commits (at most one backend round trip) and
    ///   its `Set-Cookie` headers are appended. A response that sets a
    ///   session cookie is made `Cache-Control: private` (a `public` or
    ///   `s-maxage` directive is dropped, the rest kept), so no shared cache
    ///   stores it; a response that used the session gets `Vary: Cookie`.
    ///
    /// # Errors
    ///
    /// A [`Failure`] when the commit failed (it is logged here): the
    /// adapter answers its status and body instead of the response.
    pub async fn finish<R: ResponseHeaders>(
        &self,
        session: &Session,
        response: &mut R,
    ) -> Result<(), Failure> {
        if !session.state().used {
            return session.commit().await.map(drop).map_err(failure);
        }
        let failed = response.status() >= 500;
        let set_cookies = if failed && !self.engine.commit_failed_requests {
            session.discard();
            Vec::new()
        } else {
            session.commit().await.map_err(failure)?
        };
        if !set_cookies.is_empty() {
            if let Some(value) = private(response.values("cache-control")) {
                response.set("cache-control", value);
            }
            for value in set_cookies {
                response.append("set-cookie", value);
            }
        }
        if !varies_on_cookie(response.values("vary")) {
            response.append("vary", "Cookie".to_owned());
        }
        Ok(())
    }
}

fn failure(error: Error) -> Failure {
    tracing::error!(error = %error, detail = ?error, "session commit failed");
    Failure { error }
}

/// The `Cache-Control` value that keeps shared caches from storing the
/// response, or `None` if `values` already do.
fn private<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut directives: Vec<&str> = Vec::new();
    let mut changed = false;
    for directive in values.flat_map(|v| v.split(',')).map(str::trim) {
        let name = directive.split('=').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("public") || name.eq_ignore_ascii_case("s-maxage") {
            changed = true;
        } else if !directive.is_empty() {
            directives.push(directive);
        }
    }
    let private = directives.iter().any(|d| {
        let name = d.split('=').next().unwrap_or_default().trim();
        name.eq_ignore_ascii_case("private") || name.eq_ignore_ascii_case("no-store")
    });
    if !private {
        directives.push("private");
        changed = true;
    }
    changed.then(|| directives.join(", "))
}

/// Whether a `Vary` header already covers `Cookie`.
fn varies_on_cookie<'a>(mut values: impl Iterator<Item = &'a str>) -> bool {
    values.any(|v| {
        v.split(',')
            .map(str::trim)
            .any(|f| f == "*" || f.eq_ignore_ascii_case("cookie"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private_of(values: &[&str]) -> Option<String> {
        private(values.iter().copied())
    }

    #[test]
    fn cache_control_becomes_private_and_keeps_the_rest() {
        assert_eq!(private_of(&[]).as_deref(), Some("private"));
        assert_eq!(
            private_of(&["public, max-age=60"]).as_deref(),
            Some("max-age=60, private")
        );
        assert_eq!(
            private_of(&["max-age=60", "s-maxage=600, must-revalidate"]).as_deref(),
            Some("max-age=60, must-revalidate, private")
        );
        assert_eq!(private_of(&["no-store"]), None);
        assert_eq!(private_of(&["private, max-age=5"]), None);
        assert_eq!(
            private_of(&["Public, no-cache"]).as_deref(),
            Some("no-cache, private")
        );
    }

    #[test]
    fn vary_is_recognised_in_any_case_and_list() {
        assert!(!varies_on_cookie([].into_iter()));
        assert!(!varies_on_cookie(["Accept-Encoding"].into_iter()));
        assert!(varies_on_cookie(["Accept-Encoding, cookie"].into_iter()));
        assert!(varies_on_cookie(["Origin", "Cookie"].into_iter()));
        assert!(varies_on_cookie(["*"].into_iter()));
    }
}
