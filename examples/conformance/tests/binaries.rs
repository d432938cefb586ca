//! The three binaries, as a user starts them: configured only through the
//! environment, announcing `listening on ADDR`, answering the same routes.

#![allow(clippy::unwrap_used)]

mod common;

use common::process::{BINARIES, run};

async fn get(client: &reqwest::Client, url: String) -> (u16, String, bool) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let sets_cookie = response.headers().contains_key("set-cookie");
    (status, response.text().await.unwrap(), sets_cookie)
}

#[tokio::test]
async fn every_binary_serves_the_routes_configured_from_the_environment() {
    for binary in BINARIES {
        let db = std::env::temp_dir().join(format!("gimlet-bin-{}.db", std::process::id()));
        let settings = [
            (
                "GIMLET_BACKEND",
                format!("sqlite://{}?mode=rwc", db.display()),
            ),
            ("GIMLET_CLIENTSIDE_KEYS", "user".to_owned()),
            (
                "GIMLET_SECRET",
                "binary test secret, thirty-two bytes".to_owned(),
            ),
        ];
        let app = run(binary, &settings).await;
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        assert_eq!(
            get(&client, format!("{}/hello", app.base)).await,
            (200, "hello".into(), false)
        );
        assert_eq!(
            get(&client, format!("{}/set/user/7", app.base)).await.1,
            "ok"
        );
        assert_eq!(
            get(&client, format!("{}/set/cart/gin", app.base)).await.1,
            "ok"
        );
        assert_eq!(
            get(&client, format!("{}/is_clientside/user", app.base))
                .await
                .1,
            "true"
        );
        assert_eq!(
            get(&client, format!("{}/is_clientside/cart", app.base))
                .await
                .1,
            "false"
        );
        assert_eq!(
            get(&client, format!("{}/iter", app.base)).await.1,
            "cart\nuser"
        );
        let _ = std::fs::remove_file(&db);
    }
}

#[tokio::test]
async fn without_a_backend_server_keys_are_refused() {
    for binary in BINARIES {
        let app = run(binary, &[("GIMLET_BACKEND", "none".to_owned())]).await;
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let (status, body, _) = get(&client, format!("{}/set/k/v?clientside=0", app.base)).await;
        assert_eq!(status, 400, "{binary}: {body}");
        assert_eq!(get(&client, format!("{}/set/k/v", app.base)).await.1, "ok");
        assert_eq!(get(&client, format!("{}/get/k", app.base)).await.1, "v");
    }
}
