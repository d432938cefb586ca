//! Every recipe, over real HTTP, on each framework: a visitor with a
//! cookie jar of its own that can restart its browser (keeping only the
//! cookies with `Max-Age`, as a browser does).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;

use gimlet_recipes::{EXPIRED_FORM, SIGN_IN_FIRST, gimlet, on_actix, on_axum, on_rocket};

/// One browser: its cookies, each with whether it outlives a restart.
struct Visitor {
    base: String,
    http: reqwest::Client,
    jar: BTreeMap<String, (String, bool)>,
}

impl Visitor {
    fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Visitor {
            base: base.to_owned(),
            http,
            jar: BTreeMap::new(),
        }
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let max_age = attributes
                .split(';')
                .find_map(|a| a.trim().strip_prefix("Max-Age="));
            match max_age {
                Some("0") => drop(self.jar.remove(name)),
                persistent => drop(
                    self.jar
                        .insert(name.into(), (value.into(), persistent.is_some())),
                ),
            }
        }
    }

    fn cookie(&self) -> String {
        let pairs: Vec<String> = self
            .jar
            .iter()
            .map(|(n, (v, _))| format!("{n}={v}"))
            .collect();
        pairs.join("; ")
    }

    /// `GET path`: the status and the body.
    async fn get(&mut self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Posts `form` (with the page's CSRF token unless one is given) and
    /// follows a `303`; the status and the body at the end.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let mut form: Vec<(&str, String)> =
            form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        if !form.iter().any(|(k, _)| *k == "csrf") {
            let page = self.get("/").await.1;
            let token = page.lines().find_map(|l| l.strip_prefix("csrf: ")).unwrap();
            form.push(("csrf", token.to_owned()));
        }
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie())
            .form(&form)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        if response.status() == 303 {
            let to = response.headers()["location"].to_str().unwrap().to_owned();
            return self.get(&to).await;
        }
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Closes the browser and opens it again: only persistent cookies stay.
    fn restart(&mut self) {
        self.jar.retain(|_, (_, persistent)| *persistent);
    }
}

async fn recipes(base: &str) {
    // A guard: no user, no page.
    let mut a = Visitor::new(base);
    assert_eq!(
        a.get("/me").await,
        (401, SIGN_IN_FIRST.to_owned()),
        "{base}"
    );
    assert_eq!(a.get("/account").await.0, 401, "{base}");

    // CSRF in a form: a forged token gets the expired-form answer.
    let forged = a
        .post("/login", &[("name", "ada"), ("csrf", "forged")])
        .await;
    assert_eq!(forged, (403, EXPIRED_FORM.to_owned()), "{base}");

    // Login with remember me, and the flash after the redirect (once).
    let (status, page) = a
        .post("/login", &[("name", "ada"), ("remember", "1")])
        .await;
    assert_eq!(status, 200, "{base}: {page}");
    assert!(
        page.contains("flash: Welcome, ada.\nsigned in as ada"),
        "{base}: {page}"
    );
    assert!(!a.get("/").await.1.contains("flash:"), "{base}: shown once");
    assert_eq!(a.get("/me").await, (200, "hello, ada".to_owned()), "{base}");
    assert_eq!(
        a.get("/account").await,
        (200, "your account".to_owned()),
        "{base}"
    );

    // Data that survives a browser restart, as the login does.
    assert_eq!(
        a.post("/cart", &[("item", "gin")]).await,
        (200, "gin".to_owned())
    );
    a.restart();
    assert_eq!(
        a.get("/me").await,
        (200, "hello, ada".to_owned()),
        "{base}: remembered"
    );
    assert_eq!(a.get("/cart").await, (200, "gin".to_owned()), "{base}");

    // Without remember me, a restart signs out.
    let mut b = Visitor::new(base);
    b.post("/login", &[("name", "ada")]).await;
    assert_eq!(b.get("/me").await.0, 200, "{base}");
    b.restart();
    assert_eq!(b.get("/me").await.0, 401, "{base}: forgotten");

    // Log out everywhere: every browser of ada's.
    let mut c = Visitor::new(base);
    c.post("/login", &[("name", "ada")]).await;
    let (_, page) = a.post("/logout-everywhere", &[]).await;
    assert!(
        page.contains("flash: Signed out everywhere.\nsigned out"),
        "{base}: {page}"
    );
    assert_eq!(c.get("/me").await.0, 401, "{base}");
    assert_eq!(a.get("/me").await.0, 401, "{base}");

    // Logout.
    let mut d = Visitor::new(base);
    d.post("/login", &[("name", "bob")]).await;
    let (_, page) = d.post("/logout", &[]).await;
    assert!(
        page.contains("flash: Goodbye.\nsigned out"),
        "{base}: {page}"
    );
    assert_eq!(d.get("/me").await.0, 401, "{base}");
}

async fn wait_until_listening(addr: SocketAddr) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{addr} never listened");
}

#[tokio::test]
async fn on_axum() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, on_axum::app(gimlet().unwrap())).await });
    recipes(&format!("http://{addr}")).await;
}

#[tokio::test]
async fn on_actix() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let gimlet = gimlet().unwrap();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(gimlet_actix::SessionMiddleware::new(gimlet.clone()))
            .configure(on_actix::routes)
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    std::thread::spawn(move || actix_web::rt::System::new().block_on(server));
    wait_until_listening(addr).await;
    recipes(&format!("http://{addr}")).await;
}

#[tokio::test]
async fn on_rocket() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let figment = rocket::Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port))
        .merge(("log_level", "off"));
    let rocket = rocket::custom(figment)
        .attach(gimlet_rocket::SessionFairing::new(gimlet().unwrap()))
        .mount("/", on_rocket::routes())
        .register("/", on_rocket::catchers());
    tokio::spawn(rocket.launch());
    wait_until_listening(SocketAddr::from(([127, 0, 0, 1], port))).await;
    recipes(&format!("http://127.0.0.1:{port}")).await;
}
