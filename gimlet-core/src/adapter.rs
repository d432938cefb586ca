//! The protocol every framework adapter follows, so that each adapter is
//! glue and every decision, status and message lives here:
//!
//! 1. open the request's session from its `Cookie` header values with
//!    [`Gimlet::open_from_header_bytes`] (or [`Gimlet::open_from_headers`]
//!    where the framework hands them over as text; no I/O), and hand it to
//!    the handler;
//! 2. once the handler has answered, call [`Gimlet::finish`] with the
//!    response seen through [`ResponseHeaders`]; on a [`Failure`], replace
//!    the response with [`Failure::status`] and [`Failure::body`] as
//!    [`TEXT_PLAIN`];
//! 3. declare the handler-facing types with [`adapter_types!`](crate::adapter_types)
//!    and implement the framework's extractor and response traits for them.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{Error, Gimlet, Session};

/// The content type of every response Gimlet writes itself.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// A framework's response, as [`Gimlet::finish`] reads and edits it.
pub trait ResponseHeaders {
    /// The response's status code.
    fn status(&self) -> u16;

    /// The values of every header named `name` (lowercase) that are valid
    /// UTF-8.
    fn values(&self, name: &'static str) -> impl Iterator<Item = &str>;

    /// Removes every header named `name`.
    fn remove(&mut self, name: &'static str);

    /// Adds a header named `name`.
    fn append(&mut self, name: &'static str, value: String);

    /// Adds a header named `name` with a fixed value (`Vary: Cookie`):
    /// a framework that can hold it without a copy overrides this.
    fn append_static(&mut self, name: &'static str, value: &'static str) {
        self.append(name, value.to_owned());
    }
}

#[cfg(feature = "http")]
impl<B> ResponseHeaders for http::Response<B> {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }

    fn values(&self, name: &'static str) -> impl Iterator<Item = &str> {
        let values = header_name(name).map(|name| self.headers().get_all(name).iter());
        let values = values.into_iter().flatten();
        values.filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
    }

    fn remove(&mut self, name: &'static str) {
        if let Some(name) = header_name(name) {
            self.headers_mut().remove(name);
        }
    }

    fn append(&mut self, name: &'static str, value: String) {
        if let (Some(name), Ok(value)) = (header_name(name), http::HeaderValue::try_from(value)) {
            self.headers_mut().append(name, value);
        }
    }

    fn append_static(&mut self, name: &'static str, value: &'static str) {
        // `Vary: Cookie`, on every response that used its session, is a
        // constant: no check of its bytes per request.
        const COOKIE: http::HeaderValue = http::HeaderValue::from_static("Cookie");
        let value = match value {
            "Cookie" => COOKIE,
            other if takes_static(other) => http::HeaderValue::from_static(other),
            _ => return,
        };
        if let Some(name) = header_name(name) {
            self.headers_mut().append(name, value);
        }
    }
}

/// The `http` crate's constant for each header [`Gimlet::finish`] reads or
/// writes, so that no request parses its name again; any other name
/// parsed (`None` if it is not one).
#[cfg(feature = "http")]
fn header_name(name: &'static str) -> Option<http::HeaderName> {
    Some(match name {
        "set-cookie" => http::header::SET_COOKIE,
        "vary" => http::header::VARY,
        "cache-control" => http::header::CACHE_CONTROL,
        other => return http::HeaderName::from_bytes(other.as_bytes()).ok(),
    })
}

/// Whether a header value is visible ASCII (tabs allowed): what the
/// `http` crates' `HeaderValue::from_static` takes without a copy, and
/// panics on otherwise. For [`ResponseHeaders::append_static`].
pub fn takes_static(value: &str) -> bool {
    value.bytes().all(|b| b == b'\t' || (32..127).contains(&b))
}

/// A response Gimlet writes itself: `status`, `body` as [`TEXT_PLAIN`], and
/// no other header. Takes what [`Failure`], [`reply`] and
/// [`reply_missing`] answer.
#[cfg(feature = "http")]
pub fn text_response<B: From<&'static str>>(
    (status, body): (u16, &'static str),
) -> http::Response<B> {
    let mut response = http::Response::new(B::from(body));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE);
    let content_type = http::HeaderValue::from_static(TEXT_PLAIN);
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, content_type);
    response
}

