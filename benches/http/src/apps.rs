//! The apps under test: each framework bare, with Gimlet, and with its
//! competitor (tower-sessions on axum, actix-session on actix-web). All
//! serve the same routes, `/hello`, `/get/{key}` and
//! `/set/{key}/{value}`, with the same handlers; the session layers also
//! serve the realistic workload's cart routes (`cart.rs`).

use std::net::SocketAddr;

/// Bare axum: the same routes, no session layer.
pub(crate) fn bare_axum() -> axum::Router {
    use axum::extract::Path;
    use axum::routing::get;
    axum::Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/get/{key}",
            get(|Path(key): Path<String>| async move { key }),
        )
        .route("/set/{key}/{value}", get(|| async { "ok" }))
}

/// axum with tower-sessions on `store`.
pub(crate) fn tower_sessions_axum<S>(store: S) -> axum::Router
where
    S: tower_sessions::SessionStore + Clone,
{
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower_sessions::{Session, SessionManagerLayer};

    async fn read(session: Session, Path(key): Path<String>) -> (StatusCode, String) {
        match session.get::<String>(key.as_str()).await {
            Ok(Some(value)) => (StatusCode::OK, value),
            Ok(None) => (StatusCode::NOT_FOUND, "not found".into()),
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        }
    }

    async fn write(
        session: Session,
        Path((key, value)): Path<(String, String)>,
    ) -> (StatusCode, String) {
        match session.insert(&key, value).await {
            Ok(()) => (StatusCode::OK, "ok".into()),
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        }
    }

    axum::Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/get/{key}", get(read))
        .route("/set/{key}/{value}", get(write))
        .merge(crate::cart::tower_sessions_axum())
        .layer(SessionManagerLayer::new(store).with_secure(false))
}

/// Which actix-session store, if any.
#[derive(Clone)]
pub(crate) enum ActixStore {
    /// No session middleware.
    Bare,
    /// `CookieSessionStore`: the whole state in the cookie.
    Cookie,
    /// `RedisSessionStore`.
    Redis(actix_session::storage::RedisSessionStore),
}

/// actix-web, bare or with actix-session, on `listener`.
///
/// # Errors
///
/// The listener's error.
pub(crate) fn actix(
    store: ActixStore,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    use actix_session::{Session, SessionMiddleware};
    use actix_web::cookie::Key;
    use actix_web::{App, HttpResponse, HttpServer, web};

    async fn hello() -> &'static str {
        "hello"
    }

    async fn read(session: Session, key: web::Path<String>) -> HttpResponse {
        match session.get::<String>(&key) {
            Ok(Some(value)) => HttpResponse::Ok().body(value),
            Ok(None) => HttpResponse::NotFound().body("not found"),
            Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
        }
    }

    async fn write(session: Session, path: web::Path<(String, String)>) -> HttpResponse {
        let (key, value) = path.into_inner();
        match session.insert(key, value) {
            Ok(()) => HttpResponse::Ok().body("ok"),
            Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
        }
    }

    async fn bare_read(key: web::Path<String>) -> String {
        key.into_inner()
    }

    async fn bare_write() -> &'static str {
        "ok"
    }

    let key = Key::from(&[7; 64]);
    let server = match store {
        ActixStore::Bare => HttpServer::new(|| {
            App::new()
                .route("/hello", web::get().to(hello))
                .route("/get/{key}", web::get().to(bare_read))
                .route("/set/{key}/{value}", web::get().to(bare_write))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)?
        .run(),
        ActixStore::Cookie => HttpServer::new(move || {
            let store = actix_session::storage::CookieSessionStore::default();
            App::new()
                .wrap(
                    SessionMiddleware::builder(store, key.clone())
                        .cookie_secure(false)
                        .build(),
                )
                .route("/hello", web::get().to(hello))
                .route("/get/{key}", web::get().to(read))
                .route("/set/{key}/{value}", web::get().to(write))
                .configure(crate::cart::actix_session)
        })
        .workers(2)
        .disable_signals()
        .listen(listener)?
        .run(),
        ActixStore::Redis(redis) => HttpServer::new(move || {
            App::new()
                .wrap(
                    SessionMiddleware::builder(redis.clone(), key.clone())
                        .cookie_secure(false)
                        .build(),
                )
                .route("/hello", web::get().to(hello))
                .route("/get/{key}", web::get().to(read))
                .route("/set/{key}/{value}", web::get().to(write))
                .configure(crate::cart::actix_session)
        })
        .workers(2)
        .disable_signals()
        .listen(listener)?
        .run(),
    };
    Ok(server)
}

