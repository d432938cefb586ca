#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use gimlet_core::Gimlet;
use gimlet_core::adapter::text_response;
use http::Request;
use http::header::COOKIE;
use http::request::Parts;
use tower_layer::Layer;
use tower_service::Service;

gimlet_core::adapter_types!(
    MissingSessionLayer,
    "gimlet: no session here; add gimlet_axum::SessionLayer to the router"
);

/// Opens and commits a session around every request.
#[derive(Debug, Clone)]
pub struct SessionLayer {
    gimlet: Gimlet,
}

impl SessionLayer {
    /// A layer for sessions configured by `gimlet`.
    pub fn new(gimlet: Gimlet) -> Self {
        SessionLayer {
            gimlet: gimlet.serving("axum"),
        }
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
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>> + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<&'static str> + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = SessionFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let cookies = req.headers().get_all(COOKIE).iter();
        let headers = req.headers();
        let session = self
            .gimlet
            .open_request(cookies.map(|v| v.as_bytes()), |name| {
                headers.get(name).map(|v| v.as_bytes())
            });
        req.extensions_mut().insert(session.clone());
        SessionFuture {
            step: Step::Serving {
                inner: self.inner.call(req),
                finish: Some((self.gimlet.clone(), session)),
            },
        }
    }
}

/// What a commit's future answers: the response, with its cookies.
type Committing<B, E> = Pin<Box<dyn Future<Output = Result<http::Response<B>, E>> + Send>>;

pin_project_lite::pin_project! {
    /// The response future of [`SessionService`]: the inner service's
    /// answer, then the session's commit. A request that did not use its
    /// session finishes as soon as the inner future does, with no commit
    /// future built.
    pub struct SessionFuture<F, B, E> {
        #[pin]
        step: Step<F, B, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = StepProj]
    enum Step<F, B, E> {
        Serving { #[pin] inner: F, finish: Option<(Gimlet, gimlet_core::Session)> },
        Committing { commit: Committing<B, E> },
    }
}

impl<F, B, E> Future for SessionFuture<F, B, E>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: From<&'static str> + Send + 'static,
    E: Send + 'static,
{
    type Output = Result<http::Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut step = self.project().step;
        loop {
            let commit = match step.as_mut().project() {
                StepProj::Committing { commit } => return commit.as_mut().poll(cx),
                StepProj::Serving { inner, finish } => {
                    let response = std::task::ready!(inner.poll(cx))?;
                    let Some((gimlet, session)) = finish.take() else {
                        panic!("SessionFuture polled after it answered");
                    };
                    if gimlet.finish_unused(&session) {
                        return Poll::Ready(Ok(response));
                    }
                    Box::pin(commit(gimlet, session, response))
                }
            };
            step.set(Step::Committing { commit });
        }
    }
}

/// Commits a session that was used, into the handler's response.
async fn commit<B: From<&'static str>, E>(
    gimlet: Gimlet,
    session: gimlet_core::Session,
    mut response: http::Response<B>,
) -> Result<http::Response<B>, E> {
    match gimlet.finish(&session, &mut response).await {
        Ok(()) => Ok(response),
        Err(failure) => Ok(text_response(failure.reply())),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<gimlet_core::Session>().cloned();
        session.map(Session).ok_or(MissingSessionLayer)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Infallible> {
        Ok(parts
            .extensions
            .get::<gimlet_core::Session>()
            .cloned()
            .map(Session))
    }
}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        text_response(self.reply())
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        text_response(self.reply())
    }
}
