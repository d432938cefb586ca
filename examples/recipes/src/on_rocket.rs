//! The recipes on Rocket: the routes, and a `CurrentUser` request guard.

use gimlet_rocket::{Error, Session};
use rocket::form::Form;
use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::response::Redirect;
use rocket::{Responder, catch, catchers, get, post, routes};

use crate::{AddToCart, EXPIRED_FORM, Login, Plain, SIGN_IN_FIRST};

/// The signed-in user. Without one, the request is answered `401` before
/// the handler runs.
#[derive(Debug)]
pub struct CurrentUser(pub String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CurrentUser {
    type Error = &'static str;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let session = match Session::from_request(req).await {
            Outcome::Success(session) => session,
            Outcome::Error((status, _)) => return Outcome::Error((status, "no session")),
            Outcome::Forward(status) => return Outcome::Forward(status),
        };
        match crate::current_user(&session).await {
            Ok(Some(user)) => Outcome::Success(CurrentUser(user)),
            Ok(None) => Outcome::Error((Status::Unauthorized, SIGN_IN_FIRST)),
            Err(e) => Outcome::Error((Status::new(e.status_code()), "session error")),
        }
    }
}

/// What a form route answers.
#[derive(Debug, Responder)]
pub enum Reply {
    /// `303` to the next page.
    Redirect(Box<Redirect>),
    /// `403`: the form's token is not the session's.
    Expired((Status, &'static str)),
}

fn to(location: &'static str) -> Reply {
    Reply::Redirect(Box::new(Redirect::to(location)))
}

fn expired() -> Reply {
    Reply::Expired((Status::Forbidden, EXPIRED_FORM))
}

#[get("/")]
async fn home(session: Session) -> Result<String, Error> {
    Ok(crate::page(&session).await?)
}

#[post("/login", data = "<form>")]
async fn login(session: Session, form: Form<Login>) -> Result<Reply, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::log_in(&session, &form).await?;
    Ok(to("/"))
}

#[post("/logout", data = "<form>")]
async fn logout(session: Session, form: Form<Plain>) -> Result<Reply, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::log_out(&session).await?;
    Ok(to("/"))
}

#[post("/logout-everywhere", data = "<form>")]
async fn logout_everywhere(session: Session, form: Form<Plain>) -> Result<Reply, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::log_out_everywhere(&session).await?;
    Ok(to("/"))
}

#[get("/me")]
fn me(user: CurrentUser) -> String {
    let CurrentUser(name) = user;
    format!("hello, {name}")
}

/// Guarded by taking a [`CurrentUser`] it does not otherwise need.
#[get("/account")]
fn account(_user: CurrentUser) -> &'static str {
    "your account"
}

#[post("/cart", data = "<form>")]
async fn add(session: Session, form: Form<AddToCart>) -> Result<Reply, Error> {
    if !crate::form_is_ours(&session, &form.csrf).await? {
        return Ok(expired());
    }
    crate::add_to_cart(&session, &form.item).await?;
    Ok(to("/cart"))
}

#[get("/cart")]
async fn cart(session: Session) -> Result<String, Error> {
    Ok(crate::cart(&session).await?)
}

/// What a request a [`CurrentUser`] guard turned away reads.
#[catch(401)]
fn sign_in_first() -> &'static str {
    SIGN_IN_FIRST
}

/// The recipes' catchers: `401` says to sign in.
pub fn catchers() -> Vec<rocket::Catcher> {
    catchers![sign_in_first]
}

/// The recipes' routes; attach `gimlet_rocket::SessionFairing` too.
pub fn routes() -> Vec<rocket::Route> {
    routes![
        home,
        login,
        logout,
        logout_everywhere,
        me,
        account,
        add,
        cart
    ]
}
