//! What each adapter does at its edges, in real HTTP: a route without the
//! middleware, a commit that fails, and (Rocket) a route that fails after
//! changing the session.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use gimlet_core::Gimlet;
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
    async fn a_failed_commit_answers_503_and_sends_no_cookie() {
        let router = axum::Router::new()
            .route("/", route(write))
            .layer(gimlet_axum::SessionLayer::new(unreachable()));
        let (status, body, cookies) = get(format!("{}/", serve(router).await)).await;
        assert_eq!(status, 503, "{body}");
        assert!(cookies.is_empty(), "{cookies:?}");
        let router = axum::Router::new()
            .route("/", route(write))
            .layer(gimlet_axum::SessionLayer::new(memory()));
        let (status, _, cookies) = get(format!("{}/", serve(router).await)).await;
        assert_eq!((status, cookies.len()), (200, 1));
    }
}

mod actix_adapter {
    use super::*;
    use actix_web::{App, HttpServer, web};

    async fn write(session: gimlet_actix::Session) -> Result<&'static str, gimlet_actix::Error> {
        session.insert("k", &1).await?;
        Ok("written")
    }

    fn serve(gimlet: Option<Gimlet>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = HttpServer::new(move || {
            let app = App::new().route("/", web::get().to(write));
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
    async fn a_failed_commit_answers_503_and_sends_no_cookie() {
        let base = serve(Some(unreachable()));
        listening(base.trim_start_matches("http://").parse().unwrap()).await;
        let (status, body, cookies) = get(format!("{base}/")).await;
        assert_eq!(status, 503, "{body}");
        assert!(cookies.is_empty(), "{cookies:?}");
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

    #[rocket::get("/read")]
    async fn read(session: gimlet_rocket::Session) -> String {
        format!("{:?}", session.get::<u32>("before_failure").await.unwrap())
    }

    async fn serve(gimlet: Option<Gimlet>) -> String {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let figment = rocket::Config::figment()
            .merge(("address", addr.ip()))
            .merge(("port", addr.port()))
            .merge(("log_level", "off"));
        let mut rocket = rocket::custom(figment).mount("/", rocket::routes![write, fail, read]);
        if let Some(gimlet) = gimlet {
            rocket = rocket.attach(gimlet_rocket::SessionFairing::new(gimlet));
        }
        let rocket = rocket.ignite().await.unwrap();
        tokio::spawn(rocket.launch());
        listening(addr).await;
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn without_the_fairing_the_guard_fails_with_500() {
        let base = serve(None).await;
        assert_eq!(get(format!("{base}/write")).await.0, 500);
    }

    #[tokio::test]
    async fn a_failed_commit_answers_503_and_sends_no_cookie() {
        let base = serve(Some(unreachable())).await;
        let (status, body, cookies) = get(format!("{base}/write")).await;
        assert_eq!(status, 503, "{body}");
        assert!(cookies.is_empty(), "{cookies:?}");
    }

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