/// A commit that failed: the adapter replaces the handler's response, its
/// headers included, with [`Failure::status`] and [`Failure::body`] as
/// [`TEXT_PLAIN`], and sends no session cookie.
#[derive(Debug)]
pub struct Failure {
    error: Error,
}

impl Failure {
    /// The status and body to answer with, as [`text_response`] takes
    /// them.
    pub fn reply(&self) -> (u16, &'static str) {
        (self.status(), self.body())
    }

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
    /// Finishes a request that did not use its session, at once: no I/O,
    /// no header, nothing to await. Answers whether it did; when it answers
    /// `false`, the adapter awaits [`Gimlet::finish`]. An adapter whose
    /// response future is its own type calls this first, so that an
    /// untouched request never builds the commit's future.
    pub fn finish_unused(&self, session: &Session) -> bool {
        let mut state = session.state();
        if state.used() {
            return false;
        }
        state.start_commit();
        true
    }

    /// Finishes a request once its handler has answered.
    ///
    /// - A request that did not use its session is left alone: no I/O, no
    ///   header.
    /// - A response with a server error status (5xx) commits nothing, unless
    ///   `commit_failed_requests` is set: a failed handler's half-done
    ///   changes are dropped. A logout (`invalidate`) in it still takes
    ///   effect: its records are deleted and its cookies removed. (A
    ///   handler that panics never reaches this.)
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
        if self.finish_unused(session) {
            return Ok(());
        }
        let failed = response.status() >= 500;
        let set_cookies = if failed && !self.engine.commit_failed_requests {
            session.abandon().await.map_err(failure)?
        } else {
            session.commit().await.map_err(failure)?
        };
        if !set_cookies.is_empty() {
            if session.state().is_suspect() {
                self.engine.transport.suspect_session();
            }
            if let Some(value) = private(response.values("cache-control")) {
                response.remove("cache-control");
                response.append("cache-control", value);
            }
            for value in set_cookies {
                response.append("set-cookie", value);
            }
        }
        if !varies_on_cookie(response.values("vary")) {
            response.append_static("vary", "Cookie");
        }
        let span = session.span();
        if !span.is_disabled() || tracing::enabled!(tracing::Level::DEBUG) {
            let status = session.status();
            let backend_ms = session.backend_time().as_secs_f64() * 1000.0;
            span.record("activity", tracing::field::debug(status.activity));
            span.record("round_trips", status.round_trips);
            span.record("backend_ms", backend_ms);
            tracing::debug!(
                parent: &span,
                activity = ?status.activity,
                round_trips = status.round_trips,
                backend_ms,
                "session finished"
            );
        }
        Ok(())
    }
}

fn failure(error: Error) -> Failure {
    tracing::error!(error = %error, detail = ?error, "session commit failed");
    tell_unheard(&error);
    Failure { error }
}

/// Whether a failure was written to stderr for want of a subscriber.
static TOLD: AtomicBool = AtomicBool::new(false);

/// The first server-side failure of a process that installed no `tracing`
/// subscriber goes to stderr too, with how to see the rest: otherwise
/// requests fail with nothing said anywhere.
fn tell_unheard(error: &Error) {
    if let Some(line) = unheard(&TOLD, tracing::dispatcher::has_been_set(), error) {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{line}");
        }
    }
}

/// The line [`tell_unheard`] writes, the first time only, and only
/// without a subscriber.
fn unheard(told: &AtomicBool, subscribed: bool, error: &Error) -> Option<String> {
    if subscribed || told.swap(true, Ordering::Relaxed) {
        return None;
    }
    Some(format!(
        "gimlet: a request failed: {error}. No tracing subscriber is installed, so Gimlet's \
         logs go nowhere: install one to see them (for example \
         `tracing_subscriber::fmt::init()`). Said once."
    ))
}

