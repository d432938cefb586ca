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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = std::env::temp_dir().join(format!("gimlet-shop-test-{port}.db"));
    let mut child = Command::new(binary)
        .env("GIMLET_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "GIMLET_BACKEND",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
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
    let base = format!("http://127.0.0.1:{port}");
    assert!(announced.ends_with(&format!("open {base}/")), "{announced}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let browser = reqwest::Client::builder()
        .cookie_store(true)
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
