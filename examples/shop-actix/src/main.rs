//! The shop on actix-web.
//!
//! Run with: `cargo run -p shop-actix`

use actix_web::http::header::LOCATION;
use actix_web::{App, HttpResponse, HttpServer, ResponseError, web};
use gimlet_actix::{Session, SessionMiddleware};
use gimlet_shop::pages::{self, AddToCart, Login, Outcome, Plain};
use gimlet_shop::{devices, setup};

fn respond(outcome: Result<Outcome, gimlet_core::Error>) -> HttpResponse {
    match outcome {
        Ok(Outcome::Page(html)) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Ok(Outcome::Redirect(to)) => HttpResponse::SeeOther()
            .insert_header((LOCATION, to))
            .finish(),
        Ok(Outcome::Forbidden(html)) => HttpResponse::Forbidden()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => gimlet_actix::Error(e).error_response(),
    }
}

async fn home(session: Session) -> HttpResponse {
    respond(pages::home(&session).await)
}

async fn login(session: Session, form: web::Form<Login>) -> HttpResponse {
    respond(pages::login(&session, &form).await)
}

async fn add(session: Session, form: web::Form<AddToCart>) -> HttpResponse {
    respond(pages::add_to_cart(&session, &form).await)
}

async fn logout(session: Session, form: web::Form<Plain>) -> HttpResponse {
    respond(pages::logout(&session, &form).await)
}

async fn logout_everywhere(session: Session, form: web::Form<Plain>) -> HttpResponse {
    respond(devices::logout_everywhere(&session, &form).await)
}

async fn logout_others(session: Session, form: web::Form<Plain>) -> HttpResponse {
    respond(devices::logout_others(&session, &form).await)
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    setup::init_logging();
    let gimlet = setup::gimlet().await?;
    let addr = setup::addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::new(gimlet.clone()))
            .route("/", web::get().to(home))
            .route("/login", web::post().to(login))
            .route("/cart", web::post().to(add))
            .route("/logout", web::post().to(logout))
            .route("/logout-everywhere", web::post().to(logout_everywhere))
            .route("/logout-others", web::post().to(logout_others))
            .route("/metrics", web::get().to(|| async { setup::metrics() }))
    })
    .bind(addr)?;
    setup::announce(server.addrs()[0], "actix-web");
    server.run().await?;
    Ok(())
}
