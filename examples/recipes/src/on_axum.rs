//! The recipes on axum: the routes, a `CurrentUser` extractor (which is
//! also a guard: a handler that takes it runs only for a signed-in user),
//! and a guard layer for a group of protected routes.

use axum::extract::{FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gimlet_axum::{Error, Session, SessionLayer};
use gimlet_core::Gimlet;

use crate::{AddToCart, EXPIRED_FORM, Login, Plain, SIGN_IN_FIRST};

/// The signed-in user. Without one, the request is answered `401` before
/// the handler runs.
#[derive(Debug)]
pub struct CurrentUser(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match crate::current_user(&session).await {
            Ok(Some(user)) => Ok(CurrentUser(user)),
            Ok(None) => Err((StatusCode::UNAUTHORIZED, SIGN_IN_FIRST).into_response()),
            Err(e) => Err(Error(e).into_response()),
        }
    }
}

/// The guard of a group of routes: they run only for a signed-in user.
async fn signed_in(_: CurrentUser, request: Request, next: Next) -> Response {
    next.run(request).await
}

/// The answer to a form whose CSRF token is not the session's.
fn expired() -> Response {
    (StatusCode::FORBIDDEN, EXPIRED_FORM).into_response()
}

async fn home(session: Session) -> Result<String, Error> {
    Ok(crate::page(&session).await?)
}

async fn login(session: Session, Form(form): Form<Login>) -> Result<Response, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::log_in(&session, &form).await?;
    Ok(Redirect::to("/").into_response())
}

async fn logout(session: Session, Form(form): Form<Plain>) -> Result<Response, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::log_out(&session).await?;
    Ok(Redirect::to("/").into_response())
}

async fn logout_everywhere(session: Session, Form(form): Form<Plain>) -> Result<Response, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::log_out_everywhere(&session).await?;
    Ok(Redirect::to("/").into_response())
}

async fn me(CurrentUser(user): CurrentUser) -> String {
    format!("hello, {user}")
}

async fn account() -> &'static str {
    "your account"
}

async fn add(session: Session, Form(form): Form<AddToCart>) -> Result<Response, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::add_to_cart(&session, &form.item).await?;
    Ok(Redirect::to("/cart").into_response())
}

async fn cart(session: Session) -> Result<String, Error> {
    Ok(crate::cart(&session).await?)
}

/// The recipes' routes, behind the session layer.
pub fn app(gimlet: Gimlet) -> Router {
    let protected = Router::new()
        .route("/account", get(account))
        .route_layer(middleware::from_fn(signed_in));
    Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/logout-everywhere", post(logout_everywhere))
        .route("/me", get(me))
        .route("/cart", get(cart).post(add))
        .merge(protected)
        .layer(SessionLayer::new(gimlet))
}
