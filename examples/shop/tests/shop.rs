//! The shop, as a user sees it, on each framework: log in, fill a cart, log
//! out; on SQLite in a file, the embedded default.

#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn csrf(page: &str) -> String {
    let start = page.find("name=csrf value=").unwrap() + "name=csrf value=".len();
    page[start..start + 64].to_owned()
}

async fn walk(binary: &str) {
    let unique = gimlet_core::SessionId::generate().unwrap().to_string();
    let db = std::env::temp_dir().join(format!("gimlet-shop-test-{}.db", &unique[..12]));
    // Port 0: the shop binds a free port itself and announces it.
    let mut child = Command::new(binary)
        .env("GIMLET_ADDR", "127.0.0.1:0")
        .env(
            "GIMLET_BACKEND",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        // Copies of a logged-out cookie must die at once in this test.
        .env("GIMLET_REVALIDATE_AFTER", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let announced = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = announced
        .split("open ")
        .nth(1)
        .expect("the shop announces its URL")
        .trim_end_matches('/')
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{announced}");
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0, "{announced}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let page = browser
        .get(&base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Log in"), "{page}");
    let token = csrf(&page);

    let forged = browser
        .post(format!("{base}/login"))
        .form(&[("name", "mallory"), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "{binary}");

    let page = browser
        .post(format!("{base}/login"))
        .form(&[("name", "ada"), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("Signed in as <b>ada</b>"), "{binary}: {page}");
    assert!(page.contains("Welcome, ada."), "{page}");
    let token = csrf(&page);
    for item in ["gin", "lime"] {
        let page = browser
            .post(format!("{base}/cart"))
            .form(&[("item", item), ("csrf", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
    }
    let page = browser
        .get(&base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<li>gin<li>lime"), "{binary}: {page}");
    // Someone copies the session's cookies before the user logs out.
    let url: reqwest::Url = base.parse().unwrap();
    let copied = reqwest::cookie::CookieStore::cookies(&*jar, &url).unwrap();

    let page = browser
        .post(format!("{base}/logout"))
        .form(&[("csrf", &token)])
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Log in") && page.contains("Goodbye."),
        "{binary}: {page}"
    );
    assert!(!page.contains("<h2>Cart</h2>"), "{page}");

    // The copy is worth nothing after the logout.
    let replay = reqwest::Client::new()
        .get(&base)
        .header("Cookie", copied)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!replay.contains("Signed in as"), "{binary}: {replay}");
    assert!(!replay.contains("<li>gin"), "{binary}: {replay}");
    drop(child);
    let _ = std::fs::remove_file(&db);
}

#[tokio::test]
async fn the_shop_works_on_axum() {
    walk(env!("CARGO_BIN_EXE_shop-axum")).await;
}

#[tokio::test]
async fn the_shop_works_on_actix() {
    walk(env!("CARGO_BIN_EXE_shop-actix")).await;
}

#[tokio::test]
async fn the_shop_works_on_rocket() {
    walk(env!("CARGO_BIN_EXE_shop-rocket")).await;
}
