//! Each framework's glue: one catch-all route that hands the path and the
//! query to [`dispatch`], behind that framework's Gimlet middleware.

use std::net::SocketAddr;

use gimlet_core::Gimlet;

use crate::routes::{Reply, dispatch};

/// The axum app.
pub fn axum_app(gimlet: Gimlet) -> axum::Router {
    use axum::extract::Path;
    use axum::http::{StatusCode, Uri, header};
    use axum::response::{IntoResponse, Response};

    async fn handler(
        session: gimlet_axum::Session,
        Path(path): Path<String>,
        uri: Uri,
    ) -> Response {
        let Reply { status, body } = dispatch(&session, &path, uri.query()).await;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }

    axum::Router::new()
        .route("/{*path}", axum::routing::get(handler))
        .layer(gimlet_axum::SessionLayer::new(gimlet))
}

/// Serves the axum app on `listener` until the process ends.
///
/// # Errors
///
/// The server's I/O error.
pub async fn serve_axum(gimlet: Gimlet, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, axum_app(gimlet)).await
}

/// The actix-web server on `listener`, not started yet: await it to serve,
/// or take its handle to stop it.
///
/// # Errors
///
/// The listener's I/O error.
pub fn actix_server(
    gimlet: Gimlet,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    use actix_web::http::StatusCode;
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

    async fn handler(session: gimlet_actix::Session, req: HttpRequest) -> HttpResponse {
        let path = req.match_info().get("path").unwrap_or_default();
        let Reply { status, body } = dispatch(&session, path, Some(req.query_string())).await;
        HttpResponse::build(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )
        .content_type("text/plain; charset=utf-8")
        .body(body)
    }

    Ok(HttpServer::new(move || {
        App::new()
            .wrap(gimlet_actix::SessionMiddleware::new(gimlet.clone()))
            .route("/{path:.*}", web::get().to(handler))
    })
    .workers(2)
    .disable_signals()
    .listen(listener)?
    .run())
}

/// The Rocket app, listening on `addr`.
pub fn rocket_app(gimlet: Gimlet, addr: SocketAddr) -> rocket::Rocket<rocket::Build> {
    let figment = rocket::Config::figment()
        .merge(("address", addr.ip()))
        .merge(("port", addr.port()))
        .merge(("log_level", "off"))
        .merge(("cli_colors", false));
    rocket::custom(figment)
        .attach(gimlet_rocket::SessionFairing::new(gimlet))
        .mount("/", rocket::routes![rocket_handler])
}

#[rocket::get("/<path..>")]
async fn rocket_handler(
    session: gimlet_rocket::Session,
    path: std::path::PathBuf,
    origin: &rocket::http::uri::Origin<'_>,
) -> (rocket::http::Status, (rocket::http::ContentType, String)) {
    let path = path.to_string_lossy();
    let query = origin.query().map(|q| q.as_str());
    let Reply { status, body } = dispatch(&session, &path, query).await;
    (
        rocket::http::Status::new(status),
        (rocket::http::ContentType::Plain, body),
    )
}
