//! The shop on Rocket.
//!
//! Run with: `cargo run -p shop-rocket`

use gimlet_rocket::{Session, SessionFairing};
use gimlet_shop::pages::{self, AddToCart, Login, Outcome, Plain};
use gimlet_shop::{devices, setup};
use rocket::form::Form;
use rocket::http::Status;
use rocket::response::{Redirect, Responder, content::RawHtml};
use rocket::{get, post, routes};

#[derive(Responder)]
enum Reply {
    Page(RawHtml<String>),
    Redirect(Box<Redirect>),
    Forbidden((Status, RawHtml<String>)),
    Failed(gimlet_rocket::Error),
}

fn respond(outcome: Result<Outcome, gimlet_core::Error>) -> Reply {
    match outcome {
        Ok(Outcome::Page(html)) => Reply::Page(RawHtml(html)),
        Ok(Outcome::Redirect(to)) => Reply::Redirect(Box::new(Redirect::to(to))),
        Ok(Outcome::Forbidden(html)) => Reply::Forbidden((Status::Forbidden, RawHtml(html))),
        Err(e) => Reply::Failed(gimlet_rocket::Error(e)),
    }
}

#[get("/metrics")]
fn metrics() -> String {
    setup::metrics()
}

#[get("/")]
async fn home(session: Session) -> Reply {
    respond(pages::home(&session).await)
}

#[post("/login", data = "<form>")]
async fn login(session: Session, form: Form<Login>) -> Reply {
    respond(pages::login(&session, &form).await)
}

#[post("/cart", data = "<form>")]
async fn add(session: Session, form: Form<AddToCart>) -> Reply {
    respond(pages::add_to_cart(&session, &form).await)
}

#[post("/logout", data = "<form>")]
async fn logout(session: Session, form: Form<Plain>) -> Reply {
    respond(pages::logout(&session, &form).await)
}

#[post("/logout-everywhere", data = "<form>")]
async fn logout_everywhere(session: Session, form: Form<Plain>) -> Reply {
    respond(devices::logout_everywhere(&session, &form).await)
}

#[post("/logout-others", data = "<form>")]
async fn logout_others(session: Session, form: Form<Plain>) -> Reply {
    respond(devices::logout_others(&session, &form).await)
}

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    setup::init_logging();
    let gimlet = setup::gimlet().await?;
    let addr = setup::addr()?;
    let figment = rocket::Config::figment()
        .merge(("address", addr.ip()))
        .merge(("port", addr.port()))
        .merge(("log_level", "critical"));
    let _ = rocket::custom(figment)
        .attach(SessionFairing::new(gimlet))
        .attach(rocket::fairing::AdHoc::on_liftoff("announce", |rocket| {
            Box::pin(async move {
                let config = rocket.config();
                setup::announce((config.address, config.port).into(), "Rocket");
            })
        }))
        .mount(
            "/",
            routes![
                home,
                login,
                add,
                logout,
                logout_everywhere,
                logout_others,
                metrics
            ],
        )
        .launch()
        .await?;
    Ok(())
}
