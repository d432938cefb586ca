//! The recipes on actix-web: the routes, and a `CurrentUser` extractor,
//! which is also the guard of the routes that take it.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::LOCATION;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use gimlet_actix::{Error, Session};

use crate::{AddToCart, EXPIRED_FORM, Login, Plain, SIGN_IN_FIRST};

/// The signed-in user. Without one, the request is answered `401` before
/// the handler runs.
#[derive(Debug)]
pub struct CurrentUser(pub String);

/// Why there is no [`CurrentUser`].
#[derive(Debug)]
pub enum NoUser {
    /// Nobody is signed in.
    SignedOut,
    /// The session could not tell.
    Failed(actix_web::Error),
}

impl std::fmt::Display for NoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoUser::SignedOut => f.write_str(SIGN_IN_FIRST),
            NoUser::Failed(e) => e.fmt(f),
        }
    }
}

impl ResponseError for NoUser {
    fn error_response(&self) -> HttpResponse {
        match self {
            NoUser::SignedOut => HttpResponse::Unauthorized().body(SIGN_IN_FIRST),
            NoUser::Failed(e) => e.error_response(),
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = NoUser;
    type Future = Pin<Box<dyn Future<Output = Result<Self, NoUser>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = Session::from_request(req, payload).into_inner();
        Box::pin(async move {
            let session = session.map_err(|e| NoUser::Failed(e.into()))?;
            match crate::current_user(&session).await {
                Ok(Some(user)) => Ok(CurrentUser(user)),
                Ok(None) => Err(NoUser::SignedOut),
                Err(e) => Err(NoUser::Failed(Error(e).into())),
            }
        })
    }
}

fn to(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .finish()
}

fn expired() -> HttpResponse {
    HttpResponse::Forbidden().body(EXPIRED_FORM)
}

async fn home(session: Session) -> Result<String, Error> {
    Ok(crate::page(&session).await?)
}

async fn login(session: Session, form: web::Form<Login>) -> Result<HttpResponse, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::log_in(&session, &form).await?;
    Ok(to("/"))
}

async fn logout(session: Session, form: web::Form<Plain>) -> Result<HttpResponse, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::log_out(&session).await?;
    Ok(to("/"))
}

async fn logout_everywhere(
    session: Session,
    form: web::Form<Plain>,
) -> Result<HttpResponse, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::log_out_everywhere(&session).await?;
    Ok(to("/"))
}

async fn me(CurrentUser(user): CurrentUser) -> String {
    format!("hello, {user}")
}

/// Guarded by taking a [`CurrentUser`] it does not otherwise need.
async fn account(_: CurrentUser) -> &'static str {
    "your account"
}

async fn add(session: Session, form: web::Form<AddToCart>) -> Result<HttpResponse, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::add_to_cart(&session, &form.item).await?;
    Ok(to("/cart"))
}

async fn cart(session: Session) -> Result<String, Error> {
    Ok(crate::cart(&session).await?)
}

/// The recipes' routes; wrap the app in
/// `gimlet_actix::SessionMiddleware`.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(home))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/logout-everywhere", web::post().to(logout_everywhere))
        .route("/me", web::get().to(me))
        .route("/account", web::get().to(account))
        .route("/cart", web::get().to(cart))
        .route("/cart", web::post().to(add));
}