/// What an adapter answers for a session error a handler returned (with
/// `?`): the error's status and its generic body. The details are logged
/// here, once: at `error` for a server-side failure (a 5xx), at `warn` for
/// a usage error.
pub fn reply(error: &Error) -> (u16, &'static str) {
    let status = error.status_code();
    if status >= 500 {
        tracing::error!(error = %error, detail = ?error, "session error");
        tell_unheard(error);
    } else {
        tracing::warn!(error = %error, detail = ?error, "session error");
    }
    (status, error.public_message())
}

/// What an adapter answers when a handler asks for the session and no
/// middleware opened one: a 500 with `message`, logged here at `error`.
pub fn reply_missing(message: &'static str) -> (u16, &'static str) {
    tracing::error!("{message}");
    (500, message)
}

/// Declares the handler-facing types every adapter exposes, with the same
/// shape and standard traits in each:
///
/// - `Session`, the extractor: a newtype that derefs to
///   [`gimlet_core::Session`](crate::Session);
/// - `Error`, a session error a handler returns with `?`: `Display`,
///   `std::error::Error`, `From<gimlet_core::Error>`, and `status()`;
/// - the rejection when no middleware opened a session (named by the first
///   argument), with its message: `Display`, `std::error::Error`,
///   `status()` (500).
///
/// The adapter then implements its framework's extractor trait for
/// `Session`, and its response trait for `Error` and the rejection, with
/// [`reply`] and [`reply_missing`].
///
/// ```
/// gimlet_core::adapter_types!(MissingMiddleware, "gimlet: no session here; add the middleware");
///
/// let error = Error::from(gimlet_core::Error::Random);
/// assert_eq!(error.status(), 500);
/// assert_eq!(MissingMiddleware.status(), 500);
/// assert!(MissingMiddleware.to_string().contains("add the middleware"));
/// ```
#[macro_export]
macro_rules! adapter_types {
    ($missing:ident, $message:literal) => {
        /// The request's session, for handlers.
        ///
        /// It derefs to [`gimlet_core::Session`], which has the whole API.
        #[derive(Debug, Clone)]
        pub struct Session(pub $crate::Session);

        impl ::std::ops::Deref for Session {
            type Target = $crate::Session;

            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        /// A session error as a response: its status code and a short,
        /// generic text (the details go to the log), so handlers can use
        /// `?` on session calls.
        #[derive(Debug)]
        pub struct Error(pub $crate::Error);

        impl Error {
            /// The HTTP status this error answers with.
            pub fn status(&self) -> u16 {
                self.0.status_code()
            }

            /// Logs the error and answers the status and generic body to
            /// send ([`gimlet_core::adapter::reply`]).
            #[doc(hidden)]
            pub fn reply(&self) -> (u16, &'static str) {
                $crate::adapter::reply(&self.0)
            }
        }

        impl ::std::fmt::Display for Error {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::error::Error for Error {
            fn source(&self) -> Option<&(dyn ::std::error::Error + 'static)> {
                Some(&self.0)
            }
        }

        impl From<$crate::Error> for Error {
            fn from(e: $crate::Error) -> Self {
                Error(e)
            }
        }

        #[doc = concat!("The rejection when a handler asks for the session and no middleware opened one: a 500 that says so (\"", $message, "\").")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $missing;

        impl $missing {
            /// The HTTP status it answers with: 500.
            pub fn status(&self) -> u16 {
                500
            }

            /// Logs the fault and answers the status and body to send
            /// ([`gimlet_core::adapter::reply_missing`]).
            #[doc(hidden)]
            pub fn reply(&self) -> (u16, &'static str) {
                $crate::adapter::reply_missing($message)
            }
        }

        impl ::std::fmt::Display for $missing {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($message)
            }
        }

        impl ::std::error::Error for $missing {}
    };
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
    fn only_visible_ascii_is_taken_as_a_static_value() {
        assert!(takes_static("Cookie"));
        assert!(takes_static("a\tb ~!"));
        assert!(!takes_static("a\nb"));
        assert!(!takes_static("caf\u{e9}"));
        assert!(!takes_static("\u{7f}"));
    }

    #[test]
    fn vary_is_recognised_in_any_case_and_list() {
        assert!(!varies_on_cookie([].into_iter()));
        assert!(!varies_on_cookie(["Accept-Encoding"].into_iter()));
        assert!(varies_on_cookie(["Accept-Encoding, cookie"].into_iter()));
        assert!(varies_on_cookie(["Origin", "Cookie"].into_iter()));
        assert!(varies_on_cookie(["*"].into_iter()));
    }

    #[test]
    fn replies_carry_the_status_and_the_generic_body() {
        let error = Error::Backend(crate::backend::BackendError::from_kind(
            crate::backend::BackendErrorKind::Unavailable,
        ));
        let expected = (503, error.public_message());
        assert_eq!(reply(&error), expected);
        assert_eq!(Failure { error }.reply(), expected);
        assert_eq!(reply_missing("add the layer"), (500, "add the layer"));
    }

    #[cfg(feature = "http")]
    mod http_responses {
        use super::super::*;

        #[test]
        fn an_http_response_is_read_and_edited_through_its_headers() {
            let mut response = http::Response::builder()
                .status(201)
                .header("vary", "Origin")
                .header("vary", "Accept")
                .header("vary", http::HeaderValue::from_bytes(b"\xff").unwrap())
                .body(())
                .unwrap();
            assert_eq!(ResponseHeaders::status(&response), 201);
            let values: Vec<&str> = response.values("vary").collect();
            assert_eq!(values, ["Origin", "Accept"], "text values only");
            response.append_static("vary", "Cookie");
            assert_eq!(response.values("vary").count(), 3);
            response.remove("vary");
            assert_eq!(response.values("vary").count(), 0);
            response.append("x-bad", "a\nb".to_owned());
            assert!(
                response.headers().get("x-bad").is_none(),
                "invalid values are dropped"
            );
            response.append_static("vary", "Cookie");
            assert_eq!(response.headers()["vary"], "Cookie");
            response.append_static("x-bad", "a\nb");
            assert!(response.headers().get("x-bad").is_none());
            // A name that is no header name reads as absent, and is
            // neither removed nor written, rather than a panic.
            assert_eq!(response.values("Not A Name").count(), 0);
            response.remove("Not A Name");
            response.append("Not A Name", "x".to_owned());
            response.append_static("Not A Name", "x");
            assert_eq!(response.headers().len(), 1);
        }

        #[test]
        fn gimlet_s_own_responses() {
            let text: http::Response<String> = text_response((400, "bad session value"));
            assert_eq!(text.status(), 400);
            assert_eq!(text.body(), "bad session value");
            assert_eq!(text.headers()["content-type"], TEXT_PLAIN);
            assert_eq!(text.headers().len(), 1);
            let odd: http::Response<String> = text_response((1000, "x"));
            assert_eq!(odd.status(), 503, "a status http cannot hold");

            let failure = Failure {
                error: Error::Random,
            };
            let failed: http::Response<String> = text_response(failure.reply());
            assert_eq!(failed.status(), 500);
            assert_eq!(failed.body(), "internal session error");
        }
    }

    #[test]
    fn the_first_failure_without_a_subscriber_is_said_once() {
        let error = Error::Committed { what: "a test" };
        let told = AtomicBool::new(false);
        assert_eq!(unheard(&told, true, &error), None, "a subscriber hears it");
        let line = unheard(&told, false, &error).unwrap();
        assert!(line.contains("No tracing subscriber") && line.contains(&error.to_string()));
        assert_eq!(unheard(&told, false, &error), None, "once");
    }
}
