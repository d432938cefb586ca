//! What each adapter does at its edges, in real HTTP: a route without the
//! middleware, a commit that fails, a handler that panics after changing
//! the session, and (Rocket) routes that fail after changing it.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gimlet_core::Gimlet;
use gimlet_core::testing::CountingBackend;
use gimlet_redis::RedisBackend;

const SECRET: &str = "adapter tests' secret, thirty-two bytes";

/// A Gimlet whose backend refuses every connection: server-side writes
/// make the commit fail.
fn unreachable() -> Gimlet {
    let backend =
        RedisBackend::from_url_with("redis://127.0.0.1:1/", Duration::from_millis(300), 2).unwrap();
    Gimlet::builder()
        .secret(SECRET)
        .backend(backend)
        .build()
        .unwrap()
}

/// A Gimlet on a memory backend whose calls are counted.
fn counted() -> (Gimlet, Arc<CountingBackend<gimlet_core::MemoryBackend>>) {
    let backend = Arc::new(CountingBackend::new(gimlet_core::MemoryBackend::new()));
    let gimlet = Gimlet::builder()
        .secret(SECRET)
        .shared_backend(backend.clone())
        .build()
        .unwrap();
    (gimlet, backend)
}

/// Whatever a panicking handler's client sees (an error, or a 500), no
/// session cookie comes with it.
async fn no_cookie_from_a_panic(url: String) {
    if let Ok(response) = reqwest::get(url).await {
        assert_eq!(response.status().as_u16(), 500);
        assert!(response.headers().get("set-cookie").is_none());
    }
}

fn memory() -> Gimlet {
    Gimlet::builder()
        .secret(SECRET)
        .backend(gimlet_core::MemoryBackend::new())
        .build()
        .unwrap()
}

async fn get(url: String) -> (u16, String, Vec<String>) {
    let response = reqwest::get(url).await.unwrap();
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (
        response.status().as_u16(),
        response.text().await.unwrap(),
        cookies,
    )
}

async fn listening(addr: SocketAddr) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing listens on {addr}");
}

mod axum_adapter {
    use super::*;
    use axum::routing::get as route;

    async fn write(session: gimlet_axum::Session) -> Result<&'static str, gimlet_axum::Error> {
        session.insert("k", &1).await?;
        Ok("written")
    }

    async fn panic(session: gimlet_axum::Session) -> &'static str {
        session.insert("k", &1).await.unwrap();
        panic!("the handler fails after a write");
    }

    async fn serve(router: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn without_the_layer_the_extractor_answers_500_with_a_message() {
        let base = serve(axum::Router::new().route("/", route(write))).await;
        let (status, body, _) = get(format!("{base}/")).await;
        assert_eq!(status, 500);
        assert!(body.contains("SessionLayer"), "{body}");
    }

    #[tokio::test]
    async fn a_failed_commit_answers_503_with_its_text_and_sends_no_cookie() {
        let router = axum::Router::new()
            .route("/", route(write))
            .layer(gimlet_axum::SessionLayer::new(unreachable()));
        let (status, body, cookies) = get(format!("{}/", serve(router).await)).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            body, "session storage unavailable",
            "the same text on every adapter"
        );
        assert!(cookies.is_empty(), "{cookies:?}");
        let router = axum::Router::new()
            .route("/", route(write))
            .layer(gimlet_axum::SessionLayer::new(memory()));
        let (status, _, cookies) = get(format!("{}/", serve(router).await)).await;
        assert_eq!((status, cookies.len()), (200, 1));
    }

    #[tokio::test]
    async fn a_handler_that_panics_commits_nothing() {
        let (gimlet, backend) = counted();
        let router = axum::Router::new()
            .route("/", route(panic))
            .layer(gimlet_axum::SessionLayer::new(gimlet));
        no_cookie_from_a_panic(format!("{}/", serve(router).await)).await;
        assert_eq!(backend.counts().round_trips(), 0);
    }
}

mod actix_adapter {
    use super::*;
    use actix_web::{App, HttpServer, web};

