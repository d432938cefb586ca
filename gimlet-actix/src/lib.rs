//! [actix-web] 4 adapter for [Gimlet](gimlet_core) sessions: a
//! [`SessionMiddleware`] and a [`Session`] extractor.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use gimlet_actix::{Session, SessionMiddleware};
//! use gimlet_core::{Gimlet, MemoryBackend};
//!
//! async fn visit(session: Session) -> Result<String, gimlet_actix::Error> {
//!     let visits = session.update("visits", |n: &mut Option<u32>| {
//!         *n = Some(n.unwrap_or(0) + 1);
//!         n.unwrap_or(0)
//!     })
//!     .await?;
//!     Ok(format!("visit number {visits}"))
//! }
//!
//! # #[actix_web::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let gimlet = Gimlet::builder()
//!     .secret(std::env::var("GIMLET_SECRET")?)
//!     .backend(MemoryBackend::new())
//!     .build()?;
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(SessionMiddleware::new(gimlet.clone()))
//!         .route("/", web::get().to(visit))
//! })
//! .bind(("127.0.0.1", 3000))?
//! .run()
//! .await?;
//! # Ok(()) }
//! ```
//!
//! actix-web carries its own, older `cookie` crate; Gimlet hands this
//! adapter finished header strings, so the two never meet.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{COOKIE, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use gimlet_core::{Gimlet, ResponseHeaders};

/// Opens and commits a session around every request.
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    gimlet: Gimlet,
}

impl SessionMiddleware {
    /// A middleware for sessions configured by `gimlet`.
    pub fn new(gimlet: Gimlet) -> Self {
        SessionMiddleware { gimlet }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService {
            service: Rc::new(service),
            gimlet: self.gimlet.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around yours.
pub struct SessionService<S> {
    service: Rc<S>,
    gimlet: Gimlet,
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("gimlet", &self.gimlet)
            .finish_non_exhaustive()
    }
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let cookies = req
            .headers()
            .get_all(COOKIE)
            .filter_map(|v| v.to_str().ok());
        let session = self.gimlet.open_from_headers(cookies);
        req.extensions_mut().insert(session.clone());
        let service = Rc::clone(&self.service);
        let gimlet = self.gimlet.clone();
        Box::pin(async move {
            let mut response = service.call(req).await?;
            match gimlet.finish(&session, &mut Head(&mut response)).await {
                Ok(()) => Ok(response.map_into_left_body()),
                Err(failure) => {
                    let (request, _) = response.into_parts();
                    let failure = text(failure.status(), failure.body());
                    Ok(ServiceResponse::new(request, failure).map_into_right_body())
                }
            }
        })
    }
}

/// The handler's response, as the core reads and edits it.
struct Head<'a, B>(&'a mut ServiceResponse<B>);

impl<B> ResponseHeaders for Head<'_, B> {
    fn status(&self) -> u16 {
        self.0.status().as_u16()
    }

    fn values(&self, name: &'static str) -> impl Iterator<Item = &str> {
        self.0
            .headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
    }

    fn set(&mut self, name: &'static str, value: String) {
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }

    fn append(&mut self, name: &'static str, value: String) {
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0
                .headers_mut()
                .append(HeaderName::from_static(name), value);
        }
    }
}

/// A short text response with `status`.
fn text(status: u16, body: &'static str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE))
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// The request's session, for handlers: `async fn h(session: Session)`.
///
/// It derefs to [`gimlet_core::Session`], which has the whole API. Without
/// [`SessionMiddleware`] around the route, extracting it fails with a 500
/// that says so.
#[derive(Debug, Clone)]
pub struct Session(pub gimlet_core::Session);

impl Deref for Session {
    type Target = gimlet_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequest for Session {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.extensions().get::<gimlet_core::Session>().cloned();
        ready(session.map(Session).ok_or_else(|| {
            let message =
                "gimlet: no session here; wrap the app in gimlet_actix::SessionMiddleware";
            tracing::error!("{message}");
            actix_web::error::ErrorInternalServerError(message)
        }))
    }
}

/// A session error as an actix-web error: its status code and a short,
/// generic text (the details go to the log), so handlers can use `?` on
/// session calls.
#[derive(Debug)]
pub struct Error(pub gimlet_core::Error);

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

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status_code()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
    }

    fn error_response(&self) -> HttpResponse {
        tracing::warn!(error = %self.0, "session error");
        text(self.0.status_code(), self.0.public_message())
    }
}
