//! The shop on axum.
//!
//! Run with: `cargo run -p shop-axum`

use axum::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gimlet_axum::{Session, SessionLayer};
use gimlet_shop::pages::{self, AddToCart, Login, Outcome, Plain};
use gimlet_shop::{devices, setup};

fn respond(outcome: Result<Outcome, gimlet_core::Error>) -> Response {
    match outcome {
        Ok(Outcome::Page(html)) => Html(html).into_response(),
        Ok(Outcome::Redirect(to)) => Redirect::to(to).into_response(),
        Ok(Outcome::Forbidden(html)) => (StatusCode::FORBIDDEN, Html(html)).into_response(),
        Err(e) => gimlet_axum::Error(e).into_response(),
    }
}

async fn home(session: Session) -> Response {
    respond(pages::home(&session).await)
}

async fn login(session: Session, Form(form): Form<Login>) -> Response {
    respond(pages::login(&session, &form).await)
}

async fn add(session: Session, Form(form): Form<AddToCart>) -> Response {
    respond(pages::add_to_cart(&session, &form).await)
}

async fn logout(session: Session, Form(form): Form<Plain>) -> Response {
    respond(pages::logout(&session, &form).await)
}

async fn logout_everywhere(session: Session, Form(form): Form<Plain>) -> Response {
    respond(devices::logout_everywhere(&session, &form).await)
}

async fn logout_others(session: Session, Form(form): Form<Plain>) -> Response {
    respond(devices::logout_others(&session, &form).await)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    setup::init_logging();
    let gimlet = setup::gimlet().await?;
    let app = axum::Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/cart", post(add))
        .route("/logout", post(logout))
        .route("/logout-everywhere", post(logout_everywhere))
        .route("/logout-others", post(logout_others))
        .route("/metrics", get(|| async { setup::metrics() }))
        .layer(SessionLayer::new(gimlet));
    let listener = tokio::net::TcpListener::bind(setup::addr()?).await?;
    setup::announce(listener.local_addr()?, "axum");
    axum::serve(listener, app).await?;
    Ok(())
}