    async fn write(session: gimlet_actix::Session) -> Result<&'static str, gimlet_actix::Error> {
        session.insert("k", &1).await?;
        Ok("written")
    }

    async fn panic(session: gimlet_actix::Session) -> &'static str {
        session.insert("k", &1).await.unwrap();
        panic!("the handler fails after a write");
    }

    fn serve(gimlet: Option<Gimlet>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = HttpServer::new(move || {
            let app = App::new()
                .route("/", web::get().to(write))
                .route("/panic", web::get().to(panic));
            app.wrap(actix_web::middleware::Condition::new(
                gimlet.is_some(),
                gimlet_actix::SessionMiddleware::new(gimlet.clone().unwrap_or_else(memory)),
            ))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        std::thread::spawn(move || actix_web::rt::System::new().block_on(server));
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn without_the_middleware_the_extractor_answers_500_with_a_message() {
        let base = serve(None);
        listening(base.trim_start_matches("http://").parse().unwrap()).await;
        let (status, body, _) = get(format!("{base}/")).await;
        assert_eq!(status, 500);
        assert!(body.contains("SessionMiddleware"), "{body}");
    }

    #[tokio::test]
    async fn a_failed_commit_answers_503_with_its_text_and_sends_no_cookie() {
        let base = serve(Some(unreachable()));
        listening(base.trim_start_matches("http://").parse().unwrap()).await;
        let (status, body, cookies) = get(format!("{base}/")).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            body, "session storage unavailable",
            "the same text on every adapter"
        );
        assert!(cookies.is_empty(), "{cookies:?}");
    }

    #[tokio::test]
    async fn a_handler_that_panics_commits_nothing() {
        let (gimlet, backend) = counted();
        let base = serve(Some(gimlet));
        listening(base.trim_start_matches("http://").parse().unwrap()).await;
        no_cookie_from_a_panic(format!("{base}/panic")).await;
        assert_eq!(backend.counts().round_trips(), 0);
    }
}

mod rocket_adapter {
    use super::*;
    use rocket::http::Status;

    #[rocket::get("/write")]
    async fn write(session: gimlet_rocket::Session) -> Result<&'static str, gimlet_rocket::Error> {
        session.insert("k", &1).await?;
        Ok("written")
    }

    /// Writes to the session, then fails: a catcher answers.
    #[rocket::get("/fail")]
    async fn fail(session: gimlet_rocket::Session) -> Result<&'static str, Status> {
        session
            .insert("before_failure", &1)
            .await
            .map_err(|_| Status::InternalServerError)?;
        Err(Status::BadRequest)
    }

    /// Writes to the session, then fails with a server error.
    #[rocket::get("/fail500")]
    async fn fail500(session: gimlet_rocket::Session) -> Result<&'static str, Status> {
        session
            .insert("before_failure", &1)
            .await
            .map_err(|_| Status::InternalServerError)?;
        Err(Status::InternalServerError)
    }

    #[rocket::get("/panic")]
    async fn panic(session: gimlet_rocket::Session) -> &'static str {
        session.insert("k", &1).await.unwrap();
        panic!("the handler fails after a write");
    }

    /// A response with headers of its own.
    struct Decorated;

    impl<'r> rocket::response::Responder<'r, 'static> for Decorated {
        fn respond_to(self, _: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
            rocket::Response::build()
                .raw_header("Set-Cookie", "own=1")
                .raw_header("Location", "/elsewhere")
                .raw_header("Content-Encoding", "gzip")
                .ok()
        }
    }

    #[rocket::get("/decorated")]
    async fn decorated(session: gimlet_rocket::Session) -> Result<Decorated, gimlet_rocket::Error> {
        session.insert("k", &1).await?;
        Ok(Decorated)
    }

    #[rocket::get("/read")]
    async fn read(session: gimlet_rocket::Session) -> String {
        format!("{:?}", session.get::<u32>("before_failure").await.unwrap())
    }

    async fn serve(gimlet: Option<Gimlet>) -> String {
        let figment = rocket::Config::figment()
            .merge(("address", "127.0.0.1"))
            .merge(("port", 0))
            .merge(("log_level", "off"));
        let mut rocket = rocket::custom(figment).mount(
            "/",
            rocket::routes![write, fail, fail500, panic, decorated, read],
        );
        if let Some(gimlet) = gimlet {
            rocket = rocket.attach(gimlet_rocket::SessionFairing::new(gimlet));
        }
        let (addr, _) = common::launch_rocket(rocket).await;
        listening(addr).await;
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn without_the_fairing_the_guard_fails_with_500() {
        let base = serve(None).await;
        assert_eq!(get(format!("{base}/write")).await.0, 500);
    }

    #[tokio::test]
    async fn a_failed_commit_answers_503_with_its_text_and_sends_no_cookie() {
        let base = serve(Some(unreachable())).await;
        let (status, body, cookies) = get(format!("{base}/write")).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            body, "session storage unavailable",
            "the same text on every adapter"
        );
        assert!(cookies.is_empty(), "{cookies:?}");
    }

    #[tokio::test]
    async fn a_failed_commit_keeps_none_of_the_routes_headers() {
        let base = serve(Some(unreachable())).await;
        let response = reqwest::get(format!("{base}/decorated")).await.unwrap();
        assert_eq!(response.status().as_u16(), 503);
        let headers = response.headers();
        assert!(headers.get("set-cookie").is_none(), "{headers:?}");
        assert!(headers.get("location").is_none(), "{headers:?}");
        assert!(headers.get("content-encoding").is_none(), "{headers:?}");
        assert_eq!(
            response.text().await.unwrap(),
            "session storage unavailable"
        );
    }

    #[tokio::test]
    async fn a_route_that_fails_with_a_server_error_or_panics_commits_nothing() {
        let (gimlet, backend) = counted();
        let base = serve(Some(gimlet)).await;
        for path in ["fail500", "panic"] {
            let (status, _, cookies) = get(format!("{base}/{path}")).await;
            assert_eq!(status, 500, "{path}");
            assert!(cookies.is_empty(), "{path}: {cookies:?}");
        }
        assert_eq!(backend.counts().round_trips(), 0);
    }

    /// A 4xx from a catcher is an answer, not a failure: the route's
    /// changes are committed.
    #[tokio::test]
    async fn when_a_catcher_answers_the_routes_changes_are_still_committed() {
        let base = serve(Some(memory())).await;
        let (status, _, cookies) = get(format!("{base}/fail")).await;
        assert_eq!(status, 400);
        assert_eq!(
            cookies.len(),
            1,
            "the catcher's response carries the session cookie"
        );
        let cookie = cookies[0].split(';').next().unwrap().to_owned();
        let response = reqwest::Client::new()
            .get(format!("{base}/read"))
            .header("Cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), "Some(1)");
    }
}