#[rocket::get("/hello")]
fn rocket_hello() -> &'static str {
    "hello"
}

#[rocket::get("/get/<key>")]
fn rocket_get(key: &str) -> String {
    key.to_owned()
}

#[rocket::get("/set/<_key>/<_value>")]
fn rocket_set(_key: &str, _value: &str) -> &'static str {
    "ok"
}

fn rocket_on(addr: SocketAddr) -> rocket::Rocket<rocket::Build> {
    let figment = rocket::Config::figment()
        .merge(("address", addr.ip()))
        .merge(("port", addr.port()))
        .merge(("log_level", "off"));
    rocket::custom(figment).mount("/", rocket::routes![rocket_hello])
}

/// Bare Rocket on `addr`.
pub(crate) fn bare_rocket(addr: SocketAddr) -> rocket::Rocket<rocket::Build> {
    rocket_on(addr).mount("/", rocket::routes![rocket_get, rocket_set])
}

/// axum with gimlet-axum, the same three routes.
pub(crate) fn gimlet_axum(gimlet: gimlet_core::Gimlet) -> axum::Router {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::get;
    use gimlet_axum::{Session, SessionLayer};

    async fn read(session: Session, Path(key): Path<String>) -> (StatusCode, String) {
        match session.get::<String>(key.as_str()).await {
            Ok(Some(value)) => (StatusCode::OK, value),
            Ok(None) => (StatusCode::NOT_FOUND, "not found".into()),
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        }
    }

    async fn write(
        session: Session,
        Path((key, value)): Path<(String, String)>,
    ) -> (StatusCode, String) {
        match session.insert(&key, &value).await {
            Ok(()) => (StatusCode::OK, "ok".into()),
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        }
    }

    axum::Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/get/{key}", get(read))
        .route("/set/{key}/{value}", get(write))
        .merge(crate::cart::gimlet_axum())
        .layer(SessionLayer::new(gimlet))
}

/// actix-web with gimlet-actix, the same three routes.
pub(crate) fn gimlet_actix(
    gimlet: gimlet_core::Gimlet,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    use gimlet_actix::{Session, SessionMiddleware};

    async fn hello() -> &'static str {
        "hello"
    }

    async fn read(session: Session, key: web::Path<String>) -> HttpResponse {
        match session.get::<String>(key.as_str()).await {
            Ok(Some(value)) => HttpResponse::Ok().body(value),
            Ok(None) => HttpResponse::NotFound().body("not found"),
            Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
        }
    }

    async fn write(session: Session, path: web::Path<(String, String)>) -> HttpResponse {
        let (key, value) = path.into_inner();
        match session.insert(&key, &value).await {
            Ok(()) => HttpResponse::Ok().body("ok"),
            Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
        }
    }

    Ok(HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::new(gimlet.clone()))
            .route("/hello", web::get().to(hello))
            .route("/get/{key}", web::get().to(read))
            .route("/set/{key}/{value}", web::get().to(write))
            .configure(crate::cart::gimlet_actix)
    })
    .workers(2)
    .disable_signals()
    .listen(listener)?
    .run())
}

#[rocket::get("/get/<key>")]
async fn gimlet_rocket_get(
    session: gimlet_rocket::Session,
    key: &str,
) -> (rocket::http::Status, String) {
    match session.get::<String>(key).await {
        Ok(Some(value)) => (rocket::http::Status::Ok, value),
        Ok(None) => (rocket::http::Status::NotFound, "not found".into()),
        Err(e) => (rocket::http::Status::ServiceUnavailable, e.to_string()),
    }
}

#[rocket::get("/set/<key>/<value>")]
async fn gimlet_rocket_set(
    session: gimlet_rocket::Session,
    key: &str,
    value: &str,
) -> (rocket::http::Status, String) {
    match session.insert(key, value).await {
        Ok(()) => (rocket::http::Status::Ok, "ok".into()),
        Err(e) => (rocket::http::Status::ServiceUnavailable, e.to_string()),
    }
}

/// Rocket with gimlet-rocket on `addr`, the same three routes.
pub(crate) fn gimlet_rocket(
    gimlet: gimlet_core::Gimlet,
    addr: SocketAddr,
) -> rocket::Rocket<rocket::Build> {
    rocket_on(addr)
        .attach(gimlet_rocket::SessionFairing::new(gimlet))
        .mount("/", rocket::routes![gimlet_rocket_get, gimlet_rocket_set])
}
