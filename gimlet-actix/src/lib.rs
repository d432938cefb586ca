#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::StatusCode;
use actix_web::http::header::{COOKIE, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use gimlet_core::Gimlet;
use gimlet_core::adapter::{ResponseHeaders, TEXT_PLAIN, takes_static};

gimlet_core::adapter_types!(
    MissingSessionMiddleware,
    "gimlet: no session here; wrap the app in gimlet_actix::SessionMiddleware"
);

/// Opens and commits a session around every request.
#[derive(Debug, Clone)]
pub struct SessionMiddleware(Gimlet);

impl SessionMiddleware {
    /// A middleware for sessions configured by `gimlet`.
    pub fn new(gimlet: Gimlet) -> Self {
        SessionMiddleware(gimlet.serving("actix"))
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
        ready(Ok(SessionService(Rc::new(service), self.0.clone())))
    }
}

/// The service [`SessionMiddleware`] wraps around yours.
#[derive(Debug)]
pub struct SessionService<S>(Rc<S>, Gimlet);

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let cookies = req.headers().get_all(COOKIE).map(HeaderValue::as_bytes);
        let headers = req.headers();
        let session = self
            .1
            .open_request(cookies, |name| headers.get(name).map(HeaderValue::as_bytes));
        req.extensions_mut().insert(session.clone());
        let (service, gimlet) = (Rc::clone(&self.0), self.1.clone());
        Box::pin(async move {
            let mut response = service.call(req).await?;
            match gimlet.finish(&session, &mut Head(&mut response)).await {
                Ok(()) => Ok(response.map_into_left_body()),
                // A fresh response: none of the handler's headers survive.
                Err(failure) => Ok(response
                    .into_response(text(failure.reply()))
                    .map_into_right_body()),
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
        let values = header_name(name).map(|name| self.0.headers().get_all(name));
        let values = values.into_iter().flatten();
        values.filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
    }

    fn remove(&mut self, name: &'static str) {
        if let Some(name) = header_name(name) {
            self.0.headers_mut().remove(name);
        }
    }

    fn append(&mut self, name: &'static str, value: String) {
        if let (Some(name), Ok(value)) = (header_name(name), HeaderValue::try_from(value)) {
            self.0.headers_mut().append(name, value);
        }
    }

    fn append_static(&mut self, name: &'static str, value: &'static str) {
        // `Vary: Cookie`, on every response that used its session, is a
        // constant: no check of its bytes per request.
        const COOKIE: HeaderValue = HeaderValue::from_static("Cookie");
        let value = match value {
            "Cookie" => COOKIE,
            other if takes_static(other) => HeaderValue::from_static(other),
            _ => return,
        };
        if let Some(name) = header_name(name) {
            self.0.headers_mut().append(name, value);
        }
    }
}

/// actix-web's constant for each header the core reads or writes, so that
/// no request parses its name again; any other name parsed (`None` if it
/// is not one).
fn header_name(name: &'static str) -> Option<HeaderName> {
    use actix_web::http::header;
    Some(match name {
        "set-cookie" => header::SET_COOKIE,
        "vary" => header::VARY,
        "cache-control" => header::CACHE_CONTROL,
        other => return HeaderName::from_bytes(other.as_bytes()).ok(),
    })
}

/// A short text response with `status`.
fn text((status, body): (u16, &'static str)) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    HttpResponse::build(status)
        .content_type(TEXT_PLAIN)
        .body(body)
}

impl FromRequest for Session {
    type Error = MissingSessionMiddleware;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.extensions().get::<gimlet_core::Session>().cloned();
        ready(session.map(Session).ok_or(MissingSessionMiddleware))
    }
}

/// A 500 (the trait's default status), with the core's message.
impl ResponseError for MissingSessionMiddleware {
    fn error_response(&self) -> HttpResponse {
        text(self.reply())
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
    }

    fn error_response(&self) -> HttpResponse {
        text(self.reply())
    }
}
