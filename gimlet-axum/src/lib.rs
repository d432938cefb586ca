//! [axum] 0.8 adapter for [Gimlet](gimlet_core) sessions: a tower
//! [`SessionLayer`] and a [`Session`] extractor.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use gimlet_axum::{Session, SessionLayer};
//! use gimlet_core::{Gimlet, MemoryBackend};
//!
//! async fn visit(session: Session) -> Result<String, gimlet_axum::Error> {
//!     let visits = session.update("visits", |n: &mut Option<u32>| {
//!         *n = Some(n.unwrap_or(0) + 1);
//!         n.unwrap_or(0)
//!     })
//!     .await?;
//!     Ok(format!("visit number {visits}"))
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let gimlet = Gimlet::builder()
//!     .secret(std::env::var("GIMLET_SECRET")?)
//!     .backend(MemoryBackend::new())
//!     .clientside_keys(["user_id"])
//!     .build()?;
//! let app = Router::new().route("/", get(visit)).layer(SessionLayer::new(gimlet));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! The layer opens the session from the request's cookies (no I/O), puts
//! it in the request's extensions, runs the inner service, then hands the
//! response to [`Gimlet::finish`]: it commits (at most one backend round
//! trip) and appends the `Set-Cookie`, `Cache-Control` and `Vary` headers.
//! A response with a 5xx status, or a handler that panics, commits nothing.
//! If the commit fails, the response is replaced by the error's status (503
//! when the backend is down) with a short text body, and no session cookie
//! is sent.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, COOKIE};
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use gimlet_core::{Gimlet, ResponseHeaders};

/// Opens and commits a session around every request.
#[derive(Debug, Clone)]
pub struct SessionLayer {
    gimlet: Gimlet,
}

impl SessionLayer {
    /// A layer for sessions configured by `gimlet`.
    pub fn new(gimlet: Gimlet) -> Self {
        SessionLayer { gimlet }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            gimlet: self.gimlet.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around yours.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    gimlet: Gimlet,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: From<&'static str> + Send,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let cookies = req
            .headers()
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let session = self.gimlet.open_from_headers(cookies);
        req.extensions_mut().insert(session.clone());
        // The clone that was polled ready is the one to call.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let gimlet = self.gimlet.clone();
        Box::pin(async move {
            let mut response = inner.call(req).await?;
            match gimlet.finish(&session, &mut Head(&mut response)).await {
                Ok(()) => Ok(response),
                Err(failure) => Ok(failure_response(failure.status(), failure.body())),
            }
        })
    }
}

/// The handler's response, as the core reads and edits it.
struct Head<'a, B>(&'a mut http::Response<B>);

impl<B> ResponseHeaders for Head<'_, B> {
    fn status(&self) -> u16 {
        self.0.status().as_u16()
    }

    fn values(&self, name: &'static str) -> impl Iterator<Item = &str> {
        self.0
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
    }

    fn set(&mut self, name: &'static str, value: String) {
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0.headers_mut().insert(name, value);
        }
    }

    fn append(&mut self, name: &'static str, value: String) {
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0.headers_mut().append(name, value);
        }
    }
}

/// A short text response with `status`, and no other header.
fn failure_response<B: From<&'static str>>(status: u16, body: &'static str) -> http::Response<B> {
    let mut response = http::Response::new(B::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The request's session, for handlers: `async fn h(session: Session)`.
///
/// It derefs to [`gimlet_core::Session`], which has the whole API.
#[derive(Debug, Clone)]
pub struct Session(pub gimlet_core::Session);

impl Deref for Session {
    type Target = gimlet_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The rejection when no [`SessionLayer`] wraps the route: a 500 that says
/// so.
#[derive(Debug, Clone, Copy)]
pub struct MissingSessionLayer;

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        let message = "gimlet: no session here; add gimlet_axum::SessionLayer to the router";
        tracing::error!("{message}");
        (StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<gimlet_core::Session>()
            .cloned()
            .map(Session)
            .ok_or(MissingSessionLayer)
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Session {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Infallible> {
        Ok(parts
            .extensions
            .get::<gimlet_core::Session>()
            .cloned()
            .map(Session))
    }
}

/// A session error as an axum response: its status code and a short,
/// generic text (the details go to the log), so handlers can use `?` on
/// session calls.
#[derive(Debug)]
pub struct Error(pub gimlet_core::Error);

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status_code()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl From<gimlet_core::Error> for Error {
    fn from(e: gimlet_core::Error) -> Self {
        Error(e)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        tracing::warn!(error = %self.0, "session error");
        failure_response::<axum::body::Body>(self.0.status_code(), self.0.public_message())
    }
}
